// The host's timer for the core's deadlines: an idle device wakes once per keep-alive period for its ping, not
// again when the ping's time-out (already answered) would have fallen due. A gateway of 10,000 idle devices pays
// for every wake-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeBoard } from '../../boards/node/index.js';
import type { Board } from '../../host/device/board.js';
import { startHub, device, sleep } from './support.js';

test('an idle device wakes for its keep-alive pings and not for their answered time-outs', { timeout: 30_000 }, async () => {
  const rig = await startHub();
  let wakes = 0;
  let pings = 0;
  const board: Board = {
    ...nodeBoard,
    setTimer: (ms, fn) => nodeBoard.setTimer(ms, () => { wakes++; fn(); }),
    open(o, handlers) {
      const t = nodeBoard.open(o, handlers);
      return {
        write: (bytes) => {
          for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 0xc0 && bytes[i + 1] === 0x00 && bytes.length === 2) pings++;
          return t.write(bytes);
        },
        close: () => t.close(),
      };
    },
  };
  // The ping's time-out (1 s, room for a loaded machine) falls well before the next ping (3 s after the last packet sent).
  const { client } = await device(rig.hub, 'timer-dev', { board, keepAliveSeconds: 3, pingTimeoutMs: 1000, twinResync: false });
  try {
    await client.connect();
    await sleep(300); // the connection's own traffic (SUBSCRIBE and its answer) is over
    wakes = 0;
    pings = 0;
    await sleep(10_000);
    assert.ok(pings >= 2, `the device pinged while idle (${pings} pings)`);
    assert.equal(client.state, 'ready', 'every ping was answered');
    // One wake per ping (its deadline), plus at most one for a deadline that moved while the window was open.
    assert.ok(wakes <= pings + 1, `${wakes} timer wake-ups for ${pings} pings`);
  } finally {
    await client.close();
    await rig.stop();
  }
});
