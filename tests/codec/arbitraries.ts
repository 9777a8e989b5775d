// fast-check generators for valid MQTT 3.1.1 packets in mqtt-packet's shape.
import fc from 'fast-check';

const codePoint = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 2, arbitrary: fc.integer({ min: 0x01, max: 0x7ff }) },
  { weight: 1, arbitrary: fc.integer({ min: 0x800, max: 0xffff }).filter((c) => c < 0xd800 || c > 0xdfff) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }) },
).map((c) => String.fromCodePoint(c));

/** Any MQTT string: well-formed UTF-8 without U+0000. */
export const mqttString = (maxLength = 40) => fc.string({ unit: codePoint, maxLength });
/** A PUBLISH topic name: at least one character, no wildcards. */
export const topicName = fc.string({ unit: codePoint.filter((c) => c !== '+' && c !== '#'), minLength: 1, maxLength: 60 });
const level = fc.oneof(
  { weight: 1, arbitrary: fc.constant('+') },
  { weight: 5, arbitrary: fc.string({ unit: codePoint.filter((c) => c !== '+' && c !== '#' && c !== '/'), maxLength: 12 }) },
);
/** A topic filter: levels of text or '+', optionally ending in '#'. */
export const topicFilter = fc.tuple(fc.array(level, { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
  .filter((t) => t.length > 0);
export const messageId = fc.integer({ min: 1, max: 65535 });
export const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);
export const bytes = (maxLength = 300) => fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));

export const publish = fc.record({ topic: topicName, payload: bytes(), qos, retain: fc.boolean(), dup: fc.boolean(), messageId })
  .map(({ topic, payload, qos, retain, dup, messageId }) => (qos === 0
    ? { cmd: 'publish' as const, topic, payload, qos, retain, dup: false }
    : { cmd: 'publish' as const, topic, payload, qos, retain, dup, messageId }));

export const connect = fc.record({
  clientId: mqttString(23),
  clean: fc.boolean(),
  keepalive: fc.integer({ min: 0, max: 65535 }),
  username: fc.option(mqttString(80), { nil: undefined }),
  password: fc.option(bytes(80), { nil: undefined }),
  will: fc.option(fc.record({ topic: topicName, payload: bytes(50), qos, retain: fc.boolean() }), { nil: undefined }),
}).map((c) => {
  const p: Record<string, unknown> = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: c.clientId || 'c', clean: c.clean, keepalive: c.keepalive };
  if (c.will) p.will = c.will;
  if (c.username !== undefined) p.username = c.username;
  if (c.username !== undefined && c.password !== undefined) p.password = c.password;
  return p;
});

export const anyPacket = fc.oneof(
  { weight: 4, arbitrary: publish },
  { weight: 2, arbitrary: connect },
  { weight: 1, arbitrary: fc.record({ returnCode: fc.integer({ min: 0, max: 5 }), sessionPresent: fc.boolean() })
    .map((c) => ({ cmd: 'connack', returnCode: c.returnCode, sessionPresent: c.returnCode === 0 && c.sessionPresent })) },
  { weight: 2, arbitrary: fc.record({ cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback'), messageId }) },
  { weight: 1, arbitrary: fc.record({ messageId, subscriptions: fc.array(fc.record({ topic: topicFilter, qos }), { minLength: 1, maxLength: 6 }) })
    .map((s) => ({ cmd: 'subscribe', ...s })) },
  { weight: 1, arbitrary: fc.record({ messageId, granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 6 }) })
    .map((s) => ({ cmd: 'suback', ...s })) },
  { weight: 1, arbitrary: fc.record({ messageId, unsubscriptions: fc.array(topicFilter, { minLength: 1, maxLength: 6 }) })
    .map((s) => ({ cmd: 'unsubscribe', ...s })) },
  { weight: 1, arbitrary: fc.constantFrom('pingreq', 'pingresp', 'disconnect').map((cmd) => ({ cmd })) },
);
