// The Debian packages the C boards need, and how to tell whether each is installed (used by build-boards.mjs and,
// through tests/boards/support.ts, by the board tests). A package is "present" when the file or program it ships is.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// Where the packages' files are looked for: "/" except in the test that checks what a machine without them is told.
const SYSROOT = process.env.IOTHUB_BOARD_TOOLS_SYSROOT ?? '/';
const file = (path) => existsSync(join(SYSROOT, path));

export function onPath(program) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, program)));
}

/** Debian package → a check for what it installs. */
export const PACKAGES = {
  make: () => onPath('make'),
  gcc: () => onPath('gcc'),
  wabt: () => onPath('wasm2c') && file('/usr/include/wasm-rt.h'),
  'libmbedtls-dev': () => file('/usr/include/mbedtls/ssl.h'),
  'gcc-arm-none-eabi': () => onPath('arm-none-eabi-gcc'),
  'libnewlib-arm-none-eabi': () => file('/usr/lib/arm-none-eabi/newlib/libc_nano.a'),
  'qemu-system-arm': () => onPath('qemu-system-arm'),
  valgrind: () => onPath('valgrind'),
};

/** The packages of `names` that are not installed, in the order given. */
export function missing(names) {
  return names.filter((name) => {
    const check = PACKAGES[name];
    if (!check) throw new Error(`unknown Debian package ${name}`);
    return !check();
  });
}
