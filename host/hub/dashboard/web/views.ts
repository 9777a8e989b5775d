// The dashboard's pieces, each built from data as text: a device row, a telemetry message, a refusal row.
import { clock, el, pretty } from './dom.js';

export interface DeviceRow {
  deviceId: string;
  moduleId?: string;
  status: 'enabled' | 'disabled';
  auth: 'sas' | 'x509';
  connected: boolean;
  since?: string;
  c2dPending?: number;
}

export interface TelemetryItem {
  partition: number;
  seq: number;
  enqueuedTime: string;
  size: number;
  truncated?: boolean;
  skippedBefore?: number;
  body: { text: string } | { base64: string };
  properties: [string, string | null][];
  systemProperties: [string, string][];
}

export interface RefusalItem { n: number; at: string; surface: string; who: string; reason: string }

export const identityOf = (d: { deviceId: string; moduleId?: string }): string => (d.moduleId ? `${d.deviceId}/${d.moduleId}` : d.deviceId);

export function deviceRow(d: DeviceRow, selected: boolean, onSelect: () => void): HTMLLIElement {
  const state = d.status === 'disabled' ? 'disabled' : d.connected ? 'connected' : 'disconnected';
  return el('li', {},
    el('button', {
      class: `device${d.moduleId ? ' module' : ''}${selected ? ' selected' : ''}`, type: 'button', onclick: onSelect,
      data: { identity: identityOf(d), connected: String(d.connected), state },
      title: d.since ? `${state} since ${new Date(d.since).toLocaleString()}` : state,
    },
    el('span', { class: `dot ${state}` }),
    el('span', { class: 'device-name' }, d.moduleId ?? d.deviceId),
    el('span', { class: 'device-meta' }, d.moduleId ? 'module · ' : '', state, d.auth === 'x509' ? ' · X.509' : '', d.c2dPending ? ` · ${d.c2dPending} C2D queued` : '')));
}

/** Application properties, then system ones (greyed), as name=value chips. */
function chips(app: [string, string | null][], sys: [string, string][]): HTMLElement | null {
  if (!app.length && !sys.length) return null;
  const chip = (kind: string) => ([k, v]: [string, string | null]) => el('span', { class: `chip ${kind}`, title: kind === 'sys' ? 'system property' : 'application property' }, el('b', {}, k), v === null ? '' : `=${v}`);
  return el('div', { class: 'chips' }, ...app.map(chip('app')), ...sys.map(chip('sys')));
}

export function telemetryItem(t: TelemetryItem): HTMLLIElement {
  const body = 'text' in t.body ? pretty(t.body.text) : t.body.base64;
  return el('li', { class: 'msg', data: { seq: `${t.partition}:${t.seq}` } },
    el('div', { class: 'msg-head' },
      el('time', {}, clock(t.enqueuedTime)),
      el('span', { class: 'muted' }, `#${t.seq} · partition ${t.partition} · ${t.size} B${'base64' in t.body ? ' · base64' : ''}${t.truncated ? ' · cut' : ''}`),
      t.skippedBefore ? el('span', { class: 'warn' }, `${t.skippedBefore} skipped (the page fell behind)`) : null),
    el('pre', { class: 'msg-body' }, body),
    chips(t.properties, t.systemProperties));
}

export function refusalRow(r: RefusalItem): HTMLTableRowElement {
  return el('tr', {},
    el('td', { class: 'nowrap' }, clock(r.at)),
    el('td', {}, el('span', { class: `tag ${r.surface}` }, r.surface)),
    el('td', { class: 'mono' }, r.who),
    el('td', {}, r.reason));
}
