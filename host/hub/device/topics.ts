// IoT Hub MQTT topic names and property bags, as the hub sees them. Written independently of the WebAssembly core.
// Names in a topic are the sender's data: bags are built with own data members (`__proto__=x` is a property).
import { dict, own, setMember } from '../state/json.js';
import { decodeComponent, encodeComponent, type Identity, type PropertyBag } from '../state/messages.js';

export { decodeComponent, encodeComponent, identityKey, type Identity, type PropertyBag } from '../state/messages.js';

/** System properties carried in a property bag as `$.xxx` (sent as `%24.xxx`). */
export const SYSTEM_PROPERTY_NAMES: Readonly<Record<string, string>> = dict(Object.entries({
  '$.mid': 'messageId',
  '$.cid': 'correlationId',
  '$.uid': 'userId',
  '$.to': 'to',
  '$.ct': 'contentType',
  '$.ce': 'contentEncoding',
  '$.ifid': 'interfaceId',
  '$.exp': 'expiryTimeUtc',
  '$.ctime': 'iothub-creation-time-utc',
  '$.sub': 'componentName',
  '$.on': 'outputName',
  '$.ack': 'ack',
}));

/** Parses `k=v&k2&k3=` (each part percent-encoded). Empty parts are skipped; a bare key is null. */
export function parsePropertyBag(bag: string): PropertyBag {
  const out: PropertyBag = {};
  if (!bag) return out;
  for (const part of bag.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) setMember(out, decodeComponent(part), null);
    else setMember(out, decodeComponent(part.slice(0, eq)), decodeComponent(part.slice(eq + 1)));
  }
  return out;
}

/** Encodes a property bag; system properties (`$.mid` …) go first with `$` written as `%24`. */
export function encodePropertyBag(props: PropertyBag): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(props)) {
    const key = encodeComponent(k);
    parts.push(v === null ? key : `${key}=${encodeComponent(v)}`);
  }
  return parts.join('&');
}

/** Splits a decoded bag into application properties and named system properties. */
export function splitSystemProperties(bag: PropertyBag): { properties: PropertyBag; systemProperties: Record<string, string> } {
  const properties: PropertyBag = {};
  const systemProperties: Record<string, string> = {};
  for (const [k, v] of Object.entries(bag)) {
    if (k.startsWith('$.')) {
      const name = own(SYSTEM_PROPERTY_NAMES, k) ?? k.slice(2);
      if (v !== null) setMember(systemProperties, name, v);
    } else {
      setMember(properties, k, v);
    }
  }
  return { properties, systemProperties };
}

/** Splits `path/?a=1&b=2` (twin, methods) into the path and its query parameters. */
export function splitQuery(topic: string): { path: string; query: Record<string, string> } {
  const q = topic.indexOf('?');
  if (q < 0) return { path: topic, query: {} };
  const query: Record<string, string> = {};
  for (const part of topic.slice(q + 1).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) setMember(query, decodeComponent(part), '');
    else setMember(query, decodeComponent(part.slice(0, eq)), decodeComponent(part.slice(eq + 1)));
  }
  return { path: topic.slice(0, q), query };
}

/** The topic prefix of an identity: `devices/{id}` or `devices/{id}/modules/{mod}`. */
export function identityPrefix(id: Identity): string {
  return id.moduleId ? `devices/${id.deviceId}/modules/${id.moduleId}` : `devices/${id.deviceId}`;
}

/** What a device publishes, classified. */
export type DevicePublish =
  | { kind: 'telemetry'; bag: string }
  | { kind: 'twin-get'; rid: string }
  | { kind: 'twin-reported'; rid: string }
  | { kind: 'method-response'; rid: string; status: number }
  | { kind: 'foreign'; reason: string }
  | { kind: 'unsupported'; reason: string };

/** Classifies a topic a device published on. `foreign` = another identity's topic; `unsupported` = not an IoT Hub topic. */
export function classifyPublish(id: Identity, topic: string): DevicePublish {
  if (topic.startsWith('$iothub/')) {
    const { path, query } = splitQuery(topic);
    const rid = own(query, '$rid');
    if (path === '$iothub/twin/GET/' || path === '$iothub/twin/GET') {
      return rid ? { kind: 'twin-get', rid } : { kind: 'unsupported', reason: 'twin GET without $rid' };
    }
    if (path === '$iothub/twin/PATCH/properties/reported/' || path === '$iothub/twin/PATCH/properties/reported') {
      return rid ? { kind: 'twin-reported', rid } : { kind: 'unsupported', reason: 'twin PATCH without $rid' };
    }
    const m = /^\$iothub\/methods\/res\/(\d{1,3})\/?$/.exec(path);
    if (m) {
      return rid ? { kind: 'method-response', rid, status: Number(m[1]) } : { kind: 'unsupported', reason: 'method response without $rid' };
    }
    return { kind: 'unsupported', reason: `unsupported $iothub topic` };
  }
  const prefix = identityPrefix(id) + '/messages/events/';
  if (topic.startsWith(prefix)) return { kind: 'telemetry', bag: topic.slice(prefix.length) };
  if (topic === identityPrefix(id) + '/messages/events') return { kind: 'telemetry', bag: '' };
  if (topic.startsWith('devices/')) return { kind: 'foreign', reason: `not this identity's topic (expected ${prefix}…)` };
  return { kind: 'unsupported', reason: 'not an IoT Hub topic' };
}

/**
 * Topic filters a device may subscribe to: IoT Hub's own (`$iothub/twin/res/#`, `$iothub/twin/PATCH/properties/desired/#`,
 * `$iothub/methods/POST/#`, `devices/{id}/messages/devicebound/#`, module `inputs/#`) or narrower filters under them.
 * Returns null when the filter is allowed, else the reason.
 */
export function checkSubscription(id: Identity, filter: string): string | null {
  const roots = ['$iothub/twin/res/', '$iothub/twin/PATCH/properties/desired/', '$iothub/methods/POST/'];
  roots.push(id.moduleId ? `${identityPrefix(id)}/inputs/` : `devices/${id.deviceId}/messages/devicebound/`);
  for (const r of roots) {
    if (filter.startsWith(r) && filter.length > r.length && isValidFilter(filter)) return null;
  }
  if (filter.startsWith('devices/') || filter.startsWith('#') || filter.startsWith('+')) return 'not this identity\'s topic';
  return 'unsupported topic filter';
}

function isValidFilter(filter: string): boolean {
  const levels = filter.split('/');
  return levels.every((l, i) => (l === '#' ? i === levels.length - 1 : l === '+' || (!l.includes('#') && !l.includes('+'))));
}

/** MQTT topic matching (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export const C2D_FILTER = (deviceId: string) => `devices/${deviceId}/messages/devicebound/#`;
export const TWIN_RES_FILTER = '$iothub/twin/res/#';
export const TWIN_DESIRED_FILTER = '$iothub/twin/PATCH/properties/desired/#';
export const METHODS_FILTER = '$iothub/methods/POST/#';

export const twinResponseTopic = (status: number, rid: string, version?: number) =>
  `$iothub/twin/res/${status}/?$rid=${encodeComponent(rid)}${version !== undefined ? `&$version=${version}` : ''}`;
export const desiredPatchTopic = (version: number) => `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
export const methodRequestTopic = (name: string, rid: string) => `$iothub/methods/POST/${name}/?$rid=${encodeComponent(rid)}`;

/** Username `{host}/{deviceId}[/{moduleId}]/?api-version=…[&model-id=…][&DeviceClientType=…]`. */
export interface ParsedUsername { host: string; deviceId: string; moduleId?: string; query: Record<string, string> }

export function parseUsername(username: string): ParsedUsername | null {
  const { path, query } = splitQuery(username);
  const parts = path.split('/');
  if (parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 2) return { host: parts[0]!, deviceId: parts[1]!, query };
  if (parts.length === 3) return { host: parts[0]!, deviceId: parts[1]!, moduleId: parts[2]!, query };
  return null;
}
