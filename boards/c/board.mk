# The board library for a board's Makefile: set ROOT (the repository root) and include this file. It gives the
# sources, include paths and flags; the board adds its own drivers, main and link. scripts/build-boards.mjs runs
# wasm2c first (build/wasm2c/mcu.c, mcu.h) and puts Debian's wasm-rt.h beside them, so that a cross compiler finds it
# without seeing the host's /usr/include.
IOTHUB_C := $(ROOT)/boards/c
WASM2C_OUT := $(ROOT)/build/wasm2c

# The pages mcu.wasm declares, as wasm2c wrote them into init_memories(): the static linear memory reserves exactly
# these (boards/c/wasm-rt/wasm_rt_static.c).
WASM_RT_STATIC_PAGES := $(shell sed -n 's/.*wasm_rt_allocate_memory.&instance->w2c_memory, \([0-9]*\),.*/\1/p' $(WASM2C_OUT)/mcu.c 2>/dev/null)

IOTHUB_LIB_SRCS := $(IOTHUB_C)/iothub_device.c $(IOTHUB_C)/iothub_json.c $(IOTHUB_C)/core_wasm2c.c \
  $(IOTHUB_C)/wasm-rt/wasm_rt_static.c
IOTHUB_APP_SRCS := $(IOTHUB_C)/app/thermostat.c
IOTHUB_CORE_SRC := $(WASM2C_OUT)/mcu.c

IOTHUB_CPPFLAGS := -I$(IOTHUB_C) -I$(IOTHUB_C)/wasm-rt -I$(WASM2C_OUT) \
  -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -DWASM_RT_STATIC_PAGES=$(WASM_RT_STATIC_PAGES)
# Our code: C99, every warning an error.
IOTHUB_CFLAGS := -std=c99 -Wall -Wextra -Werror -Wpedantic
# wasm2c's output is generated, not ours (GNU C: alloca, asm barriers): compiled as it is, warnings off.
IOTHUB_CORE_CFLAGS := -std=gnu99 -w
