// The Node gateway board: TCP+TLS (node:tls, with SNI, CA and client certificates), MQTT over WebSocket
// (wss://{host}:{port}/$iothub/websocket, sub-protocol "mqtt"), plain TCP for tests, the process clock and
// node:crypto entropy.
import { connect as tlsConnect, createSecureContext, type SecureContext } from 'node:tls';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Board, Transport, TransportHandlers, TransportOptions } from '../../host/device/board.js';

/**
 * A socket's transport. The socket's listeners are functions shared by every socket (they find their transport on
 * the socket), not closures made per connection: a gateway holds thousands of these.
 */
class SocketTransport implements Transport {
  private closed = false;
  constructor(private readonly socket: Socket, readonly handlers: TransportHandlers) {}
  write(bytes: Uint8Array): boolean { return this.socket.write(bytes); }
  close(): void {
    const socket = this.socket;
    socket.end();
    socket.destroySoon?.();
    setTimeout(() => socket.destroy(), 1000).unref();
  }
  finish(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose(err);
  }
}

const kTransport = Symbol('iothub-wasm transport');
type Linked = Socket & { [kTransport]: SocketTransport };
function onReady(this: Linked): void { this[kTransport].handlers.onOpen(); }
function onData(this: Linked, chunk: Buffer): void { this[kTransport].handlers.onData(chunk); }
function onError(this: Linked, err: Error): void { this[kTransport].finish(err); this.destroy(); }
function onClose(this: Linked): void { this[kTransport].finish(); }

function socketTransport(socket: Socket, handlers: TransportHandlers, readyEvent: string): Transport {
  const transport = new SocketTransport(socket, handlers);
  (socket as Linked)[kTransport] = transport;
  socket.setNoDelay(true);
  // `on` rather than `once`: `once` wraps each listener in a closure of its own; these events come once anyway
  // (a second 'error' after destroy() still finds a listener and is ignored).
  socket.on(readyEvent, onReady);
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);
  return transport;
}

function webSocketTransport(o: TransportOptions, handlers: TransportHandlers): Transport {
  const tlsOptions = { ...sni(o.servername), ca: o.ca, cert: o.cert, key: o.key };
  const ws = new WebSocket(`wss://${o.host}:${o.port}/$iothub/websocket`, 'mqtt', tlsOptions as WebSocket.ClientOptions);
  ws.binaryType = 'nodebuffer';
  let closed = false;
  const finish = (err?: Error) => {
    if (closed) return;
    closed = true;
    handlers.onClose(err);
  };
  ws.on('open', () => handlers.onOpen());
  ws.on('message', (data: Buffer) => handlers.onData(data));
  ws.on('error', (err) => { finish(err); ws.terminate(); });
  ws.on('close', () => finish());
  return {
    write: (bytes) => { ws.send(bytes); return ws.bufferedAmount < 1 << 20; },
    close: () => ws.close(),
  };
}

/**
 * One TLS context per distinct (CA, certificate, key): a gateway's thousand devices trusting the same CA share it,
 * instead of each connection parsing the PEM into a context of its own (tens of KiB per connection).
 */
const contexts = new Map<string, SecureContext>();
function secureContext(o: TransportOptions): SecureContext {
  const ca = Array.isArray(o.ca) ? o.ca.join('\n') : o.ca ?? '';
  const key = `${ca}\0${o.cert ?? ''}\0${o.key ?? ''}`;
  let ctx = contexts.get(key);
  if (!ctx) {
    if (contexts.size >= 64) contexts.delete(contexts.keys().next().value!); // many distinct X.509 devices: bounded
    // The context tls.connect would have made from the same options (a given `ca` replaces Node's default roots).
    ctx = createSecureContext({ ca: o.ca, cert: o.cert, key: o.key });
    contexts.set(key, ctx);
  }
  return ctx;
}

/** TLS server name indication names a host, never an address (RFC 6066 §3; Node warns DEP0123 for an IP). */
function sni(servername: string): { servername?: string } {
  return isIP(servername) ? {} : { servername };
}

export const nodeBoard: Board = {
  nowMs: () => Math.floor(performance.now()) >>> 0,
  unixMs: () => Date.now(),
  random32: () => randomBytes(4).readUInt32LE(0),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  open(o, handlers) {
    if (o.transport === 'wss') return webSocketTransport(o, handlers);
    if (o.transport === 'mqtt') return socketTransport(tcpConnect({ host: o.host, port: o.port }), handlers, 'connect');
    const socket = tlsConnect({ host: o.host, port: o.port, ...sni(o.servername), secureContext: secureContext(o), ALPNProtocols: undefined });
    return socketTransport(socket, handlers, 'secureConnect');
  },
};
