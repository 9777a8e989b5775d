// A board whose transport is an MQTT peer in the same process: it answers CONNECT, SUBSCRIBE, QoS 1 PUBLISH and
// PINGREQ from the bytes written to it (read here, not by the core) and delivers its answers once per turn of the
// event loop, all of one turn in one chunk, as a socket would. No kernel, no TLS: what a client costs per message
// on top of this peer is the client's own work (bench/host-path.bench.ts).
import type { Board, Transport, TransportHandlers } from '../host/device/board.js';
import { nodeBoard } from '../boards/node/index.js';

export interface LoopbackPeer {
  /** Reads bytes a client wrote; queues the answers. */
  receive(bytes: Uint8Array): void;
  /** PUBLISH packets received so far. */
  published: number;
}

/** A peer answering whoever is attached to `deliver` (a transport's onData). */
export function loopbackPeer(deliver: (chunk: Buffer) => void): LoopbackPeer {
  const answers: Buffer[] = [];
  let queued = false;
  const flush = () => { queued = false; const chunk = Buffer.concat(answers); answers.length = 0; deliver(chunk); };
  const peer: LoopbackPeer = {
    published: 0,
    receive(buf) {
      let i = 0;
      while (i < buf.length) {
        const type = buf[i]! >> 4, qos = (buf[i]! >> 1) & 3;
        let len = 0, mul = 1, j = i + 1, d: number;
        do { d = buf[j++]!; len += (d & 127) * mul; mul *= 128; } while (d & 128);
        const body = j;
        if (type === 1) answers.push(Buffer.from([0x20, 2, 0, 0])); // CONNECT → CONNACK accepted
        else if (type === 8) { // SUBSCRIBE → SUBACK granting each filter QoS 0
          let k = body + 2, n = 0;
          while (k < body + len) { k += 2 + ((buf[k]! << 8) | buf[k + 1]!) + 1; n++; }
          answers.push(Buffer.from([0x90, 2 + n, buf[body]!, buf[body + 1]!, ...new Array<number>(n).fill(0)]));
        } else if (type === 3) {
          peer.published++;
          if (qos === 1) { const at = body + 2 + ((buf[body]! << 8) | buf[body + 1]!); answers.push(Buffer.from([0x40, 2, buf[at]!, buf[at + 1]!])); }
        } else if (type === 12) answers.push(Buffer.from([0xd0, 0])); // PINGREQ → PINGRESP
        i = body + len;
      }
      if (!queued && answers.length) { queued = true; setImmediate(flush); }
    },
  };
  return peer;
}

/** The Node board with its transport replaced by a loopback peer (one per open). */
export function loopbackBoard(onPeer: (peer: LoopbackPeer) => void = () => {}): Board {
  return {
    ...nodeBoard,
    open(_options, handlers: TransportHandlers): Transport {
      let open = true;
      const peer = loopbackPeer((chunk) => { if (open) handlers.onData(chunk); });
      onPeer(peer);
      setImmediate(() => handlers.onOpen());
      return {
        write: (bytes) => { peer.receive(bytes); return true; },
        close: () => { open = false; setImmediate(() => handlers.onClose()); },
      };
    },
  };
}
