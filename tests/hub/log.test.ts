// The hub's log: a flood of hostile connections must not become a flood of stderr; a program's own sink gets all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeLogger, rateLimited, STDERR_LINES_PER_SECOND } from '../../host/hub/log.js';

test('stderr gets at most STDERR_LINES_PER_SECOND lines a second, and the next second says how many were not shown', () => {
  let t = 10_000;
  const out: string[] = [];
  const log = rateLimited((l) => out.push(l), STDERR_LINES_PER_SECOND, () => t);
  for (let i = 0; i < STDERR_LINES_PER_SECOND + 50; i++) log(`refused #${i}`);
  assert.equal(out.length, STDERR_LINES_PER_SECOND);
  assert.equal(out.at(-1), `refused #${STDERR_LINES_PER_SECOND - 1}`);
  t += 1000;
  log('a device connected');
  assert.deepEqual(out.slice(STDERR_LINES_PER_SECOND), [`(50 log lines not shown: more than ${STDERR_LINES_PER_SECOND} a second)`, 'a device connected']);
  t += 1000;
  log('quiet again');
  assert.equal(out.at(-1), 'quiet again', 'no summary when nothing was dropped');
});

test('a log sink passed by the program gets every line, time-stamped', () => {
  const lines: string[] = [];
  const log = makeLogger((l) => lines.push(l))!;
  for (let i = 0; i < 1000; i++) log(`line ${i}`);
  assert.equal(lines.length, 1000);
  assert.match(lines[999]!, /^\d\d:\d\d:\d\d\.\d{3} line 999$/);
  assert.equal(makeLogger(false), null, 'off is off');
});
