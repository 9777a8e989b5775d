// The physical reference for the device benchmark: a bare TLS (or TCP) socket that writes pre-encoded QoS 1
// PUBLISH packets to the local hub and counts PUBACKs. No protocol engine, no promises per message: what it costs
// per message is roughly what Node's socket and TLS stack cost, the floor any client pays. rawPromiseWriter is the
// same socket behind the simple API's shape (a promise per message): the floor of any promise-per-message client.
// It speaks just enough MQTT to be accepted (CONNECT with the device's SAS token, wait for CONNACK).
import { connect as tlsConnect } from 'node:tls';
import { connect as tcpConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { generateSasToken, parseConnectionString, deviceResourceUri } from '../host/iothub/index.js';

export interface RawWriter {
  /** Sends `total` messages (or until `maxMs`) with `inFlight` awaiting PUBACK; resolves with the count acknowledged. */
  drive(total: number, maxMs: number, inFlight: number): Promise<number>;
  close(): Promise<void>;
}

/** `topicProps` is the property part of the topic (`a=b&c=d`), as IoT Hub encodes it. */
export interface RawOptions { connectionString: string; host: string; port: number; ca?: string; tls: boolean; body: string; topicProps: string }

export interface RawConnection {
  socket: Socket;
  /** `k` PUBLISH packets with fresh identifiers, in one buffer (one socket write). */
  batch(k: number): Buffer;
  close(): Promise<void>;
}

/**
 * `k` QoS 1 PUBLISH packets of `body` on `topic` in one buffer, from one template (mqtt-packet's) of which only
 * the packet identifier changes: the pre-encoded writes of the raw writers (here and bench/host-path.bench.ts).
 */
export function publishBatches(topic: string, body: string): (k: number) => Buffer {
  const template = mqttPacket.generate({ cmd: 'publish', qos: 1, dup: false, retain: false, messageId: 1, topic, payload: Buffer.from(body) });
  const idAt = template.length - Buffer.byteLength(body) - 2;
  let nextId = 0;
  return (k) => {
    const out = Buffer.allocUnsafe(template.length * k);
    for (let i = 0; i < k; i++) {
      const at = i * template.length;
      template.copy(out, at);
      nextId = (nextId % 65535) + 1;
      out[at + idAt] = nextId >> 8;
      out[at + idAt + 1] = nextId & 0xff;
    }
    return out;
  };
}

/** Counts the PUBACKs (4 bytes each: 40 02 id id) in a stream of chunks, any of which may split one. */
export function pubackCounter(): (chunk: Uint8Array) => number {
  let partial = 0;
  return (chunk) => {
    const bytes = partial + chunk.length;
    partial = bytes & 3;
    return bytes >> 2;
  };
}

/** Connects one device (CONNECT with its SAS token, CONNACK accepted). */
export async function rawConnection(o: RawOptions): Promise<RawConnection> {
  const cs = parseConnectionString(o.connectionString);
  const password = generateSasToken({ resourceUri: deviceResourceUri(cs), key: cs.sharedAccessKey!, expiry: Math.floor(Date.now() / 1000) + 3600 });
  const connect = mqttPacket.generate({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 240, clientId: cs.deviceId,
    username: `${cs.hostName}/${cs.deviceId}/?api-version=2021-04-12`, password: Buffer.from(password),
  });
  const batch = publishBatches(`devices/${cs.deviceId}/messages/events/${o.topicProps}`, o.body);
  const socket: Socket = o.tls
    ? tlsConnect({ host: o.host, port: o.port, ca: o.ca, servername: 'localhost' })
    : tcpConnect({ host: o.host, port: o.port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once(o.tls ? 'secureConnect' : 'connect', () => { socket.write(connect); });
    socket.once('error', reject);
    socket.once('data', (d: Buffer) => (d[0] === 0x20 && d[3] === 0 ? resolve() : reject(new Error(`CONNACK refused: ${d.toString('hex')}`))));
  });
  return {
    socket,
    batch,
    close() {
      return new Promise((resolve) => {
        socket.once('close', () => resolve());
        socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
        setTimeout(() => socket.destroy(), 1000).unref();
      });
    },
  };
}

/** The floor: as many PUBLISH packets written, in one write, as PUBACKs came in the last chunk. */
export async function rawWriter(o: RawOptions): Promise<RawWriter> {
  const { socket, batch, close } = await rawConnection(o);
  return {
    drive(total, maxMs, inFlight) {
      const deadline = performance.now() + maxMs;
      let started = 0, done = 0, stopped = false;
      const count = pubackCounter();
      return new Promise((resolve, reject) => {
        const onData = (d: Buffer) => {
          const acks = count(d);
          done += acks;
          if (!stopped && (started >= total || performance.now() >= deadline)) stopped = true;
          if (stopped) {
            if (done >= started) { socket.off('data', onData); resolve(done); }
            return;
          }
          const k = Math.min(acks, total - started);
          if (k > 0) { started += k; socket.write(batch(k)); }
        };
        socket.on('data', onData);
        socket.once('error', reject);
        started = Math.min(inFlight, total);
        socket.write(batch(started));
      });
    },
    close,
  };
}

/**
 * The same socket with the simple API's shape: `send()` returns one promise per message, settled by its PUBACK, and
 * the messages of one burst leave in one socket write. What a promise per message costs with no protocol engine:
 * the floor for `DeviceClient.sendTelemetry`.
 */
export async function rawPromiseWriter(o: RawOptions): Promise<{ send(): Promise<void>; close(): Promise<void> }> {
  const { socket, batch, close } = await rawConnection(o);
  const waiting: Array<() => void> = [];
  let head = 0, queued = 0, scheduled = false;
  const count = pubackCounter();
  const flush = () => { scheduled = false; const k = queued; queued = 0; socket.write(batch(k)); };
  socket.on('data', (d: Buffer) => {
    for (let acks = count(d); acks > 0; acks--) waiting[head++]!();
    if (head > 65536) { waiting.splice(0, head); head = 0; }
  });
  return {
    send() {
      const p = new Promise<void>((resolve) => { waiting.push(resolve); });
      queued++;
      if (!scheduled) { scheduled = true; queueMicrotask(flush); }
      return p;
    },
    close,
  };
}
