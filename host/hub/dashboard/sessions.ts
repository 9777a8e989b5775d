// Who may use the dashboard: one-time sign-in tokens (the URL the hub prints, as notebook servers do) and service
// connection strings, each exchanged for a session whose id lives only in an HttpOnly, Secure, SameSite=Strict cookie.
// Tokens and session ids are 256-bit random values; only their SHA-256 is kept, and compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Policies } from '../service/policies.js';

/** Sign-in tokens not yet used (the oldest is forgotten past this). */
export const MAX_PENDING_TOKENS = 8;
/** Sessions at once (the least recently used ends past this). */
export const MAX_SESSIONS = 32;
/** A session nobody used for this long ends. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** Failed sign-ins a minute, over all callers, before the rest of that minute is refused with 429. */
export const SIGN_IN_FAILURES_PER_MINUTE = 20;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

export interface Session {
  /** How it was opened: the printed token, or a policy's connection string (checked again on every request). */
  via: 'token' | 'policy';
  policy?: string;
  keyHash?: Buffer;
  lastUsed: number;
}

export type SignIn = { ok: true; sid: string; via: Session['via']; policy?: string } | { ok: false; status: 401 | 429; reason: string };

export class Sessions {
  private readonly tokens: Buffer[] = [];
  /** sha256(session id) as hex → session. */
  private readonly sessions = new Map<string, Session>();
  private failures = { minute: -1, count: 0 };

  constructor(private readonly policies: Policies, private readonly cookieNameOf: () => string, private readonly now: () => number = Date.now) {}

  get cookieName(): string { return this.cookieNameOf(); }

  /** A new one-time sign-in token. */
  issueToken(): string {
    const t = randomBytes(32).toString('base64url');
    this.tokens.push(digest(t));
    if (this.tokens.length > MAX_PENDING_TOKENS) this.tokens.shift();
    return t;
  }

  private throttled(): boolean {
    const minute = Math.floor(this.now() / 60_000);
    if (minute !== this.failures.minute) this.failures = { minute, count: 0 };
    return this.failures.count >= SIGN_IN_FAILURES_PER_MINUTE;
  }

  private fail(reason: string): SignIn {
    this.failures.count++;
    return { ok: false, status: 401, reason };
  }

  /** Exchanges a one-time token (consumed on success) for a session. */
  signInWithToken(token: string): SignIn {
    if (this.throttled()) return { ok: false, status: 429, reason: `more than ${SIGN_IN_FAILURES_PER_MINUTE} failed sign-ins this minute` };
    const d = digest(token);
    const i = this.tokens.findIndex((t) => same(t, d));
    if (i < 0) return this.fail('the sign-in token is unknown or was used already (each works once)');
    this.tokens.splice(i, 1);
    return this.open({ via: 'token', lastUsed: this.now() });
  }

  /**
   * Opens a session for a service connection string (`HostName=…;SharedAccessKeyName=…;SharedAccessKey=…`) whose
   * policy has RegistryRead and ServiceConnect (the dashboard reads the registry and talks to devices).
   */
  signInWithConnectionString(cs: string): SignIn {
    if (this.throttled()) return { ok: false, status: 429, reason: `more than ${SIGN_IN_FAILURES_PER_MINUTE} failed sign-ins this minute` };
    const parts = new Map<string, string>();
    for (const p of cs.trim().split(';')) {
      const eq = p.indexOf('=');
      if (eq > 0) parts.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
    }
    const name = parts.get('sharedaccesskeyname');
    const key = parts.get('sharedaccesskey');
    if (!name || !key) return this.fail('not a service connection string (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…)');
    const p = this.policies.get(name);
    if (!p || !this.keyMatches(name, digest(key))) return this.fail(`the key does not match a shared access policy of this hub`);
    const missing = (['RegistryRead', 'ServiceConnect'] as const).filter((r) => !p.rights.includes(r));
    if (missing.length) return this.fail(`policy '${name}' lacks ${missing.join(' and ')}, which the dashboard needs`);
    return this.open({ via: 'policy', policy: name, keyHash: digest(key), lastUsed: this.now() });
  }

  private keyMatches(policy: string, keyHash: Buffer): boolean {
    const p = this.policies.get(policy);
    return !!p && (same(digest(p.primaryKey), keyHash) || same(digest(p.secondaryKey), keyHash));
  }

  private open(s: Session): SignIn {
    const sid = randomBytes(32).toString('base64url');
    this.sessions.set(digest(sid).toString('hex'), s);
    if (this.sessions.size > MAX_SESSIONS) {
      let oldest: string | undefined;
      let t = Infinity;
      for (const [k, v] of this.sessions) if (v.lastUsed < t) { t = v.lastUsed; oldest = k; }
      if (oldest) this.sessions.delete(oldest);
    }
    return { ok: true, sid, via: s.via, ...(s.policy ? { policy: s.policy } : {}) };
  }

  /** The request's session id from its cookie, if it has one of ours. */
  private sidOf(req: IncomingMessage): string | undefined {
    const header = req.headers.cookie;
    if (!header) return undefined;
    for (const c of header.split(';')) {
      const eq = c.indexOf('=');
      if (eq > 0 && c.slice(0, eq).trim() === this.cookieName) return c.slice(eq + 1).trim();
    }
    return undefined;
  }

  /** The request's live session (its use recorded), or undefined: no cookie, unknown, idle too long, or its policy key changed. */
  session(req: IncomingMessage): Session | undefined {
    const sid = this.sidOf(req);
    if (!sid) return undefined;
    const k = digest(sid).toString('hex');
    const s = this.sessions.get(k);
    if (!s) return undefined;
    const now = this.now();
    if (now - s.lastUsed > SESSION_IDLE_MS || (s.via === 'policy' && !this.keyMatches(s.policy!, s.keyHash!))) {
      this.sessions.delete(k);
      return undefined;
    }
    s.lastUsed = now;
    return s;
  }

  /** Ends the request's session; true if it had one. */
  end(req: IncomingMessage): boolean {
    const sid = this.sidOf(req);
    return !!sid && this.sessions.delete(digest(sid).toString('hex'));
  }

  cookie(sid: string): string {
    return `${this.cookieName}=${sid}; Path=/dashboard; HttpOnly; Secure; SameSite=Strict`;
  }

  clearCookie(): string {
    return `${this.cookieName}=; Path=/dashboard; HttpOnly; Secure; SameSite=Strict; Max-Age=0`;
  }
}
