// DOM building for the dashboard page: elements from tag, a few known attributes and children, where a string child is
// always a text node. No HTML is ever parsed from data (no innerHTML), so nothing a device sends can become markup.
export type Child = Node | string | null | undefined | false;

export interface Attrs {
  class?: string;
  id?: string;
  title?: string;
  type?: string;
  value?: string;
  placeholder?: string;
  rows?: number;
  disabled?: boolean;
  spellcheck?: boolean;
  data?: Record<string, string>;
  onclick?: (e: MouseEvent) => void;
  onsubmit?: (e: SubmitEvent) => void;
  oninput?: (e: Event) => void;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (attrs.class) e.className = attrs.class;
  if (attrs.id) e.id = attrs.id;
  if (attrs.title) e.title = attrs.title;
  if (attrs.data) for (const [k, v] of Object.entries(attrs.data)) e.setAttribute(`data-${k}`, v);
  if (attrs.onclick) e.addEventListener('click', attrs.onclick as EventListener);
  if (attrs.onsubmit) e.addEventListener('submit', attrs.onsubmit as EventListener);
  if (attrs.oninput) e.addEventListener('input', attrs.oninput);
  const f = e as unknown as { type?: string; placeholder?: string; disabled?: boolean; value?: string };
  if (attrs.type !== undefined) f.type = attrs.type;
  if (attrs.placeholder !== undefined) f.placeholder = attrs.placeholder;
  if (attrs.rows !== undefined) (e as unknown as HTMLTextAreaElement).rows = attrs.rows;
  if (attrs.disabled !== undefined) f.disabled = attrs.disabled;
  if (attrs.spellcheck !== undefined) e.spellcheck = attrs.spellcheck;
  if (attrs.value !== undefined) f.value = attrs.value;
  append(e, ...children);
  return e;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/** Replaces an element's children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** `13:45:01.234`, in the viewer's time zone. */
export function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** JSON text on one line when that is short, pretty-printed when not; other text as it is. */
export function pretty(text: string, oneLine = 100): string {
  let v: unknown;
  try { v = JSON.parse(text); } catch { return text; }
  const flat = JSON.stringify(v);
  return flat.length <= oneLine ? flat : JSON.stringify(v, null, 2);
}
