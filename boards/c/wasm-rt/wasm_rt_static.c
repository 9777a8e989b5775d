/*
 * A small, freestanding implementation of what wasm2c's generated code needs from wasm-rt (the header is Debian's
 * /usr/include/wasm-rt.h, wabt 1.0.32): no malloc, no mmap, no signal handlers. Build the translated module and
 * this file with -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 (explicit bounds checks on every access) and
 * -DWASM_RT_STATIC_PAGES=<the module's page count>.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "wasm-rt.h"

#include "iothub_wasm_rt.h"

#if WASM_RT_MEMCHECK_SIGNAL_HANDLER
#error "build with -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0: this runtime has no guard pages, accesses must be checked"
#endif
#ifndef WASM_RT_STATIC_PAGES
#error "define WASM_RT_STATIC_PAGES as the page count the module declares (the build reads it from the module)"
#endif

#define PAGE_SIZE 65536u

/* Optionally less than the pages: the memory is then WASM_RT_STATIC_BYTES long and every access beyond traps. Only
 * for a module that never goes there (the core touches nothing at or above abi_heap_base()). */
#ifndef WASM_RT_STATIC_BYTES
#define WASM_RT_STATIC_BYTES (WASM_RT_STATIC_PAGES * PAGE_SIZE)
#endif
#if WASM_RT_STATIC_BYTES > WASM_RT_STATIC_PAGES * PAGE_SIZE
#error "WASM_RT_STATIC_BYTES: at most the module's pages"
#endif

/* The one linear memory: the core declares min = max, never grows, and there is one instance per boot. */
static uint8_t linear_memory[WASM_RT_STATIC_BYTES] __attribute__((aligned(16)));
static uint8_t memory_taken;
static uint8_t initialized;

#if WASM_RT_USE_STACK_DEPTH_COUNT
uint32_t wasm_rt_call_stack_depth;
#endif

void wasm_rt_init(void) { initialized = 1; }
bool wasm_rt_is_initialized(void) { return initialized != 0; }
void wasm_rt_free(void) { initialized = 0; }

uint32_t iothub_wasm_rt_memory_reserved(void) { return (uint32_t)sizeof linear_memory; }

const char *wasm_rt_strerror(wasm_rt_trap_t trap) {
  switch (trap) {
    case WASM_RT_TRAP_NONE: return "no error";
    case WASM_RT_TRAP_OOB: return "out of bounds access";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed";
    case WASM_RT_TRAP_CALL_INDIRECT: return "invalid call_indirect";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
#if !WASM_RT_MERGED_OOB_AND_EXHAUSTION_TRAPS
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
#endif
  }
  return "unknown trap";
}

void wasm_rt_trap(wasm_rt_trap_t trap) {
#if WASM_RT_USE_STACK_DEPTH_COUNT
  wasm_rt_call_stack_depth = 0;
#endif
  iothub_wasm_rt_on_trap((int)trap, wasm_rt_strerror(trap));
  abort(); /* the board's hook returned: never resume translated code after a trap */
}

/* Function types, for call_indirect's signature check: equal signatures must get equal indices. The core has a
 * handful (18 in mcu.wasm, 24 in mcu-full.wasm today); a signature is kept as its counts and up to MAX_ARITY value
 * types: 12 fits mcu.wasm, and mcu-full.wasm's widest (an iothub_* export: 13 parameters and a result) is built with
 * -DWASM_RT_MAX_ARITY=16 (boards/c/board.mk). */
#define MAX_TYPES 32
#ifdef WASM_RT_MAX_ARITY
#define MAX_ARITY WASM_RT_MAX_ARITY
#else
#define MAX_ARITY 12
#endif
typedef struct {
  uint8_t params, results;
  uint8_t types[MAX_ARITY];
} func_type_t;
static func_type_t func_types[MAX_TYPES];
static uint32_t func_type_count;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  func_type_t t;
  uint32_t i;
  va_list ap;
  if (params + results > MAX_ARITY) wasm_rt_trap(WASM_RT_TRAP_CALL_INDIRECT);
  t.params = (uint8_t)params;
  t.results = (uint8_t)results;
  for (i = 0; i < MAX_ARITY; i++) t.types[i] = 0xff;
  va_start(ap, results);
  for (i = 0; i < params + results; i++) t.types[i] = (uint8_t)va_arg(ap, int);
  va_end(ap);
  for (i = 0; i < func_type_count; i++) {
    if (memcmp(&func_types[i], &t, sizeof t) == 0) return i;
  }
  if (func_type_count == MAX_TYPES) wasm_rt_trap(WASM_RT_TRAP_CALL_INDIRECT);
  func_types[func_type_count] = t;
  return func_type_count++;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages, uint32_t max_pages) {
  /* More pages than reserved, or a second memory: the build and the module disagree. Report, do not run. */
  if (memory_taken || initial_pages > WASM_RT_STATIC_PAGES) wasm_rt_trap(WASM_RT_TRAP_OOB);
  memory_taken = 1;
  memset(linear_memory, 0, sizeof linear_memory);
  memory->data = linear_memory;
  memory->pages = initial_pages;
  memory->max_pages = max_pages < WASM_RT_STATIC_PAGES ? max_pages : WASM_RT_STATIC_PAGES;
  /* The bounds every access is checked against: what is reserved (the data segments are checked as they load). */
  memory->size = initial_pages * PAGE_SIZE < sizeof linear_memory ? initial_pages * PAGE_SIZE : (uint32_t)sizeof linear_memory;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t delta) {
  uint32_t old = memory->pages;
  if (delta > memory->max_pages - old || memory->size < memory->pages * PAGE_SIZE) return (uint32_t)-1;
  memory->pages = old + delta;
  memory->size = memory->pages * PAGE_SIZE;
  return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t *memory) {
  memory->data = NULL;
  memory->size = 0;
  memory_taken = 0;
}
