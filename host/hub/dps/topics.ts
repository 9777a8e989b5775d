// The Device Provisioning Service's MQTT names, as DPS defines them: the CONNECT username
// `{idScope}/registrations/{registrationId}/api-version=…[&ClientVersion=…]`, the request topics
// `$dps/registrations/PUT/iotdps-register/?$rid={rid}` and
// `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={op}`, and the answers
// `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]`. Written independently of the device core.
import { decodeComponent } from '../state/messages.js';
import { dict } from '../state/json.js';

export const DPS_RESPONSE_FILTER = '$dps/registrations/res/#';
const REGISTER_PREFIX = '$dps/registrations/PUT/iotdps-register/';
const STATUS_PREFIX = '$dps/registrations/GET/iotdps-get-operationstatus/';

/**
 * DPS's rule for registration ids: up to 128 characters of `a-z A-Z 0-9 - . _ :`, ending in a letter, a digit or `-`.
 * Registration ids are case-insensitive (enrollments are looked up in lower case).
 */
const REGISTRATION_ID_RE = /^[A-Za-z0-9\-._:]{0,127}[A-Za-z0-9-]$/;

export function isRegistrationId(id: unknown): id is string {
  return typeof id === 'string' && REGISTRATION_ID_RE.test(id);
}

export const REGISTRATION_ID_RULE = "1-128 characters from a-z A-Z 0-9 - . _ :, ending in a letter, a digit or '-'";

/** An enrollment group id: DPS allows the same characters as a registration id. */
export const isGroupId = isRegistrationId;

export interface DpsUsername { idScope: string; registrationId: string; apiVersion: string }

/** `{idScope}/registrations/{registrationId}/api-version=2019-03-31[&ClientVersion=…]`; undefined when malformed. */
export function parseDpsUsername(username: string): DpsUsername | undefined {
  const m = /^([^/]+)\/registrations\/([^/]+)\/(?:\?)?(.*)$/.exec(username);
  if (!m) return undefined;
  const params = parseQuery(m[3]!);
  const apiVersion = params['api-version'];
  if (!apiVersion) return undefined;
  return { idScope: m[1]!, registrationId: m[2]!, apiVersion };
}

/** `k=v&k=v` with percent-decoding, into a prototype-free table (names are data). */
export function parseQuery(q: string): Record<string, string> {
  const out = dict<string>();
  for (const part of q.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    try { out[decodeComponent(k)] = decodeComponent(v); } catch { /* a malformed pair is ignored */ }
  }
  return out;
}

export type DpsRequest =
  | { kind: 'register'; rid: string }
  | { kind: 'status'; rid: string; operationId: string }
  | { kind: 'invalid'; reason: string };

/** Classifies a PUBLISH from a registering device. */
export function classifyDpsPublish(topic: string): DpsRequest {
  const q = topic.indexOf('?');
  const path = q < 0 ? topic : topic.slice(0, q);
  const params = parseQuery(q < 0 ? '' : topic.slice(q + 1));
  const rid = params['$rid'];
  if (path === REGISTER_PREFIX) {
    if (!rid) return { kind: 'invalid', reason: 'the register request has no $rid' };
    return { kind: 'register', rid };
  }
  if (path === STATUS_PREFIX) {
    if (!rid) return { kind: 'invalid', reason: 'the operation status request has no $rid' };
    const operationId = params['operationId'];
    if (!operationId) return { kind: 'invalid', reason: 'the operation status request has no operationId' };
    return { kind: 'status', rid, operationId };
  }
  return { kind: 'invalid', reason: `'${topic.slice(0, 200)}' is not a DPS request topic` };
}

/** `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]` */
export function dpsResponseTopic(status: number, rid: string, retryAfterSeconds?: number): string {
  return `$dps/registrations/res/${status}/?$rid=${encodeURIComponent(rid)}` +
    (retryAfterSeconds !== undefined ? `&retry-after=${retryAfterSeconds}` : '');
}

export function registerTopic(rid: string): string { return `${REGISTER_PREFIX}?$rid=${rid}`; }
export function statusTopic(rid: string, operationId: string): string { return `${STATUS_PREFIX}?$rid=${rid}&operationId=${operationId}`; }
