// The core's runtime: every allocator entry point is a compile error.
// AssemblyScript compiles functions lazily, so these bodies are only compiled when something in the core
// reaches the allocator (`new`, string concatenation, toString(), a growing array...). Building
// build/*.wasm with this runtime is the compile-time proof of "zero allocation"; tests/no-alloc.test.ts
// shows that the proof bites by compiling a one-line allocation against it.
// (Not exported on purpose: an exported helper would always be compiled.)

// @ts-ignore: decorator
@unsafe @global function __alloc(size: usize): usize { ERROR("iothub-wasm core must not allocate: __alloc reached"); return 0; }
// @ts-ignore: decorator
@unsafe @global function __realloc(ptr: usize, size: usize): usize { ERROR("iothub-wasm core must not allocate: __realloc reached"); return 0; }
// @ts-ignore: decorator
@unsafe @global function __free(ptr: usize): void { ERROR("iothub-wasm core must not allocate: __free reached"); }
// @ts-ignore: decorator
@unsafe @global function __reset(): void { ERROR("iothub-wasm core must not allocate: __reset reached"); }
// @ts-ignore: decorator
@unsafe @global function __new(size: usize, id: u32): usize { ERROR("iothub-wasm core must not allocate: __new reached"); return 0; }
// @ts-ignore: decorator
@unsafe @global function __renew(ptr: usize, size: usize): usize { ERROR("iothub-wasm core must not allocate: __renew reached"); return 0; }
// @ts-ignore: decorator
@global @unsafe function __link(parentPtr: usize, childPtr: usize, expectMultiple: bool): void {}
// @ts-ignore: decorator
@global @unsafe function __pin(ptr: usize): usize { return ptr; }
// @ts-ignore: decorator
@global @unsafe function __unpin(ptr: usize): void {}
// @ts-ignore: decorator
@global @unsafe function __visit(ptr: usize, cookie: u32): void {}
// @ts-ignore: decorator
@global @unsafe function __collect(): void {}
