/* Forced into the compile of wasm2c's output (-include): its small `static inline` memory accessors (i32_load,
 * i32_store, ... each a bounds check and an access) are inlined even at -Os, where gcc otherwise calls them
 * out of line from every load and store of the core: about 40 % fewer instructions per message for ~1 KB of flash. */
#define inline inline __attribute__((always_inline))
