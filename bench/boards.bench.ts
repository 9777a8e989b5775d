// The C boards' footprint and speed (issue 11), beside the anchors and the goals for the Cortex-M3 image:
//  - boards/mps2-an385/build/firmware.elf: flash and RAM by section (arm-none-eabi-size) and by part (the linker
//    map: core, wasm-rt, board library, thermostat, the mps2 board's startup/drivers/ESP-AT/main with the static
//    device and application state it owns, libc), the linear memory reserved against what the core
//    uses (abi_heap_base), the stack high-water mark (painted at reset, reported over the log UART at exit);
//  - instructions per QoS 1 telemetry message (send + PUBACK, 100-byte body, two application properties) under
//    `qemu-system-arm -icount shift=0` (1 instruction = 1 ns of virtual time), N and 2N messages through the
//    ESP-AT module emulator against the local hub, the difference over N;
//  - the Linux board under callgrind (scripts/callgrind-posix.mjs), when valgrind is here.
// Needs `npm run build:boards` (and QEMU, valgrind); whatever is missing is said and skipped.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { startHub } from '../tests/hub/helpers.js';
import { EspAtModem } from '../tests/boards/esp-at-modem.js';
import { bootMps2, firmwarePath, firmwareFastPath, firmwareMapPath, firmwarePartsPath, EXIT } from '../tests/boards/mps2-qemu.js';
import { onPath } from '../tests/boards/support.js';
import { wasmPath } from '../host/wasm/core.js';
import type { BenchSuite, BenchRow } from './harness.js';

const KIB = 1024;
const GOAL = { flash: 64 * KIB, ram: 48 * KIB, instructions: 20000 };
const ANCHORS = [
  'anchors: wasm3 on the same board 96-107 KB flash / 228 KiB RAM / ~200 k instructions per message;',
  '         Microsoft embedded C SDK on a PIC24 (TLS on its Wi-Fi chip; hub + DPS + PnP) 103.6 KB ROM / 10.6 KB RAM;',
  '         azure-iot-middleware-freertos library flash 11.5 KB (hub) / 24 KB (hub + DPS)',
];

const PARTS = ['core', 'wasm-rt', 'board library', 'thermostat', 'mps2 board', 'libc'] as const;
type Part = (typeof PARTS)[number] | 'other';
const FLASH_SECTIONS = ['.vectors', '.text', '.rodata', '.ARM.exidx', '.data'];
const RAM_SECTIONS = ['.stack', '.data', '.bss'];

function partOf(file: string): Part {
  if (file.includes('/obj/core/')) return 'core';
  if (file.includes('/obj/wasm-rt/')) return 'wasm-rt';
  if (file.includes('/obj/lib/')) return 'board library';
  if (file.includes('/obj/app/')) return 'thermostat';
  if (file.includes('/obj/board/')) return 'mps2 board';
  if (/lib(c_nano|gcc|c|m)\.a/.test(file)) return 'libc';
  return 'other';
}

/** Bytes per output section per part, from the GNU ld map's input-section lines. */
export function mapParts(map: string): Map<string, Map<Part, number>> {
  const out = new Map<string, Map<Part, number>>();
  const body = map.slice(map.indexOf('Linker script and memory map'));
  let section = '';
  let pending = ''; // an input section whose name filled its own line
  for (const line of body.split('\n')) {
    const top = /^(\.[\w.]+)\s/.exec(line) ?? /^(\.[\w.]+)$/.exec(line);
    if (top) { section = top[1]; pending = ''; continue; }
    const named = /^ (\.[\w.$-]+|COMMON)\s*$/.exec(line);
    if (named) { pending = named[1]; continue; }
    const m = /^ (?:(\.[\w.$-]+|COMMON)\s+)?\s*0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$/.exec(line);
    if (m && (m[1] || pending) && section) {
      const size = parseInt(m[2], 16);
      const part = partOf(m[3]);
      const s = out.get(section) ?? new Map<Part, number>();
      s.set(part, (s.get(part) ?? 0) + size);
      out.set(section, s);
    }
    pending = '';
  }
  return out;
}

/** arm-none-eabi-size -A: section → bytes. */
function sections(elf: string): Map<string, number> {
  const text = execFileSync('arm-none-eabi-size', ['-A', elf], { encoding: 'utf8' });
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const r = /^(\.\S+)\s+(\d+)\s+\d+/.exec(line);
    if (r) m.set(r[1], Number(r[2]));
  }
  return m;
}

function symbolSize(elf: string, name: string): number {
  const text = execFileSync('arm-none-eabi-nm', ['-S', elf], { encoding: 'utf8' });
  const r = new RegExp(`^[0-9a-f]+ ([0-9a-f]+) \\w ${name}$`, 'm').exec(text);
  return r ? parseInt(r[1], 16) : NaN;
}

const kb = (n: number) => `${(n / KIB).toFixed(1)} KiB`;
const miss = (v: number, goal: number, unit: (n: number) => string) =>
  v <= goal ? `meets the goal (${unit(goal)})` : `MISSES the goal (${unit(goal)}) by ${unit(v - goal)} (${((v / goal - 1) * 100).toFixed(0)} %)`;

interface BenchRun { messages: number; step: number; driver: number; rxBytes: number; steps: number; stack: number; log: string }

/** One bench session (CONFIG bench=N) under -icount shift=0 against a fresh hub. */
async function benchRun(messages: number, icount: string, elf = firmwarePath): Promise<BenchRun> {
  const { hub, done } = await startHub();
  const modem = await EspAtModem.start({ ca: hub.ca });
  try {
    const { connectionString } = await hub.registry.addDevice(`bench-${messages}`);
    const run = bootMps2({ elf, modemPort: modem.port, config: { connection_string: connectionString, bench: messages }, extra: ['-icount', icount] });
    const timer = setTimeout(() => run.proc.kill('SIGKILL'), 300000);
    const code = await run.exited;
    clearTimeout(timer);
    const log = run.log();
    await run.dispose();
    const b = /bench: messages=(\d+) busy_ns=(\d+) step_ns=(\d+) driver_ns=(\d+) rx_bytes=(\d+) wakes=(\d+) steps=(\d+)/.exec(log);
    const s = /stack: high water (\d+)/.exec(log);
    if (code !== EXIT.OK || !b || !s) throw new Error(`bench run of ${messages} failed (exit ${code}):\n${log}`);
    return { messages, step: Number(b[3]), driver: Number(b[4]), rxBytes: Number(b[5]), steps: Number(b[7]), stack: Number(s[1]), log };
  } finally {
    await modem.close();
    await done();
  }
}

const suite: BenchSuite = {
  name: 'boards',
  async run(ctx) {
    const rows: BenchRow[] = [];
    if (!existsSync(firmwarePath) || !existsSync(firmwareMapPath) || !onPath('arm-none-eabi-size')) {
      ctx.log('mps2-an385: not built (npm run build:boards; apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi wabt)');
      return rows;
    }
    // ---- footprint ------------------------------------------------------------------------------------------
    const sec = sections(firmwarePath);
    const parts = mapParts(readFileSync(firmwareMapPath, 'utf8'));
    const sum = (names: string[]) => names.reduce((a, n) => a + (sec.get(n) ?? 0), 0);
    const flash = sum(FLASH_SECTIONS), ram = sum(RAM_SECTIONS);
    ctx.log('mps2-an385 image (boards/mps2-an385/build/firmware.elf, arm-none-eabi-gcc -Os -flto, newlib-nano; TLS on the Wi-Fi module):');
    ctx.log(`  sections: ${[...new Set([...FLASH_SECTIONS, ...RAM_SECTIONS])].map((n) => `${n} ${sec.get(n) ?? 0}`).join(', ')}`);
    const partFlash = (p: Part) => FLASH_SECTIONS.reduce((a, s) => a + (parts.get(s)?.get(p) ?? 0), 0);
    const partRam = (p: Part) => ['.data', '.bss'].reduce((a, s) => a + (parts.get(s)?.get(p) ?? 0), 0);
    const psec = sections(firmwarePartsPath);
    ctx.log(`  by part (the same sources without -flto, build/parts: flash ${FLASH_SECTIONS.reduce((a, n) => a + (psec.get(n) ?? 0), 0)} bytes; -flto saves the difference):`);
    ctx.log(`  ${'part'.padEnd(14)} ${'flash'.padStart(10)} ${'RAM'.padStart(10)}`);
    for (const p of [...PARTS, 'other'] as Part[]) {
      const f = partFlash(p), r = partRam(p);
      if (p === 'other' && f + r === 0) continue;
      ctx.log(`  ${p.padEnd(14)} ${String(f).padStart(10)} ${String(r).padStart(10)}`);
      rows.push({ name: `mps2 ${p}`, flashBytes: f, ramBytes: r });
    }
    ctx.log(`  ${'stack'.padEnd(14)} ${''.padStart(10)} ${String(sec.get('.stack') ?? 0).padStart(10)}`);
    const linear = symbolSize(firmwarePath, 'linear_memory');
    const core = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasmPath('mcu'))), {});
    const heapBase = (core.exports as { abi_heap_base(): number }).abi_heap_base();
    ctx.log(`  linear memory reserved: ${linear} bytes (wasm-rt .bss; the module declares ${65536} and touches ${heapBase}, abi_heap_base)`);
    ctx.log(`  flash ${flash} bytes = ${kb(flash)}: ${miss(flash, GOAL.flash, kb)}`);
    ctx.log(`  RAM ${ram} bytes = ${kb(ram)} (stack ${sec.get('.stack') ?? 0} included): ${miss(ram, GOAL.ram, kb)}`);
    if (linear > heapBase) ctx.log(`  RAM with the linear memory cut to what the core uses: ${kb(ram - linear + heapBase)}`);
    rows.push({ name: 'mps2 total', flashBytes: flash, ramBytes: ram, linearReserved: linear, coreHeapBase: heapBase });

    // ---- speed ----------------------------------------------------------------------------------------------
    if (!onPath('qemu-system-arm')) {
      ctx.log('  instructions per message: qemu-system-arm missing (apt-get install qemu-system-arm)');
    } else {
      // Two pairs of runs. With sleep=on (QEMU's default) the virtual clock follows real time while the CPU sleeps
      // and that catch-up lands inside whatever runs next, mostly the code just after a wake (the parser); the
      // device steps come later and measure clean. With sleep=off idle time jumps to the next timer instead, so the
      // parser measures clean, but virtual time then runs far ahead of the hub and adds timer-driven steps.
      const n = 25;
      const a = await benchRun(n, 'shift=0'), b = await benchRun(2 * n, 'shift=0');
      const c = await benchRun(n, 'shift=0,sleep=off'), d = await benchRun(2 * n, 'shift=0,sleep=off');
      const per = (x: number, y: number) => Math.round((y - x) / n);
      const step = per(a.step, b.step), driver = per(c.driver, d.driver);
      const whole = step + driver;
      ctx.log(`  stack high water: ${Math.max(a.stack, b.stack, c.stack, d.stack)} of ${sec.get('.stack') ?? 0} bytes`);
      ctx.log(`  instructions per QoS 1 message (100-byte body, two properties; send + PUBACK), -icount shift=0, ${n} vs ${2 * n} messages:`);
      ctx.log(`    core + board library + application (inside iothub_device_step, sleep=on): ${step} (${((b.steps - a.steps) / n).toFixed(1)} steps a message)`);
      ctx.log(`    ESP-AT parser and UART reads in the main loop (sleep=off): ${driver} for ${Math.round((d.rxBytes - c.rxBytes) / n)} bytes from the module (receive interrupts, ~20 instructions a byte, not counted)`);
      ctx.log(`    together ${whole}: ${whole <= GOAL.instructions ? 'meets' : 'MISSES'} the goal (${GOAL.instructions})${whole <= GOAL.instructions ? '' : ` by ${whole - GOAL.instructions} (${(whole / GOAL.instructions).toFixed(1)}x)`}`);
      if (existsSync(firmwareFastPath)) {
        const fsec = sections(firmwareFastPath);
        const fflash = FLASH_SECTIONS.reduce((x, k) => x + (fsec.get(k) ?? 0), 0);
        const e = await benchRun(n, 'shift=0', firmwareFastPath), f = await benchRun(2 * n, 'shift=0', firmwareFastPath);
        const fstep = per(e.step, f.step), fwhole = fstep + driver;
        ctx.log(`  build/fast/firmware.elf (wasm2c's memory accessors inlined into the core, core_inline.h): flash ${fflash} bytes = ${kb(fflash)}: ${miss(fflash, GOAL.flash, kb)}; RAM as above`);
        ctx.log(`    core + board library + application: ${fstep}; with the parser ${fwhole}: ${fwhole <= GOAL.instructions ? 'meets' : 'MISSES'} the goal${fwhole <= GOAL.instructions ? '' : ` by ${fwhole - GOAL.instructions} (${(fwhole / GOAL.instructions).toFixed(1)}x)`}`);
        rows.push({ name: 'mps2 fast per message', flashBytes: fflash, stepInstructions: fstep, driverInstructions: driver });
      }
      rows.push({ name: 'mps2 per message', stepInstructions: step, driverInstructions: driver, stackHighWater: Math.max(a.stack, b.stack, c.stack, d.stack) });
    }
    for (const line of ANCHORS) ctx.log(`  ${line}`);

    // ---- the Linux board -------------------------------------------------------------------------------------
    if (onPath('valgrind') && existsSync('boards/posix/build/iothub-wasm-posix')) {
      const r = spawnSync(process.execPath, ['scripts/callgrind-posix.mjs', '10', '60'], { encoding: 'utf8' });
      for (const line of (r.stdout || r.stderr).trim().split('\n')) ctx.log(line);
    } else {
      ctx.log('posix board under callgrind: needs valgrind (apt-get install valgrind) and npm run build:boards');
    }
    return rows;
  },
};

export default suite;
