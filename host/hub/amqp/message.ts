// Reading an AMQP message as rhea decodes it, the same way for the device and the service nodes: a property as text
// (a 16-byte binary is a UUID, as .NET and the Azure SDKs send message ids) and the body as bytes whatever section
// carried it.
import rhea from 'rhea';
import type { Message } from 'rhea';

export function propertyText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.length === 16 ? rhea.uuid_to_string(v) : v.toString('utf8');
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

export function bodyBytes(m: Message): Buffer {
  const b = m.body as unknown;
  if (Buffer.isBuffer(b)) return b;
  if (b && typeof b === 'object' && 'content' in (b as object) && Buffer.isBuffer((b as { content: unknown }).content)) return (b as { content: Buffer }).content;
  if (typeof b === 'string') return Buffer.from(b);
  if (b === undefined || b === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(b));
}
