// A whole device session driven straight through build/mcu.wasm, the way a microcontroller board hosts it
// (boards/README.md): no imports, one 64 KiB page, only the documented exports and raw loads/stores into linear
// memory, and the main loop of the README's pseudo-C with a node:tls socket standing in for the board's TLS
// stack. Not DeviceClient, not the gateway build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { LocalHub } from '../../host/hub/index.js';
import type { TelemetryMessage, ReportedEvent, FeedbackRecord } from '../../host/hub/index.js';
import { EVENT, WANT, STATE, SYSTEM_PROPERTY, STATUS, EVENT_RECORD, BAG_ITEM, OPTION, TRANSPORT, type McuExports } from '../../host/wasm/abi.generated.js';

// ---- the ABI numbers, generated from the core (what boards/c/iothub_wasm_abi.h gives a C board) -------------------
const { NONE: EV_NONE, CONNECTED: EV_CONNECTED, DISCONNECTED: EV_DISCONNECTED, TELEMETRY_ACKED: EV_TELEMETRY_ACKED,
  TELEMETRY_FAILED: EV_TELEMETRY_FAILED, C2D: EV_C2D, METHOD: EV_METHOD, TWIN_RESPONSE: EV_TWIN_RESPONSE, DESIRED: EV_DESIRED,
  ERROR: EV_ERROR } = EVENT;
const { OPEN: WANT_OPEN, CLOSE: WANT_CLOSE } = WANT;
const { READY: STATE_READY, STOPPED: STATE_STOPPED } = STATE;
const { MESSAGE_ID: SYS_MESSAGE_ID, CORRELATION_ID: SYS_CORRELATION_ID } = SYSTEM_PROPERTY;
const { CLIENT_CLOSED } = STATUS;
const EVR = EVENT_RECORD, ITEM = BAG_ITEM;
const PAGE = 65536;
/** A small socket read, as on a microcontroller: packets arrive split across rx commits. */
const READ_SIZE = 97;

/** Only what mcu.wasm exports (a misspelled or missing export does not compile). */
type Exports = McuExports;

interface Event {
  type: number; status: number; token: number; version: number; extra: number;
  a: Buffer; b: Buffer; c: Buffer;
  /** C2D only: the property bag walked with client_bag_begin/next while the views were valid. */
  props?: Array<{ name: string; value: string | null; sys: number }>;
}

const mcuPath = fileURLToPath(new URL('../../../build/mcu.wasm', import.meta.url));

/** The board: a socket, a clock, and the main loop of boards/README.md. */
class McuBoard {
  readonly ex: Exports;
  readonly mem: WebAssembly.Memory;
  readonly io: number;
  readonly ioCap: number;
  readonly events: Event[] = [];
  /** Called for each event while its views are valid (the place to answer methods and ack C2D). */
  onEvent: (e: Event) => void = () => {};
  private sock: TLSSocket | null = null;
  private sockUp = false;
  private rxQueue: Buffer[] = [];
  private wake: (() => void) | null = null;
  private peerClosed = false;

  constructor(private readonly ca: string) {
    const module = new WebAssembly.Module(readFileSync(mcuPath));
    assert.deepEqual(WebAssembly.Module.imports(module), [], 'the MCU core imports nothing');
    const instance = new WebAssembly.Instance(module, {});
    this.ex = instance.exports as unknown as Exports;
    this.mem = this.ex.memory;
    this.io = this.ex.abi_io_ptr();
    this.ioCap = this.ex.abi_io_capacity();
  }

  get u8(): Uint8Array { return new Uint8Array(this.mem.buffer); }
  u32(ptr: number): number { return new DataView(this.mem.buffer).getUint32(ptr, true); }
  i32(ptr: number): number { return new DataView(this.mem.buffer).getInt32(ptr, true); }
  bytes(ptr: number, len: number): Buffer { return len > 0 ? Buffer.from(this.u8.slice(ptr, ptr + len)) : Buffer.alloc(0); }
  utf8(ptr: number, len: number): string { return this.bytes(ptr, len).toString('utf8'); }
  /** abi_status_name: a UTF-16LE string whose byte length is the u32 just before it. */
  statusName(code: number): string {
    const p = this.ex.abi_status_name(code);
    return Buffer.from(this.u8.slice(p, p + this.u32(p - 4))).toString('utf16le');
  }
  /** Writes UTF-8 into the IO window at `off`; returns its length. */
  put(off: number, s: string): number {
    const b = Buffer.from(s, 'utf8');
    assert.ok(off + b.length <= this.ioCap, 'fits the IO window');
    this.u8.set(b, this.io + off);
    return b.length;
  }
  nowMs(): number { return Math.floor(performance.now()) >>> 0; }

  private kick(): void { const w = this.wake; this.wake = null; w?.(); }

  private open(): void {
    const host = this.utf8(this.ex.client_endpoint_ptr(), this.ex.client_endpoint_len());
    const hostname = this.utf8(this.ex.client_hostname_ptr(), this.ex.client_hostname_len());
    const port = this.ex.client_endpoint_port(TRANSPORT.MQTTS); // the gateway's own port, else 8883
    const s = tlsConnect({ host, port, servername: hostname, ca: this.ca });
    this.sock = s;
    this.sockUp = false;
    s.setNoDelay(true);
    s.on('secureConnect', () => {
      if (this.sock !== s) return;
      this.sockUp = true;
      assert.equal(this.ex.client_transport_up(this.nowMs()), 0, 'client_transport_up');
      this.kick();
    });
    s.on('data', (chunk: Buffer) => { if (this.sock === s) { this.rxQueue.push(chunk); this.kick(); } });
    const gone = () => { if (this.sock === s) { this.peerClosed = true; this.kick(); } };
    s.on('error', gone);
    s.on('close', gone);
  }

  private closeSocket(): void {
    const s = this.sock;
    this.sock = null;
    this.sockUp = false;
    this.rxQueue = [];
    if (s) { s.end(); setTimeout(() => s.destroy(), 200).unref(); }
  }

  private record(type: number): Event {
    const ev = this.ex.client_event_ptr();
    const view = (ptr: number, len: number) => this.bytes(this.u32(ev + ptr), this.i32(ev + len));
    assert.equal(this.u32(ev + EVR.type), type, 'the record holds the type client_poll returned');
    const e: Event = {
      type, status: this.i32(ev + EVR.status), token: this.u32(ev + EVR.token), version: this.u32(ev + EVR.version),
      extra: this.i32(ev + EVR.extra), a: view(EVR.aPtr, EVR.aLen), b: view(EVR.bPtr, EVR.bLen), c: view(EVR.cPtr, EVR.cLen),
    };
    if (type === EV_C2D && this.i32(ev + EVR.bLen) > 0) {
      // Walk the bag in place (its view lies in the receive buffer, inside static data).
      assert.equal(this.ex.client_bag_begin(this.u32(ev + EVR.bPtr), this.i32(ev + EVR.bLen)), 0);
      const item = this.ex.client_bag_item_ptr();
      e.props = [];
      let r: number;
      while ((r = this.ex.client_bag_next()) === 1) {
        const vl = this.i32(item + ITEM.valueLen);
        e.props.push({
          name: this.utf8(this.u32(item + ITEM.namePtr), this.i32(item + ITEM.nameLen)),
          value: vl < 0 ? null : this.utf8(this.u32(item + ITEM.valuePtr), vl), sys: this.i32(item + ITEM.system),
        });
      }
      assert.equal(r, 0, `bag walk ended cleanly (${this.statusName(r)})`);
    }
    return e;
  }

  /** One turn of the main loop. */
  private turn(): void {
    const ex = this.ex;
    let now = this.nowMs();
    if (ex.client_wants() === WANT_OPEN && !this.sock) this.open();
    // Feed received bytes (as much as fits; the rest waits for the next turn).
    while (this.rxQueue.length && this.sock) {
      const chunk = this.rxQueue[0];
      const win = ex.client_rx_window(); // first: it makes the room that client_rx_space reports
      const space = ex.client_rx_space();
      if (space === 0) break;
      const n = Math.min(space, chunk.length, READ_SIZE);
      this.u8.set(chunk.subarray(0, n), win);
      assert.ok(ex.client_rx_commit(n) >= 0, 'client_rx_commit');
      if (n === chunk.length) this.rxQueue.shift(); else this.rxQueue[0] = chunk.subarray(n);
      // Poll before the next rx call: views of the previous events end here.
      this.pollAll(now);
    }
    this.pollAll(now);
    // Write what the core has for the transport.
    if (this.sock && this.sockUp) {
      const len = ex.client_tx_len();
      if (len > 0) {
        this.sock.write(this.bytes(ex.client_tx_ptr(), len));
        assert.equal(ex.client_tx_consumed(len), 0);
      }
    }
    now = this.nowMs();
    if (ex.client_wants() === WANT_CLOSE) {
      // Even with no socket (client_stop while OPENING): transport_down is what ends CLOSING.
      this.closeSocket();
      ex.client_transport_down(now);
      this.pollAll(now);
    } else if (this.peerClosed && this.sock) {
      this.closeSocket();
      ex.client_transport_down(now);
      this.pollAll(now);
    }
    this.peerClosed = false;
  }

  private pollAll(now: number): void {
    let t: number;
    while ((t = this.ex.client_poll(now)) !== EV_NONE) {
      const e = this.record(t);
      this.events.push(e);
      this.onEvent(e);
    }
  }

  /** Runs the loop until `done()` or the deadline. */
  async run(done: () => boolean, what: string, limitMs = 10000): Promise<void> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      this.turn();
      if (done()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events: ${this.events.map((e) => e.type).join(',')}`);
      // Sleep until I/O or next_timeout (capped, so hub-side promises are also noticed).
      const t = this.ex.client_next_timeout();
      const pending = this.rxQueue.length > 0 && this.ex.client_rx_window() > 0 && this.ex.client_rx_space() > 0;
      const ms = pending ? 0 : Math.min(t < 0 ? 50 : t, 50);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { this.wake = null; resolve(); }, ms);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  /** Waits for the next event of `type` after index `from`. */
  async next(type: number, from: number, what: string): Promise<Event> {
    let found: Event | undefined;
    await this.run(() => (found = this.events.slice(from).find((e) => e.type === type)) !== undefined, what);
    return found!;
  }

  dispose(): void { const s = this.sock; this.sock = null; s?.destroy(); }
}

test('mcu.wasm hosted like a microcontroller: a whole session against the local hub', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-mcu-'));
  const hub = await LocalHub.start({ port: 0, dataDir: dir, log: false });
  let board: McuBoard | null = null;
  t.after(async () => {
    board?.dispose();
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const deviceId = 'mcu-1';
  const { connectionString } = await hub.registry.addDevice(deviceId);
  assert.match(connectionString, /GatewayHostName=localhost:\d+/);
  const b = board = new McuBoard(hub.ca);
  const ex = b.ex;

  // The profile and the memory map.
  assert.equal(ex.abi_profile_is_mcu(), 1);
  assert.equal(b.mem.buffer.byteLength, PAGE, 'exactly one 64 KiB page');
  assert.throws(() => b.mem.grow(1), RangeError, 'the memory cannot grow (maximum one page)');
  const heapBase = ex.abi_heap_base();
  assert.ok(heapBase > 0 && heapBase <= PAGE);
  for (const [name, ptr, len] of [
    ['io', b.io, b.ioCap], ['rx', ex.client_rx_window(), ex.client_rx_capacity()], ['tx', ex.client_tx_ptr(), 0],
    ['event', ex.client_event_ptr(), EVR.SIZE], ['bag item', ex.client_bag_item_ptr(), ITEM.SIZE],
  ] as const) assert.ok(ptr > 0 && ptr + len <= heapBase, `${name} lies in static data`);
  assert.equal(b.statusName(0), 'OK');
  assert.equal(b.statusName(CLIENT_CLOSED), 'CLIENT_CLOSED');
  assert.equal(b.statusName(-42424), 'UNKNOWN_STATUS');

  // Init from the connection string written into the IO window; time anchoring; start.
  const csLen = b.put(0, connectionString);
  const rc = ex.client_init(b.io, csLen);
  assert.equal(rc, 0, `client_init: ${b.statusName(rc)}`);
  assert.equal(ex.client_x509_enabled(), 0);
  assert.equal(b.utf8(ex.client_hostname_ptr(), ex.client_hostname_len()), 'localhost');
  assert.equal(b.utf8(ex.client_endpoint_ptr(), ex.client_endpoint_len()), 'localhost', 'GatewayHostName without its port');
  assert.equal(ex.client_endpoint_port(TRANSPORT.MQTTS), hub.port, 'the port GatewayHostName names');
  assert.equal(ex.client_option_set(OPTION.KEEPALIVE_S, 30), 0, 'OPT_KEEPALIVE_S');
  assert.equal(b.statusName(ex.client_option_set(99, 1)), 'CLIENT_BAD_OPTION');
  ex.client_seed_set(randomBytes(4).readUInt32LE(0));
  assert.equal(b.statusName(ex.client_start(b.nowMs())), 'CLIENT_TIME_NOT_SET', 'SAS needs the time first');
  ex.client_time_set(Math.floor(Date.now() / 1000), b.nowMs());
  assert.equal(ex.client_start(b.nowMs()), 0);
  assert.equal(ex.client_wants(), WANT_OPEN);

  // Connect and subscribe.
  const connected = await b.next(EV_CONNECTED, 0, 'EV_CONNECTED');
  assert.equal(connected.status, 0, 'no session present on a first connection');
  assert.equal(ex.client_state(), STATE_READY);
  assert.ok(hub.isConnected(deviceId));

  // QoS 1 telemetry with an application property and a system property.
  const seen: TelemetryMessage[] = [];
  hub.on('telemetry', (m) => seen.push(m));
  ex.client_telemetry_begin();
  let nl = b.put(0, 'temp unit');
  let vl = b.put(nl, '°C/100');
  assert.equal(ex.client_telemetry_property_add(b.io, nl, b.io + nl, vl), 0);
  vl = b.put(0, 'msg-0001');
  assert.equal(ex.client_telemetry_system_add(SYS_MESSAGE_ID, b.io, vl), 0);
  const body = JSON.stringify({ temperature: 21.5, seq: 1 });
  const token = ex.client_telemetry_send(b.io, b.put(0, body), 1);
  assert.ok(token > 0, `telemetry token: ${b.statusName(token)}`);
  const acked = await b.next(EV_TELEMETRY_ACKED, 0, 'EV_TELEMETRY_ACKED');
  assert.equal(acked.token, token);
  await b.run(() => seen.length > 0, 'the hub telemetry event');
  assert.equal(seen[0].deviceId, deviceId);
  assert.equal(seen[0].qos, 1);
  assert.equal(seen[0].body.toString('utf8'), body);
  assert.deepEqual(seen[0].properties, { 'temp unit': '°C/100' });
  assert.equal(seen[0].systemProperties['messageId'], 'msg-0001');

  // Twin GET.
  let from = b.events.length;
  const getRid = ex.client_twin_get(b.nowMs());
  assert.ok(getRid > 0);
  const got = await b.next(EV_TWIN_RESPONSE, from, 'twin GET response');
  assert.equal(got.token, getRid);
  assert.equal(got.status, 200);
  const twin = JSON.parse(got.a.toString('utf8')) as { desired: { $version: number }; reported: { $version: number } };
  assert.equal(typeof twin.desired.$version, 'number');
  ex.client_twin_desired_applied(twin.desired.$version);

  // Reported PATCH.
  const reported: ReportedEvent[] = [];
  hub.on('reported', (r) => reported.push(r));
  from = b.events.length;
  const patch = JSON.stringify({ firmware: '1.0.0', battery: 97 });
  const patchRid = ex.client_twin_patch(b.io, b.put(0, patch), b.nowMs());
  assert.ok(patchRid > 0 && patchRid !== getRid);
  const patched = await b.next(EV_TWIN_RESPONSE, from, 'twin PATCH response');
  assert.equal(patched.token, patchRid);
  assert.equal(patched.status, 204);
  const hubTwin = await hub.getTwin(deviceId);
  assert.equal(patched.version, hubTwin.properties.reported['$version']);
  assert.ok(patched.version > twin.reported.$version);
  assert.equal(hubTwin.properties.reported['battery'], 97);
  await b.run(() => reported.length > 0, 'the hub reported event');

  // Desired update from the service side.
  from = b.events.length;
  const updated = await hub.updateDesired(deviceId, { interval: 5 });
  const desiredVersion = updated.properties.desired['$version'];
  const desired = await b.next(EV_DESIRED, from, 'EV_DESIRED');
  assert.equal(desired.version, desiredVersion);
  assert.equal(desired.version, twin.desired.$version + 1);
  assert.equal((JSON.parse(desired.a.toString('utf8')) as { interval: number }).interval, 5);

  // Direct method, answered from inside the event (its views are valid until the next poll/rx call).
  b.onEvent = (e) => {
    if (e.type !== EV_METHOD) return;
    const ev = ex.client_event_ptr();
    const ridPtr = b.u32(ev + EVR.bPtr), ridLen = b.i32(ev + EVR.bLen);
    const n = b.put(0, JSON.stringify({ echoed: JSON.parse(e.c.toString('utf8')), method: e.a.toString('utf8') }));
    const r = ex.client_method_respond(ridPtr, ridLen, 201, b.io, n);
    assert.equal(r, 0, `client_method_respond: ${b.statusName(r)}`);
  };
  from = b.events.length;
  let methodResult: { status: number; payload: unknown } | undefined;
  let methodError: unknown;
  hub.invokeMethod(deviceId, 'reboot', { delay: 3 }, { responseTimeoutInSeconds: 10 }).then((r) => { methodResult = r; }, (e) => { methodError = e; });
  await b.run(() => methodResult !== undefined || methodError !== undefined, 'the method result');
  assert.equal(methodError, undefined);
  const method = b.events.slice(from).find((e) => e.type === EV_METHOD)!;
  assert.equal(method.a.toString('utf8'), 'reboot');
  assert.ok(method.b.length > 0, 'a request id');
  assert.deepEqual(methodResult, { status: 201, payload: { echoed: { delay: 3 }, method: 'reboot' } });

  // C2D with properties, acknowledged with client_c2d_ack.
  const feedback: FeedbackRecord[] = [];
  hub.on('feedback', (f) => feedback.push(f));
  b.onEvent = () => {};
  from = b.events.length;
  await hub.sendC2D(deviceId, 'switch on', { messageId: 'c2d-7', correlationId: 'corr-1', properties: { colour: 'red', 'a&b': 'x=y z' }, ack: 'full' });
  const c2d = await b.next(EV_C2D, from, 'EV_C2D');
  assert.equal(c2d.a.toString('utf8'), 'switch on');
  assert.equal(c2d.status, 1, 'QoS 1');
  assert.ok(c2d.token > 0 && c2d.token <= 65535, 'packet id to ack');
  const props = c2d.props ?? [];
  const app = Object.fromEntries(props.filter((p) => p.sys < 0).map((p) => [p.name, p.value]));
  assert.equal(app['colour'], 'red');
  assert.equal(app['a&b'], 'x=y z');
  const mid = props.find((p) => p.sys === SYS_MESSAGE_ID);
  assert.equal(mid?.value, 'c2d-7');
  assert.equal(props.find((p) => p.sys === SYS_CORRELATION_ID)?.value, 'corr-1', '$.cid');
  assert.equal(hub.c2d.pending(deviceId).length, 1, 'not completed before the ack');
  assert.equal(ex.client_c2d_ack(c2d.token), 0);
  await b.run(() => feedback.length > 0, 'C2D feedback');
  assert.equal(feedback[0].statusCode, 'Success');
  assert.equal(feedback[0].originalMessageId, 'c2d-7');
  assert.equal(hub.c2d.pending(deviceId).length, 0);

  // Stop: DISCONNECT is written, the board closes, the core reports CLIENT_CLOSED and stops.
  const hubDisconnected = new Promise<{ reason?: string }>((resolve) => hub.once('disconnected', resolve));
  from = b.events.length;
  ex.client_stop(b.nowMs());
  assert.equal(ex.client_wants(), WANT_CLOSE);
  const closed = await b.next(EV_DISCONNECTED, from, 'EV_DISCONNECTED after client_stop');
  assert.equal(closed.status, CLIENT_CLOSED);
  assert.equal(closed.extra, -1, 'no reconnect');
  await b.run(() => ex.client_state() === STATE_STOPPED && ex.client_wants() === WANT.NOTHING, 'STOPPED');
  await hubDisconnected;
  assert.equal(hub.isConnected(deviceId), false);
  assert.equal(ex.client_next_timeout(), -1, 'nothing left to time');

  // Nothing unexpected along the way, and the memory map is what it was.
  const bad = b.events.filter((e) => e.type === EV_ERROR || e.type === EV_TELEMETRY_FAILED);
  assert.deepEqual(bad.map((e) => b.statusName(e.status)), []);
  assert.equal(b.events.filter((e) => e.type === EV_DISCONNECTED).length, 1, 'one disconnection: the one asked for');
  assert.equal(b.mem.buffer.byteLength, PAGE);
  assert.equal(ex.abi_heap_base(), heapBase);
});
