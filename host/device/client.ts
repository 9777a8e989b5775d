// DeviceClient: the Node face of the device runtime. It moves bytes between a board's transport and the core,
// passes the time in, and turns the core's events into promises and callbacks. Topics, tokens, packets,
// timers, retries and ordering are all decided by the core.
import { EventEmitter } from 'node:events';
import { Core, type Profile } from '../wasm/core.js';
import { IotHubWasmError } from '../errors.js';
import type { Board, Transport } from './board.js';
import { nodeBoard } from '../../boards/node/index.js';
import {
  EVENT as EV, EVENT_RECORD_WORDS as EVF, BAG_ITEM_WORDS as ITEM, OPTION as OPT, WANT, STATE, STATUS, STATUS_TEXT, SYSTEM_PROPERTY as SYS, TRANSPORT, type McuExports,
} from '../wasm/abi.generated.js';
import { SharedCore } from './shared-core.js';
import { PendingTokens } from './pending.js';
import { componentPatch, desiredValue, writableAck, type WritableAck } from './pnp.js';
export type { WritableAck } from './pnp.js';
import { ProvisioningClient, type ProvisioningOptions, type ProvisioningResult } from './provisioning.js';
import { FileAssignmentStore, MessageStore, storeOptions, type StoreOptions, type StoreReport } from './store.js';
export type { StoreOptions, StoreReport } from './store.js';

export interface DeviceClientOptions {
  /** PEM CA certificate(s) to trust besides the system's (the local hub's `hub.ca`). */
  ca?: string | string[];
  /** Connect here instead of HostName (`host[:port]`); also read from the connection string's GatewayHostName. */
  gatewayHostName?: string;
  transport?: 'mqtts' | 'wss' | 'mqtt';
  /** X.509 client certificate and key (connection strings with x509=true). */
  cert?: string;
  key?: string;
  board?: Board;
  /** Core profile: 'gateway' (large buffers) or 'mcu' (the one-page microcontroller build). */
  profile?: Profile;
  /**
   * Run this device on a core instance shared with other devices (true: the process-wide one for the profile).
   * For gateways with many devices: each device then costs a snapshot of its state instead of an instance.
   */
  shared?: boolean | SharedCore;
  keepAliveSeconds?: number;
  /** How long to wait for PINGRESP before presuming the connection dead (default 30 s). */
  pingTimeoutMs?: number;
  tokenLifetimeSeconds?: number;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  retry?: { minMs?: number; maxMs?: number; jitterMs?: number; stableMs?: number };
  /** Twin requests answered 429 (throttled) or 5xx are retried this many times, with back-off (default 3). */
  twinRetries?: number;
  /**
   * After every reconnect, read the twin and deliver desired properties changed while the device was away as one
   * patch (the newest version, once; default true). IoT Hub sends desired patches only to connected devices.
   */
  twinResync?: boolean;
  /** IoT Plug and Play model id. */
  modelId?: string;
  /** Sent as DeviceClientType in the MQTT username. */
  productInfo?: string;
  /**
   * Store and forward: keep accepted QoS 1 telemetry in this folder until the hub acknowledges it, so that a killed
   * process or a power cut loses none of it; on the next start it is sent again with its original message id and
   * creation time (`$.ctime`). Each message gets a message id if it has none. A full store (maxMessages, maxBytes)
   * is CLIENT_STORE_FULL; a record that does not check out is a 'warning' (CLIENT_STORE_CORRUPT, _TRUNCATED), never
   * sent. With DeviceClient.fromProvisioning the folder also keeps the DPS assignment. One client per folder.
   */
  store?: string | StoreOptions;
}

/**
 * Where DeviceClient.fromProvisioning keeps an assignment between runs, so a device does not register again on
 * every boot. Store-and-forward (issue 12) provides the file-backed one; without a store every start registers.
 */
export interface AssignmentStore {
  /** The assignment kept for this registration id, or undefined to register. */
  load(registrationId: string): ProvisioningResult | undefined | Promise<ProvisioningResult | undefined>;
  save(registrationId: string, assignment: ProvisioningResult): void | Promise<void>;
}

/**
 * DeviceClient.fromProvisioning: the registration's options and the device client's. ca, cert, key, transport,
 * board and profile serve both connections; modelId also goes into the registration payload (`{ modelId }`)
 * unless a payload is given, as IoT Plug and Play asks.
 */
export type FromProvisioningOptions = ProvisioningOptions & Omit<DeviceClientOptions, 'shared'> & {
  /** Keeps the assignment between runs; default: the `store` folder's (assignments.json) if there is one, else none (register every time). */
  assignments?: AssignmentStore;
};

export interface TelemetryOptions {
  messageId?: string;
  correlationId?: string;
  contentType?: string;
  contentEncoding?: string;
  userId?: string;
  /** Application properties; null sends a bare key. A TelemetryProperties is the same, encoded once for many sends. */
  properties?: Record<string, string | null> | TelemetryProperties;
  qos?: 0 | 1;
  /** IoT Plug and Play: the component this telemetry belongs to (`$.sub`). */
  component?: string;
}

/**
 * Application properties encoded once (UTF-8, in one buffer) for many messages: `sendTelemetry(body, { properties })`
 * then copies them into the core in one piece instead of encoding each name and value again. The core still
 * checks and encodes them for every message; a later change to the object it was made from is not seen.
 */
export class TelemetryProperties {
  /** Names and values, back to back. */
  readonly bytes: Buffer;
  /** Per property: its name's length, its value's length (-1: a bare key). */
  readonly lengths: Int32Array;

  constructor(properties: Record<string, string | null>) {
    if (properties === null || typeof properties !== 'object') throw badArgument(`properties must be an object, not ${String(properties)}`);
    const parts: Buffer[] = [];
    const lengths: number[] = [];
    for (const name of Object.keys(properties)) {
      const value = properties[name];
      const n = Buffer.from(name, 'utf8');
      parts.push(n);
      lengths.push(n.length);
      if (value === null) { lengths.push(-1); continue; }
      const v = Buffer.from(typeof value === 'string' ? value : String(value), 'utf8');
      parts.push(v);
      lengths.push(v.length);
    }
    this.bytes = Buffer.concat(parts);
    this.lengths = Int32Array.from(lengths);
    Object.freeze(this);
  }
}

export interface C2DMessage {
  body: Buffer;
  messageId?: string;
  correlationId?: string;
  contentType?: string;
  contentEncoding?: string;
  userId?: string;
  to?: string;
  expiryTimeUtc?: string;
  /** Application properties; a property sent without a value is null (never the string "undefined"). */
  properties: Record<string, string | null>;
}

export interface MethodResponse { status: number; payload?: unknown }
/** `component` and `command` are set for an IoT Plug and Play command `{component}*{command}` (split by the core). */
export type MethodHandler = (payload: unknown, request: { methodName: string; requestId: string; component?: string; command?: string }) => MethodResponse | Promise<MethodResponse>;
export type WritablePropertyHandler = (value: unknown, request: { version: number; component?: string }) => WritableAck | void | Promise<WritableAck | void>;
export interface Twin { desired: Record<string, unknown>; reported: Record<string, unknown> }

interface Pending { resolve(v: unknown): void; reject(e: Error): void; kind?: 'get' | 'patch' }

/** The empty list every device starts with (never added to: the first entry replaces it with a list of its own). */
const NONE: never[] = Object.freeze([]) as unknown as never[];
/** `list` with `item` at its end: the same list, or a new one in place of NONE. */
function appended<T>(list: T[], item: T): T[] {
  if (list === NONE) return [item];
  list.push(item);
  return list;
}
/** How early an armed timer may be before it is replaced by one for the core's later deadline (see arm). */
const REARM_MS = 1000;

/** The event record's views, one pair per core (shared by the devices of a SharedCore). */
const eventViews = new WeakMap<Core, { ev: Uint32Array; evi: Int32Array }>();
/** The endpoint the last client was configured with: the next one for the same place shares it. */
let lastEndpoint: Readonly<{ host: string; port: number; servername: string }> | undefined;

const TRANSPORTS = { mqtts: TRANSPORT.MQTTS, wss: TRANSPORT.WSS, mqtt: TRANSPORT.MQTT } as const;
/** The core's states by number, as DeviceClient names them (its state names, lower case). */
const STATE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(STATE).map(([k, v]) => [v, k.toLowerCase()]));
/** System properties (by the core's index) as DeviceClient members. */
const SYSTEM_PROPERTIES: Record<number, string> = {
  [SYS.MESSAGE_ID]: 'messageId', [SYS.CORRELATION_ID]: 'correlationId', [SYS.USER_ID]: 'userId', [SYS.TO]: 'to',
  [SYS.CONTENT_TYPE]: 'contentType', [SYS.CONTENT_ENCODING]: 'contentEncoding', [SYS.INTERFACE_ID]: 'interfaceId',
  [SYS.EXPIRY]: 'expiryTimeUtc', [SYS.COMPONENT]: 'componentName',
};

export class DeviceClient extends EventEmitter {
  private readonly core: Core;
  private readonly shared: SharedCore | null;
  /** Only what a device needs (what mcu.wasm exports), whichever build runs it. */
  private readonly exports: McuExports;
  private readonly ev: Uint32Array;
  private readonly evi: Int32Array;
  private board!: Board;
  private transport: Transport | null = null;
  private transportOpen = false;
  private cancelTimer: (() => void) | null = null;
  private timerAt = 0;
  private pumping = false;
  private pumpAgain = false;
  // What a device uses only once it uses it (twin requests, handlers, waiters) is made on first use: a gateway's
  // thousands of devices are mostly idle, and an empty table costs as much as a small one.
  private readonly telemetry = new PendingTokens();
  private twinRequests: Map<number, Pending> | null = null;
  private methods: Map<string, MethodHandler> | null = null;
  private desiredHandlers: Array<(patch: Record<string, unknown>, version: number) => void> = NONE;
  private c2dHandlers: Array<(msg: C2DMessage) => unknown> = NONE;
  private connectWaiters: Pending[] = NONE;
  /** Why the board's transport last closed (a TLS, socket or DNS error), for the next EV_DISCONNECTED. */
  private transportError: Error | undefined;
  /** Set while the client stops itself after a failed first attempt: that stop is not news to anyone. */
  private abandoning = false;
  private closeWaiters: Array<() => void> = NONE;
  private endpoint!: Readonly<{ host: string; port: number; servername: string }>;
  /** Store and forward (options.store): the log of accepted QoS 1 telemetry, the queue the outbox is fed from. */
  private store: MessageStore | null = null;
  private options!: DeviceClientOptions;
  /** The device (and module) this client is, as the connection string names them. */
  readonly deviceId: string = '';
  readonly moduleId?: string;

  private constructor(profile: Profile, shared: boolean | SharedCore | undefined) {
    super();
    this.shared = shared === true ? SharedCore.default(profile) : shared || null;
    this.core = this.shared ? this.shared.core : new Core(profile);
    this.exports = this.core.exports;
    // The event record is at the same place for every device of a core: one pair of views per core.
    let views = eventViews.get(this.core);
    if (!views) {
      const at = this.exports.client_event_ptr();
      views = { ev: new Uint32Array(this.core.memory.buffer, at, EVF.WORDS), evi: new Int32Array(this.core.memory.buffer, at, EVF.WORDS) };
      eventViews.set(this.core, views);
    }
    this.ev = views.ev;
    this.evi = views.evi;
  }

  /** A client for the device (or module) of a connection string. Throws a coded error for a bad string. */
  static fromConnectionString(connectionString: string, options: DeviceClientOptions = {}): DeviceClient {
    // Checked here, at the API boundary (the core only ever sees bytes), so a caller's mistake is a coded error.
    if (typeof connectionString !== 'string' || connectionString.trim() === '') {
      const what = connectionString === '' ? 'an empty string' : typeof connectionString === 'string' ? 'blank' : String(connectionString);
      throw badArgument(`the connection string must be a non-empty string like HostName=…;DeviceId=…;SharedAccessKey=…, not ${what} (is the environment variable set?)`);
    }
    if (options === null || typeof options !== 'object') throw badArgument(`options must be an object, not ${String(options)}`);
    const client = new DeviceClient(options.profile ?? 'gateway', options.shared);
    client.configure(connectionString, options);
    return client;
  }

  /**
   * Registers with the Device Provisioning Service (or reuses the assignment `assignments` kept), then connects
   * to the assigned hub: resolves with the connected client (its assignment in `provisioning`), rejects with the
   * refusal (ProvisioningError: DPS_UNAUTHORIZED, DPS_DISABLED, DPS_THROTTLED…) or the hub's.
   */
  static async fromProvisioning(options: FromProvisioningOptions): Promise<DeviceClient> {
    if (options === null || typeof options !== 'object') throw badArgument(`options must be an object, not ${String(options)}`);
    const { payload, store, ...rest } = options;
    const assignments = options.assignments ?? (store !== undefined ? new FileAssignmentStore(storeOptions(store).folder) : undefined);
    const registration: ProvisioningOptions = {
      ...rest,
      ...(payload !== undefined ? { payload } : options.modelId ? { payload: { modelId: options.modelId } } : {}),
    };
    const connectTo = async (assignment: ProvisioningResult): Promise<DeviceClient> => {
      const client = DeviceClient.fromConnectionString(assignment.connectionString, options);
      (client as { provisioning?: ProvisioningResult }).provisioning = assignment;
      try {
        await client.connect();
      } catch (e) {
        client.store?.close(); // the next client (after registering again) opens the same folder
        throw e;
      }
      return client;
    };
    const stored = await assignments?.load(options.registrationId);
    if (stored) {
      try {
        return await connectTo(stored);
      } catch (e) {
        // The device was moved or removed since: register again. Anything else is the caller's to see.
        const code = (e as IotHubWasmError).code;
        if (code !== 'CLIENT_CONNACK_NOT_AUTHORIZED' && code !== 'CLIENT_CONNACK_BAD_CREDENTIALS') throw e;
      }
    }
    const assignment = await ProvisioningClient.register(registration);
    await assignments?.save(options.registrationId, assignment);
    return connectTo(assignment);
  }

  /** The assignment this client was created from (DeviceClient.fromProvisioning), if any. */
  readonly provisioning?: ProvisioningResult;

  /** The core's exports, with this device's state in it (a switch when the core is shared). */
  private get ex(): McuExports {
    this.shared?.select(this);
    return this.exports;
  }

  private fail(code: number, what: string): never {
    throw this.error(code, what);
  }

  /** Copies an input into the core's IO window at `offset`; too large for the profile is CLIENT_MESSAGE_TOO_LARGE. */
  private writeIo(offset: number, value: string | Uint8Array): number {
    const n = this.core.writeIo(this.core.io + offset, value);
    if (n < 0) {
      const size = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
      this.fail(STATUS.CLIENT_MESSAGE_TOO_LARGE, `${size} bytes; this profile takes at most ${this.core.ioCapacity - offset} here`);
    }
    return n;
  }

  private configure(cs: string, options: DeviceClientOptions): void {
    this.options = options;
    this.board = options.board ?? nodeBoard;
    const n = this.writeIo(0, cs);
    const rc = this.ex.client_init(this.core.io, n);
    if (rc < 0) this.fail(rc, 'DeviceClient.fromConnectionString');
    const set = (opt: number, v: number | undefined) => { if (v !== undefined && this.ex.client_option_set(opt, v) < 0) this.fail(STATUS.BAD_ARGUMENT, `invalid option ${opt}=${v}`); };
    set(OPT.KEEPALIVE_S, options.keepAliveSeconds);
    set(OPT.PING_TIMEOUT_MS, options.pingTimeoutMs);
    set(OPT.TOKEN_LIFETIME_S, options.tokenLifetimeSeconds);
    set(OPT.REQUEST_TIMEOUT_MS, options.requestTimeoutMs);
    set(OPT.CONNECT_TIMEOUT_MS, options.connectTimeoutMs);
    set(OPT.RETRY_MIN_MS, options.retry?.minMs);
    set(OPT.RETRY_MAX_MS, options.retry?.maxMs);
    set(OPT.RETRY_JITTER_MS, options.retry?.jitterMs);
    set(OPT.STABLE_MS, options.retry?.stableMs);
    set(OPT.TWIN_RETRIES, options.twinRetries);
    set(OPT.TWIN_RESYNC, options.twinResync === undefined ? undefined : options.twinResync ? 1 : 0);
    if (options.modelId) this.ex.client_model_id_set(this.core.io, this.writeIo(0, options.modelId));
    const product = options.productInfo ?? `iothub-wasm/0.1.0 (node ${process.version}; ${process.platform})`;
    this.ex.client_type_set(this.core.io, this.writeIo(0, product));
    if (options.gatewayHostName !== undefined) this.ex.client_gateway_set(this.core.io, this.writeIo(0, options.gatewayHostName));
    // The core says where to connect: the gateway's host or HostName, and the port (the gateway's own, else the transport's).
    const host = this.core.utf8(this.ex.client_endpoint_ptr(), this.ex.client_endpoint_len());
    const port = this.ex.client_endpoint_port(TRANSPORTS[options.transport ?? 'mqtts']);
    // Devices behind one gateway share one endpoint object rather than each keeping a copy of it.
    this.endpoint = lastEndpoint?.host === host && lastEndpoint.port === port ? lastEndpoint : (lastEndpoint = Object.freeze({ host, port, servername: host }));
    (this as { deviceId: string }).deviceId = this.core.utf8(this.ex.client_device_id_ptr(), this.ex.client_device_id_len());
    const moduleId = this.core.utf8(this.ex.client_module_id_ptr(), this.ex.client_module_id_len());
    if (moduleId) (this as { moduleId?: string }).moduleId = moduleId;
    if (options.store !== undefined) this.openStore(options.store);
  }

  private openStore(option: string | StoreOptions): void {
    // Message ids come from the core's generator and creation times from its clock: both before any message.
    this.ex.client_seed_set(this.board.random32());
    this.anchorTime();
    const core = this.core;
    this.store = new MessageStore(option, { ex: () => this.ex, u8: () => core.u8, io: core.io, ioCapacity: core.ioCapacity });
    this.store.feed();
    const problems = this.store.problems.splice(0);
    this.store.warn = (e) => this.emit('warning', e);
    // reported once the caller has had the chance to listen (fromConnectionString returns first)
    if (problems.length) queueMicrotask(() => { for (const p of problems) this.emit('warning', p); });
  }

  /**
   * Store and forward (options.store): what opening the store found (messages restored from earlier runs, corrupt
   * stretches and a torn last record skipped) and how many messages it holds now; undefined without a store.
   */
  get storeStatus(): (StoreReport & { folder: string; pending: number }) | undefined {
    const s = this.store;
    return s ? { ...s.report, folder: s.folder, pending: s.size } : undefined;
  }

  /**
   * Connects; resolves once connected and subscribed. If this first attempt fails, it rejects with the core's code
   * (e.g. CLIENT_CONNACK_NOT_AUTHORIZED, CLIENT_TRANSPORT_CLOSED) and the board's error as `cause` (a TLS
   * verification failure, ECONNREFUSED, ENOTFOUND…), and the client stops. Once connected, it reconnects by itself
   * with the core's back-off, each 'disconnected' event carrying its cause.
   */
  async connect(): Promise<void> {
    const board = this.board;
    this.ex.client_seed_set(board.random32());
    const now = board.nowMs();
    this.anchorTime();
    if (this.ex.client_state() === STATE.READY) return;
    this.abandoning = false;
    const p = new Promise<void>((resolve, reject) => {
      const w: Pending = { resolve: resolve as (v: unknown) => void, reject };
      this.connectWaiters = appended(this.connectWaiters, w);
    });
    const rc = this.ex.client_start(now);
    if (rc < 0) {
      this.connectWaiters = NONE;
      this.fail(rc, 'cannot start');
    }
    this.store?.feed(); // what waited while the client was stopped
    this.pump();
    return p;
  }

  /** Closes the connection; telemetry not yet acknowledged is rejected with CLIENT_CLOSED. */
  async close(): Promise<void> {
    const board = this.board;
    this.ex.client_stop(board.nowMs());
    const done = new Promise<void>((resolve) => { this.closeWaiters = appended(this.closeWaiters, resolve); });
    this.pump();
    if (!this.transport) this.finishClose();
    await done;
    this.store?.close();
  }

  /** Tells the core the wall-clock time: the Unix second and the board tick at which it began. */
  private anchorTime(): void {
    const wall = this.board.unixMs();
    const tick = this.board.nowMs();
    this.ex.client_time_set(Math.floor(wall / 1000), (tick - (wall % 1000)) >>> 0);
  }

  private finishClose(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    const waiters = this.closeWaiters;
    this.closeWaiters = NONE;
    for (const w of waiters) w();
  }

  /** Sends telemetry; resolves when the hub acknowledged it (QoS 1) or it was written (QoS 0). */
  sendTelemetry(body: string | Uint8Array | object, options: TelemetryOptions = {}): Promise<void> {
    let token: number;
    try {
      token = this.queueTelemetry(body, options);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = new Promise<void>(capture);
    this.telemetry.set(token, captured.resolve, captured.reject);
    this.schedulePump();
    return p;
  }

  /**
   * Sends several messages with the same options (properties included) at once; resolves when the hub acknowledged
   * all of them, rejects with the first failure. One promise and one socket write for the lot: the fast path for
   * gateways forwarding readings in bursts. Beyond the free outbox slots it rejects with CLIENT_QUEUE_FULL (the
   * messages before that one are sent).
   */
  sendTelemetryBatch(bodies: ReadonlyArray<string | Uint8Array | object>, options: TelemetryOptions = {}): Promise<void> {
    if (!Array.isArray(bodies)) return Promise.reject(badArgument('sendTelemetryBatch takes an array of message bodies'));
    if (bodies.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let left = bodies.length;
      let failed = false;
      const one: Pending = {
        resolve: () => { if (--left === 0 && !failed) resolve(); },
        reject: (e) => { if (!failed) { failed = true; reject(e); } },
      };
      for (const body of bodies) {
        let token: number;
        try {
          token = this.queueTelemetry(body, options);
        } catch (e) {
          one.reject(e as Error);
          break;
        }
        this.telemetry.set(token, one.resolve, one.reject);
      }
      this.schedulePump();
    });
  }

  /**
   * The properties of the last message whose properties were encoded, as given: system ones as (index, value), then
   * a TelemetryProperties or (name, value) pairs. While messages come with the same ones, the core reuses their
   * encoding (client_telemetry_properties_repeat) and nothing is copied into it.
   */
  private lastProperties: unknown[] | null = null;

  /** Hands one message to the core's outbox (its properties written straight into the IO window); its token. */
  private queueTelemetry(body: string | Uint8Array | object, options: TelemetryOptions): number {
    const ex = this.ex;
    if (!this.sameProperties(options) || ex.client_telemetry_properties_repeat() !== STATUS.OK) {
      ex.client_telemetry_begin();
      this.addProperties(options);
    }
    const bytes = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    const qos = options.qos ?? 1;
    if (this.store && qos === 1) return this.storeTelemetry(bytes);
    const token = ex.client_telemetry_send(this.core.io, this.writeIo(0, bytes), qos);
    if (token < 0) this.fail(token, 'telemetry refused');
    return token;
  }

  /** True when `o` gives exactly the properties of lastProperties (=== on every value, in the same order). */
  private sameProperties(o: TelemetryOptions): boolean {
    const last = this.lastProperties;
    if (!last || last.length === 0) return false;
    let k = 0;
    if (o.messageId !== undefined) { if (last[k] !== SYS.MESSAGE_ID || last[k + 1] !== o.messageId) return false; k += 2; }
    if (o.correlationId !== undefined) { if (last[k] !== SYS.CORRELATION_ID || last[k + 1] !== o.correlationId) return false; k += 2; }
    if (o.userId !== undefined) { if (last[k] !== SYS.USER_ID || last[k + 1] !== o.userId) return false; k += 2; }
    if (o.contentType !== undefined) { if (last[k] !== SYS.CONTENT_TYPE || last[k + 1] !== o.contentType) return false; k += 2; }
    if (o.contentEncoding !== undefined) { if (last[k] !== SYS.CONTENT_ENCODING || last[k + 1] !== o.contentEncoding) return false; k += 2; }
    if (o.component !== undefined) { if (last[k] !== SYS.COMPONENT || last[k + 1] !== o.component) return false; k += 2; }
    const props = o.properties;
    if (props instanceof TelemetryProperties) {
      if (last[k++] !== props) return false;
    } else if (props) {
      for (const name in props) {
        if (!Object.hasOwn(props, name)) continue;
        if (last[k] !== name || last[k + 1] !== props[name]) return false;
        k += 2;
      }
    }
    return k === last.length;
  }

  /** Adds a message's system and application properties to the core's bag, and keeps them as lastProperties. */
  private addProperties(options: TelemetryOptions): void {
    const last = (this.lastProperties ??= []);
    last.length = 0;
    let added = false;
    try {
      this.addEach(options);
      added = true;
    } finally {
      // a refused property leaves nothing to compare the next message's with (the core's bag may be another's)
      if (!added) last.length = 0;
    }
  }

  private addEach(options: TelemetryOptions): void {
    const ex = this.exports; // the caller selected this device
    const last = this.lastProperties!;
    if (options.messageId !== undefined) this.systemProperty(SYS.MESSAGE_ID, options.messageId);
    if (options.correlationId !== undefined) this.systemProperty(SYS.CORRELATION_ID, options.correlationId);
    if (options.userId !== undefined) this.systemProperty(SYS.USER_ID, options.userId);
    if (options.contentType !== undefined) this.systemProperty(SYS.CONTENT_TYPE, options.contentType);
    if (options.contentEncoding !== undefined) this.systemProperty(SYS.CONTENT_ENCODING, options.contentEncoding);
    if (options.component !== undefined) this.systemProperty(SYS.COMPONENT, options.component);
    const props = options.properties;
    if (props instanceof TelemetryProperties) {
      const io = this.core.io;
      this.writeIo(0, props.bytes);
      const lengths = props.lengths;
      for (let i = 0, at = io; i < lengths.length; i += 2) {
        const nl = lengths[i]!, vl = lengths[i + 1]!;
        const rc = ex.client_telemetry_property_add(at, nl, at + nl, vl);
        if (rc < 0) this.fail(rc, `cannot add property '${this.core.utf8(at, nl)}'`);
        at += nl + (vl > 0 ? vl : 0);
      }
      last.push(props);
    } else if (props) {
      const io = this.core.io;
      for (const name in props) {
        if (!Object.hasOwn(props, name)) continue;
        const value = props[name];
        const nl = this.writeIo(0, name);
        const vl = value === null ? -1 : this.writeIo(nl, typeof value === 'string' ? value : String(value));
        const rc = ex.client_telemetry_property_add(io, nl, io + nl, vl);
        if (rc < 0) this.fail(rc, `cannot add property '${name}'`);
        // an object's String() may change between messages: it never matches (NaN !== NaN)
        last.push(name, typeof value === 'object' && value !== null ? NaN : value);
      }
    }
  }

  /** Store and forward: the core encodes the message as a store record, which is written before it is queued. */
  private storeTelemetry(bytes: string | Uint8Array): number {
    const store = this.store!;
    store.checkRoom();
    const token = this.ex.client_telemetry_store(this.core.io, this.writeIo(0, bytes), this.board.nowMs());
    if (token < 0) this.fail(token, 'telemetry refused');
    store.accept(token);
    return token;
  }

  private systemProperty(which: number, value: string): void {
    const rc = this.exports.client_telemetry_system_add(which, this.core.io, this.writeIo(0, value));
    if (rc < 0) this.fail(rc, 'cannot add a system property');
    this.lastProperties!.push(which, value);
  }

  private pumpQueued = false;
  private readonly queuedPump = () => { if (this.pumpQueued) this.pump(); };
  /**
   * Pumps once the current burst of calls is over (a microtask): messages sent in one tick, or in the reactions
   * to one chunk of PUBACKs, leave in one socket write instead of one each.
   */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(this.queuedPump);
    // On a shared core, serving another device first would cost two switches: this one's pump runs before that.
    this.shared?.beforeSwitch(this.queuedPump);
  }

  /** The device twin: { desired, reported }. */
  async getTwin(): Promise<Twin> {
    return this.twinRequest('get') as Promise<Twin>;
  }

  /** Merges `patch` into the reported properties; resolves with the twin's new reported $version. */
  async updateReportedProperties(patch: Record<string, unknown>, options: { component?: string } = {}): Promise<number> {
    return this.twinRequest('patch', JSON.stringify(componentPatch(patch, options.component))) as Promise<number>;
  }

  /**
   * IoT Plug and Play writable property: `handler` runs for each desired value of `name` (of `component`), and what
   * it returns is reported as the acknowledgement `{ value, ac, av: <desired $version>, ad }` (ac 200 and the
   * desired value by default; a handler that throws acknowledges with ac 500 and its message).
   */
  onWritableProperty(name: string, handler: WritablePropertyHandler, options: { component?: string } = {}): this {
    const { component } = options;
    this.addDesiredHandler((patch, version) => {
      const value = desiredValue(patch, name, component);
      if (value === undefined) return;
      Promise.resolve()
        .then(() => handler(value, { version, ...(component !== undefined ? { component } : {}) }))
        .then((r) => ({ ac: r?.ac ?? 200, ad: r?.ad, value: r && 'value' in r ? r.value : value }),
          (e: Error) => ({ ac: 500, ad: String(e?.message ?? e), value }))
        .then((a) => this.updateReportedProperties(writableAck(name, a.value, { ac: a.ac, av: version, ...(a.ad !== undefined ? { ad: a.ad } : {}) }), { component }))
        .catch((e: unknown) => this.emit('warning', e));
    });
    return this;
  }

  /** Reports a writable property's default before any desired value exists: `{ value, ac: 203, av: 0 }`. */
  reportWritableDefault(name: string, value: unknown, options: { component?: string; ad?: string } = {}): Promise<number> {
    return this.updateReportedProperties(writableAck(name, value, { ac: 203, av: 0, ...(options.ad !== undefined ? { ad: options.ad } : {}) }), { component: options.component });
  }

  /** IoT Plug and Play command `command` of `component` (the method `{component}*{command}`; none: the default component). */
  onCommand(component: string | undefined, command: string, handler: MethodHandler): this {
    return this.onMethod(component === undefined ? command : `${component}*${command}`, handler);
  }

  /**
   * One twin request. The core resends it when the hub answers 429 or 5xx (OPT_TWIN_RETRIES times, after its
   * back-off delay; each resend is a 'warning'); other answers, and time-outs, are final.
   */
  private twinRequest(kind: 'get' | 'patch', body = ''): Promise<unknown> {
    const now = this.board.nowMs();
    const rid = kind === 'get' ? this.ex.client_twin_get(now) : this.ex.client_twin_patch(this.core.io, this.writeIo(0, body), now);
    if (rid < 0) return Promise.reject(this.error(rid, 'twin request refused'));
    const p = new Promise<unknown>((resolve, reject) => (this.twinRequests ??= new Map()).set(rid, { resolve, reject, kind }));
    this.pump();
    return p;
  }

  onDesiredProperties(cb: (patch: Record<string, unknown>, version: number) => void): this {
    this.addDesiredHandler(cb);
    return this;
  }

  private addDesiredHandler(cb: (patch: Record<string, unknown>, version: number) => void): void {
    this.desiredHandlers = appended(this.desiredHandlers, cb);
  }

  onMethod(name: string, handler: MethodHandler): this {
    (this.methods ??= new Map()).set(name, handler);
    return this;
  }

  onC2D(cb: (msg: C2DMessage) => unknown): this {
    this.c2dHandlers = appended(this.c2dHandlers, cb);
    return this;
  }

  /**
   * How many telemetry messages can await their acknowledgement at once (the outbox's slots: 256 on the gateway
   * profile, 8 on the MCU one). Beyond that sendTelemetry rejects with CLIENT_QUEUE_FULL: back-pressure.
   */
  get maxQueued(): number { return this.ex.client_outbox_slots(); }

  /** The core's connection state: idle, opening, connecting, subscribing, ready, closing, backoff, stopped. */
  get state(): string { return STATE_NAMES[this.ex.client_state()] ?? 'unknown'; }

  private error(code: number, what: string, cause?: Error): IotHubWasmError {
    const name = this.core.statusName(code);
    const err = new IotHubWasmError(name, describe(name, what, cause), code);
    if (cause) Object.defineProperty(err, 'cause', { value: cause, enumerable: false, writable: true, configurable: true });
    return err;
  }

  // ---- the pump: poll events, act on wants, flush bytes, arm the timer ----------------------------------------
  private pump(): void {
    this.pumpQueued = false; // this pump does what a queued one would
    if (this.pumping) { this.pumpAgain = true; return; }
    this.pumping = true;
    let now = 0;
    try {
      do {
        this.pumpAgain = false;
        now = this.board.nowMs();
        let t: number;
        while ((t = this.ex.client_poll(now)) !== EV.NONE) this.dispatch(t);
        this.act();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    this.arm(now);
  }

  private act(): void {
    const want = this.ex.client_wants();
    if (want === WANT.OPEN && !this.transport) this.open();
    this.flushTx();
    if (want === WANT.CLOSE && this.transport) {
      const t = this.transport;
      this.transport = null;
      this.transportOpen = false;
      this.shared?.drain(); // its DISCONNECT (and anything before) is written before the close
      t.close();
      this.ex.client_transport_down(this.board.nowMs());
      this.pumpAgain = true;
      if (this.ex.client_state() === STATE.STOPPED) this.finishClose();
    } else if (this.closeWaiters.length && !this.transport && this.ex.client_state() === STATE.STOPPED) {
      this.finishClose();
    }
  }

  private flushTx(): void {
    if (!this.transport || !this.transportOpen) return;
    const len = this.ex.client_tx_len();
    if (len === 0) return;
    const ptr = this.ex.client_tx_ptr();
    // Node keeps the written buffer until the socket took it, so the bytes are copied out (everything the core has
    // emitted since the last flush: one write) and consumed at once.
    const out = Buffer.allocUnsafe(len);
    this.core.buf.copy(out, 0, ptr, ptr + len);
    if (this.shared) this.shared.write(this.transport, out); // with the other devices' of this burst
    else this.transport.write(out);
    this.ex.client_tx_consumed(len);
    this.pumpAgain = true; // room in the transmit buffer: the outbox may have more to send
  }

  private open(): void {
    this.anchorTime(); // the wall clock may have been corrected since the last connection
    const { host, port, servername } = this.endpoint;
    const o = this.options;
    let transport: Transport | null = null;
    transport = this.board.open({ host, port, servername, transport: o.transport ?? 'mqtts', ca: o.ca, cert: o.cert, key: o.key }, {
      onOpen: () => {
        if (this.transport !== transport) return;
        this.transportOpen = true;
        this.ex.client_transport_up(this.board.nowMs());
        this.pump();
      },
      onData: (chunk) => {
        if (this.transport !== transport) return;
        this.receive(chunk);
      },
      onClose: (error) => {
        if (this.transport !== transport) return;
        this.transportError = error;
        this.transport = null;
        this.transportOpen = false;
        this.ex.client_transport_down(this.board.nowMs());
        this.pump();
      },
    });
    this.transport = transport;
  }

  private receive(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const ex = this.ex;
      const win = ex.client_rx_window(); // makes room first
      const n = Math.min(ex.client_rx_space(), chunk.length - off);
      // Cannot happen (an oversized packet is refused or skipped from its header), but never spin.
      if (n <= 0) throw new IotHubWasmError('CLIENT_INCOMING_TOO_LARGE', 'receive buffer full');
      this.core.u8.set(chunk.subarray(off, off + n), win);
      ex.client_rx_commit(n);
      off += n;
      this.pump();
    }
  }

  /**
   * Keeps one timer for the core's next deadline. An earlier timer already armed is left alone while it is less
   * than REARM_MS early (it wakes, finds nothing due, re-arms): each message moves the keep-alive deadline a little,
   * and a timer per message would cost more than that one wake. One much earlier is replaced: the ping's time-out
   * after its PINGRESP came would otherwise wake every idle device once more per keep-alive period for nothing.
   * `now` is the pump's last poll time: if the pump took a while, the timer fires early, which is harmless.
   */
  private arm(now: number): void {
    const ms = this.ex.client_next_timeout();
    if (ms < 0) return;
    const at = now + Math.max(ms, 1);
    if (this.cancelTimer && this.timerAt <= at && at - this.timerAt < REARM_MS) return;
    this.cancelTimer?.();
    this.timerAt = at;
    this.cancelTimer = this.board.setTimer(Math.max(ms, 1), () => { this.cancelTimer = null; this.pump(); });
  }

  // ---- events -----------------------------------------------------------------------------------------------
  private view(which: 0 | 1 | 2): Buffer {
    const ptr = this.ev[EVF.aPtr + which * 2];
    const len = this.evi[EVF.aLen + which * 2];
    return len > 0 ? Buffer.from(this.core.u8.subarray(ptr, ptr + len)) : Buffer.alloc(0);
  }

  private dispatch(type: number): void {
    const status = this.evi[EVF.status];
    const token = this.ev[EVF.token];
    switch (type) {
      case EV.CONNECTED: {
        const waiters = this.connectWaiters;
        this.connectWaiters = NONE;
        for (const w of waiters) w.resolve(undefined);
        this.emit('connected', { sessionPresent: status === 1 });
        break;
      }
      case EV.DISCONNECTED: {
        const retryInMs = this.evi[EVF.extra];
        const cause = this.transportError;
        this.transportError = undefined;
        if (this.abandoning && status === STATUS.CLIENT_CLOSED) {
          this.abandoning = false;
          break;
        }
        const firstAttempt = this.connectWaiters.length > 0;
        const err = this.error(status, firstAttempt ? 'cannot connect' : retryInMs >= 0 ? 'disconnected' : 'connection ended', cause);
        this.emit('disconnected', { code: err.code, retryInMs: firstAttempt ? -1 : retryInMs, error: err });
        if (firstAttempt) {
          const waiters = this.connectWaiters;
          this.connectWaiters = NONE;
          if (retryInMs >= 0) {
            // the core would try again; the caller hears about this attempt instead, and decides
            this.abandoning = true;
            this.ex.client_stop(this.board.nowMs());
            this.pumpAgain = true;
          }
          for (const w of waiters) w.reject(err);
        }
        break;
      }
      case EV.TELEMETRY_ACKED: {
        if (this.store?.acked(token)) this.store.feed();
        this.telemetry.settle(token);
        break;
      }
      case EV.TELEMETRY_FAILED: {
        this.store?.failed(token); // a stored message stays stored: it goes when the client starts again
        this.telemetry.settle(token, this.error(status, 'telemetry failed'));
        break;
      }
      case EV.TWIN_RESPONSE: this.twinAnswer(token, status, this.ev[EVF.version], this.view(0)); break;
      case EV.TWIN_RETRY: {
        const code = this.core.statusName(this.ex.client_twin_error(status));
        this.emit('warning', new IotHubWasmError(code, `twin request answered ${status}; retrying in ${this.evi[EVF.extra]} ms`, status));
        break;
      }
      case EV.DESIRED: {
        const patch = parseJson(this.view(0)) as Record<string, unknown>;
        const version = this.ev[EVF.version];
        for (const cb of this.desiredHandlers) cb(patch, version);
        this.emit('desired', patch, version);
        break;
      }
      case EV.METHOD: this.method(this.view(0).toString('utf8'), this.view(1).toString('utf8'), this.view(2), this.evi[EVF.extra]); break;
      case EV.C2D: this.c2d(token); break;
      case EV.ERROR: {
        const topic = this.view(0).toString('utf8');
        const err = this.error(status, topic ? `on ${topic} (${this.evi[EVF.extra]} bytes)` : `detail ${this.evi[EVF.extra]}`);
        this.emit('warning', err);
        break;
      }
    }
  }

  private twinAnswer(rid: number, status: number, version: number, body: Buffer): void {
    const p = this.twinRequests?.get(rid);
    if (!p) return;
    this.twinRequests!.delete(rid);
    if (status < 0) return p.reject(this.error(status, 'twin request failed'));
    if (status >= 300) {
      const code = this.core.statusName(this.ex.client_twin_error(status));
      return p.reject(new IotHubWasmError(code, `twin request answered ${status}: ${body.toString('utf8')}`, status));
    }
    if (p.kind === 'patch') return p.resolve(version);
    const twin = parseJson(body) as Twin;
    const desiredVersion = (twin?.desired as { $version?: number } | undefined)?.$version;
    if (typeof desiredVersion === 'number') this.ex.client_twin_desired_applied(desiredVersion);
    p.resolve({ desired: twin?.desired ?? {}, reported: twin?.reported ?? {} });
  }

  private method(name: string, rid: string, payloadBytes: Buffer, split: number): void {
    const handler = this.methods?.get(name);
    const respond = (status: number, payload: unknown) => {
      const ridLen = this.writeIo(0, rid);
      const body = payload === undefined ? '' : JSON.stringify(payload);
      const n = this.writeIo(ridLen, body);
      const rc = this.ex.client_method_respond(this.core.io, ridLen, status, this.core.io + ridLen, n);
      if (rc < 0) this.emit('warning', this.error(rc, `cannot answer method '${name}'`));
      this.pump();
    };
    if (!handler) { respond(404, { message: `no handler for method '${name}'` }); return; }
    const payload = payloadBytes.length ? parseJson(payloadBytes) : null;
    Promise.resolve()
      .then(() => handler(payload, {
        methodName: name, requestId: rid,
        // the core found the '*' of a Plug and Play `{component}*{command}` (a byte offset: ASCII before it)
        ...(split > 0 ? splitCommand(name, split) : {}),
      }))
      .then((r) => respond(r?.status ?? 200, r?.payload), (e: Error) => respond(500, { message: String(e?.message ?? e) }));
  }

  private c2d(packetId: number): void {
    const msg: C2DMessage = { body: this.view(0), properties: {} };
    // The property bag is walked in place: the event's view stays valid until the next poll.
    const bagLen = this.evi[EVF.bLen];
    if (bagLen > 0) {
      this.ex.client_bag_begin(this.ev[EVF.bPtr], bagLen);
      const item = new Int32Array(this.core.memory.buffer, this.ex.client_bag_item_ptr(), ITEM.WORDS);
      let r: number;
      while ((r = this.ex.client_bag_next()) === 1) {
        const name = this.core.utf8(item[ITEM.namePtr], item[ITEM.nameLen]);
        const value = item[ITEM.valueLen] < 0 ? null : this.core.utf8(item[ITEM.valuePtr], item[ITEM.valueLen]);
        const sys = item[ITEM.system];
        if (sys >= 0) (msg as unknown as Record<string, unknown>)[SYSTEM_PROPERTIES[sys]] = value ?? undefined;
        // a name is data: `__proto__` or `constructor` becomes an own member, never the object's prototype
        else Object.defineProperty(msg.properties, name, { value, enumerable: true, writable: true, configurable: true });
      }
      if (r < 0) this.emit('warning', this.error(r, 'malformed C2D property bag'));
    }
    const ack = () => { this.ex.client_c2d_ack(packetId); this.pump(); };
    Promise.all(this.c2dHandlers.map((h) => Promise.resolve().then(() => h(msg))))
      .catch((e: unknown) => this.emit('warning', e))
      .finally(ack);
    this.emit('message', msg);
  }
}

/** One executor for every telemetry promise (no closure per message): it hands out the settling functions. */
const captured: Pending = { resolve: () => {}, reject: () => {} };
function capture(resolve: (v: void) => void, reject: (e: Error) => void): void {
  captured.resolve = resolve as (v: unknown) => void;
  captured.reject = reject;
}

/** `{component}*{command}` at the byte offset of its '*' (the core's EV_METHOD extra). */
function splitCommand(name: string, split: number): { component: string; command: string } {
  const bytes = Buffer.from(name);
  return { component: bytes.toString('utf8', 0, split), command: bytes.toString('utf8', split + 1) };
}

function parseJson(b: Buffer): unknown {
  if (b.length === 0) return null;
  try { return JSON.parse(b.toString('utf8')); } catch { return b.toString('utf8'); }
}

/** The core's BAD_ARGUMENT, raised by the host for arguments that never reach the core. */
function badArgument(message: string): IotHubWasmError {
  const name = 'BAD_ARGUMENT' satisfies keyof typeof STATUS;
  return new IotHubWasmError(name, message, STATUS[name]);
}

/** `what: the core's sentence for the status` — the code stays on the error, the message says what it means. */
function describe(name: string, what: string, cause?: Error): string {
  const text = Object.hasOwn(STATUS_TEXT, name) ? STATUS_TEXT[name as keyof typeof STATUS_TEXT] : '';
  const because = cause ? ` Cause: ${causeText(cause)}.` : '';
  return (text ? `${what}: ${text}` : `${what}: ${name}`) + because;
}

/** A board error in words: Node's message, its code, and what usually fixes it. */
function causeText(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  const hint = code ? CAUSE_HINTS[code] ?? (/CERT|SIGNATURE|VERIFY|ISSUER/.test(code) ? CAUSE_HINTS.CERT : undefined) : undefined;
  return `${e.message}${code && !e.message.includes(code) ? ` (${code})` : ''}${hint ? `; ${hint}` : ''}`;
}

const CAUSE_HINTS: Record<string, string> = {
  CERT: "the hub's certificate is not trusted: pass its CA (for the local hub, the data folder's hub.ca) as `ca`",
  ECONNREFUSED: 'nothing listens there: is the hub running, and is the port right?',
  ENOTFOUND: 'the host name does not resolve: check HostName / GatewayHostName',
  EAI_AGAIN: 'the host name could not be resolved right now: check DNS and the network',
  EHOSTUNREACH: 'the host cannot be reached: check the network',
  ENETUNREACH: 'the network cannot be reached: check the connection',
  ETIMEDOUT: 'the host did not answer: check the address, port and firewall',
  ECONNRESET: 'the peer reset the connection: is this port TLS (8883) or plain MQTT (1883)?',
};
