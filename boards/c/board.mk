# The board library for a board's Makefile: set ROOT (the repository root) and include this file. It gives the
# sources, include paths and flags; the board adds its own drivers, main and link. scripts/build-boards.mjs runs
# wasm2c first (build/wasm2c/mcu.c, mcu.h) and puts Debian's wasm-rt.h beside them, so that a cross compiler finds it
# without seeing the host's /usr/include.
IOTHUB_C := $(ROOT)/boards/c
WASM2C_OUT := $(ROOT)/build/wasm2c

# The core's layout, read from build/mcu.wasm by the build: IOTHUB_CORE_PAGES (the pages its memory declares) and
# IOTHUB_CORE_HEAP_BASE (abi_heap_base(): the end of everything the core touches).
-include $(WASM2C_OUT)/layout.mk
$(if $(IOTHUB_CORE_PAGES),,$(error $(WASM2C_OUT)/layout.mk is missing: build the boards with npm run build:boards))
# The static linear memory (boards/c/wasm-rt/wasm_rt_static.c) reserves exactly the declared pages. A board short
# of RAM may set IOTHUB_CORE_RESERVE_BYTES = $(IOTHUB_CORE_HEAP_BASE) before including this file: the memory is then
# that long and any access beyond it traps (the core never makes one: nothing lives above abi_heap_base()).
IOTHUB_CORE_RESERVE_BYTES ?=
WASM_RT_STATIC_PAGES := $(IOTHUB_CORE_PAGES)

IOTHUB_LIB_SRCS := $(IOTHUB_C)/iothub_device.c $(IOTHUB_C)/iothub_store.c $(IOTHUB_C)/iothub_json.c $(IOTHUB_C)/core_wasm2c.c \
  $(IOTHUB_C)/wasm-rt/wasm_rt_static.c
IOTHUB_APP_SRCS := $(IOTHUB_C)/app/thermostat.c
IOTHUB_CORE_SRC := $(WASM2C_OUT)/mcu.c

IOTHUB_CPPFLAGS := -I$(IOTHUB_C) -I$(IOTHUB_C)/wasm-rt -I$(WASM2C_OUT) \
  -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -DWASM_RT_STATIC_PAGES=$(WASM_RT_STATIC_PAGES) \
  $(if $(IOTHUB_CORE_RESERVE_BYTES),-DWASM_RT_STATIC_BYTES=$(IOTHUB_CORE_RESERVE_BYTES))
# Our code: C99, every warning an error.
IOTHUB_CFLAGS := -std=c99 -Wall -Wextra -Werror -Wpedantic
# wasm2c's output is generated, not ours (GNU C: alloca, asm barriers): compiled as it is, warnings off. NDEBUG: its
# only asserts check the call order of instantiation, and newlib's assert pulls in stdio.
IOTHUB_CORE_CFLAGS := -std=gnu99 -w -DNDEBUG

# A board that provisions (boards/c/iothub_provision.h) hosts mcu-full.wasm instead: its translation is in
# $(WASM2C_OUT)/mcu-full/ under the same module name, so the same binding (core_wasm2c.c, plus core_wasm2c_dps.c for
# the dps_* exports) compiles against it with IOTHUB_DPS_CPPFLAGS. Compile those two, wasm_rt_static.c and the
# translation with these flags and link them instead of the plain core's; iothub_device.c and the rest do not
# depend on which core it is.
IOTHUB_DPS_SRCS := $(IOTHUB_C)/iothub_provision.c
IOTHUB_DPS_CORE_BINDING_SRCS := $(IOTHUB_C)/core_wasm2c.c $(IOTHUB_C)/core_wasm2c_dps.c $(IOTHUB_C)/wasm-rt/wasm_rt_static.c
IOTHUB_DPS_CORE_SRC := $(WASM2C_OUT)/mcu-full/mcu.c
IOTHUB_DPS_CPPFLAGS := -I$(WASM2C_OUT)/mcu-full \
  $(filter-out -DWASM_RT_STATIC_PAGES=% -DWASM_RT_STATIC_BYTES=%,$(IOTHUB_CPPFLAGS)) \
  -DWASM_RT_STATIC_PAGES=$(IOTHUB_CORE_DPS_PAGES) -DWASM_RT_MAX_ARITY=16
