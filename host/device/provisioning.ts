// ProvisioningClient: registers a device with the Device Provisioning Service through the core's provisioning
// client (dps_*). Like DeviceClient it only moves bytes, time and events between a board and the core: the
// CONNECT identity, the SAS token (and the key derived from a group key), the topics, the polling, retry-after
// and every time-out are the core's.
import { EventEmitter } from 'node:events';
import { Core, type Profile } from '../wasm/core.js';
import { IotHubWasmError } from '../errors.js';
import type { Board, Transport } from './board.js';
import { nodeBoard } from '../../boards/node/index.js';
import {
  DPS_EVENT as EV, DPS_EVENT_RECORD_WORDS as R, DPS_OPTION as OPT, DPS_STATE, WANT, STATUS, STATUS_TEXT, TRANSPORT,
} from '../wasm/abi.generated.js';

export interface ProvisioningOptions {
  /** The DPS instance's id scope (`0ne…`). */
  idScope: string;
  /** The registration id: an individual enrollment's, or the device's own within a group enrollment. */
  registrationId: string;
  /** An individual enrollment's symmetric key (base64). */
  symmetricKey?: string;
  /** A group enrollment's symmetric key (base64): the core derives the device's key from it and the registration id. */
  groupKey?: string;
  /** X.509: the device's certificate and private key (PEM), presented in TLS. */
  cert?: string;
  key?: string;
  /** The service's host, `host` or `host:port` (default global.azure-devices-provisioning.net). */
  provisioningHost?: string;
  /** The service's port, when provisioningHost does not name one (default 8883, or 443 over WebSocket). */
  port?: number;
  /** Sent as the registration's payload (custom allocation data; IoT Plug and Play: `{ modelId }`). */
  payload?: unknown;
  /** PEM CA certificate(s) to trust besides the system's (the local hub's `hub.ca`). */
  ca?: string | string[];
  transport?: 'mqtts' | 'wss' | 'mqtt';
  board?: Board;
  /** Core profile: 'gateway' or 'mcu' (the one-page microcontroller build). */
  profile?: Profile;
  /** The whole registration, every reconnect and poll included (default 120 s). */
  timeoutMs?: number;
  /** Answers 429 (throttled) or 5xx are retried this many times, each after its retry-after (default 3). */
  retries?: number;
  /** The shortest and longest waits whatever retry-after says (defaults 1 s and 60 s). */
  retryAfter?: { defaultMs?: number; minMs?: number; maxMs?: number };
}

/** What the service assigned. */
export interface ProvisioningResult {
  status: 'assigned';
  /** The IoT hub the device belongs to (its host name). */
  assignedHub: string;
  deviceId: string;
  /** The registration's payload as the service returns it (custom allocation data), if any. */
  payload?: unknown;
  /** The service's registrationState, whole (substatus, createdDateTimeUtc, etag…). */
  registrationState: Record<string, unknown>;
  operationId?: string;
  /** The device's connection string for its hub (with the derived key for a group enrollment, or x509=true). */
  connectionString: string;
}

/** A refusal: `code` is the core's status name (DPS_UNAUTHORIZED, DPS_DISABLED, DPS_THROTTLED…). */
export class ProvisioningError extends IotHubWasmError {
  /** The service's status in its answer (401, 404, 429…), 0 when there was no answer. */
  readonly serviceStatus: number;
  /** The service's errorCode (e.g. 401002), 0 when absent. */
  readonly errorCode: number;
  constructor(code: string, message: string, status: number, serviceStatus: number, errorCode: number) {
    super(code, message, status);
    this.serviceStatus = serviceStatus;
    this.errorCode = errorCode;
  }
}

const TRANSPORTS = { mqtts: TRANSPORT.MQTTS, wss: TRANSPORT.WSS, mqtt: TRANSPORT.MQTT } as const;

/**
 * Registers devices with DPS. `ProvisioningClient.register(options)` is the one-call form; an instance emits
 * 'assigning' ({ operationId, retryAfterMs }) and 'retry' ({ code, retryInMs }) while it works.
 */
export class ProvisioningClient extends EventEmitter {
  private readonly core: Core;
  private readonly board: Board;
  private readonly options: ProvisioningOptions;
  private readonly ev: Int32Array;
  private transport: Transport | null = null;
  private transportOpen = false;
  private cancelTimer: (() => void) | null = null;
  private settle: { resolve(r: ProvisioningResult): void; reject(e: Error): void } | null = null;
  private outcome: { result?: ProvisioningResult; error?: Error } | null = null;
  private pumping = false;
  private pumpAgain = false;
  private endpoint!: { host: string; port: number };
  /** Why the transport last closed, if the board said (it goes into a DPS_TIMEOUT's message). */
  private lastTransportError: Error | undefined;

  constructor(options: ProvisioningOptions) {
    super();
    if (options === null || typeof options !== 'object') throw badArgument(`options must be an object, not ${String(options)}`);
    this.options = options;
    this.board = options.board ?? nodeBoard;
    // the MCU profile's provisioning is in mcu-full.wasm (mcu.wasm carries only the device client)
    this.core = new Core(options.profile === 'mcu' ? 'mcu-full' : 'gateway');
    this.ev = new Int32Array(this.core.memory.buffer, this.ex.dps_event_ptr(), R.WORDS);
    this.configure();
  }

  /** Registers once and resolves with the assignment, or rejects with a ProvisioningError naming the refusal. */
  static register(options: ProvisioningOptions): Promise<ProvisioningResult> {
    let client: ProvisioningClient;
    try { client = new ProvisioningClient(options); } catch (e) { return Promise.reject(e); }
    return client.register();
  }

  private get ex() { return this.core.exports; }

  private fail(code: number, what: string): never {
    const name = this.core.statusName(code);
    throw new IotHubWasmError(name, describe(name, what), code);
  }

  private io(offset: number, value: string): number {
    const n = this.core.writeIo(this.core.io + offset, value);
    if (n < 0) this.fail(STATUS.BAD_ARGUMENT, 'too long for this profile');
    return n;
  }

  private configure(): void {
    const o = this.options;
    for (const [name, v] of [['idScope', o.idScope], ['registrationId', o.registrationId]] as const) {
      if (typeof v !== 'string' || v === '') throw badArgument(`${name} must be a non-empty string, not ${JSON.stringify(v) ?? String(v)}`);
    }
    const credentials = [o.symmetricKey !== undefined, o.groupKey !== undefined, o.cert !== undefined || o.key !== undefined].filter(Boolean).length;
    if (credentials !== 1) throw badArgument('give exactly one credential: symmetricKey, groupKey, or cert with key');
    if ((o.cert === undefined) !== (o.key === undefined)) throw badArgument('X.509 needs both cert and key');
    const ex = this.ex;
    const io = this.core.io;
    const n = this.io(0, o.idScope);
    let rc = ex.dps_init(io, n, io + n, this.io(n, o.registrationId));
    if (rc < 0) this.fail(rc, 'the id scope or registration id');
    if (o.symmetricKey !== undefined) rc = ex.dps_symmetric_key_set(io, this.io(0, String(o.symmetricKey)));
    else if (o.groupKey !== undefined) rc = ex.dps_group_key_set(io, this.io(0, String(o.groupKey)));
    else rc = ex.dps_x509_set(1);
    if (rc < 0) this.fail(rc, o.groupKey !== undefined ? 'the group key' : 'the symmetric key');
    if (o.payload !== undefined) {
      const json: unknown = JSON.stringify(o.payload);
      if (typeof json !== 'string') throw badArgument(`payload must be JSON-serializable, not ${typeof o.payload}`);
      rc = ex.dps_payload_set(io, this.io(0, json));
      if (rc < 0) this.fail(rc, 'the payload');
    }
    if (o.provisioningHost !== undefined || o.port !== undefined) {
      const host = o.provisioningHost ?? 'global.azure-devices-provisioning.net';
      if (o.port !== undefined && !(Number.isInteger(o.port) && o.port > 0 && o.port < 65536)) throw badArgument(`port must be 1..65535, not ${o.port}`);
      rc = ex.dps_host_set(io, this.io(0, o.port !== undefined && !/:\d+$/.test(host) ? `${host}:${o.port}` : host));
      if (rc < 0) this.fail(rc, 'the provisioning host');
    }
    const set = (opt: number, v: number | undefined) => { if (v !== undefined && ex.dps_option_set(opt, v) < 0) throw badArgument(`invalid option ${opt}=${v}`); };
    set(OPT.REGISTRATION_TIMEOUT_MS, o.timeoutMs);
    set(OPT.RETRIES, o.retries);
    set(OPT.RETRY_AFTER_DEFAULT_MS, o.retryAfter?.defaultMs);
    set(OPT.RETRY_AFTER_MIN_MS, o.retryAfter?.minMs);
    set(OPT.RETRY_AFTER_MAX_MS, o.retryAfter?.maxMs);
    this.endpoint = {
      host: this.core.utf8(ex.dps_endpoint_ptr(), ex.dps_endpoint_len()),
      port: ex.dps_endpoint_port(TRANSPORTS[o.transport ?? 'mqtts']),
    };
  }

  /** Runs the registration; resolves with the assignment or rejects with the refusal. One registration per client. */
  register(): Promise<ProvisioningResult> {
    if (this.settle || this.outcome) return Promise.reject(new IotHubWasmError('BAD_STATE', 'this ProvisioningClient has already registered; make another', STATUS.BAD_STATE));
    const p = new Promise<ProvisioningResult>((resolve, reject) => { this.settle = { resolve, reject }; });
    const ex = this.ex;
    ex.dps_seed_set(this.board.random32());
    this.anchorTime();
    const rc = ex.dps_start(this.board.nowMs());
    if (rc < 0) {
      this.settle = null;
      const name = this.core.statusName(rc);
      return Promise.reject(new IotHubWasmError(name, describe(name, 'cannot start the registration'), rc));
    }
    this.pump();
    return p;
  }

  /** Stops a registration under way (it rejects with DPS_CLOSED). */
  close(): void {
    this.ex.dps_stop(this.board.nowMs());
    this.pump();
  }

  private anchorTime(): void {
    const wall = this.board.unixMs();
    const tick = this.board.nowMs();
    this.ex.dps_time_set(Math.floor(wall / 1000), (tick - (wall % 1000)) >>> 0);
  }

  // ---- the pump: poll events, act on wants, flush bytes, arm the timer (as DeviceClient does) ----------------
  private pump(): void {
    if (this.pumping) { this.pumpAgain = true; return; }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        let t: number;
        while ((t = this.ex.dps_poll(this.board.nowMs())) !== EV.NONE) this.dispatch(t);
        this.act();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    this.arm();
    this.finishIfDone();
  }

  private act(): void {
    const want = this.ex.dps_wants();
    if (want === WANT.OPEN && !this.transport) this.open();
    this.flushTx();
    if (want === WANT.CLOSE && this.transport) {
      const t = this.transport;
      this.transport = null;
      this.transportOpen = false;
      t.close();
      this.ex.dps_transport_down(this.board.nowMs());
      this.pumpAgain = true;
    }
  }

  private flushTx(): void {
    if (!this.transport || !this.transportOpen) return;
    const len = this.ex.dps_tx_len();
    if (len === 0) return;
    const ptr = this.ex.dps_tx_ptr();
    this.transport.write(Buffer.from(this.core.u8.subarray(ptr, ptr + len)));
    this.ex.dps_tx_consumed(len);
  }

  private open(): void {
    this.anchorTime();
    const o = this.options;
    const { host, port } = this.endpoint;
    let transport: Transport | null = null;
    transport = this.board.open({ host, port, servername: host, transport: o.transport ?? 'mqtts', ca: o.ca, cert: o.cert, key: o.key }, {
      onOpen: () => {
        if (this.transport !== transport) return;
        this.transportOpen = true;
        this.ex.dps_transport_up(this.board.nowMs());
        this.pump();
      },
      onData: (chunk) => {
        if (this.transport !== transport) return;
        this.receive(chunk);
      },
      onClose: (error) => {
        if (this.transport !== transport) return;
        if (error) this.lastTransportError = error;
        this.transport = null;
        this.transportOpen = false;
        this.ex.dps_transport_down(this.board.nowMs());
        this.pump();
      },
    });
    this.transport = transport;
  }

  private receive(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const win = this.ex.dps_rx_window();
      const n = Math.min(this.ex.dps_rx_space(), chunk.length - off);
      if (n <= 0) {
        // Only after the core already refused the stream (DPS_ANSWER_TOO_LARGE): the rest is not read.
        this.pump();
        return;
      }
      this.core.u8.set(chunk.subarray(off, off + n), win);
      this.ex.dps_rx_commit(n);
      off += n;
      this.pump();
    }
  }

  private arm(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    const ms = this.ex.dps_next_timeout();
    if (ms < 0) return;
    this.cancelTimer = this.board.setTimer(Math.max(ms, 1), () => { this.cancelTimer = null; this.pump(); });
  }

  private view(ptr: number, len: number): string { return len > 0 ? this.core.utf8(ptr, len) : ''; }

  private dispatch(type: number): void {
    const e = this.ev;
    const status = e[R.status]!;
    switch (type) {
      case EV.ASSIGNING:
        this.emit('assigning', { operationId: this.view(e[R.operationPtr]!, e[R.operationLen]!), retryAfterMs: e[R.retryAfterMs]! });
        break;
      case EV.RETRY: {
        const code = this.core.statusName(status);
        this.emit('retry', { code, retryInMs: e[R.retryAfterMs]!, serviceStatus: e[R.serviceStatus]! });
        break;
      }
      case EV.ASSIGNED: {
        const body = parseJson(this.view(e[R.bodyPtr]!, e[R.bodyLen]!)) as { registrationState?: Record<string, unknown>; operationId?: string } | undefined;
        const payloadText = this.view(e[R.payloadPtr]!, e[R.payloadLen]!);
        const operationId = this.view(e[R.operationPtr]!, e[R.operationLen]!);
        const n = this.ex.dps_connection_string(this.core.io, this.core.ioCapacity);
        const result: ProvisioningResult = {
          status: 'assigned',
          assignedHub: this.view(e[R.hubPtr]!, e[R.hubLen]!),
          deviceId: this.view(e[R.devicePtr]!, e[R.deviceLen]!),
          ...(payloadText ? { payload: parseJson(payloadText) } : {}),
          registrationState: body?.registrationState ?? {},
          ...(operationId ? { operationId } : {}),
          connectionString: n > 0 ? this.core.utf8(this.core.io, n) : '',
        };
        this.outcome = { result };
        break;
      }
      case EV.FAILED: {
        const name = this.core.statusName(status);
        const serviceStatus = e[R.serviceStatus]!;
        const errorCode = e[R.errorCode]!;
        const message = this.view(e[R.messagePtr]!, e[R.messageLen]!);
        let what = serviceStatus ? `the provisioning service answered ${serviceStatus}${errorCode ? ` (errorCode ${errorCode})` : ''}${message ? `: ${message}` : ''}` : 'provisioning failed';
        if (name === 'DPS_TIMEOUT' && errorCode < 0) {
          const cause = this.core.statusName(errorCode);
          const detail = cause === 'DPS_TRANSPORT_CLOSED' && this.lastTransportError ? `: ${this.lastTransportError.message}` : '';
          what += ` (last cause: ${cause}${detail})`;
        }
        else if (name === 'DPS_UNAUTHORIZED' && !serviceStatus && errorCode) what = `the provisioning service refused the connection (CONNACK ${errorCode})`;
        this.outcome = { error: new ProvisioningError(name, describe(name, what), status, serviceStatus, errorCode) };
        break;
      }
    }
  }

  /** Settles once the core is done and the transport is closed. */
  private finishIfDone(): void {
    if (!this.settle || this.ex.dps_state() !== DPS_STATE.DONE || this.transport) return;
    const s = this.settle;
    this.settle = null;
    this.cancelTimer?.();
    this.cancelTimer = null;
    const o = this.outcome ?? { error: new IotHubWasmError('DPS_CLOSED', describe('DPS_CLOSED', 'provisioning ended'), STATUS.DPS_CLOSED) };
    this.outcome = o;
    if (o.result) s.resolve(o.result);
    else s.reject(o.error!);
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try { return JSON.parse(text); } catch { return text; }
}

function badArgument(message: string): IotHubWasmError {
  return new IotHubWasmError('BAD_ARGUMENT', message, STATUS.BAD_ARGUMENT);
}

/** `what: the core's sentence for the status`. */
function describe(name: string, what: string): string {
  const text = Object.hasOwn(STATUS_TEXT, name) ? STATUS_TEXT[name as keyof typeof STATUS_TEXT] : '';
  return text ? `${what}: ${text}` : `${what}: ${name}`;
}
