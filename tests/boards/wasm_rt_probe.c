/* Drives boards/c/wasm-rt (and the translated core) for tests/boards/wasm-rt.test.ts: one case per argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iothub_core.h"
#include "iothub_wasm_rt.h"
#include "wasm-rt.h"

static int hook_returns;

void iothub_wasm_rt_on_trap(int kind, const char *name) {
  fprintf(stderr, "trap %d %s\n", kind, name);
  if (!hook_returns) exit(7);
}

int main(int argc, char **argv) {
  const char *c = argc > 1 ? argv[1] : "";
  if (!strcmp(c, "trap")) wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
  if (!strcmp(c, "hook-returns")) { hook_returns = 1; wasm_rt_trap(WASM_RT_TRAP_OOB); }
  if (!strcmp(c, "too-many-pages")) {
    wasm_rt_memory_t m;
    wasm_rt_allocate_memory(&m, WASM_RT_STATIC_PAGES + 1, WASM_RT_STATIC_PAGES + 1);
  }
  if (!strcmp(c, "func-types")) {
    uint32_t a = wasm_rt_register_func_type(2, 1, WASM_RT_I32, WASM_RT_I32, WASM_RT_I32);
    uint32_t b = wasm_rt_register_func_type(2, 1, WASM_RT_I32, WASM_RT_I64, WASM_RT_I32);
    uint32_t a2 = wasm_rt_register_func_type(2, 1, WASM_RT_I32, WASM_RT_I32, WASM_RT_I32);
    printf("%s\n", a == a2 && a != b ? "types ok" : "types wrong");
  }
  if (!strcmp(c, "core")) {
    int32_t rc = iothub_core_load();
    printf("load %d reserved %u size %u\n", (int)rc, (unsigned)iothub_wasm_rt_memory_reserved(),
           (unsigned)iothub_core_memory_size());
  }
  return 0;
}
