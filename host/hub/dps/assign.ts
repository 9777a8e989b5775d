// Assignment, the local DPS's one allocation policy: every registration goes to the local hub. The device is created
// in the hub's registry on its first assignment, with the enrollment's keys (the derived key for a group) or its
// X.509 thumbprint, and the enrollment's initialTwin; re-provisioning finds it there and keeps it (keys, twin).
import { HubError } from '../errors.js';
import { cloneJson, type JsonObject } from '../state/json.js';
import type { Registry } from '../state/registry.js';
import type { TwinStore } from '../state/twin-store.js';
import type { Attested } from './authenticate.js';

/** DPS's registration state, as the device SDKs parse it (`registrationState` of an assigned operation). */
export interface RegistrationState {
  registrationId: string;
  createdDateTimeUtc: string;
  assignedHub?: string;
  deviceId?: string;
  status: 'assigned' | 'failed' | 'disabled';
  substatus?: 'initialAssignment' | 'deviceDataMigrated';
  errorCode?: number;
  errorMessage?: string;
  lastUpdatedDateTimeUtc: string;
  etag: string;
  payload?: unknown;
  symmetricKey?: { enrollmentGroupId?: string };
  x509?: { enrollmentGroupId?: string };
}

export interface AssignContext {
  registry: Registry;
  twins: TwinStore;
  /** What the device is told to connect to: the hub's host name (with its port when it is not 8883). */
  assignedHub: () => string;
  log: (line: string) => void;
}

/** The last registration state of each registration id (lower case), for the service API and createdDateTimeUtc. */
export type Assignments = Map<string, RegistrationState>;

/**
 * Decides the registration's outcome and, when it is assigned, makes sure the device exists in the hub. The request's
 * custom allocation payload is echoed back as `payload` (the local DPS has no allocation function to transform it).
 */
export async function assign(ctx: AssignContext, registrationId: string, attested: Exclude<Attested, { kind: 'unknown' }>,
  payload: unknown, assignments: Assignments): Promise<RegistrationState> {
  const now = new Date().toISOString();
  const known = assignments.get(registrationId.toLowerCase());
  const base = {
    registrationId, createdDateTimeUtc: known?.createdDateTimeUtc ?? now, lastUpdatedDateTimeUtc: now,
    etag: Buffer.from(`${registrationId}:${now}`).toString('base64').slice(0, 16),
    ...(attested.kind === 'group' ? { symmetricKey: { enrollmentGroupId: attested.group.enrollmentGroupId } } : attested.symmetricKey ? { symmetricKey: {} } : { x509: {} }),
  };
  const enrollment = attested.kind === 'group' ? attested.group : attested.enrollment;
  if (enrollment.provisioningStatus === 'disabled') {
    return { ...base, status: 'disabled', errorCode: 401010, errorMessage: `the ${attested.kind === 'group' ? `enrollment group '${attested.group.enrollmentGroupId}'` : `enrollment '${attested.enrollment.registrationId}'`} is disabled` };
  }
  const deviceId = attested.kind === 'individual' ? (attested.enrollment.deviceId ?? attested.enrollment.registrationId) : registrationId;
  let substatus: RegistrationState['substatus'] = 'deviceDataMigrated';
  if (!ctx.registry.record(deviceId)) {
    try {
      await ctx.registry.addDevice(deviceId, attested.kind === 'individual' && attested.thumbprint ?
        { x509: { primaryThumbprint: attested.thumbprint } } :
        { primaryKey: attested.symmetricKey!.primaryKey, secondaryKey: attested.symmetricKey!.secondaryKey });
      substatus = 'initialAssignment';
      const twin = enrollment.initialTwin;
      if (twin?.tags) await ctx.twins.patchTags(deviceId, undefined, cloneJson(twin.tags));
      if (twin?.desired) await ctx.twins.patchDesired(deviceId, undefined, cloneJson(twin.desired) as JsonObject);
      ctx.log(`DPS: created device '${deviceId}' for registration '${registrationId}'${twin ? ' with its initial twin' : ''}`);
    } catch (e) {
      // another registration of the same device won the race: it exists now, which is what was wanted
      if (!(e instanceof HubError && e.code === 'DeviceAlreadyExists')) throw e;
    }
  }
  const state: RegistrationState = {
    ...base, assignedHub: ctx.assignedHub(), deviceId, status: 'assigned', substatus,
    ...(payload !== undefined ? { payload } : {}),
  };
  assignments.set(registrationId.toLowerCase(), state);
  return state;
}
