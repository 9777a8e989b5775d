// The direct-method links of the AMQP device endpoint, as IoT Hub serves them: a device (or module) attaches a
// receiver and a sender to `/devices/{id}[/modules/{mid}]/methods/devicebound` (with a `com.microsoft:channel-correlation-id`);
// the hub sends each request on the receiver with the `IoThub-methodname` application property, a UUID correlation_id
// and the payload as the body; the device answers on its sender with the same correlation_id, the `IoThub-status`
// application property and its payload. Invocations are the hub's MethodInvoker's (timeouts, 504), as over MQTT.
import rhea from 'rhea';
import type { Connection, EventContext, Message, Receiver, Sender } from 'rhea';
import { HubError } from '../errors.js';
import { METHOD_MAX_PAYLOAD_BYTES, type MethodInvoker, type MethodResult } from '../state/methods.js';
import { identityKey, type Identity } from '../state/messages.js';
import { bodyBytes, propertyText } from './message.js';

export const METHOD_NAME_PROPERTY = 'IoThub-methodname';
export const METHOD_STATUS_PROPERTY = 'IoThub-status';
/** Requests waiting for the device's credit on one link; beyond it an invocation is refused (503). */
export const METHOD_MAX_QUEUED = 64;

export interface MethodLinksHub {
  readonly methods: MethodInvoker;
}

interface MethodLink { sender: Sender; identity: Identity; key: string; queue: Message[] }

/** An application property by name, matched without case (IoT Hub's names are `IoThub-…`, SDKs vary the case). */
function appProperty(m: Message, name: string): unknown {
  const p = m.application_properties as Record<string, unknown> | undefined;
  if (!p || typeof p !== 'object') return undefined;
  if (Object.hasOwn(p, name)) return p[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(p)) if (k.toLowerCase() === lower) return p[k];
  return undefined;
}

export class AmqpMethodLinks {
  /** Our senders (the devices' method receivers), the newest last. */
  private readonly links = new Map<Sender, MethodLink>();
  /** Outstanding requests by the correlation id sent: the invoker's request id and who must answer. */
  private readonly outstanding = new Map<string, { rid: string; key: string }>();

  constructor(private readonly hub: MethodLinksHub, private readonly log: (line: string) => void) {}

  /** The device attached its method receiver: it can be invoked. */
  attachRequests(s: Sender, identity: Identity): void {
    this.links.set(s, { sender: s, identity, key: identityKey(identity), queue: [] });
  }

  /** The device attached its method sender: answers come in on it. */
  attachResponses(_r: Receiver): void { /* rhea's credit window; answers are matched by correlation id */ }

  /** Whether the identity has a method receiver attached (it can be invoked). */
  has(identity: Identity): boolean {
    return this.linkOf(identityKey(identity)) !== undefined;
  }

  private linkOf(key: string): MethodLink | undefined {
    let found: MethodLink | undefined;
    for (const l of this.links.values()) if (l.key === key && !l.sender.is_closed()) found = l;
    return found;
  }

  /** Sends a method request to the identity's newest method link; resolves with its answer (504 on timeout). */
  invoke(identity: Identity, name: string, payload: Buffer, timeoutMs: number): Promise<MethodResult> {
    const key = identityKey(identity);
    const l = this.linkOf(key);
    if (!l) return Promise.reject(new HubError(404, 'DeviceNotOnline', `'${key}' has no direct-method link attached`));
    if (payload.length > METHOD_MAX_PAYLOAD_BYTES) {
      return Promise.reject(new HubError(413, 'MessageTooLarge', `method payload of ${payload.length} bytes exceeds ${METHOD_MAX_PAYLOAD_BYTES}`));
    }
    if (l.queue.length >= METHOD_MAX_QUEUED) {
      return Promise.reject(new HubError(503, 'ServiceUnavailable', `'${key}' gives its method link no credit: ${l.queue.length} requests wait`));
    }
    const { rid, result } = this.hub.methods.start(key, name, timeoutMs);
    const cid = rhea.generate_uuid();
    this.outstanding.set(cid, { rid, key });
    const forget = () => { this.outstanding.delete(cid); };
    result.then(forget, forget);
    l.queue.push({
      correlation_id: rhea.string_to_uuid(cid),
      application_properties: { [METHOD_NAME_PROPERTY]: name },
      body: rhea.message.data_section(payload),
    } as unknown as Message);
    this.log(`AMQP ${key} method '${name}' correlation ${cid} (timeout ${timeoutMs / 1000} s)`);
    this.pump(l);
    return result;
  }

  /** A method answer on a device's method link, already authorised for `identity`. */
  response(ctx: EventContext, identity: Identity): void {
    const m = ctx.message!;
    const d = ctx.delivery!;
    const key = identityKey(identity);
    const cid = propertyText(m.correlation_id);
    const rawStatus = appProperty(m, METHOD_STATUS_PROPERTY);
    const status = typeof rawStatus === 'number' ? rawStatus : typeof rawStatus === 'string' && /^-?\d{1,10}$/.test(rawStatus.trim()) ? Number(rawStatus) : NaN;
    if (cid === undefined) { d.reject({ condition: 'com.microsoft:argument-error', description: 'a method response needs the correlation_id of its request' }); return; }
    if (!Number.isInteger(status)) {
      d.reject({ condition: 'com.microsoft:argument-error', description: `a method response needs an integer ${METHOD_STATUS_PROPERTY} application property` });
      return;
    }
    d.accept();
    const o = this.outstanding.get(cid.toLowerCase());
    const ok = o !== undefined && o.key === key && this.hub.methods.respond(key, o.rid, status, bodyBytes(m));
    if (ok) this.outstanding.delete(cid.toLowerCase());
    this.log(`AMQP ${key} method response ${status} correlation ${JSON.stringify(cid.slice(0, 80))}${ok ? '' : ' (no such request: ignored)'}`);
  }

  sendable(s: Sender): void {
    const l = this.links.get(s);
    if (l) this.pump(l);
  }

  /** A method receiver went away: requests that waited for its credit fail (as a device gone offline). */
  drop(s: Sender): void {
    const l = this.links.get(s);
    if (!l) return;
    this.links.delete(s);
    for (const m of l.queue) {
      const o = this.outstanding.get(rhea.uuid_to_string(m.correlation_id as Buffer));
      if (o) this.hub.methods.fail(o.rid, new HubError(404, 'DeviceNotOnline', `'${l.key}' detached its method link`));
    }
    l.queue = [];
  }

  dropConnection(conn: Connection): void {
    for (const s of [...this.links.keys()]) if (s.connection === conn) this.drop(s);
  }

  private pump(l: MethodLink): void {
    const s = l.sender;
    while (l.queue.length && !s.is_closed() && s.sendable()) s.send(l.queue.shift()!);
  }
}
