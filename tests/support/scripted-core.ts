// Drives a bare instance of the core's device client in memory, with a scripted peer on the other side: the test
// reads what the client sends (decoded with our codec) and feeds it packets. For protocol corners a real hub
// never produces (a refused SUBACK, a lost session, out-of-order patches) and for memory proofs; everything a
// real hub does is tested against the local hub instead.
import { readFileSync } from 'node:fs';
import { wasmPath, type Profile } from '../../host/wasm/core.js';
import { encodePacket, PacketDecoder, type Packet } from '../../host/codec/index.js';
import { withStackPointerExported } from './stack-pointer.js';
import { EVENT, EVENT_RECORD_WORDS as EVR, STATUS, WANT, type GatewayExports } from '../../host/wasm/abi.generated.js';

type Ex = GatewayExports & { sp: WebAssembly.Global };
export interface CoreEvent { type: number; status: number; token: number; version: number; extra: number; a: Buffer }

export const DEVICE_CS = 'HostName=hub.example.net;DeviceId=dev-1;SharedAccessKey=' + Buffer.alloc(32, 9).toString('base64');

export class ScriptedCore {
  readonly ex: Ex;
  readonly mem: Uint8Array;
  readonly io: number;
  now = 1000;
  private readonly peer = new PacketDecoder();

  constructor(profile: Profile = 'gateway', cs = DEVICE_CS) {
    // The shadow-stack pointer is exported as `sp` (a test copy of the module) so memory proofs can watch it.
    const bytes = withStackPointerExported(new Uint8Array(readFileSync(wasmPath(profile))));
    this.ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as Ex;
    this.mem = new Uint8Array(this.ex.memory.buffer);
    this.io = this.ex.abi_io_ptr();
    if (this.ex.client_init(this.io, this.put(cs)) !== STATUS.OK) throw new Error('client_init failed');
    this.ex.client_time_set(1_800_000_000, this.now);
  }

  /** Writes bytes or UTF-8 into the IO window at `at` (default its start); returns the length. */
  put(s: string | Uint8Array, at = this.io): number {
    const b = typeof s === 'string' ? Buffer.from(s) : s;
    this.mem.set(b, at);
    return b.length;
  }

  /** Packets the client wants to send (consumed). */
  sent(): Packet[] {
    const n = this.ex.client_tx_len();
    const p = this.ex.client_tx_ptr();
    const out = this.peer.push(Buffer.from(this.mem.subarray(p, p + n)));
    this.ex.client_tx_consumed(n);
    return out;
  }

  feed(pkt: Packet): void {
    const b = encodePacket(pkt);
    this.mem.set(b, this.ex.client_rx_window());
    this.ex.client_rx_commit(b.length);
  }

  /** Polls until the client has nothing more to say; returns its events. */
  poll(): CoreEvent[] {
    const out: CoreEvent[] = [];
    const ev = new Int32Array(this.ex.memory.buffer, this.ex.client_event_ptr(), EVR.WORDS);
    let t;
    while ((t = this.ex.client_poll(this.now)) !== EVENT.NONE) {
      const a = ev[EVR.aLen] > 0 ? Buffer.from(this.mem.subarray(ev[EVR.aPtr], ev[EVR.aPtr] + ev[EVR.aLen])) : Buffer.alloc(0);
      out.push({ type: t, status: ev[EVR.status], token: ev[EVR.token] >>> 0, version: ev[EVR.version] >>> 0, extra: ev[EVR.extra], a });
    }
    return out;
  }

  /** Start, transport up, answer CONNECT (and SUBSCRIBE unless the session is present). */
  connect(sessionPresent = false, granted = [1, 0, 0, 0]): { events: CoreEvent[]; subscribed: boolean; packets: Packet[] } {
    if (this.ex.client_wants() !== WANT.OPEN) this.ex.client_start(this.now);
    this.ex.client_transport_up(this.now);
    const connect = this.sent();
    if (connect[0]?.cmd !== 'connect') throw new Error(`expected CONNECT, got ${connect[0]?.cmd}`);
    this.feed({ cmd: 'connack', returnCode: 0, sessionPresent });
    let events = this.poll();
    const packets = this.sent();
    const sub = packets.find((p) => p.cmd === 'subscribe') as { messageId: number } | undefined;
    if (sub) {
      this.feed({ cmd: 'suback', messageId: sub.messageId, granted });
      events = events.concat(this.poll());
      packets.push(...this.sent());
    }
    return { events, subscribed: !!sub, packets };
  }

  /** The transport went away; time passes until the client wants to open it again. */
  drop(): CoreEvent[] {
    this.ex.client_transport_down(this.now);
    return this.poll();
  }
}
