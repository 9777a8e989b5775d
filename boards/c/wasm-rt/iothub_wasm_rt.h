/*
 * The board's side of our wasm-rt (wasm_rt_static.c), the runtime wasm2c's output needs, implemented without
 * allocation, signals or guard pages: memory accesses are bounds-checked in the translated code
 * (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0), and the linear memory is one static array of exactly the pages the module
 * declares (WASM_RT_STATIC_PAGES, passed by the build from the module itself), or, for a board short of RAM, only
 * WASM_RT_STATIC_BYTES of it (at least abi_heap_base(): the core touches nothing above; accesses beyond trap).
 */
#ifndef IOTHUB_WASM_RT_H
#define IOTHUB_WASM_RT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Called once when the core traps (`kind` is a wasm_rt_trap_t, `name` its text, e.g. "out of bounds access"). A trap
 * is always a bug in the core or in what was passed to it; the core's state is not usable afterwards. The board
 * reports it (log, exit code, reset reason) and should not return: reset or exit. If it returns, abort() is called.
 */
void iothub_wasm_rt_on_trap(int kind, const char *name);

/* The size of the static linear memory in bytes: what the core's memory costs in RAM. */
uint32_t iothub_wasm_rt_memory_reserved(void);

#ifdef __cplusplus
}
#endif

#endif
