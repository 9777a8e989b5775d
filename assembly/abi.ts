// The flat ABI that hosts drive: integers and offsets into linear memory only, so that any runtime that can
// call an export and read/write memory (V8, WAMR, wasm3, a C host on a microcontroller) can host the core.
// Each area exports its own entry points from its abi file; this file gathers them and adds the shared ones.
// See boards/README.md for the contract.

import { statusName } from "./status";
import { IO_CAPACITY, IS_MCU } from "./profile";

/** The version of this ABI (exports, numbers, record layouts); bumped whenever any of them changes. */
export const ABI_VERSION: i32 = 1;

/** The host↔core argument window (IO_CAPACITY bytes): hosts write inputs here and read outputs from here. */
const IO: usize = memory.data(IO_CAPACITY, 16);

export function io_ptr(): usize { return IO; }
export function io_capacity(): i32 { return IO_CAPACITY; }
export function profile_is_mcu(): i32 { return IS_MCU ? 1 : 0; }

/**
 * The name of a status code: a pointer to a static UTF-16LE string whose byte length is the u32 stored just
 * before it (AssemblyScript's object header). Static data: nothing is allocated.
 */
export function status_name(code: i32): usize { return changetype<usize>(statusName(code)); }

/** End of static data: everything the core will ever use lies below this address. */
export function layout_heap_base(): usize { return __heap_base; }

export * from "./mqtt/abi";
export * from "./crypto/abi";
export * from "./iothub/abi";
export * from "./client/abi";
