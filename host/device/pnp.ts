// IoT Plug and Play's JSON conventions (the topics, `$.sub` and the command-name split are the core's): a
// component's reported properties are wrapped as `{"<component>": {"__t": "c", …}}`, a writable property is
// acknowledged as `{"<name>": {"value": …, "ac": <code>, "av": <desired $version>, "ad": "<description>"}}`, and a
// default the device reports before any desired value is `ac: 203, av: 0`.

/** What a writable-property handler returns: the acknowledgement (`ac` 200 and the desired value by default). */
export interface WritableAck { ac?: number; ad?: string; value?: unknown }

/** `patch` as the reported properties of `component` (the default component: as it is). */
export function componentPatch(patch: Record<string, unknown>, component?: string): Record<string, unknown> {
  if (component === undefined) return patch;
  const inner: Record<string, unknown> = { __t: 'c' };
  for (const [k, v] of Object.entries(patch)) Object.defineProperty(inner, k, { value: v, enumerable: true, writable: true, configurable: true });
  return member(component, inner);
}

/** The reported acknowledgement of writable property `name`. */
export function writableAck(name: string, value: unknown, ack: { ac: number; av: number; ad?: string }, component?: string): Record<string, unknown> {
  const doc = { value, ac: ack.ac, av: ack.av, ...(ack.ad !== undefined ? { ad: ack.ad } : {}) };
  return componentPatch(member(name, doc), component);
}

/** The value a desired patch sets for `name` of `component`; undefined when the patch does not mention it. */
export function desiredValue(patch: Record<string, unknown>, name: string, component?: string): unknown {
  const scope = component === undefined ? patch : own(patch, component);
  if (scope === null || typeof scope !== 'object' || Array.isArray(scope)) return undefined;
  return own(scope as Record<string, unknown>, name);
}

/** One member named `name` (a name is data: `__proto__` becomes a member, never a prototype). */
function member(name: string, value: unknown): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  Object.defineProperty(o, name, { value, enumerable: true, writable: true, configurable: true });
  return o;
}

function own(o: Record<string, unknown>, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}
