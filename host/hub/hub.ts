// LocalHub: the local IoT Hub (host simulation). Listeners (TLS, plain TCP, WebSocket), the data folder, and the
// service-side API (C2D, methods, twins, connection control) over the registry, twin store, C2D queue and broker.
import { EventEmitter } from 'node:events';
import { createServer as createNetServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { join as joinPath, resolve as resolvePath } from 'node:path';
import type { Duplex } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { Registry } from './state/registry.js';
import { TwinStore, type Twin, type JsonObject } from './state/twin-store.js';
import { C2DQueue, C2D_MAX_DELIVERY_COUNT, type C2DOptions, type FeedbackRecord } from './state/c2d-queue.js';
import { MethodInvoker, METHOD_CONNECT_TIMEOUT, METHOD_RESPONSE_TIMEOUT, type InvokeOptions, type MethodResult } from './state/methods.js';

export type { InvokeOptions } from './state/methods.js';
import { HubError } from './errors.js';
import { HubBroker, MQTT_PACKET_MAX_BYTES, type BrokerEvents } from './device/broker.js';
import { Admission, peerKey } from './admission.js';
import { loadOrCreateTls } from './tls.js';
import { FileLock, ensurePrivateDir, makePrivate, removeOrphanedTempFiles } from './state/store.js';
import { dict } from './state/json.js';
import { writeRunningHub, removeRunningHub } from './running.js';
import { makeLogger, type LogOption, type LogSink } from './log.js';
import { Policies } from './service/policies.js';
import { EventStore } from './state/events.js';
import { AmqpService } from './amqp/endpoint.js';
import { RestService } from './service/rest.js';
import { webSocketRoute } from './websocket.js';
import { DeviceHttps } from './device/https.js';
import { createServer as createHttpsServer } from 'node:https';
import type { Identity, TelemetryMessage } from './state/messages.js';
import { LocalDps } from './dps/dps.js';
import { isDpsServicePath } from './dps/rest.js';
import { Dashboard } from './dashboard/dashboard.js';

import { WEBSOCKET_PATH, DEFAULT_DATA_DIR } from './paths.js';
export { WEBSOCKET_PATH, DEFAULT_DATA_DIR };

export interface LocalHubOptions {
  /** TLS port for MQTT (and MQTT over WebSocket on the same port). Default 8883; 0 picks a free port. */
  port?: number;
  /** Also listen without TLS on this port (MQTT and WebSocket); 0 picks a free port. Default: off. */
  plainPort?: number | false;
  /** An extra TLS port that serves the same protocols (e.g. 443 for SDKs that hard-code it). Default: off. */
  wsPort?: number | false;
  /**
   * Address to listen on. Default: loopback only, 127.0.0.1 and ::1 (where the machine has IPv6 loopback), since
   * clients resolve `localhost` to either. Anything else exposes the hub, and every device key it holds, to the network.
   */
  bindAddress?: string;
  /** The hub's name in connection strings, usernames and SAS resources. Default `localhost`. */
  hostName?: string;
  /** Where the registry, twins and TLS material live. Default `.iothub-wasm` in the current folder; null keeps all in memory. */
  dataDir?: string | null;
  /** Use this certificate instead of generating one. */
  tls?: { cert: string; key: string; ca?: string };
  /** true, false or a sink for the hub's readable log; default: env IOTHUB_WASM_HUB_LOG. */
  log?: LogOption;
  /** C2D deliveries before a message is dead-lettered (DeliveryCountExceeded). Default 10. */
  maxDeliveryCount?: number;
  /** AMQP 1.0 service endpoint over TLS (IoT Hub uses 5671); 0 picks a free port. Default: off (the CLI turns it on). */
  amqpPort?: number | false;
  /**
   * HTTPS port of the REST service API (IoT Hub: 443, which the service SDK always uses); it also serves AMQP over
   * WebSocket (`/$servicebus/websocket`) and MQTT over WebSocket. 0 picks a free port. Default: off.
   */
  restPort?: number | false;
  /** Partitions of the Event Hub-compatible endpoint (only for a new data folder). Default 4. */
  partitions?: number;
  /** How long telemetry stays readable on the Event Hub-compatible endpoint. Default 24 h. */
  retentionHours?: number;
  /** Events the Event Hub-compatible endpoint keeps per partition (the oldest go first). Default 10,000. */
  retentionMaxEvents?: number;
  /** Bytes of events kept per partition, on disk and in memory (the oldest go first). Default 64 MiB. */
  retentionMaxBytes?: number;
  /** How long C2D feedback records are batched before they go to a feedback receiver. Default 200 ms. */
  feedbackBatchMs?: number;
  /**
   * Milliseconds from TCP accept to CONNACK on the MQTT listeners (TLS handshake, WebSocket upgrade and CONNECT
   * included) and to `open` on the AMQP ones (SASL included); also the TLS handshake timeout of every TLS listener
   * and the deadline for a first request on the HTTPS listener.
   * Default 30 000 (aedes's CONNECT timer, and room for a slow device's TLS handshake).
   */
  connectTimeoutMs?: number;
  /**
   * Connections per MQTT listener (TLS port, plain port, extra port, MQTT over WebSocket on the REST port) that may
   * wait for CONNACK at once; at the cap the oldest waiting one is closed, so idle sockets cannot keep devices out.
   * Memory before CONNACK is ≤ 16 KiB per connection over TCP/TLS and ≤ one WebSocket message (~320 KiB) over
   * WebSocket. Default 256.
   */
  maxPendingConnections?: number;
  /** Connections per listener (and per address when it listens on both loopbacks), authenticated or not. Default 10 000. */
  maxConnections?: number;
  /** Milliseconds an HTTPS client has to send a whole REST request, from its first byte. Default 60 000. */
  requestTimeoutMs?: number;
  /** How long a C2D message received over HTTPS stays locked before it is queued again. Default 60 000 (IoT Hub's). */
  c2dLockMs?: number;
  /**
   * TLS port of the local Device Provisioning Service's MQTT endpoint (Azure's is 8883 on its own host); 0 picks a free
   * port. Default: off (the CLI turns it on, on 8884). Its service API (enrollments) is served on restPort.
   */
  dpsPort?: number | false;
  /** Also serve the DPS without TLS on this port (SAS only: no client certificates there); 0 picks a free port. Default: off. */
  dpsPlainPort?: number | false;
  /** The `retry-after` (seconds) the DPS gives with `assigning` answers. Default 1. */
  dpsRetryAfterSeconds?: number;
  /** The web dashboard on the REST port (`/dashboard/`, signed in with dashboardUrl()'s one-time link). Default on with restPort. */
  dashboard?: boolean;
}

/** Defaults of the connection limits (see LocalHubOptions). */
export const CONNECT_TIMEOUT_MS = 30_000;
export const MAX_PENDING_CONNECTIONS = 256;
export const MAX_CONNECTIONS = 10_000;
export const REQUEST_TIMEOUT_MS = 60_000;
/**
 * Largest WebSocket message the MQTT WebSocket endpoints read: one MQTT packet of IoT Hub's size limit with its
 * fixed header (clients send a packet per message). ws refuses a larger frame from its header, before buffering it.
 */
export const MQTT_WS_MAX_PAYLOAD = MQTT_PACKET_MAX_BYTES + 5;
/** AMQP over WebSocket: far above any frame a service client sends (C2D ≤ 64 KiB, CBS tokens), far below ws's 100 MiB. */
export const AMQP_WS_MAX_PAYLOAD = 1024 * 1024;

const LOOPBACK = ['127.0.0.1', '::1'];

/** Each listener's option, and the CLI flag that sets it (named when its port is taken). */
const PORT_OPTIONS = {
  port: { flag: '--port' }, plainPort: { flag: '--plain' }, wsPort: { flag: '--ws-port' }, amqpPort: { flag: '--amqp-port' },
  restPort: { flag: '--rest-port' }, dpsPort: { flag: '--dps-port' }, dpsPlainPort: { flag: '--dps-plain-port' },
} as const satisfies Partial<Record<keyof LocalHubOptions, { flag: string }>>;
type PortOption = keyof typeof PORT_OPTIONS;

export interface SendC2DOptions extends C2DOptions { moduleId?: never }

export interface HubEvents extends BrokerEvents {
  feedback: [FeedbackRecord];
}

export interface C2DReceipt { messageId: string; lockToken: string; queued: number }

export class LocalHub extends EventEmitter<HubEvents> {
  readonly registry: Registry;
  readonly twins: TwinStore;
  readonly c2d: C2DQueue;
  readonly methods: MethodInvoker;
  /** Shared access policies of the service side (keys in `{dataDir}/policies.json`). */
  readonly policies: Policies;
  /** Telemetry as the Event Hub-compatible endpoint serves it. */
  readonly events: EventStore;
  /** AMQP 1.0 (TLS) port of the service side, when enabled. */
  amqpPort: number | undefined;
  /** HTTPS port of the REST API (+ AMQP/MQTT over WebSocket), when enabled. */
  restPort: number | undefined;
  private amqp: AmqpService | undefined;
  private deviceHttps: DeviceHttps | undefined;
  private dashboard: Dashboard | undefined;
  /** The local Device Provisioning Service, when dpsPort is set (its id scope, enrollments, fault injection). */
  dps: LocalDps | undefined;
  /** TLS port (MQTT + WebSocket). */
  port = 0;
  /** Plain TCP port, when enabled. */
  plainPort: number | undefined;
  /** Extra TLS port, when enabled. */
  wsPort: number | undefined;
  readonly hostName: string;
  /** PEM that clients should trust. */
  ca = '';
  readonly dataDir: string | null;
  private broker!: HubBroker;
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Duplex>();
  private wss!: WebSocketServer;
  private readonly admissions: Admission[] = [];
  private limits = { connectTimeoutMs: CONNECT_TIMEOUT_MS, maxPending: MAX_PENDING_CONNECTIONS, maxConnections: MAX_CONNECTIONS };
  private sweepTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** init() completed: only a hub that started says it stopped. */
  private started = false;
  /** `{dataDir}/hub.lock`, held while this hub runs. */
  private hubLock: FileLock | undefined;
  private readonly log: (line: string) => void;
  /** Identity key (`dev`, `dev/mod`) → ms when its connection state last changed. */
  private readonly connectionChanged = new Map<string, number>();
  /** The log sink, null when the log is off (the broker's hot path then builds no line at all). */
  private readonly logSink: LogSink | null;

  private constructor(opts: LocalHubOptions) {
    super();
    this.hostName = opts.hostName ?? 'localhost';
    this.dataDir = opts.dataDir === null ? null : resolvePath(opts.dataDir ?? DEFAULT_DATA_DIR);
    this.logSink = makeLogger(opts.log);
    this.log = this.logSink ?? (() => {});
    this.registry = new Registry(this.dataDir, this.hostName);
    this.twins = new TwinStore(this.dataDir);
    this.c2d = new C2DQueue(opts.maxDeliveryCount ?? C2D_MAX_DELIVERY_COUNT);
    this.methods = new MethodInvoker();
    this.policies = new Policies(this.dataDir, this.hostName);
    this.events = new EventStore(this.dataDir, {
      ...(opts.partitions ? { partitions: opts.partitions } : {}),
      ...(opts.retentionHours ? { retentionHours: opts.retentionHours } : {}),
      ...(opts.retentionMaxEvents ? { maxEventsPerPartition: opts.retentionMaxEvents } : {}),
      ...(opts.retentionMaxBytes ? { maxBytesPerPartition: opts.retentionMaxBytes } : {}),
    });
  }

  /** The names a client may use for this hub in SAS resources: the host name, alone and with each port. */
  hostNames(): string[] {
    const ports = [this.port, this.plainPort, this.wsPort, this.amqpPort, this.restPort].filter((p): p is number => !!p);
    return [...new Set([this.hostName, ...ports.map((p) => `${this.hostName}:${p}`), ...(this.hostName === 'localhost' ? [] : ['localhost', ...ports.map((p) => `localhost:${p}`)])].map((h) => h.toLowerCase()))];
  }

  /** The Event Hub-compatible name of the built-in events endpoint: the hub's name. */
  get eventHubName(): string { return this.hostName.split('.')[0]!; }

  /** A service connection string (`HostName=…;SharedAccessKeyName=…;SharedAccessKey=…`); HostName carries the AMQP port when it is not 5671. */
  serviceConnectionString(policy = 'iothubowner'): string {
    const host = this.amqpPort && this.amqpPort !== 5671 ? `${this.hostName}:${this.amqpPort}` : this.hostName;
    return this.policies.connectionString(policy, host);
  }

  /** The Event Hub-compatible connection string of the built-in events endpoint (over AMQP on amqpPort). */
  eventHubConnectionString(policy = 'iothubowner'): string {
    return this.policies.eventHubConnectionString(policy, this.amqpPort && this.amqpPort !== 5671 ? `${this.hostName}:${this.amqpPort}` : this.hostName, this.eventHubName);
  }

  static async start(opts: LocalHubOptions = {}): Promise<LocalHub> {
    const hub = new LocalHub(opts);
    try {
      await hub.init(opts);
    } catch (e) {
      await hub.stop().catch(() => {});
      throw e;
    }
    return hub;
  }

  /** What the DPS tells provisioned devices to connect to: the host name, with the TLS port when it is not 8883. */
  assignedHub(): string { return this.port === 8883 ? this.hostName : `${this.hostName}:${this.port}`; }

  /** The provisioning service connection string (azure-iot-provisioning-service), when the DPS runs. */
  dpsServiceConnectionString(): string | undefined { return this.dps?.serviceConnectionString(this.hostName); }

  /** A new one-time sign-in link to the web dashboard (each works once), when it runs. */
  dashboardUrl(): string | undefined { return this.dashboard && this.restPort ? this.dashboard.signInUrl() : undefined; }

  /** `localhost:{port}`: what a client puts in GatewayHostName. */
  get gatewayHostName(): string { return `localhost:${this.port}`; }

  private async init(opts: LocalHubOptions): Promise<void> {
    // One hub per data folder: a second one would write its own view of the twins and queues over the first's.
    if (this.dataDir) {
      ensurePrivateDir(this.dataDir);
      const lock = new FileLock(joinPath(this.dataDir, 'hub.lock'));
      const r = lock.tryAcquire();
      if (!r.ok) {
        throw new Error(`another hub${r.holder ? ` (pid ${r.holder})` : ''} is running on the data folder ${this.dataDir}; ` +
          `stop it, or give this one another --data-dir (if that process is not a hub, delete ${lock.path})`);
      }
      this.hubLock = lock;
      for (const f of removeOrphanedTempFiles(this.dataDir)) this.log(`removed ${f}, left by a process that was killed while writing it`);
      for (const f of ['registry.json', 'policies.json', 'twins.json', 'c2d.json', 'dps.json', 'dps-enrollments.json']) makePrivate(joinPath(this.dataDir, f));
    }
    const tlsMat = opts.tls ? { ...opts.tls, ca: opts.tls.ca ?? opts.tls.cert, generated: false } :
      await loadOrCreateTls(this.dataDir ? resolvePath(this.dataDir, 'tls') : null, this.hostName);
    this.ca = tlsMat.ca;
    if (tlsMat.generated && this.dataDir) this.log(`generated a TLS certificate for localhost; clients trust ${resolvePath(this.dataDir, 'tls', 'ca.pem')}`);

    this.broker = await HubBroker.create({
      hostName: this.hostName, registry: this.registry, twins: this.twins, c2d: this.c2d, methods: this.methods,
      log: this.logSink,
      hostAliases: () => [this.port, this.plainPort, this.wsPort].filter((p): p is number => !!p).map((p) => `${this.hostName}:${p}`),
      connectTimeoutMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    });
    for (const ev of ['telemetry', 'connected', 'disconnected', 'refused', 'reported', 'c2dDelivered'] as const) {
      (this.broker as EventEmitter).on(ev, (arg: unknown) => { (this.emit as (e: string, a: unknown) => boolean)(ev, arg); });
    }
    this.broker.on('telemetry', (t) => this.events.append(t));
    // when each identity's connection state last changed (IoT Hub's connectionStateUpdatedTime); a connection that
    // ends after another replaced it changes nothing
    const stamp = (e: { deviceId: string; moduleId?: string }, up: boolean) => {
      if (up || !this.isConnected(e.deviceId, e.moduleId)) this.connectionChanged.set(e.moduleId ? `${e.deviceId}/${e.moduleId}` : e.deviceId, Date.now());
    };
    this.broker.on('connected', (e) => stamp(e, true));
    this.broker.on('disconnected', (e) => stamp(e, false));
    this.c2d.on('outcome', (f) => {
      this.log(`${f.deviceId} C2D ${f.originalMessageId} outcome: ${f.statusCode}`);
      this.emit('feedback', f);
    });
    this.registry.on('removed', (deviceId, moduleId) => {
      void this.broker.drop({ deviceId, ...(moduleId ? { moduleId } : {}) }, 'identity removed');
      if (!moduleId) for (const key of [...this.broker.connections.keys()]) {
        if (key.startsWith(deviceId + '/')) void this.broker.drop({ deviceId, moduleId: key.slice(deviceId.length + 1) }, 'identity removed');
      }
      this.amqp?.dropIdentity({ deviceId, ...(moduleId ? { moduleId } : {}) }, 'identity removed', true);
      if (!moduleId) this.c2d.purge(deviceId);
      this.connectionChanged.delete(moduleId ? `${deviceId}/${moduleId}` : deviceId);
      void this.twins.remove(deviceId, moduleId);
    });
    this.registry.on('disabled', (deviceId, moduleId) => {
      void this.broker.drop({ deviceId, ...(moduleId ? { moduleId } : {}) }, 'identity disabled');
      this.amqp?.dropIdentity({ deviceId, ...(moduleId ? { moduleId } : {}) }, 'identity disabled');
    });
    // `iothub-wasm hub device …` in another process: its changes reach the hub at once (removed or disabled
    // identities are dropped by the handlers above), and every lookup re-reads a changed registry.json as well.
    this.registry.watch();
    // C2D messages survive a restart; expired ones are dropped (Expired feedback) once the listeners are up.
    const restored = this.c2d.open(this.dataDir, { sweep: false });
    if (restored) this.log(`${restored} C2D message(s) restored from ${joinPath(this.dataDir!, 'c2d.json')}`);
    for (const q of this.c2d.identities()) if (!q.moduleId && !this.registry.record(q.deviceId)) this.c2d.purge(q.deviceId);

    // twins of identities removed while the hub was not running (iothub-wasm hub device remove)
    for (const t of this.twins.identities()) {
      if (!this.registry.record(t.deviceId, t.moduleId)) void this.twins.remove(t.deviceId, t.moduleId);
    }

    const limits = this.limits = {
      connectTimeoutMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      maxPending: opts.maxPendingConnections ?? MAX_PENDING_CONNECTIONS,
      maxConnections: opts.maxConnections ?? MAX_CONNECTIONS,
    };
    this.wss = new WebSocketServer({
      noServer: true, clientTracking: false, maxPayload: MQTT_WS_MAX_PAYLOAD,
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
    });

    // Devices may present a client certificate (X.509 authentication); it is checked by thumbprint at CONNECT,
    // so the handshake itself accepts self-signed ones.
    const secure = {
      key: tlsMat.key, cert: tlsMat.cert, minVersion: 'TLSv1.2' as const, requestCert: true, rejectUnauthorized: false,
      handshakeTimeout: limits.connectTimeoutMs,
    };
    /** An MQTT listener (TLS or plain): every TCP connection has the connect deadline from accept. */
    const mqttListener = (name: string, transport: 'mqtt' | 'mqtts') => {
      const admission = this.admission(name);
      return () => {
        const server = transport === 'mqtts' ? createTlsServer(secure, (s) => this.accept(s, transport, admission)) : createNetServer((s) => this.accept(s, transport, admission));
        server.maxConnections = limits.maxConnections;
        // on a TLS server this is the TCP socket, before the handshake
        server.on('connection', (raw: Socket) => { if (this.stopped) raw.destroy(); else admission.accepted(raw); });
        if (transport === 'mqtts') server.on('tlsClientError', (err, s) => { this.log(`TLS handshake failed: ${err.message}`); s.destroy(); });
        return server;
      };
    };
    this.port = await this.listenOn(mqttListener('TLS port', 'mqtts'), opts.port ?? 8883, opts.bindAddress, 'port');
    if (opts.plainPort !== undefined && opts.plainPort !== false) {
      this.plainPort = await this.listenOn(mqttListener('plain port', 'mqtt'), opts.plainPort, opts.bindAddress, 'plainPort');
    }
    if (opts.wsPort !== undefined && opts.wsPort !== false) {
      this.wsPort = await this.listenOn(mqttListener('extra TLS port', 'mqtts'), opts.wsPort, opts.bindAddress, 'wsPort');
    }
    if (opts.dpsPort !== undefined && opts.dpsPort !== false) {
      const dps = this.dps = await LocalDps.create({
        dataDir: this.dataDir, registry: this.registry, twins: this.twins, logSink: this.logSink,
        assignedHub: () => this.assignedHub(),
        connectTimeoutMs: limits.connectTimeoutMs,
        ...(opts.dpsRetryAfterSeconds !== undefined ? { retryAfterSeconds: opts.dpsRetryAfterSeconds } : {}),
      });
      /** A DPS listener (TLS, or plain when asked): the device side's admission, then the DPS broker behind the framing gate. */
      const dpsListener = (name: string, transport: 'mqtt' | 'mqtts') => {
        const admission = this.admission(name);
        const serve = (s: Socket) => {
          if (this.stopped) { s.destroy(); return; }
          this.sockets.add(s);
          s.on('close', () => this.sockets.delete(s));
          s.on('error', () => {});
          s.setNoDelay(true);
          const key = peerKey(s);
          dps.handle(s, transport, { peer: key.replace('|', ':'), onAdmitted: () => admission.admitted(key) });
        };
        return () => {
          // the hub's TLS settings: X.509 devices present their certificate, checked against the enrollment at CONNECT
          const server = transport === 'mqtts' ? createTlsServer(secure, serve) : createNetServer(serve);
          server.maxConnections = limits.maxConnections;
          server.on('connection', (raw: Socket) => { if (this.stopped) raw.destroy(); else admission.accepted(raw); });
          if (transport === 'mqtts') server.on('tlsClientError', (err, s) => { this.log(`DPS TLS handshake failed: ${err.message}`); s.destroy(); });
          return server;
        };
      };
      dps.port = await this.listenOn(dpsListener('DPS port', 'mqtts'), opts.dpsPort, opts.bindAddress, 'dpsPort');
      if (opts.dpsPlainPort !== undefined && opts.dpsPlainPort !== false) {
        dps.plainPort = await this.listenOn(dpsListener('DPS plain port', 'mqtt'), opts.dpsPlainPort, opts.bindAddress, 'dpsPlainPort');
      }
    }
    if (opts.amqpPort !== undefined && opts.amqpPort !== false) {
      this.amqp = new AmqpService(this, {
        ...(opts.feedbackBatchMs !== undefined ? { feedbackBatchMs: opts.feedbackBatchMs } : {}),
        openDeadlineMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, log: this.log,
        onReported: (e) => this.emit('reported', e),
        twinFault: (key) => this.broker.faults.takeTwinFault(key),
        // an AMQP device is connected while it has a device link attached (IoT Hub's connectionState)
        onDeviceConnection: ({ up, reason, ...identity }) => {
          if (up || !this.isConnected(identity.deviceId, identity.moduleId)) this.connectionChanged.set(identity.moduleId ? `${identity.deviceId}/${identity.moduleId}` : identity.deviceId, Date.now());
          if (up) this.emit('connected', { ...identity, transport: 'amqp' });
          else this.emit('disconnected', { ...identity, ...(reason ? { reason } : {}) });
        },
      });
      this.amqpPort = await this.listenOn(() => {
        const amqpServer = createTlsServer(secure, (s) => {
          if (this.stopped) { s.destroy(); return; }
          this.sockets.add(s);
          s.on('close', () => this.sockets.delete(s));
          s.on('error', () => {});
          s.setNoDelay(true);
          this.amqp!.accept(s);
        });
        amqpServer.maxConnections = limits.maxConnections;
        amqpServer.on('tlsClientError', (err, s) => { this.log(`AMQP TLS handshake failed: ${err.message}`); s.destroy(); });
        return amqpServer;
      }, opts.amqpPort, opts.bindAddress, 'amqpPort');
    }
    if (opts.restPort !== undefined && opts.restPort !== false) {
      const rest = new RestService(this, this.log);
      // the device endpoint shares the port: its paths (/devices/{id}/messages/…) are the devices', the rest the service's
      const deviceHttps = this.deviceHttps = new DeviceHttps({
        registry: this.registry, c2d: this.c2d, hostNames: () => this.hostNames(), log: this.log,
        ...(opts.c2dLockMs !== undefined ? { lockMs: opts.c2dLockMs } : {}),
      });
      deviceHttps.on('telemetry', (t) => this.acceptTelemetry(t));
      // the provisioning service API shares the port: its paths (/enrollments, /enrollmentGroups, /registrations) are its own
      const dpsRest = this.dps?.serviceApi(() => this.hostNames(), () => this.assignedHub(), this.log);
      const dashboard = this.dashboard = opts.dashboard === false ? undefined : new Dashboard(this, this, this.dps, { port: () => this.restPort, log: this.log });
      const serve = (req: IncomingMessage, res: ServerResponse) =>
        (DeviceHttps.claims(req) ? deviceHttps.handle : dashboard && Dashboard.claims(req) ? dashboard.handle :
          dpsRest && isDpsServicePath(req.url) ? dpsRest.handle : rest.handle)(req, res);
      const wsAdmission = this.admission('REST port (MQTT over WebSocket)');
      const acceptedAt = new Map<string, number>();
      const firstRequest = new Map<string, NodeJS.Timeout>();
      const amqpWss = new WebSocketServer({
        noServer: true, clientTracking: false, maxPayload: AMQP_WS_MAX_PAYLOAD,
        handleProtocols: (protocols) => (protocols.has('AMQPWSB10') ? 'AMQPWSB10' : false),
      });
      this.restPort = await this.listenOn(() => {
        const https = createHttpsServer({
          ...secure,
          // from accept: the handshake, then the request's headers, then the whole request
          headersTimeout: limits.connectTimeoutMs,
          requestTimeout: Math.max(opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, limits.connectTimeoutMs),
          connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(limits.connectTimeoutMs / 4))),
        }, serve);
        https.maxConnections = limits.maxConnections;
        https.on('connection', (s: Socket) => {
          if (this.stopped) { s.destroy(); return; }
          const key = peerKey(s);
          acceptedAt.set(key, Date.now());
          // headersTimeout only runs once a request has begun: a connection that sends nothing has the same deadline
          const t = setTimeout(() => {
            this.log(`REST port: closed ${key.replace('|', ':')}: no request within ${limits.connectTimeoutMs} ms of accept`);
            s.destroy();
          }, limits.connectTimeoutMs);
          t.unref();
          firstRequest.set(key, t);
          this.sockets.add(s);
          s.on('close', () => { this.sockets.delete(s); acceptedAt.delete(key); clearTimeout(t); firstRequest.delete(key); });
        });
        const started = (req: IncomingMessage) => {
          const key = peerKey(req.socket);
          clearTimeout(firstRequest.get(key));
          firstRequest.delete(key);
        };
        https.on('request', started);
        https.on('tlsClientError', (err, s) => { this.log(`REST TLS handshake failed: ${err.message}`); s.destroy(); });
        https.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
          started(req);
          const path = (req.url ?? '').split('?')[0];
          if (path === '/$servicebus/websocket' && this.amqp) {
            amqpWss.handleUpgrade(req, socket, head, (ws) => {
              const stream = createWebSocketStream(ws);
              this.sockets.add(stream);
              stream.on('close', () => this.sockets.delete(stream));
              stream.on('error', () => {});
              this.amqp!.accept(stream, socket);
            });
          } else if (path === WEBSOCKET_PATH) {
            const s = socket as Socket;
            const key = peerKey(s);
            const route = webSocketRoute(req.headers['sec-websocket-protocol']);
            if (route.to === 'amqp' && this.amqp) {
              amqpWss.handleUpgrade(req, socket, head, (ws) => {
                const stream = createWebSocketStream(ws);
                this.sockets.add(stream);
                stream.on('close', () => this.sockets.delete(stream));
                stream.on('error', () => {});
                this.amqp!.accept(stream, socket);
              });
              return;
            }
            if (route.to !== 'mqtt') { this.refuseUpgrade(socket, key, route.to === 'amqp' ? 'AMQP over WebSocket needs the hub\'s AMQP service (--amqp-port)' : route.reason); return; }
            wsAdmission.accepted(s, acceptedAt.get(key));
            this.wss.handleUpgrade(req, socket, head, (ws) => {
              const stream = createWebSocketStream(ws);
              this.sockets.add(stream);
              stream.on('close', () => this.sockets.delete(stream));
              stream.on('error', () => {});
              this.broker.handle(stream, req, 'wss', { peer: key.replace('|', ':'), onAdmitted: () => wsAdmission.admitted(key), tls: socket });
            });
          } else {
            socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
          }
        });
        return https as unknown as Server;
      }, opts.restPort, opts.bindAddress, 'restPort');
    }
    this.registry.gatewayHostName = this.gatewayHostName;
    if (this.dataDir) {
      writeRunningHub(this.dataDir, {
        pid: process.pid, hostName: this.hostName, gatewayHostName: this.gatewayHostName, startedAt: new Date().toISOString(),
        ...(this.dps ? { provisioningHost: this.dps.provisioningHost } : {}),
        ...(this.amqpPort ? { amqpPort: this.amqpPort } : {}), ...(this.restPort ? { restPort: this.restPort } : {}),
      });
    }
    this.sweepTimer = setInterval(() => this.c2d.sweep(), 1000);
    this.sweepTimer.unref();
    this.c2d.sweep();
    this.started = true;
    this.log(`local IoT Hub '${this.hostName}' listening on ${opts.bindAddress ?? LOOPBACK.join(' and ')}: mqtts://localhost:${this.port} and wss://localhost:${this.port}${WEBSOCKET_PATH}` +
      (this.plainPort ? `, mqtt://localhost:${this.plainPort} (plain)` : '') +
      (this.wsPort ? `, wss://localhost:${this.wsPort}${WEBSOCKET_PATH}` : '') +
      (this.amqpPort ? `, amqps://localhost:${this.amqpPort} (service)` : '') +
      (this.restPort ? `, https://localhost:${this.restPort} (REST, AMQP/MQTT over WebSocket)` : '') +
      (this.dps ? `, DPS mqtts://localhost:${this.dps.port}${this.dps.plainPort ? ` and mqtt://localhost:${this.dps.plainPort} (plain)` : ''} id scope ${this.dps.idScope}` : '') +
      (this.dataDir ? `; data in ${this.dataDir}` : '; data in memory') + `; ${this.registry.list().length} device(s)`);
  }

  private admission(name: string): Admission {
    const a = new Admission({ name, deadlineMs: this.limits.connectTimeoutMs, maxPending: this.limits.maxPending, log: this.log });
    this.admissions.push(a);
    return a;
  }

  /** Connections waiting for CONNACK, over all MQTT listeners (for tests and the bench). */
  pendingConnections(): number { return this.admissions.reduce((n, a) => n + a.size, 0); }

  /**
   * Listens on `host`, or on loopback when none is given: 127.0.0.1, and ::1 on the same port where the machine has
   * IPv6 loopback (one server per address, made by `make`).
   */
  private async listenOn(make: () => Server, port: number, host: string | undefined, option: PortOption): Promise<number> {
    if (host) return this.listen(make(), port, host, option);
    for (let attempt = 0; ; attempt++) {
      const v4 = make();
      const chosen = await this.listen(v4, port, LOOPBACK[0], option);
      const v6 = make();
      try {
        await this.listen(v6, chosen, LOOPBACK[1], option);
        return chosen;
      } catch (e) {
        this.unlisten(v6);
        const code = (e as { code?: string }).code;
        if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') return chosen; // no IPv6 loopback here
        // a free IPv4 port that is taken on ::1: pick another pair
        if (code === 'EADDRINUSE' && port === 0 && attempt < 10) { this.unlisten(v4); await new Promise<void>((r) => v4.close(() => r())); continue; }
        throw e;
      }
    }
  }

  private unlisten(server: Server): void {
    const i = this.servers.indexOf(server);
    if (i >= 0) this.servers.splice(i, 1);
  }

  private listen(server: Server, port: number, host: string, option: PortOption): Promise<number> {
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const { flag } = PORT_OPTIONS[option];
        const e = err.code === 'EADDRINUSE' ? new Error(`port ${port} is already in use on ${host} (choose another with ${flag} / ${option}, or 0 for any free port)`) :
          err.code === 'EACCES' ? new Error(`no permission to listen on port ${port}`) : err;
        reject(Object.assign(e, { code: err.code }));
      };
      server.once('error', onError);
      server.listen({ port, host }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.log(`listener error: ${err.message}`));
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /** Sniffs the first bytes: an HTTP request is a WebSocket upgrade, anything else is MQTT. */
  private accept(socket: Socket, transport: 'mqtt' | 'mqtts', admission: Admission): void {
    if (this.stopped) { socket.destroy(); return; }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    const key = peerKey(socket);
    const handle = (stream: Duplex, req: IncomingMessage | undefined, t: string) => {
      // over WebSocket, the client certificate (X.509 devices) is the TLS socket's, under the WebSocket stream
      this.broker.handle(stream, req, t, { peer: key.replace('|', ':'), onAdmitted: () => admission.admitted(key), ...(stream !== socket ? { tls: socket } : {}) });
    };
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (buf[0] !== 0x47 /* 'G' */) {
        socket.off('data', onData);
        socket.pause();
        socket.unshift(buf);
        handle(socket, undefined, transport);
        return;
      }
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 16384) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      this.upgrade(socket, buf.subarray(0, end).toString('latin1'), buf.subarray(end + 4), transport === 'mqtts' ? 'wss' : 'ws', handle);
    };
    socket.on('data', onData);
  }

  /** Answers a WebSocket upgrade the hub cannot serve with 400 and the reason, and logs it (no silent drops). */
  private refuseUpgrade(socket: Duplex, key: string, reason: string): void {
    this.log(`WebSocket upgrade from ${key.replace('|', ':')} refused: ${reason}`);
    const body = `iothub-wasm local IoT Hub: ${reason}\n`;
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }

  private upgrade(socket: Socket, head: string, rest: Buffer, transport: string, handle: (stream: Duplex, req: IncomingMessage, t: string) => void): void {
    const [requestLine, ...lines] = head.split('\r\n');
    const [method, url] = (requestLine ?? '').split(' ');
    // header names come from the network: a prototype-free table, so `__proto__: …` is just an unknown header
    const headers = dict<string>();
    for (const l of lines) {
      const c = l.indexOf(':');
      if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    const path = (url ?? '').split('?')[0];
    if (method !== 'GET' || path !== WEBSOCKET_PATH || (headers['upgrade'] ?? '').toLowerCase() !== 'websocket') {
      const body = `iothub-wasm local IoT Hub: MQTT here, or MQTT over WebSocket at ${WEBSOCKET_PATH}\n`;
      socket.end(`HTTP/1.1 ${path === WEBSOCKET_PATH ? 426 : 404} ${path === WEBSOCKET_PATH ? 'Upgrade Required' : 'Not Found'}\r\n` +
        `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    const route = webSocketRoute(headers['sec-websocket-protocol']);
    if (route.to !== 'mqtt') {
      this.refuseUpgrade(socket, peerKey(socket), route.to === 'amqp' ?
        `AMQP over WebSocket is served on the REST port (https://…:${this.restPort ?? '<--rest-port>'}${WEBSOCKET_PATH}), not on the MQTT port` : route.reason);
      return;
    }
    const req = { method, url, headers, socket } as unknown as IncomingMessage;
    socket.resume();
    this.wss.handleUpgrade(req, socket, rest, (ws) => {
      const stream = createWebSocketStream(ws);
      this.sockets.add(stream);
      stream.on('close', () => this.sockets.delete(stream));
      stream.on('error', () => {});
      handle(stream, req, transport);
    });
  }

  // --- service side ---------------------------------------------------------------------------------------------

  private requireIdentity(deviceId: string, moduleId?: string): void {
    if (!this.registry.record(deviceId, moduleId)) {
      throw new HubError(404, 'DeviceNotFound', `${moduleId ? `module '${deviceId}/${moduleId}'` : `device '${deviceId}'`} is not registered`);
    }
  }

  /** Queues a cloud-to-device message; it is delivered when the device is connected and subscribed. */
  /** Telemetry a device sent over AMQP or HTTPS (MQTT's comes from the broker): into the event store and 'telemetry'. */
  acceptTelemetry(t: TelemetryMessage): void {
    this.events.append(t);
    this.emit('telemetry', t);
  }

  async sendC2D(deviceId: string, body: Buffer | Uint8Array | string, opts: C2DOptions = {}): Promise<C2DReceipt> {
    this.requireIdentity(deviceId);
    const buf = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const m = this.c2d.enqueue(deviceId, buf, opts);
    // acknowledged only once it would survive a restart (c2d.json on disk)
    await this.c2d.flush();
    this.log(`${deviceId} C2D ${m.messageId} queued (${this.c2d.pending(deviceId).length} pending, ttl ${Math.round((m.expiresAt - m.enqueuedAt) / 1000)} s)`);
    this.broker.pumpC2D(deviceId);
    return { messageId: m.messageId, lockToken: m.lockToken, queued: this.c2d.pending(deviceId).length };
  }

  /** Invokes a direct method; resolves with the device's status and payload, rejects with 404 (not connected) or 504 (timeout). */
  async invokeMethod(deviceId: string, methodName: string, payload?: unknown, opts: InvokeOptions = {}): Promise<MethodResult> {
    this.requireIdentity(deviceId, opts.moduleId);
    if (typeof methodName !== 'string' || !/^[^/?#+\s]{1,100}$/.test(methodName)) {
      throw new HubError(400, 'ArgumentInvalid', `invalid method name ${JSON.stringify(String(methodName).slice(0, 100))}`);
    }
    // IoT Hub's upper bounds; below its 5 s minimum response time-out is allowed here so tests can provoke a 504 quickly
    // (the REST API holds callers to IoT Hub's range).
    const timeout = opts.responseTimeoutInSeconds ?? METHOD_RESPONSE_TIMEOUT.default;
    if (typeof timeout !== 'number' || !(timeout > 0) || timeout > METHOD_RESPONSE_TIMEOUT.max) {
      throw new HubError(400, 'ArgumentInvalid', `responseTimeoutInSeconds must be in (0, ${METHOD_RESPONSE_TIMEOUT.max}]`);
    }
    const wait = opts.connectTimeoutInSeconds ?? METHOD_CONNECT_TIMEOUT.default;
    if (typeof wait !== 'number' || !(wait >= METHOD_CONNECT_TIMEOUT.min) || wait > METHOD_CONNECT_TIMEOUT.max) {
      throw new HubError(400, 'ArgumentInvalid', `connectTimeoutInSeconds must be in [${METHOD_CONNECT_TIMEOUT.min}, ${METHOD_CONNECT_TIMEOUT.max}]`);
    }
    const identity: Identity = { deviceId, ...(opts.moduleId ? { moduleId: opts.moduleId } : {}) };
    let body: Buffer;
    try {
      body = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload === undefined ? null : payload) ?? 'null');
    } catch {
      throw new HubError(400, 'ArgumentInvalid', 'the method payload is not serialisable as JSON (cyclic, BigInt or nested too deep)');
    }
    if (wait > 0 && !this.isConnected(deviceId, opts.moduleId)) await this.waitConnected(identity, wait * 1000);
    // a device with an AMQP method link is invoked there, else over MQTT (which answers 404 when it is not connected)
    if (this.amqp?.hasMethodLink(identity)) return this.amqp.invokeMethod(identity, methodName, body, timeout * 1000);
    return this.broker.invokeMethod(identity, methodName, body, timeout * 1000);
  }

  private waitConnected(identity: Identity, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const on = (e: { deviceId: string; moduleId?: string }) => {
        if (e.deviceId === identity.deviceId && e.moduleId === identity.moduleId) done();
      };
      const done = () => { clearTimeout(t); this.off('connected', on); resolve(); };
      const t = setTimeout(done, ms);
      this.on('connected', on);
    });
  }

  async getTwin(deviceId: string, moduleId?: string): Promise<Twin> {
    this.requireIdentity(deviceId, moduleId);
    return this.twins.get(deviceId, moduleId);
  }

  /**
   * Patches desired properties (null deletes) and notifies the device; returns the updated twin. Member names are data
   * (`__proto__` is a property); a patch over IoT Hub's limits is refused with a HubError 400 or 413.
   */
  async updateDesired(deviceId: string, patch: JsonObject, opts: { moduleId?: string } = {}): Promise<Twin> {
    this.requireIdentity(deviceId, opts.moduleId);
    const { version, patch: sent } = await this.twins.patchDesired(deviceId, opts.moduleId, patch);
    this.log(`${deviceId}${opts.moduleId ? '/' + opts.moduleId : ''} desired properties now $version ${version}`);
    this.broker.notifyDesired(deviceId, opts.moduleId, version, sent);
    this.amqp?.notifyDesired({ deviceId, ...(opts.moduleId ? { moduleId: opts.moduleId } : {}) }, version, sent);
    return this.twins.get(deviceId, opts.moduleId);
  }

  async updateTags(deviceId: string, patch: JsonObject, opts: { moduleId?: string } = {}): Promise<Twin> {
    this.requireIdentity(deviceId, opts.moduleId);
    await this.twins.patchTags(deviceId, opts.moduleId, patch);
    return this.twins.get(deviceId, opts.moduleId);
  }

  isConnected(deviceId: string, moduleId?: string): boolean {
    return this.broker.connections.has(moduleId ? `${deviceId}/${moduleId}` : deviceId) ||
      (this.amqp?.isConnected({ deviceId, ...(moduleId ? { moduleId } : {}) }) ?? false);
  }

  /** When the identity last connected or disconnected (MQTT or AMQP), while this hub has run; undefined before either. */
  connectionStateUpdatedTime(deviceId: string, moduleId?: string): Date | undefined {
    const t = this.connectionChanged.get(moduleId ? `${deviceId}/${moduleId}` : deviceId);
    return t === undefined ? undefined : new Date(t);
  }

  /** Identities connected right now (`dev` or `dev/mod`). */
  connectedIdentities(): string[] { return [...this.broker.connections.keys()]; }

  /** Fault injection: hold every PUBLISH from the device for `ms` before handling it (its PUBACKs and twin answers come late); 0 ends it. */
  delayDevice(deviceId: string, ms: number, opts: { moduleId?: string } = {}): void {
    this.broker.faults.delay({ deviceId, ...(opts.moduleId ? { moduleId: opts.moduleId } : {}) }, ms);
  }

  /** Fault injection: end the device's connection as IoT Hub does when its SAS token expires. */
  expireToken(deviceId: string, moduleId?: string): Promise<boolean> {
    return this.broker.drop({ deviceId, ...(moduleId ? { moduleId } : {}) }, 'SAS token expired (injected)');
  }

  /**
   * Fault injection: answer the identity's next `count` twin requests (GET or reported PATCH) with `status`
   * instead of serving them — 429 (throttled) by default, or a 5xx.
   */
  failTwinRequests(deviceId: string, count: number, opts: { status?: number; moduleId?: string } = {}): void {
    this.broker.faults.failTwin({ deviceId, ...(opts.moduleId ? { moduleId: opts.moduleId } : {}) }, count, opts.status ?? 429);
  }

  /** Closes a device's connection (fault injection); false if it was not connected. */
  dropConnection(deviceId: string, moduleId?: string): Promise<boolean> {
    return this.broker.drop({ deviceId, ...(moduleId ? { moduleId } : {}) }, 'dropped by the hub (dropConnection)');
  }

  /** Removes and returns C2D feedback records (only those the sender asked for with `ack`, unless `all`). */
  takeFeedback(all = false): FeedbackRecord[] { return this.c2d.takeFeedback(!all); }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.methods.failAll(new HubError(503, 'ServiceUnavailable', 'the hub is stopping'));
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    this.amqp?.close();
    this.deviceHttps?.close();
    this.dashboard?.close();
    for (const a of this.admissions) a.close();
    if (this.broker) await this.broker.close();
    if (this.dps) await this.dps.close();
    for (const s of this.sockets) s.destroy();
    this.wss?.close();
    await Promise.all(closing);
    this.registry.close();
    try {
      await Promise.all([this.registry.flush(), this.twins.flush(), this.policies.flush(), this.events.flush(), this.c2d.flush(), this.dps?.flush()]);
    } finally {
      if (this.hubLock && this.dataDir) removeRunningHub(this.dataDir);
      this.hubLock?.release();
    }
    if (this.started) this.log('local IoT Hub stopped');
  }
}
