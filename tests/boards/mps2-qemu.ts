// Boots boards/mps2-an385/build/firmware.elf in QEMU exactly as the board's contract says (issue 11):
//   qemu-system-arm -M mps2-an385 -nographic -semihosting-config enable=on,target=native -kernel firmware.elf
//     -device loader,file=CONFIG,addr=0x003FF000,force-raw=on -serial chardev:modem -serial file:LOG
//     -chardev socket,id=modem,host=127.0.0.1,port=P
// with CONFIG written from `config` (key=value lines, a NUL, padded to the 4 KiB page).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const firmwarePath = fileURLToPath(new URL('../../../boards/mps2-an385/build/firmware.elf', import.meta.url));
/** The same image with wasm2c's memory accessors inlined into the core (boards/mps2-an385/core_inline.h). */
export const firmwareFastPath = fileURLToPath(new URL('../../../boards/mps2-an385/build/fast/firmware.elf', import.meta.url));
/** The linker map of the same image built without LTO (an LTO map names no source object): flash and RAM by part. */
export const firmwareMapPath = fileURLToPath(new URL('../../../boards/mps2-an385/build/parts/firmware.map', import.meta.url));
export const firmwarePartsPath = fileURLToPath(new URL('../../../boards/mps2-an385/build/parts/firmware.elf', import.meta.url));

/** The image's exit codes (boards/mps2-an385/board.h). */
export const EXIT = { OK: 0, FAILED: 1, BAD_CONFIG: 2, NO_MODEM: 3, TRAP: 4, FAULT: 5 } as const;

export const CONFIG_PAGE = 4096;

/** The CONFIG page: `key=value` lines ending in a NUL byte, padded with zeros to 4 KiB. */
export function configPage(config: Record<string, string | number>): Buffer {
  const text = Object.entries(config).map(([k, v]) => `${k}=${v}\n`).join('');
  const page = Buffer.alloc(CONFIG_PAGE);
  const n = page.write(text, 'utf8');
  if (n >= CONFIG_PAGE) throw new Error('CONFIG does not fit its 4 KiB page');
  return page;
}

export interface Mps2Options {
  modemPort: number;
  config: Record<string, string | number>;
  /** Another build of the image (default: boards/mps2-an385/build/firmware.elf). */
  elf?: string;
  /** Extra QEMU arguments (the bench adds `-icount shift=0`). */
  extra?: string[];
}

export interface Mps2Run {
  proc: ChildProcess;
  /** QEMU's exit code (the image's, through semihosting), or null if it was killed. */
  exited: Promise<number | null>;
  /** What the image wrote to its log UART so far. */
  log(): string;
  /** Kills QEMU if still running, and removes the temp folder. */
  dispose(): Promise<void>;
}

export function bootMps2(o: Mps2Options): Mps2Run {
  const dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-mps2-'));
  const config = join(dir, 'CONFIG'), log = join(dir, 'LOG');
  writeFileSync(config, configPage(o.config));
  const proc = spawn('qemu-system-arm', [
    '-M', 'mps2-an385', '-nographic', '-semihosting-config', 'enable=on,target=native', '-kernel', o.elf ?? firmwarePath,
    '-device', `loader,file=${config},addr=0x003FF000,force-raw=on`,
    '-serial', 'chardev:modem', '-serial', `file:${log}`,
    '-chardev', `socket,id=modem,host=127.0.0.1,port=${o.modemPort}`,
    ...(o.extra ?? []),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stdout?.on('data', () => {});
  proc.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.once('error', (err) => { stderr += String(err); resolve(null); });
  });
  const readLog = () => (existsSync(log) ? readFileSync(log, 'utf8') : '') + (stderr ? `\n[qemu stderr] ${stderr}` : '');
  return {
    proc, exited, log: readLog,
    dispose: async () => {
      if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGKILL'); await exited; }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
