// Shared by the board tests: a test that needs Debian tools (or what the board build made with them) is skipped
// locally when they are missing, naming the package to install, and fails in CI, which always has them.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawn } from 'node:child_process';

export function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, program)));
}

/** Debian package → whether what it installs is here (as scripts/board-tools.mjs decides for the build). */
export const PACKAGES: Record<string, () => boolean> = {
  make: () => onPath('make'),
  gcc: () => onPath('gcc'),
  wabt: () => onPath('wasm2c') && existsSync('/usr/include/wasm-rt.h'),
  'libmbedtls-dev': () => existsSync('/usr/include/mbedtls/ssl.h'),
  'gcc-arm-none-eabi': () => onPath('arm-none-eabi-gcc'),
  'libnewlib-arm-none-eabi': () => existsSync('/usr/lib/arm-none-eabi/newlib/libc_nano.a'),
  'qemu-system-arm': () => onPath('qemu-system-arm'),
  valgrind: () => onPath('valgrind'),
};

/** The packages of `names` that are missing. */
export function missingPackages(names: string[]): string[] {
  return names.filter((n) => {
    const check = PACKAGES[n];
    if (!check) throw new Error(`unknown Debian package ${n}`);
    return !check();
  });
}

/** The repository's root (tests run from it: npm test, scripts/test-node.mjs). */
export const ROOT = process.cwd();
export const POSIX_BINARY = join(ROOT, 'boards/posix/build/iothub-wasm-posix');
/** The same board with the core's memory reserved only up to abi_heap_base() (boards/c/board.mk). */
export const POSIX_SMALL_MEMORY_BINARY = join(ROOT, 'boards/posix/build/iothub-wasm-posix-small-memory');

export interface BoardNeeds {
  /** Debian packages the test runs (or whose output it uses). */
  packages: string[];
  /** Files the board build makes (`npm run build:boards`), relative to the repository root. */
  built?: string[];
}

/** Why a board test cannot run here, or null when it can. */
export function unmet(needs: BoardNeeds): string | null {
  const absent = missingPackages(needs.packages);
  if (absent.length) return `needs Debian packages: apt-get install ${absent.join(' ')}`;
  const unbuilt = (needs.built ?? []).filter((f) => !existsSync(join(ROOT, f)));
  if (unbuilt.length) return `not built: ${unbuilt.join(', ')} (npm run build:boards)`;
  return null;
}

/**
 * node:test's test(), for a test that needs Debian tools: skipped with the reason when they are missing, unless CI
 * is set, where the test fails with that reason instead.
 */
export function boardTest(name: string, needs: BoardNeeds, fn: (t: TestContext) => Promise<void> | void): void {
  const why = unmet(needs);
  if (why === null) { test(name, fn); return; }
  if (process.env.CI) { test(name, () => { assert.fail(`${name}: ${why} (CI must have every board tool)`); }); return; }
  test(name, { skip: why }, fn);
}

/** A program under test: its output as lines, a bounded wait for one, and its exit. */
export interface Running {
  readonly lines: string[];
  readonly stderr: () => string;
  /** Resolves with the first line (already printed or still to come) matching re; rejects after ms or at exit. */
  waitLine(re: RegExp, ms?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
  /** Sends a signal (SIGINT: Ctrl-C) if it is still running. */
  signal(sig: NodeJS.Signals): void;
}

export function runProgram(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  let tail = '';
  const waiters = new Set<{ re: RegExp; resolve: (l: string) => void }>();
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (tail + chunk.toString('utf8')).split('\n');
    tail = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters) if (w.re.test(line)) { waiters.delete(w); w.resolve(line); }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString('utf8'); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => { done = true; });
  return {
    lines,
    stderr: () => err,
    exited,
    kill: () => { if (!done) child.kill('SIGKILL'); },
    signal: (sig: NodeJS.Signals) => { if (!done) child.kill(sig); },
    waitLine(re: RegExp, ms = 30000): Promise<string> {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const w = {
          re,
          resolve: (l: string) => { clearTimeout(timer); resolve(l); },
        };
        const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`no line matching ${re} within ${ms} ms; output:\n${lines.join('\n')}\n${err}`)); }, ms);
        waiters.add(w);
        void exited.then(() => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`exited before a line matching ${re}; output:\n${lines.join('\n')}\n${err}`));
        });
      });
    },
  };
}
