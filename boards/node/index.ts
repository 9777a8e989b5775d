// The Node gateway board: TCP+TLS (node:tls, with SNI, CA and client certificates), MQTT over WebSocket
// (wss://{host}:{port}/$iothub/websocket, sub-protocol "mqtt"), plain TCP for tests, the process clock and
// node:crypto entropy.
import { connect as tlsConnect, createSecureContext, type SecureContext } from 'node:tls';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Board, Transport, TransportHandlers, TransportOptions } from '../../host/device/board.js';

function socketTransport(socket: Socket, handlers: TransportHandlers, readyEvent: string): Transport {
  let closed = false;
  const finish = (err?: Error) => {
    if (closed) return;
    closed = true;
    handlers.onClose(err);
  };
  socket.setNoDelay(true);
  socket.once(readyEvent, () => handlers.onOpen());
  socket.on('data', (chunk: Buffer) => handlers.onData(chunk));
  socket.once('error', (err) => { finish(err); socket.destroy(); });
  socket.once('close', () => finish());
  return {
    write: (bytes) => socket.write(bytes),
    close: () => { socket.end(); socket.destroySoon?.(); setTimeout(() => socket.destroy(), 1000).unref(); },
  };
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
