// Direct methods: pending invocations by request id, each with its timeout. Transport-independent.
import { randomUUID } from 'node:crypto';
import { HubError } from '../errors.js';
import { JsonError, parseJson } from './json.js';

export const METHOD_MAX_PAYLOAD_BYTES = 128 * 1024;
/** Nesting a method payload may have and still be handed on as JSON (the hub serialises it again, recursively). */
export const METHOD_MAX_NESTING = 64;
/** IoT Hub's ranges for a direct method call (direct methods guide): response 5–300 s (default 30), connect 0–300 s. */
export const METHOD_RESPONSE_TIMEOUT = { min: 5, max: 300, default: 30 } as const;
export const METHOD_CONNECT_TIMEOUT = { min: 0, max: 300, default: 0 } as const;

export interface MethodResult { status: number; payload: unknown }

/** How a service call waits for a device's answer (LocalHub.invokeMethod, REST, AMQP). */
export interface InvokeOptions {
  responseTimeoutInSeconds?: number;
  /** Wait this long for the device to connect before answering 404. Default 0. */
  connectTimeoutInSeconds?: number;
  moduleId?: string;
}

interface Pending {
  identity: string;
  name: string;
  resolve: (r: MethodResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Parses a method payload: JSON when it is JSON (member names as data), null when empty, else the text — also when
 * it nests deeper than METHOD_MAX_NESTING, so a hostile answer cannot blow the stack where it is serialised again.
 */
export function parseMethodPayload(body: Buffer): unknown {
  if (body.length === 0) return null;
  const text = body.toString('utf8');
  if (text.trim() === '') return null;
  try {
    return parseJson(text, { maxDepth: METHOD_MAX_NESTING });
  } catch (e) {
    if (e instanceof JsonError) return text;
    throw e;
  }
}

export class MethodInvoker {
  private readonly pending = new Map<string, Pending>();
  private seq = 0;

  /** Registers an invocation; returns its request id and a promise of the device's answer (504 on timeout). */
  start(identity: string, name: string, timeoutMs: number): { rid: string; result: Promise<MethodResult> } {
    const rid = (++this.seq).toString(16) + randomUUID().slice(0, 8);
    const result = new Promise<MethodResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new HubError(504, 'GatewayTimeout', `method '${name}' on '${identity}' timed out after ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(rid, { identity, name, resolve, reject, timer });
    });
    return { rid, result };
  }

  /** A device answered; false if no such request is pending for that identity (late or forged answer). */
  respond(identity: string, rid: string, status: number, body: Buffer): boolean {
    const p = this.pending.get(rid);
    if (!p || p.identity !== identity) return false;
    this.pending.delete(rid);
    clearTimeout(p.timer);
    if (body.length > METHOD_MAX_PAYLOAD_BYTES) {
      p.reject(new HubError(413, 'MessageTooLarge', `method '${p.name}' response of ${body.length} bytes exceeds ${METHOD_MAX_PAYLOAD_BYTES}`));
    } else {
      p.resolve({ status, payload: parseMethodPayload(body) });
    }
    return true;
  }

  /** Fails one pending request (e.g. it could not be sent). */
  fail(rid: string, err: Error): void {
    const p = this.pending.get(rid);
    if (!p) return;
    this.pending.delete(rid);
    clearTimeout(p.timer);
    p.reject(err);
  }

  /** Fails everything (hub stopping). */
  failAll(err: Error): void {
    for (const rid of [...this.pending.keys()]) this.fail(rid, err);
  }

  get size(): number { return this.pending.size; }
}
