// Devices and modules as IoT Hub's registry REST API shows and takes them: the identity document (keys or X.509
// thumbprints, status and its reason, capabilities, etag) and the changes a PUT body asks for. Read member by
// member (own members only), so a body's names never become structure.
import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import type { AddOptions, IdentityChanges, IdentityRecord } from '../state/registry.js';
import { isObject, own, type JsonObject } from '../state/json.js';

/** What a device or module PUT body asks for: options for a new identity, changes for an existing one. */
export interface IdentityBody { add: AddOptions; changes: IdentityChanges }

/** An optional member that must be an object when present (null counts as absent). */
export function objectMember(body: JsonObject, name: string, where: string): JsonObject | undefined {
  const v = own(body, name);
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalidArgument(`${where}${name} must be a JSON object`);
  return v;
}

function optString(body: JsonObject, name: string, where: string): string | undefined {
  const v = own(body, name);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalidArgument(`${where}${name} must be a string`);
  return v;
}

/**
 * Reads `authentication` (`type` sas | selfSigned | certificateAuthority; `symmetricKey`; `x509Thumbprint`), `status`,
 * `statusReason` and `capabilities.iotEdge`.
 */
export function readIdentityBody(body: JsonObject): IdentityBody {
  const statusIn = own(body, 'status');
  if (statusIn !== undefined && statusIn !== null && statusIn !== 'enabled' && statusIn !== 'disabled') {
    throw invalidArgument(`status must be 'enabled' or 'disabled'`);
  }
  const status = statusIn === 'disabled' ? 'disabled' as const : statusIn === 'enabled' ? 'enabled' as const : undefined;
  const statusReason = optString(body, 'statusReason', '');
  const caps = objectMember(body, 'capabilities', '');
  const edge = caps ? own(caps, 'iotEdge') : undefined;
  if (edge !== undefined && typeof edge !== 'boolean') throw invalidArgument('capabilities.iotEdge must be true or false');
  const auth = objectMember(body, 'authentication', '') ?? {};
  const type = optString(auth, 'type', 'authentication.') ?? 'sas';
  const keys = objectMember(auth, 'symmetricKey', 'authentication.') ?? {};
  const primaryKey = optString(keys, 'primaryKey', 'authentication.symmetricKey.');
  const secondaryKey = optString(keys, 'secondaryKey', 'authentication.symmetricKey.');
  const prints = objectMember(auth, 'x509Thumbprint', 'authentication.') ?? {};
  const primaryThumbprint = optString(prints, 'primaryThumbprint', 'authentication.x509Thumbprint.');
  const secondaryThumbprint = optString(prints, 'secondaryThumbprint', 'authentication.x509Thumbprint.');
  let x509: IdentityChanges['x509'];
  let certificateAuthority = false;
  if (type === 'selfSigned') {
    if (!primaryThumbprint) throw invalidArgument(`authentication type 'selfSigned' needs authentication.x509Thumbprint.primaryThumbprint`);
    x509 = { primaryThumbprint, ...(secondaryThumbprint ? { secondaryThumbprint } : {}) };
  } else if (type === 'sas') {
    x509 = null;
  } else if (type === 'certificateAuthority') {
    // the device presents a certificate chaining to a verified CA of the hub's store (iothub-wasm hub ca add)
    certificateAuthority = true;
  } else {
    throw invalidArgument(`authentication.type must be 'sas', 'selfSigned' or 'certificateAuthority', not ${JSON.stringify(type).slice(0, 40)}`);
  }
  const add: AddOptions = {
    ...(primaryKey ? { primaryKey } : {}), ...(secondaryKey ? { secondaryKey } : {}), ...(status ? { status } : {}),
    ...(x509 ? { x509 } : {}), ...(certificateAuthority ? { certificateAuthority } : {}),
    ...(statusReason ? { statusReason } : {}), ...(edge ? { iotEdge: true } : {}),
  };
  const changes: IdentityChanges = {
    ...(primaryKey ? { primaryKey } : {}), ...(secondaryKey ? { secondaryKey } : {}), ...(status ? { status } : {}),
    ...(certificateAuthority ? { certificateAuthority } : { x509 }), statusReason: statusReason ?? null, ...(edge !== undefined ? { iotEdge: edge } : {}),
  };
  return { add, changes };
}

/** The identity's etag: changes whenever anything a back end can see or set changes. */
export function identityEtag(rec: IdentityRecord): string {
  return createHash('sha256').update(JSON.stringify([
    rec.primaryKey, rec.secondaryKey, rec.status, rec.createdAt, rec.x509Thumbprints ?? null, rec.statusReason ?? null, rec.iotEdge ?? false,
    // only CA-signed identities carry the member, so every other identity's etag is what it was before it existed
    ...(rec.x509Ca ? ['certificateAuthority'] : []),
  ])).digest('base64').slice(0, 12);
}

/** The device or module document, as IoT Hub returns it. */
export function identityDocument(rec: IdentityRecord, live: { connected: boolean; c2dPending: number; stateSince?: Date | undefined }): Record<string, unknown> {
  const x509 = rec.x509Thumbprints;
  return {
    deviceId: rec.deviceId, ...(rec.moduleId ? { moduleId: rec.moduleId, managedBy: null } : {}),
    generationId: createHash('sha256').update(rec.deviceId + (rec.moduleId ?? '') + rec.createdAt).digest('hex').slice(0, 18),
    etag: identityEtag(rec),
    connectionState: live.connected ? 'Connected' : 'Disconnected',
    ...(rec.moduleId ? {} : { status: rec.status, statusReason: rec.statusReason ?? null }),
    connectionStateUpdatedTime: live.stateSince ? live.stateSince.toISOString() : '0001-01-01T00:00:00Z', ...(rec.moduleId ? {} : { statusUpdatedTime: '0001-01-01T00:00:00Z' }),
    lastActivityTime: '0001-01-01T00:00:00Z',
    cloudToDeviceMessageCount: live.c2dPending,
    authentication: rec.x509Ca ? {
      symmetricKey: { primaryKey: null, secondaryKey: null },
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null }, type: 'certificateAuthority',
    } : x509 ? {
      symmetricKey: { primaryKey: null, secondaryKey: null },
      x509Thumbprint: { primaryThumbprint: x509.primary, secondaryThumbprint: x509.secondary ?? null }, type: 'selfSigned',
    } : {
      symmetricKey: { primaryKey: rec.primaryKey, secondaryKey: rec.secondaryKey },
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null }, type: 'sas',
    },
    ...(rec.moduleId ? {} : { capabilities: { iotEdge: rec.iotEdge ?? false } }),
  };
}
