// LocalDps: the local Device Provisioning Service as LocalHub exposes it (`hub.dps`): its id scope, endpoint,
// enrollments and fault injection, over the enrollment store, the persisted identity and the MQTT broker.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { LogSink } from '../log.js';
import type { Registry } from '../state/registry.js';
import type { TwinStore } from '../state/twin-store.js';
import { DpsBroker, type DpsBrokerEvents } from './broker.js';
import {
  EnrollmentStore, deriveDeviceKey, type EnrollmentGroup, type EnrollmentOptions, type GroupOptions, type IndividualEnrollment,
  type ProvisioningStatus,
} from './enrollments.js';
import { DpsIdentity, DPS_SERVICE_POLICY } from './identity.js';
import { DpsRestService } from './rest.js';
import type { RegistrationState } from './assign.js';

export interface LocalDpsOptions {
  dataDir: string | null;
  registry: Registry;
  twins: TwinStore;
  /** What assigned devices are told to connect to. */
  assignedHub: () => string;
  logSink: LogSink | null;
  connectTimeoutMs: number;
  retryAfterSeconds?: number;
}

export class LocalDps extends EventEmitter<DpsBrokerEvents> {
  /** `0ne` + 8 hex digits, kept in `{dataDir}/dps.json`. */
  readonly idScope: string;
  readonly enrollments: EnrollmentStore;
  readonly identity: DpsIdentity;
  /** The DPS's MQTT (TLS) port, once it listens. */
  port = 0;
  /** Its plain-TCP port, when asked for (dpsPlainPort). */
  plainPort: number | undefined;
  private constructor(readonly broker: DpsBroker, identity: DpsIdentity, enrollments: EnrollmentStore) {
    super();
    for (const ev of ['request', 'registered', 'refused'] as const) {
      (broker as EventEmitter).on(ev, (arg: unknown) => { (this.emit as (e: string, a: unknown) => boolean)(ev, arg); });
    }
    this.identity = identity;
    this.idScope = identity.idScope;
    this.enrollments = enrollments;
  }

  static async create(o: LocalDpsOptions): Promise<LocalDps> {
    const identity = new DpsIdentity(o.dataDir);
    const enrollments = new EnrollmentStore(o.dataDir);
    const broker = await DpsBroker.create({
      idScope: identity.idScope, enrollments, registry: o.registry, twins: o.twins, assignedHub: o.assignedHub,
      log: o.logSink ?? (() => {}), logSink: o.logSink, connectTimeoutMs: o.connectTimeoutMs,
      ...(o.retryAfterSeconds !== undefined ? { retryAfterSeconds: o.retryAfterSeconds } : {}),
    });
    return new LocalDps(broker, identity, enrollments);
  }

  /** The provisioning service API (served by the hub on its HTTPS port, beside its own REST API). */
  serviceApi(hostNames: () => string[], assignedHub: () => string, log: (line: string) => void): DpsRestService {
    return new DpsRestService({
      enrollments: this.enrollments, identity: this.identity, hostNames, assignedHub,
      registrationState: (id) => this.broker.registrationState(id), forgetRegistration: (id) => this.broker.forgetRegistration(id),
    }, log);
  }

  /** The last registration state of a registration id (undefined before its first assignment). */
  registrationState(registrationId: string): RegistrationState | undefined { return this.broker.registrationState(registrationId); }

  /** `localhost:{port}`: what a device passes as its provisioning host (the global endpoint's stand-in). */
  get provisioningHost(): string { return `localhost:${this.port}`; }

  /** `mqtts://localhost:{port}` */
  get endpoint(): string { return `mqtts://localhost:${this.port}`; }

  handle(stream: Duplex, transport: string, opts: { peer?: string; onAdmitted?: () => void } = {}): void {
    this.broker.handle(stream, transport, opts);
  }

  /** An individual enrollment (a generated symmetric key unless `primaryKey` or `x509Thumbprint` is given). */
  addEnrollment(registrationId: string, o: EnrollmentOptions = {}): Promise<IndividualEnrollment> { return this.enrollments.addEnrollment(registrationId, o); }
  getEnrollment(registrationId: string): IndividualEnrollment | undefined { return this.enrollments.getEnrollment(registrationId); }
  listEnrollments(): IndividualEnrollment[] { return this.enrollments.listEnrollments(); }
  removeEnrollment(registrationId: string): Promise<boolean> { return this.enrollments.removeEnrollment(registrationId); }
  setEnrollmentStatus(registrationId: string, status: ProvisioningStatus): Promise<IndividualEnrollment> { return this.enrollments.setEnrollmentStatus(registrationId, status); }

  /** A symmetric-key enrollment group (a generated key unless `primaryKey` is given). */
  addGroup(enrollmentGroupId: string, o: GroupOptions = {}): Promise<EnrollmentGroup> { return this.enrollments.addGroup(enrollmentGroupId, o); }
  getGroup(enrollmentGroupId: string): EnrollmentGroup | undefined { return this.enrollments.getGroup(enrollmentGroupId); }
  listGroups(): EnrollmentGroup[] { return this.enrollments.listGroups(); }
  removeGroup(enrollmentGroupId: string): Promise<boolean> { return this.enrollments.removeGroup(enrollmentGroupId); }
  setGroupStatus(enrollmentGroupId: string, status: ProvisioningStatus): Promise<EnrollmentGroup> { return this.enrollments.setGroupStatus(enrollmentGroupId, status); }

  /** The key a device of a group signs with: base64(HMAC-SHA256(base64decode(groupKey), registrationId)). */
  deriveDeviceKey(groupKey: string, registrationId: string): string { return deriveDeviceKey(groupKey, registrationId); }

  /** Seconds a device is told to wait (`retry-after`) before polling an operation. */
  get retryAfterSeconds(): number { return this.broker.retryAfterSeconds; }
  set retryAfterSeconds(s: number) { this.broker.retryAfterSeconds = s; }

  /**
   * Fault injection: answer the next `count` requests (register or operation status) of `registrationId` (of every
   * registration when omitted) with 429 and `retry-after: retryAfterSeconds` instead of serving them; `on` limits it
   * to register or to operation-status requests, `status` picks another answer (e.g. 503). 0 ends it.
   */
  throttle(count: number, opts: { retryAfterSeconds?: number; registrationId?: string; status?: number; on?: 'register' | 'status' } = {}): void {
    this.broker.faults.fail(count, opts.status ?? 429, opts.retryAfterSeconds ?? 1, opts.registrationId, opts.on);
  }

  /** The service connection string of the provisioning service API (azure-iot-provisioning-service). */
  serviceConnectionString(host = 'localhost', keyName = DPS_SERVICE_POLICY): string { return this.identity.connectionString(host, keyName); }

  async flush(): Promise<void> { await this.enrollments.flush(); }

  close(): Promise<void> { return this.broker.close(); }
}
