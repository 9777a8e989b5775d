// Device and module twins: desired and reported documents with `$version`, kept in `{dataDir}/twins.json`.
import { join } from 'node:path';
import { invalidArgument, tooLarge } from '../errors.js';
import { JsonFile } from './store.js';
import { cloneJson, isObject, mergePatch as jsonMergePatch, setMember, type Json, type JsonObject } from './json.js';

export type { Json, JsonObject } from './json.js';
export { isObject };

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

/** Limits IoT Hub documents for twins (device twins guide: tags 8 KB, desired and reported 32 KB each, depth 10, keys 1 KB). */
export const TWIN_TAGS_MAX_BYTES = 8 * 1024;
export const TWIN_SECTION_MAX_BYTES = 32 * 1024;
/** Levels of objects below a section's root: IoT Hub's valid example nests `one` … `ten` under `tags`. */
export const TWIN_MAX_DEPTH = 10;
export const TWIN_KEY_MAX_BYTES = 1024;
/** Bracket nesting a REST twin body may have: the body, `properties`, the section's root, then TWIN_MAX_DEPTH levels. */
export const TWIN_DOCUMENT_MAX_NESTING = TWIN_MAX_DEPTH + 3;

export type TwinSection = 'tags' | 'desired' | 'reported';

interface TwinFile { version: 1; twins: TwinRecord[] }

/** A patch's `$version`, `$metadata`, … at its top level are read-only twin metadata: ignored, as IoT Hub does. */
const isMetadata = (name: string, depth: number): boolean => depth === 0 && name.startsWith('$');

/** Characters IoT Hub excludes from twin keys: C0 and C1 controls, '.', '$' and space. */
/** A twin merge patch: RFC 7386 with the top-level metadata members ignored. */
export function mergePatch(target: JsonObject, patch: JsonObject): void {
  jsonMergePatch(target, patch, isMetadata);
}

const BAD_KEY = /[\u0000-\u001f\u007f-\u009f.$ ]/;

/**
 * Checks a patch a device or the service sent for one twin section; throws a HubError (400 ArgumentInvalid) naming the problem.
 * Member names are data: `__proto__`, `constructor`, `prototype` are ordinary keys here.
 */
export function validatePatch(patch: unknown, section: TwinSection = 'reported'): JsonObject {
  if (!isObject(patch)) throw invalidArgument(`a ${section} patch must be a JSON object`);
  const work: [JsonObject | Json[], number][] = [[patch, 0]];
  for (let item = work.pop(); item; item = work.pop()) {
    const [o, depth] = item;
    const isArray = Array.isArray(o);
    for (const [k, v] of Object.entries(o)) {
      if (!isArray) {
        if (isMetadata(k, depth)) continue;
        if (Buffer.byteLength(k) > TWIN_KEY_MAX_BYTES) throw invalidArgument(`${section}: a key is longer than ${TWIN_KEY_MAX_BYTES} bytes`);
        if (BAD_KEY.test(k)) throw invalidArgument(`${section}: key ${JSON.stringify(k.slice(0, 64))} contains '.', '$', a space or a control character`);
      }
      if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw invalidArgument(`${section}: ${JSON.stringify(k.slice(0, 64))} is not a finite number`);
        continue;
      }
      if (typeof v !== 'object') throw invalidArgument(`${section}: ${JSON.stringify(k.slice(0, 64))} is not a JSON value`);
      if (depth + 1 > TWIN_MAX_DEPTH) throw invalidArgument(`${section} nested deeper than ${TWIN_MAX_DEPTH} levels`);
      work.push([v, depth + 1]);
    }
  }
  return patch;
}

/**
 * A section's size as IoT Hub counts it: each key's UTF-8 bytes plus its value's (strings in UTF-8, numbers 8,
 * booleans 4, objects the sum of their members); metadata (`$version`) excluded.
 */
export function twinSize(doc: JsonObject): number {
  let n = 0;
  const work: (JsonObject | Json[])[] = [doc];
  for (let o = work.pop(); o; o = work.pop()) {
    const isArray = Array.isArray(o);
    for (const [k, v] of Object.entries(o)) {
      if (!isArray) {
        if (o === doc && k.startsWith('$')) continue;
        n += Buffer.byteLength(k);
      }
      if (typeof v === 'string') n += Buffer.byteLength(v);
      else if (typeof v === 'number') n += 8;
      else if (typeof v === 'boolean' || v === null) n += 4;
      else work.push(v);
    }
  }
  return n;
}

const LIMITS: Record<TwinSection, number> = { tags: TWIN_TAGS_MAX_BYTES, desired: TWIN_SECTION_MAX_BYTES, reported: TWIN_SECTION_MAX_BYTES };

/** A copy of `doc` with `patch` merged in, refused (413) when it would exceed the section's limit. */
function merged(doc: JsonObject, patch: JsonObject, section: TwinSection): JsonObject {
  const next = cloneJson(doc);
  mergePatch(next, patch);
  const size = twinSize(next);
  if (size > LIMITS[section]) throw tooLarge(`${section} would be ${size} bytes, over IoT Hub's ${LIMITS[section]}`);
  return next;
}

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
      desired: { ...cloneJson(t.desired), $version: t.desiredVersion },
      reported: { ...cloneJson(t.reported), $version: t.reportedVersion },
    };
  }

  get(deviceId: string, moduleId?: string): Twin {
    const t = this.rec(deviceId, moduleId);
    return {
      deviceId, ...(moduleId ? { moduleId } : {}),
      etag: Buffer.from(String(t.version)).toString('base64'),
      version: t.version,
      tags: cloneJson(t.tags),
      properties: this.deviceView(deviceId, moduleId),
    };
  }

  /** Applies a reported-properties patch; returns the new reported `$version`. */
  async patchReported(deviceId: string, moduleId: string | undefined, patch: unknown): Promise<number> {
    const p = validatePatch(patch, 'reported');
    const t = this.rec(deviceId, moduleId);
    t.reported = merged(t.reported, p, 'reported');
    t.reportedVersion++;
    t.version++;
    t.lastUpdated = new Date().toISOString();
    await this.file.save();
    return t.reportedVersion;
  }

  /** Applies a desired-properties patch; returns the new desired `$version` and the patch to send to the device. */
  async patchDesired(deviceId: string, moduleId: string | undefined, patch: unknown): Promise<{ version: number; patch: JsonObject }> {
    const p = validatePatch(patch, 'desired');
    const t = this.rec(deviceId, moduleId);
    t.desired = merged(t.desired, p, 'desired');
    t.desiredVersion++;
    t.version++;
    t.lastUpdated = new Date().toISOString();
    await this.file.save();
    const sent: JsonObject = {};
    for (const [k, v] of Object.entries(p)) if (!isMetadata(k, 0)) setMember(sent, k, cloneJson(v));
    return { version: t.desiredVersion, patch: { ...sent, $version: t.desiredVersion } };
  }

  async patchTags(deviceId: string, moduleId: string | undefined, patch: unknown): Promise<void> {
    const p = validatePatch(patch, 'tags');
    const t = this.rec(deviceId, moduleId);
    t.tags = merged(t.tags, p, 'tags');
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
