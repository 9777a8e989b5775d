// Instructions per QoS 1 telemetry message (send + PUBACK) of the Linux board, under valgrind's callgrind:
// two thermostat sessions against a local hub (built dist/), N1 and N2 readings at --interval-ms 0; the difference
// of their instruction counts over N2 - N1 is the cost of one reading, for the whole process (TLS records included,
// the handshake left out) and
// for the core alone (inclusive cost of wasm2c's exports, Z_mcuZ_*).
//   node scripts/callgrind-posix.mjs [N1=20] [N2=220]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHub } from '../dist/host/hub/index.js';

const [n1, n2] = [Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 220)];
const BINARY = 'boards/posix/build/iothub-wasm-posix';
const dir = mkdtempSync(join(tmpdir(), 'iothub-callgrind-'));
const hub = await LocalHub.start({ port: 0, log: false, dataDir: join(dir, 'hub') });

function session(count) {
  const out = join(dir, `callgrind.${count}`);
  return new Promise((resolve, reject) => {
    hub.registry.addDevice(`cg-${count}`).then(({ connectionString }) => {
      writeFileSync(join(dir, 'ca.pem'), hub.ca);
      // Asynchronous: the hub runs in this process and must keep answering while valgrind runs the board.
      import('node:child_process').then(({ spawn }) => {
        const p = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, BINARY,
          '--connection-string', connectionString, '--ca', join(dir, 'ca.pem'), '--count', String(count), '--interval-ms', '0'],
          { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (c) => { err += c; });
        p.on('close', (code) => {
          if (code !== 0) return reject(new Error(`valgrind exited ${code}\n${err}`));
          const a = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', '--auto=no', out], { encoding: 'utf8', maxBuffer: 64 << 20 });
          const total = Number(/([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(a.stdout)?.[1].replace(/,/g, '') ?? NaN);
          // The TLS handshake (ECDHE, certificate checks) draws random numbers and its cost varies from run to
          // run by more than the readings cost: it is left out (once per connection, not per message).
          const fn = (name) => Number(new RegExp(`^\\s*([\\d,]+) \\([^)]*\\)\\s+\\S*:${name} `, 'm').exec(a.stdout)?.[1].replace(/,/g, '') ?? 0);
          const handshake = fn('tls_open') + fn('tls_transport_init');
          let core = 0;
          for (const line of a.stdout.split('\n')) {
            const m = /^\s*([\d,]+) \([^)]*\)\s+\S*:Z_mcuZ_\w+ /.exec(line);
            if (m) core += Number(m[1].replace(/,/g, ''));
          }
          resolve({ total: total - handshake, core, handshake });
        });
      });
    }, reject);
  });
}

try {
  const a = await session(n1);
  const b = await session(n2);
  const per = (x, y) => Math.round((y - x) / (n2 - n1));
  console.log(`callgrind, ${BINARY}, thermostat readings (QoS 1, ~36-byte JSON body, 2 application + 3 system properties):`);
  console.log(`  whole process but the TLS handshake: ${per(a.total, b.total)} instructions per message (send + PUBACK, TLS records included)`);
  console.log(`  TLS handshake (once per connection): ${b.handshake} instructions`);
  console.log(`  core (Z_mcuZ_* exports, inclusive): ${per(a.core, b.core)} instructions per message`);
} finally {
  await hub.stop();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true }); else console.log(dir);
}
