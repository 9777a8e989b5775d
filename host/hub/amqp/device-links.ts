// The device side of the AMQP endpoint: a device (or module) sends telemetry on a link to
// `/devices/{id}[/modules/{mid}]/messages/events` and receives C2D on a link from `/devices/{id}/messages/devicebound`,
// settling each message: accepted → complete (Success), rejected → Rejected, released or modified → abandoned
// (delivered again, until the queue's maximum delivery count). The endpoint authenticates; this file moves messages.
import rhea from 'rhea';
import type { Connection, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import { dict, setMember } from '../state/json.js';
import type { C2DMessage, C2DQueue } from '../state/c2d-queue.js';
import type { Identity, PropertyBag, TelemetryMessage } from '../state/messages.js';
import { bodyBytes, propertyText } from './message.js';

export interface DeviceLinksHub {
  readonly c2d: C2DQueue;
  /** Telemetry a device sent: into the event store and `hub.on('telemetry')`, like MQTT's. */
  acceptTelemetry(t: TelemetryMessage): void;
}

export type DeviceNode = { identity: Identity; node: 'events' | 'devicebound' | 'twin' | 'methods' };

/**
 * `/devices/{id}[/modules/{mid}]/messages/events`, `/devices/{id}/messages/devicebound`, `/devices/{id}[/modules/{mid}]/twin`
 * or `/devices/{id}[/modules/{mid}]/methods/devicebound` (any case of the last parts).
 */
export function deviceNode(address: string): DeviceNode | undefined {
  const parts = address.split('/').filter(Boolean);
  if (parts[0]?.toLowerCase() !== 'devices' || !parts[1]) return undefined;
  let deviceId: string, moduleId: string | undefined;
  try {
    deviceId = decodeURIComponent(parts[1]);
    moduleId = parts[2]?.toLowerCase() === 'modules' && parts[3] ? decodeURIComponent(parts[3]) : undefined;
  } catch { return undefined; }
  const rest = parts.slice(moduleId !== undefined ? 4 : 2).map((p) => p.toLowerCase());
  const identity: Identity = moduleId !== undefined ? { deviceId, moduleId } : { deviceId };
  if (rest.length === 2 && rest[0] === 'messages' && rest[1] === 'events') return { identity, node: 'events' };
  if (rest.length === 2 && rest[0] === 'messages' && rest[1] === 'devicebound' && moduleId === undefined) return { identity, node: 'devicebound' };
  if (rest.length === 1 && rest[0] === 'twin') return { identity, node: 'twin' };
  if (rest.length === 2 && rest[0] === 'methods' && rest[1] === 'devicebound') return { identity, node: 'methods' };
  return undefined;
}

interface C2DSender { sender: Sender; deviceId: string }
interface Unsettled { lockToken: string; link: C2DSender }

/** AMQP message properties that are IoT Hub system properties, by TelemetryMessage name. */
function systemPropertiesOf(m: Message): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (name: string, v: unknown) => { const t = propertyText(v); if (t !== undefined) setMember(out, name, t); };
  put('messageId', m.message_id);
  put('correlationId', m.correlation_id);
  put('userId', m.user_id);
  put('to', m.to);
  put('contentType', m.content_type);
  put('contentEncoding', m.content_encoding);
  put('expiryTimeUtc', m.absolute_expiry_time);
  const ann = (m.message_annotations ?? {}) as Record<string, unknown>;
  if (Object.hasOwn(ann, 'iothub-interface-id')) put('interfaceId', ann['iothub-interface-id']);
  return out;
}

export class AmqpDeviceLinks {
  private readonly c2dSenders = new Map<Sender, C2DSender>();
  private readonly unsettled = new Map<Delivery, Unsettled>();
  /** Numbers C2D deliveries (`x-opt-sequence-number`), in the order this hub sent them. */
  private sequence = 0;
  private readonly onEnqueued = (m: C2DMessage) => { for (const l of this.c2dSenders.values()) if (l.deviceId === m.deviceId && !m.moduleId) this.pump(l); };

  constructor(private readonly hub: DeviceLinksHub, private readonly log: (line: string) => void) {
    hub.c2d.on('enqueued', this.onEnqueued);
  }

  /** The device attached a sender to its events node: we take its telemetry. */
  attachEvents(r: Receiver): void {
    r.add_credit(100);
  }

  /** The device attached a receiver to its devicebound node: we send its C2D messages as credit allows. */
  attachDevicebound(s: Sender, identity: Identity): void {
    const link = { sender: s, deviceId: identity.deviceId };
    this.c2dSenders.set(s, link);
    this.pump(link);
  }

  /** A telemetry message on an events link, already authorised for `identity`. */
  telemetry(ctx: EventContext, identity: Identity, address: string): void {
    const m = ctx.message!;
    const src = (m.application_properties ?? {}) as Record<string, unknown>;
    const properties: PropertyBag = dict<string | null>();
    for (const k of Object.keys(src)) {
      const v = src[k];
      properties[k] = propertyText(v) ?? null;
    }
    this.hub.acceptTelemetry({
      deviceId: identity.deviceId, ...(identity.moduleId ? { moduleId: identity.moduleId } : {}),
      body: bodyBytes(m), properties: { ...properties }, systemProperties: systemPropertiesOf(m), topic: address, qos: 1,
      enqueuedTimeUtc: new Date().toISOString(),
    });
    ctx.delivery!.accept();
    // keep the device's window open (rhea's own window may be off: autoaccept is off on hub connections)
    const r = ctx.receiver! as Receiver & { credit: number };
    if (r.credit < 50) r.add_credit(100 - r.credit);
  }

  /** A C2D delivery was settled by the device; false when the delivery is not one of ours. */
  settled(d: Delivery, outcome: 'accepted' | 'rejected' | 'released' | 'modified'): boolean {
    const u = this.unsettled.get(d);
    if (!u) return false;
    this.unsettled.delete(d);
    const q = this.hub.c2d;
    if (outcome === 'accepted') q.complete(u.lockToken);
    else if (outcome === 'rejected') q.reject(u.lockToken);
    else q.abandon(u.lockToken);
    this.pump(u.link);
    return true;
  }

  sendable(s: Sender): void {
    const l = this.c2dSenders.get(s);
    if (l) this.pump(l);
  }

  /** A link or its connection went away: messages it had not settled are queued again. */
  drop(s: Sender): void {
    if (!this.c2dSenders.delete(s)) return;
    for (const [d, u] of this.unsettled) {
      if (u.link.sender !== s) continue;
      this.unsettled.delete(d);
      this.hub.c2d.abandon(u.lockToken);
    }
  }

  dropConnection(conn: Connection): void {
    for (const s of [...this.c2dSenders.keys()]) if (s.connection === conn) this.drop(s);
  }

  close(): void {
    this.hub.c2d.off('enqueued', this.onEnqueued);
  }

  private pump(l: C2DSender): void {
    const s = l.sender;
    while (this.c2dSenders.has(s) && !s.is_closed() && s.sendable()) {
      const m = this.hub.c2d.takeNext(l.deviceId);
      if (!m) return;
      const d = s.send(c2dMessage(m, ++this.sequence));
      this.unsettled.set(d, { lockToken: m.lockToken, link: l });
      this.log(`AMQP C2D ${m.messageId} delivered to ${l.deviceId} (delivery ${m.deliveryCount})`);
    }
  }
}

/** A queued C2D message as IoT Hub sends it to an AMQP device. */
function c2dMessage(m: C2DMessage, sequence: number): Message {
  const app: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m.properties)) setMember(app, k, v);
  return {
    body: rhea.message.data_section(m.body),
    message_id: m.messageId,
    to: `/devices/${encodeURIComponent(m.deviceId)}/messages/deviceBound`,
    ...(m.correlationId !== undefined ? { correlation_id: m.correlationId } : {}),
    ...(m.userId !== undefined ? { user_id: Buffer.from(m.userId) } : {}),
    ...(m.contentType !== undefined ? { content_type: m.contentType } : {}),
    ...(m.contentEncoding !== undefined ? { content_encoding: m.contentEncoding } : {}),
    absolute_expiry_time: new Date(m.expiresAt),
    creation_time: new Date(m.enqueuedAt),
    delivery_count: Math.max(0, m.deliveryCount - 1),
    message_annotations: { 'x-opt-sequence-number': rhea.types.wrap_long(sequence), 'iothub-enqueuedtime': new Date(m.enqueuedAt), 'iothub-ack': m.ack },
    application_properties: app,
  } as unknown as Message;
}
