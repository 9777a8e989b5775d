// The Event Hub-compatible event store on its own: retention by count, bytes and age with whole segments deleted,
// start-up that reads no more than retention keeps and survives a torn or killed write, memory that does not hold
// telemetry, readers by offset, sequence number, enqueued time and @latest, and stored properties read back as data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { EventStore, type EventStoreOptions, type StartPosition, type StoredEvent } from '../../host/hub/state/events.js';
import type { TelemetryMessage } from '../../host/hub/device/broker.js';
import { tempDir, removeDir, startHub, connectRaw, endClient } from './helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;

function telemetry(deviceId: string, body: Buffer | string, at = Date.now(), properties: Record<string, string | null> = {}, systemProperties: Record<string, string> = {}): TelemetryMessage {
  return {
    deviceId, body: Buffer.isBuffer(body) ? body : Buffer.from(body), properties, systemProperties,
    topic: `devices/${deviceId}/messages/events/`, qos: 1, enqueuedTimeUtc: new Date(at).toISOString(),
  };
}

/** A store of one partition (every device lands in it). */
function open(dir: string | null, opts: EventStoreOptions = {}): EventStore {
  return new EventStore(dir, { partitions: 1, ...opts });
}

function segments(dir: string, p = 0): { name: string; size: number }[] {
  const pdir = join(dir, 'events', String(p));
  return readdirSync(pdir).filter((f) => f.endsWith('.seg')).sort().map((name) => ({ name, size: statSync(join(pdir, name)).size }));
}

/** Heap plus Buffer memory after two collections. */
async function settledMemory(): Promise<number> {
  for (let i = 0; i < 2; i++) { gc(); await new Promise((r) => setImmediate(r)); }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const everything: StartPosition = { kind: 'seq', value: -1, inclusive: false };
const summary = (evs: StoredEvent[]) => evs.map((e) => ({ seq: e.seq, offset: e.offset, at: e.enqueuedAt, body: e.body.toString(), props: { ...e.properties }, sys: { ...e.systemProperties } }));

test('retention by count: a partition keeps its newest maxEventsPerPartition events and deletes whole older segments', async () => {
  const dir = tempDir();
  try {
    const s = open(dir, { maxEventsPerPartition: 100 });
    for (let i = 0; i < 1000; i++) s.append(telemetry('d', `e${i}`));
    await s.flush();
    const info = s.info(0);
    assert.equal(info.begin_sequence_number, 900);
    assert.equal(info.last_enqueued_sequence_number, 999);
    const all = s.read(0, everything);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 100 }, (_, i) => 900 + i));
    assert.equal(all[0]!.body.toString(), 'e900');
    // segments of an eighth of the count: what is on disk is what is readable plus at most one segment
    const onDisk = segments(dir);
    assert.ok(onDisk.length <= 9, `${onDisk.length} segment files`);
    assert.ok(Number(onDisk[0]!.name.split('-')[0]) > 800, `oldest segment begins at ${onDisk[0]!.name}`);
    const again = open(dir, { maxEventsPerPartition: 100 });
    assert.deepEqual(summary(again.read(0, everything)), summary(all));
    await again.flush();
  } finally {
    removeDir(dir);
  }
});

test('retention by bytes: a partition keeps its newest maxBytesPerPartition bytes, and its files stay within that plus one segment', async () => {
  const dir = tempDir();
  try {
    const budget = 64 * 1024, segmentBytes = 8 * 1024;
    const s = open(dir, { maxBytesPerPartition: budget, segmentBytes });
    const body = Buffer.alloc(1000, 0x61);
    for (let i = 0; i < 500; i++) s.append(telemetry('d', body));
    await s.flush();
    const all = s.read(0, everything);
    const recordBytes = Number(all[1]!.offset) - Number(all[0]!.offset);
    const bytes = Number(all[all.length - 1]!.offset) + recordBytes - Number(all[0]!.offset);
    assert.ok(bytes <= budget, `${bytes} readable bytes`);
    assert.ok(all.length >= 50 && all.length < 70, `${all.length} readable events`);
    assert.equal(all[all.length - 1]!.seq, 499);
    const disk = segments(dir).reduce((n, f) => n + f.size, 0);
    assert.ok(disk <= budget + segmentBytes + 2 * 1100, `${disk} bytes on disk`);
    // the newest event stays readable even when it alone is over the budget
    s.append(telemetry('d', Buffer.alloc(100 * 1024)));
    assert.deepEqual(s.read(0, everything).map((e) => e.seq), [500]);
    await s.flush();
  } finally {
    removeDir(dir);
  }
});

test('retention by age: with an injected clock, events older than retentionHours stop being readable and their segments are deleted', async () => {
  const dir = tempDir();
  try {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    let now = t0;
    const s = open(dir, { retentionHours: 1, maxEventsPerPartition: 80, now: () => now });
    for (let i = 0; i < 50; i++) s.append(telemetry('d', `old${i}`, t0));
    now = t0 + 30 * 60_000;
    for (let i = 0; i < 10; i++) s.append(telemetry('d', `new${i}`, now));
    await s.flush();
    assert.equal(s.info(0).begin_sequence_number, 0);
    now = t0 + 61 * 60_000; // the first 50 are past the hour
    assert.equal(s.info(0).begin_sequence_number, 50);
    assert.deepEqual(s.read(0, everything).map((e) => e.body.toString()), Array.from({ length: 10 }, (_, i) => `new${i}`));
    s.append(telemetry('d', 'next', now)); // a write lets the writer delete what retention dropped
    await s.flush();
    assert.ok(segments(dir).every((f) => Number(f.name.split('-')[0]) >= 50), segments(dir).map((f) => f.name).join(' '));
    now = t0 + 5 * 3600_000; // everything is past the hour: the partition is empty, its sequence goes on
    const info = s.info(0);
    assert.equal(info.is_partition_empty, true);
    assert.equal(info.begin_sequence_number, 61);
    assert.equal(info.last_enqueued_sequence_number, 60);
    await s.flush();
    const after = open(dir, { retentionHours: 1, now: () => now });
    assert.equal(after.info(0).is_partition_empty, true);
    assert.equal(after.append(telemetry('d', 'later', now)).seq, 61);
    await after.flush();
  } finally {
    removeDir(dir);
  }
});

test('in-memory mode (no data folder) is bounded by the same count and byte budgets', async (t) => {
  const byCount = open(null, { maxEventsPerPartition: 10 });
  for (let i = 0; i < 100; i++) byCount.append(telemetry('d', `e${i}`));
  assert.deepEqual(byCount.read(0, everything).map((e) => e.seq), Array.from({ length: 10 }, (_, i) => 90 + i));

  const base = await settledMemory();
  const s = open(null, { maxBytesPerPartition: 4 * MiB });
  const body = Buffer.alloc(256 * 1024, 1);
  for (let i = 0; i < 1000; i++) s.append(telemetry('d', body));
  const grown = (await settledMemory()) - base;
  const readable = s.read(0, everything);
  assert.ok(readable.length <= 16 && readable.length >= 14, `${readable.length} events readable`);
  assert.equal(readable[readable.length - 1]!.seq, 999);
  t.diagnostic(`in-memory, 4 MiB budget: +${(grown / MiB).toFixed(1)} MiB heap+buffers after 1,000 × 256 KB`);
  // 1,000 × 256 KB went in: 4 MiB may stay, not 250 MiB
  assert.ok(grown < 16 * MiB, `grew by ${(grown / MiB).toFixed(1)} MiB`);
});

test('1,000 telemetry messages of 256 KB leave heap and Buffer memory within 32 MiB once written (bodies stay on disk)', async (t) => {
  const dir = tempDir();
  try {
    const base = await settledMemory();
    const rssBase = process.memoryUsage().rss;
    const s = new EventStore(dir, { partitions: 4 });
    const body = Buffer.alloc(256 * 1024, 2);
    for (let i = 0; i < 1000; i++) {
      s.append(telemetry('big-sender', body));
      if (i % 16 === 15) await new Promise((r) => setImmediate(r)); // the broker yields between socket reads
    }
    await s.flush();
    const grown = (await settledMemory()) - base;
    const rssGrown = process.memoryUsage().rss - rssBase;
    t.diagnostic(`data folder: +${(grown / MiB).toFixed(1)} MiB heap+buffers, rss +${(rssGrown / MiB).toFixed(0)} MiB after 1,000 × 256 KB`);
    const p = s.partitionOf('big-sender');
    const info = s.info(p);
    assert.equal(info.last_enqueued_sequence_number, 999);
    // the default budget (64 MiB) keeps the newest ~255 readable, from disk
    const readable = s.readFromSeq(p, info.begin_sequence_number, 1000);
    assert.ok(readable.length >= 1 && readable[0]!.body.equals(body));
    assert.ok(grown < 32 * MiB, `grew by ${(grown / MiB).toFixed(1)} MiB (the previous store: +250 MiB)`);
    // resident memory includes what the allocator keeps after freeing the write batches: a loose bound
    assert.ok(rssGrown < 200 * MiB, `rss grew by ${(rssGrown / MiB).toFixed(0)} MiB (the previous store: +276 MiB)`);
    const disk = segments(dir, p).reduce((n, f) => n + f.size, 0);
    assert.ok(disk <= 64 * MiB + 8 * MiB + 300 * 1024, `${(disk / MiB).toFixed(1)} MiB on disk`);
  } finally {
    removeDir(dir);
  }
});

test('start-up over a 64 MiB segment of 256 KB records reads it through a bounded buffer: heap and Buffer growth under 4 MiB', async (t) => {
  const dir = tempDir();
  try {
    const big: EventStoreOptions = { maxBytesPerPartition: 256 * MiB, segmentBytes: 128 * MiB };
    const body = Buffer.alloc(256 * 1024);
    {
      const w = open(dir, big);
      for (let i = 0; i < 256; i++) { body.writeUInt32BE(i, 0); w.append(telemetry('d', body)); }
      await w.flush();
    }
    const files = segments(dir);
    assert.equal(files.length, 1);
    assert.ok(files[0]!.size > 64 * MiB, `${files[0]!.size} bytes`);
    const base = await settledMemory();
    const started = performance.now();
    const s = open(dir, big);
    const ms = performance.now() - started;
    const grown = (await settledMemory()) - base;
    t.diagnostic(`start-up over ${(files[0]!.size / MiB).toFixed(0)} MiB: ${ms.toFixed(0)} ms, +${(grown / 1024).toFixed(0)} KiB heap+buffers`);
    assert.equal(s.info(0).last_enqueued_sequence_number, 255);
    const [last] = s.readFromSeq(0, 255, 1);
    assert.equal(last!.body.length, body.length);
    assert.equal(last!.body.readUInt32BE(0), 255);
    assert.ok(grown < 4 * MiB, `start-up grew memory by ${(grown / MiB).toFixed(2)} MiB`);
    // a reader's call is bounded too: about 1 MiB of events from disk at a time, not all 100 asked for
    assert.ok(s.readFromSeq(0, 0, 100).length <= 5);
    await s.flush();
    // opened with a smaller budget, start-up deletes what that budget no longer reaches, unread
    const small = open(dir, { maxBytesPerPartition: 8 * MiB, segmentBytes: 1 * MiB });
    assert.equal(small.append(telemetry('d', 'a'.repeat(2000))).seq, 256);
    await small.flush();
    // the newest segment fills a 1 KiB budget, so the 64 MiB one behind it is deleted without being scanned
    const reopened = open(dir, { maxBytesPerPartition: 1024, segmentBytes: 1024 });
    assert.equal(segments(dir).length, 1, 'only the newest segment is left');
    assert.deepEqual(reopened.read(0, everything).map((e) => [e.seq, e.body.length]), [[256, 2000]]);
    await reopened.flush();
  } finally {
    removeDir(dir);
  }
});

test('a torn last record (the hub killed mid-write) is cut off at start-up and the next append continues the sequence', async () => {
  const dir = tempDir();
  try {
    const w = open(dir);
    for (let i = 0; i < 20; i++) w.append(telemetry('d', `e${i}`.repeat(50)));
    await w.flush();
    const [seg] = segments(dir);
    const file = join(dir, 'events', '0', seg!.name);
    truncateSync(file, seg!.size - 40); // half of the last record
    const r = open(dir);
    assert.equal(r.info(0).last_enqueued_sequence_number, 18);
    const read = r.read(0, everything);
    assert.deepEqual(read.map((e) => e.seq), Array.from({ length: 19 }, (_, i) => i));
    assert.equal(read[18]!.body.toString(), 'e18'.repeat(50));
    assert.equal(r.append(telemetry('d', 'next')).seq, 19);
    await r.flush();
    appendFileSync(file, Buffer.from('IEV1 garbage after a power loss'));
    const again = open(dir, { cacheBytesPerPartition: 0 });
    const all = again.read(0, everything);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i));
    assert.equal(all[19]!.body.toString(), 'next');
    assert.equal(again.append(telemetry('d', 'after')).seq, 20);
    await again.flush();
  } finally {
    removeDir(dir);
  }
});

test('SIGKILL of a process appending events: the store starts, every event it wrote before the kill reads back whole, the sequence goes on', async () => {
  const dir = tempDir();
  try {
    const url = new URL('../../host/hub/state/events.js', import.meta.url).href;
    const code = `
      const { EventStore } = await import(${JSON.stringify(url)});
      const s = new EventStore(${JSON.stringify(dir)}, { partitions: 1, segmentBytes: 256 * 1024 });
      for (let i = 0; ; i++) {
        s.append({ deviceId: 'd', body: Buffer.alloc(1000 + (i % 7) * 300, i % 251), properties: { i: String(i) }, systemProperties: {}, topic: 't', qos: 1, enqueuedTimeUtc: new Date().toISOString() });
        if (i % 50 === 49) { await s.flush(); process.stdout.write(i + '\\n'); }
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let flushed = -1;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the child wrote nothing')), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        flushed = Math.max(flushed, ...d.toString().trim().split('\n').map(Number));
        if (flushed >= 3000) { clearTimeout(timer); child.kill('SIGKILL'); resolve(); }
      });
    });
    await new Promise((r) => child.once('exit', r));
    const s = open(dir, { cacheBytesPerPartition: 0 });
    const info = s.info(0);
    assert.ok(info.last_enqueued_sequence_number >= flushed, `last ${info.last_enqueued_sequence_number}, flushed ${flushed}`);
    const all = s.read(0, everything);
    assert.equal(all.length, info.last_enqueued_sequence_number - info.begin_sequence_number + 1);
    for (const e of all) {
      assert.equal(e.properties['i'], String(e.seq));
      assert.ok(e.body.equals(Buffer.alloc(1000 + (e.seq % 7) * 300, e.seq % 251)), `event ${e.seq} reads back whole`);
    }
    assert.equal(s.append(telemetry('d', 'after')).seq, info.last_enqueued_sequence_number + 1);
    await s.flush();
  } finally {
    removeDir(dir);
  }
});

test('readers by offset, sequence number, enqueued time and @latest get the same events from memory, from disk and after a restart', async () => {
  const dir = tempDir();
  try {
    const t0 = Date.parse('2026-03-01T12:00:00Z');
    const w = open(dir, { now: () => t0 + 60_000 });
    const appended = Array.from({ length: 10 }, (_, i) => w.append(telemetry('d', `b${i}`, t0 + i * 1000, { n: String(i), flag: null }, { messageId: `m${i}` })));
    const offsets = appended.map((e) => e.offset);
    assert.ok(offsets.every((o, i) => /^\d+$/.test(o) && (i === 0 || BigInt(o) > BigInt(offsets[i - 1]!))), 'offsets are increasing decimal strings');
    const positions: [StartPosition, number[]][] = [
      [{ kind: 'offset', value: '-1', inclusive: false }, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
      [{ kind: 'offset', value: offsets[3]!, inclusive: true }, [3, 4, 5, 6, 7, 8, 9]],
      [{ kind: 'offset', value: offsets[3]!, inclusive: false }, [4, 5, 6, 7, 8, 9]],
      [{ kind: 'offset', value: String(BigInt(offsets[3]!) + 1n), inclusive: true }, [4, 5, 6, 7, 8, 9]],
      [{ kind: 'seq', value: 7, inclusive: true }, [7, 8, 9]],
      [{ kind: 'seq', value: 7, inclusive: false }, [8, 9]],
      [{ kind: 'seq', value: 42, inclusive: true }, []],
      [{ kind: 'time', value: t0 + 5000, inclusive: true }, [5, 6, 7, 8, 9]],
      [{ kind: 'time', value: t0 + 5000, inclusive: false }, [6, 7, 8, 9]],
      [{ kind: 'time', value: t0 + 4500, inclusive: false }, [5, 6, 7, 8, 9]],
      [{ kind: 'latest' }, []],
    ];
    const answers = (s: EventStore) => positions.map(([from]) => ({ first: s.firstSeq(0, from), events: summary(s.read(0, from)) }));
    const fromMemory = answers(w);
    positions.forEach(([from, seqs], k) => {
      assert.deepEqual(fromMemory[k]!.events.map((e) => e.seq), seqs, JSON.stringify(from));
      assert.equal(fromMemory[k]!.first, seqs[0] ?? 10, JSON.stringify(from));
    });
    assert.deepEqual(fromMemory[0]!.events[2], { seq: 2, offset: offsets[2], at: t0 + 2000, body: 'b2', props: { n: '2', flag: null }, sys: { messageId: 'm2' } });
    assert.deepEqual(summary(w.readFromSeq(0, 8, 5)).map((e) => e.seq), [8, 9]);
    assert.deepEqual(summary(w.readFromSeq(0, 2, 3)).map((e) => e.seq), [2, 3, 4]);
    await w.flush();
    const fromDisk = open(dir, { now: () => t0 + 60_000, cacheBytesPerPartition: 0 });
    assert.deepEqual(answers(fromDisk), fromMemory);
    assert.deepEqual(summary(fromDisk.readFromSeq(0, 2, 3)).map((e) => e.seq), [2, 3, 4]);
    const info = fromDisk.info(0);
    assert.deepEqual({ ...info }, {
      partition: '0', begin_sequence_number: 0, last_enqueued_sequence_number: 9, last_enqueued_offset: offsets[9],
      last_enqueued_time_utc: new Date(t0 + 9000), is_partition_empty: false,
    });
    const next = fromDisk.append(telemetry('d', 'b10', t0 + 10_000));
    assert.equal(next.seq, 10);
    assert.ok(BigInt(next.offset) > BigInt(offsets[9]!));
    await fromDisk.flush();
  } finally {
    removeDir(dir);
  }
});

test('a `__proto__` or `constructor` member in stored properties is read back as data and changes no prototype', async () => {
  const dir = tempDir();
  try {
    const props = JSON.parse('{"__proto__":"x","constructor":"y","n":"1"}') as Record<string, string>;
    const sys = JSON.parse('{"__proto__":"z","messageId":"m"}') as Record<string, string>;
    const w = open(dir);
    w.append(telemetry('d', 'body', Date.now(), props, sys));
    await w.flush();
    const [ev] = open(dir, { cacheBytesPerPartition: 0 }).read(0, everything);
    assert.equal(Object.getPrototypeOf(ev!.properties), null);
    assert.equal(Object.getPrototypeOf(ev!.systemProperties), null);
    assert.deepEqual(Object.keys(ev!.properties), ['__proto__', 'constructor', 'n']);
    assert.equal(ev!.properties['__proto__'], 'x');
    assert.equal(ev!.systemProperties['__proto__'], 'z');
    assert.equal(({} as Record<string, unknown>)['x'], undefined);

    // the same through a data folder of the format before segments: a `__proto__` object is not a property bag
    const legacy = tempDir();
    try {
      mkdirSync(join(legacy, 'events'));
      writeFileSync(join(legacy, 'events', 'meta.json'), JSON.stringify({ partitions: 1, createdAt: new Date().toISOString() }));
      writeFileSync(join(legacy, 'events', '0.jsonl'), [
        JSON.stringify({ s: 0, o: '0', t: Date.now(), d: 'd', b: Buffer.from('ok').toString('base64'), p: props, y: {} }),
        `{"s":1,"o":"66","t":${Date.now()},"d":"d","b":"","p":{"__proto__":{"polluted":"yes"}},"y":{}}`,
      ].join('\n') + '\n');
      const s = new EventStore(legacy);
      const evs = s.read(0, everything);
      assert.equal(evs.length, 1);
      assert.equal(Object.getPrototypeOf(evs[0]!.properties), null);
      assert.equal(evs[0]!.properties['__proto__'], 'x');
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
      await s.flush();
    } finally {
      removeDir(legacy);
    }
  } finally {
    removeDir(dir);
  }
});

test('a data folder in the format before segments ({p}.jsonl) is imported line by line, a torn last line dropped, and the sequence goes on', async () => {
  const dir = tempDir();
  try {
    mkdirSync(join(dir, 'events'));
    writeFileSync(join(dir, 'events', 'meta.json'), JSON.stringify({ partitions: 2, createdAt: '2026-01-01T00:00:00.000Z' }));
    const now = Date.now();
    const line = (s: number, body: string) => JSON.stringify({ s, o: String(s * 70), t: now - 1000 + s, d: 'dev', m: 'mod', b: Buffer.from(body).toString('base64'), p: { k: String(s) }, y: { messageId: `m${s}` } });
    const p = new EventStore(null, { partitions: 2 }).partitionOf('dev');
    writeFileSync(join(dir, 'events', `${p}.jsonl`), [line(3, 'x'.repeat(300_000)), line(4, 'four'), line(5, 'five')].join('\n') + '\n' + line(6, 'torn').slice(0, 30));
    const s = new EventStore(dir, { partitions: 4 });
    assert.equal(s.partitionCount, 2);
    assert.equal(s.createdAt.toISOString(), '2026-01-01T00:00:00.000Z');
    const evs = s.read(p, everything);
    assert.deepEqual(evs.map((e) => [e.seq, e.body.length, e.moduleId, e.properties['k'], e.systemProperties['messageId']]),
      [[3, 300_000, 'mod', '3', 'm3'], [4, 4, 'mod', '4', 'm4'], [5, 4, 'mod', '5', 'm5']]);
    assert.equal(existsSync(join(dir, 'events', `${p}.jsonl`)), false);
    const next = s.append(telemetry('dev', 'six'));
    assert.deepEqual([next.partition, next.seq], [p, 6]);
    assert.ok(BigInt(next.offset) > BigInt(evs[2]!.offset));
    await s.flush();
  } finally {
    removeDir(dir);
  }
});

test('a device sending 1,000 QoS 1 messages of 256 KB leaves the hub\'s heap and Buffer memory within 48 MiB, and the hub starts again on that folder', async (t) => {
  const dir = tempDir();
  try {
    const base = await settledMemory();
    let { hub, done } = await startHub({ dataDir: dir });
    const dev = await hub.registry.addDevice('big-sender');
    const device = await connectRaw(hub, { deviceId: 'big-sender', key: dev.primaryKey });
    const body = Buffer.alloc(256 * 1024 - 64, 3);
    for (let i = 0; i < 1000; i++) await device.publishAsync(`devices/big-sender/messages/events/i=${i}`, body, { qos: 1 });
    await endClient(device);
    await hub.events.flush();
    const grown = (await settledMemory()) - base;
    t.diagnostic(`hub after 1,000 × 256 KB QoS 1: +${(grown / MiB).toFixed(1)} MiB heap+buffers, rss ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB`);
    assert.ok(grown < 48 * MiB, `grew by ${(grown / MiB).toFixed(1)} MiB`);
    const p = hub.events.partitionOf('big-sender');
    assert.equal(hub.events.info(p).last_enqueued_sequence_number, 999);
    await done();
    ({ hub, done } = await startHub({ dataDir: dir }));
    try {
      const info = hub.events.info(p);
      assert.equal(info.last_enqueued_sequence_number, 999);
      const [last] = hub.events.readFromSeq(p, 999, 1);
      assert.equal(last!.properties['i'], '999');
      assert.ok(last!.body.equals(body));
    } finally {
      await done();
    }
  } finally {
    removeDir(dir);
  }
});

test('a damaged record in an older segment is skipped by readers (CRC), and the events around it still read back', async () => {
  const dir = tempDir();
  try {
    const w = open(dir, { segmentBytes: 1024 });
    for (let i = 0; i < 20; i++) w.append(telemetry('d', `event-${i}`.padEnd(200, '.')));
    await w.flush();
    const [first] = segments(dir);
    const file = join(dir, 'events', '0', first!.name);
    const bytes = readFileSync(file);
    const at = bytes.indexOf('event-1.');
    bytes[at + 50] ^= 0xff; // a bit flip in the body of seq 1
    writeFileSync(file, bytes);
    const r = open(dir, { cacheBytesPerPartition: 0 });
    const all = r.read(0, everything);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 1));
    assert.equal(all[1]!.body.toString().trimEnd().replace(/\.+$/, ''), 'event-2');
    assert.deepEqual(r.readFromSeq(0, 1, 1).map((e) => e.seq), [2]);
    await r.flush();
  } finally {
    removeDir(dir);
  }
});
