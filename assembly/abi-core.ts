// The exports every build shares: the ABI's version, the IO window, the profile, status names, the memory map.
import { statusName } from "./status";
import { IO_CAPACITY, IS_MCU } from "./profile";
import { ABI_VERSION } from "./abi-version";
import { IO } from "./io";

/** The version of this ABI (exports, numbers, record layouts): ABI_VERSION. */
export function abi_version(): i32 { return ABI_VERSION; }

/** The host↔core argument window (IO_CAPACITY bytes, assembly/io.ts): hosts write inputs here and read outputs from here. */

export function abi_io_ptr(): usize { return IO; }
export function abi_io_capacity(): i32 { return IO_CAPACITY; }
export function abi_profile_is_mcu(): i32 { return IS_MCU ? 1 : 0; }

/**
 * The name of a status code: a pointer to a static UTF-16LE string whose byte length is the u32 stored just
 * before it (AssemblyScript's object header). Static data: nothing is allocated.
 */
export function abi_status_name(code: i32): usize { return changetype<usize>(statusName(code)); }

/** End of static data: everything the core will ever use lies below this address. */
export function abi_heap_base(): usize { return __heap_base; }

