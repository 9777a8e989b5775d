// Device and module twins: desired and reported documents with `$version`, kept in `{dataDir}/twins.json`.
import { join } from 'node:path';
import { JsonFile } from './store.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface TwinRecord {
  deviceId: string;
  moduleId?: string;
  tags: JsonObject;
  desired: JsonObject;
  desiredVersion: number;
  reported: JsonObject;
  reportedVersion: number;
  version: number;
  lastUpdated: string;
}

/** The twin as the service side sees it. */
export interface Twin {
  deviceId: string;
  moduleId?: string;
  etag: string;
  version: number;
  tags: JsonObject;
  properties: { desired: JsonObject; reported: JsonObject };
}

/** Limits IoT Hub documents for twin sections. */
export const TWIN_SECTION_MAX_BYTES = 32 * 1024;
export const TWIN_MAX_DEPTH = 10;

export class TwinError extends Error {
  constructor(message: string, readonly status: number) { super(message); }
}

interface TwinFile { version: 1; twins: TwinRecord[] }

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON merge patch (RFC 7386) in place: null deletes, objects merge, anything else replaces. `$`-keys are ignored. */
export function mergePatch(target: JsonObject, patch: JsonObject): void {
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete target[k];
    else if (isObject(v)) {
      const cur = target[k];
      const next: JsonObject = isObject(cur) ? cur : {};
      mergePatch(next, v);
      target[k] = next;
    } else target[k] = v;
  }
}

function depth(v: Json): number {
  if (isObject(v)) return 1 + Math.max(0, ...Object.values(v).map(depth));
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depth));
  return 0;
}

/** Checks a patch a device or the service sent; throws a TwinError with an IoT Hub-like status. */
export function validatePatch(patch: unknown): JsonObject {
  if (!isObject(patch)) throw new TwinError('a twin patch must be a JSON object', 400);
  if (depth(patch) > TWIN_MAX_DEPTH) throw new TwinError(`twin patch nested deeper than ${TWIN_MAX_DEPTH}`, 400);
  return patch;
}

const clone = <T>(v: T): T => structuredClone(v);

export class TwinStore {
  private readonly twins = new Map<string, TwinRecord>();
  private readonly file: JsonFile<TwinFile>;

  constructor(dataDir: string | null) {
    this.file = new JsonFile<TwinFile>(dataDir ? join(dataDir, 'twins.json') : null,
      () => ({ version: 1, twins: [...this.twins.values()] }));
    for (const t of this.file.load()?.twins ?? []) this.twins.set(key(t.deviceId, t.moduleId), t);
  }

  /** The twin record, created empty on first use. */
  private rec(deviceId: string, moduleId?: string): TwinRecord {
    const k = key(deviceId, moduleId);
    let t = this.twins.get(k);
    if (!t) {
      t = {
        deviceId, ...(moduleId ? { moduleId } : {}), tags: {}, desired: {}, desiredVersion: 1, reported: {},
        reportedVersion: 1, version: 1, lastUpdated: new Date().toISOString(),
      };
      this.twins.set(k, t);
    }
    return t;
  }

  /** What a device gets for `$iothub/twin/GET`: `{ desired: {…, $version}, reported: {…, $version} }`. */
  deviceView(deviceId: string, moduleId?: string): { desired: JsonObject; reported: JsonObject } {
    const t = this.rec(deviceId, moduleId);
    return {
      desired: { ...clone(t.desired), $version: t.desiredVersion },
      reported: { ...clone(t.reported), $version: t.reportedVersion },
    };
  }

  get(deviceId: string, moduleId?: string): Twin {
    const t = this.rec(deviceId, moduleId);
    return {
      deviceId, ...(moduleId ? { moduleId } : {}),
      etag: Buffer.from(String(t.version)).toString('base64'),
      version: t.version,
      tags: clone(t.tags),
      properties: this.deviceView(deviceId, moduleId),
    };
  }

  /** Applies a reported-properties patch; returns the new reported `$version`. */
  async patchReported(deviceId: string, moduleId: string | undefined, patch: unknown): Promise<number> {
    const p = validatePatch(patch);
    const t = this.rec(deviceId, moduleId);
    const next = clone(t.reported);
    mergePatch(next, p);
    if (Buffer.byteLength(JSON.stringify(next)) > TWIN_SECTION_MAX_BYTES) {
      throw new TwinError(`reported properties would exceed ${TWIN_SECTION_MAX_BYTES} bytes`, 413);
    }
    t.reported = next;
    t.reportedVersion++;
    t.version++;
    t.lastUpdated = new Date().toISOString();
    await this.file.save();
    return t.reportedVersion;
  }

  /** Applies a desired-properties patch; returns the new desired `$version` and the patch to send to the device. */
  async patchDesired(deviceId: string, moduleId: string | undefined, patch: unknown): Promise<{ version: number; patch: JsonObject }> {
    const p = validatePatch(patch);
    const t = this.rec(deviceId, moduleId);
    const next = clone(t.desired);
    mergePatch(next, p);
    if (Buffer.byteLength(JSON.stringify(next)) > TWIN_SECTION_MAX_BYTES) {
      throw new TwinError(`desired properties would exceed ${TWIN_SECTION_MAX_BYTES} bytes`, 413);
    }
    t.desired = next;
    t.desiredVersion++;
    t.version++;
    t.lastUpdated = new Date().toISOString();
    await this.file.save();
    const sent: JsonObject = {};
    for (const [k, v] of Object.entries(p)) if (!k.startsWith('$')) sent[k] = v;
    return { version: t.desiredVersion, patch: { ...sent, $version: t.desiredVersion } };
  }

  async patchTags(deviceId: string, moduleId: string | undefined, patch: unknown): Promise<void> {
    const p = validatePatch(patch);
    const t = this.rec(deviceId, moduleId);
    mergePatch(t.tags, p);
    t.version++;
    await this.file.save();
  }

  async remove(deviceId: string, moduleId?: string): Promise<void> {
    this.twins.delete(key(deviceId, moduleId));
    if (!moduleId) for (const [k, t] of this.twins) if (t.deviceId === deviceId) this.twins.delete(k);
    await this.file.save();
  }

  /** Identities that have a twin. */
  identities(): { deviceId: string; moduleId?: string }[] {
    return [...this.twins.values()].map((t) => ({ deviceId: t.deviceId, ...(t.moduleId ? { moduleId: t.moduleId } : {}) }));
  }

  flush(): Promise<void> { return this.file.flush(); }
}

function key(deviceId: string, moduleId?: string): string {
  return moduleId ? `${deviceId}/${moduleId}` : deviceId;
}
