/*
 * The one instance of wasm2c's translation of the core, shared by the files that bind its exports: core_wasm2c.c
 * (iothub_core.h, every core) and core_wasm2c_dps.c (iothub_core_dps.h, a core with provisioning: mcu-full.wasm).
 * Both translations are generated under the module name `mcu` (wasm2c -n mcu), so one binding fits either; the
 * board's include path picks the translation (build/wasm2c/ or build/wasm2c/mcu-full/).
 */
#ifndef IOTHUB_CORE_WASM2C_H
#define IOTHUB_CORE_WASM2C_H

#include "mcu.h"

extern Z_mcu_instance_t iothub_core_wasm2c;

#endif
