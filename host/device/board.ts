// What a board supplies to the device runtime: a byte transport (TCP+TLS or WebSocket), a clock and entropy.
// The core never touches any of these; the host moves bytes and time between the board and the core.

export interface TransportOptions {
  /** Host to connect to (a gateway, or the hub itself). */
  host: string;
  port: number;
  /** TLS server name (SNI) and the name the certificate must carry. */
  servername: string;
  transport: 'mqtts' | 'wss' | 'mqtt';
  /** Extra CA certificate(s) in PEM to trust (the local hub's CA, a gateway's). */
  ca?: string | string[];
  /** Client certificate and key for X.509 authentication. */
  cert?: string;
  key?: string;
}

export interface TransportHandlers {
  onOpen(): void;
  onData(chunk: Uint8Array): void;
  onClose(error?: Error): void;
}

export interface Transport {
  /** Queues bytes for sending; returns false when the board would like the host to wait for onDrain. */
  write(bytes: Uint8Array): boolean;
  close(): void;
}

export interface Board {
  /** Monotonic milliseconds (wrapping at 2^32 is fine). */
  nowMs(): number;
  /** Wall-clock Unix time in milliseconds, for SAS token expiry. */
  unixMs(): number;
  /** 32 random bits for back-off jitter. */
  random32(): number;
  open(options: TransportOptions, handlers: TransportHandlers): Transport;
  /** Runs fn after ms milliseconds; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}
