// Shared access signatures as the hub checks them: `SharedAccessSignature sr={urlenc uri}&sig={urlenc sig}&se={expiry}[&skn=…]`.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { decodeComponent } from '../state/messages.js';

export interface SasToken {
  /** The resource, decoded. */
  sr: string;
  /** The resource exactly as written in the token: the client signed this string. */
  srRaw: string;
  sig: string;
  se: number;
  skn?: string;
}

/** Parses a SAS token; returns a reason string when it is malformed. */
export function parseSasToken(token: string): SasToken | string {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) return 'password is not a SharedAccessSignature';
  const fields: Record<string, string> = {};
  for (const part of token.slice(prefix.length).trim().split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return `malformed SAS field '${part}'`;
    fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  if (!fields['sr'] || !fields['sig'] || !fields['se']) return 'SAS token lacks sr, sig or se';
  if (!/^\d+$/.test(fields['se'])) return 'SAS expiry (se) is not a number';
  return {
    sr: decodeComponent(fields['sr']),
    srRaw: fields['sr'],
    sig: decodeComponent(fields['sig']),
    se: Number(fields['se']),
    ...(fields['skn'] ? { skn: decodeComponent(fields['skn']) } : {}),
  };
}

/** base64(HMAC-SHA256(base64decode(key), urlenc(resourceUri) + "\n" + expiry)) */
export function sign(key: string, resourceUri: string, expiry: number): string {
  return signEncoded(key, encodeURIComponent(resourceUri), expiry);
}

/** The same over a resource that is already URL-encoded (as it appears in a token). */
export function signEncoded(key: string, encodedResource: string, expiry: number): string {
  return createHmac('sha256', Buffer.from(key, 'base64')).update(`${encodedResource}\n${expiry}`).digest('base64');
}

/** Builds a token, for the service side and for people (`iothub-wasm hub device show`). */
export function createSasToken(resourceUri: string, key: string, expiry: number, keyName?: string): string {
  const sig = sign(key, resourceUri, expiry);
  return `SharedAccessSignature sr=${encodeURIComponent(resourceUri)}&sig=${encodeURIComponent(sig)}&se=${expiry}` +
    (keyName ? `&skn=${encodeURIComponent(keyName)}` : '');
}

/**
 * A SAS resource or CBS audience (`sb://host:port/a//b/`, `host/a/b`) as its host (lower case, port kept) and its
 * non-empty path segments: the one parse that policies, token scopes and AMQP audiences share.
 */
export function splitResource(resource: string): { host: string; path: string[] } {
  const u = resource.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const [host = '', ...rest] = u.split('/');
  return { host: host.toLowerCase(), path: rest.filter((x) => x !== '') };
}

/** Normalises a resource URI for comparison: lower-case host, no scheme, no trailing slash. */
export function normaliseResource(uri: string): string {
  let u = uri.trim();
  u = u.replace(/^[a-z]+:\/\//i, '');
  u = u.replace(/\/+$/, '');
  const slash = u.indexOf('/');
  return slash < 0 ? u.toLowerCase() : u.slice(0, slash).toLowerCase() + u.slice(slash);
}

export type SasCheck = { ok: true; expiresAt: number } | { ok: false; reason: string; malformed?: boolean };

/**
 * Checks a token for one of `resources` (normalised), signed with one of `keys`, not expired at `nowSeconds`.
 * The signature is recomputed over the resource exactly as the client wrote it (the string it signed; SDKs differ in
 * whether they encode `!'()*`), and over `encodeURIComponent` of the decoded resource.
 */
export function verifySasToken(token: string, resources: string[], keys: string[], nowSeconds: number): SasCheck {
  const t = parseSasToken(token);
  if (typeof t === 'string') return { ok: false, reason: t, malformed: true };
  const wanted = resources.map(normaliseResource);
  if (!wanted.includes(normaliseResource(t.sr))) {
    return { ok: false, reason: `SAS resource '${t.sr}' does not match '${resources[0]}'` };
  }
  if (t.se <= nowSeconds) return { ok: false, reason: `SAS token expired ${nowSeconds - t.se} s ago` };
  if (signedWithOneOf(t, keys)) return { ok: true, expiresAt: t.se };
  return { ok: false, reason: 'SAS signature does not match either key' };
}

/**
 * True when the token's signature is HMAC-SHA256 over `{resource}\n{expiry}` with one of `keys`. The resource is
 * taken as the client wrote it and as `encodeURIComponent` of its decoded form (SDKs differ on `!'()*`); each key
 * is used base64-decoded (IoT Hub SDKs) and, with `utf8Keys`, also as its UTF-8 bytes (Event Hubs SDKs).
 */
export function signedWithOneOf(t: SasToken, keys: string[], utf8Keys = false): boolean {
  const given = Buffer.from(t.sig, 'base64');
  for (const res of new Set([t.srRaw, encodeURIComponent(t.sr)])) {
    for (const key of keys) {
      if (!key) continue;
      for (const k of utf8Keys ? [Buffer.from(key, 'base64'), Buffer.from(key, 'utf8')] : [Buffer.from(key, 'base64')]) {
        const expected = createHmac('sha256', k).update(`${res}\n${t.se}`).digest();
        if (expected.length === given.length && timingSafeEqual(expected, given)) return true;
      }
    }
  }
  return false;
}
