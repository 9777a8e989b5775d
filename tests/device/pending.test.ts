// PendingTokens: the telemetry promises awaiting the core's answer, by token. A device that never sent keeps no
// table; one that has many in flight grows it and then spills into a Map. Every token settles exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingTokens } from '../../host/device/pending.js';

function recorder() {
  const settled: Array<[number, string]> = [];
  const entry = (token: number): [(v: unknown) => void, (e: Error) => void] =>
    [() => settled.push([token, 'ok']), (e) => settled.push([token, e.message])];
  return { settled, entry };
}

test('pending tokens: before any telemetry nothing is found; then each token settles once, resolved or rejected, with its own functions', () => {
  const p = new PendingTokens();
  assert.equal(p.settle(1), false, 'no promise waits before the first send');
  assert.equal(p.settle(1, new Error('x')), false);
  const { settled, entry } = recorder();
  p.set(1, ...entry(1));
  p.set(2, ...entry(2));
  assert.equal(p.settle(3), false, 'an unknown token');
  assert.equal(p.settle(2, new Error('failed')), true);
  assert.equal(p.settle(1), true);
  assert.equal(p.settle(1), false, 'settled once');
  assert.deepEqual(settled, [[2, 'failed'], [1, 'ok']]);
});

test('pending tokens: tokens that meet in the table grow it, and beyond its largest size they wait in a spill map; all settle', () => {
  const p = new PendingTokens();
  const { settled, entry } = recorder();
  // Tokens 8 apart meet in an 8-entry table; 1,024 apart meet in the largest one.
  const tokens = [1, 9, 17, 1025, 2049, 3073, ...Array.from({ length: 300 }, (_, i) => 5000 + i)];
  for (const t of tokens) p.set(t, ...entry(t));
  for (const t of [...tokens].reverse()) assert.equal(p.settle(t), true, `token ${t}`);
  assert.deepEqual(settled.map(([t]) => t), [...tokens].reverse());
  assert.ok(tokens.every((t) => !p.settle(t)), 'none twice');
});
