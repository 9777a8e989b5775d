// The dashboard page: signs in (the one-time token in the URL's fragment, or a service connection string), then shows
// the hub's devices, the selected one's live telemetry, twin, direct methods and C2D, and the hub's recent refusals.
// Live updates come from one Server-Sent Events stream; everything else is a call to /dashboard/api/.
import { el, replace } from './dom.js';
import { deviceRow, identityOf, refusalRow, telemetryItem, type DeviceRow, type RefusalItem, type TelemetryItem } from './views.js';

const API = '/dashboard/api';
const TELEMETRY_SHOWN = 200;

interface Answer<T> { ok: boolean; status: number; body: T; error: string }

async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  let r: Response;
  try {
    r = await fetch(`${API}/${path}`, {
      method, credentials: 'same-origin', cache: 'no-store',
      ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
    });
  } catch {
    return { ok: false, status: 0, body: undefined as T, error: 'the hub is not reachable (stopped?)' };
  }
  const text = await r.text();
  let parsed: unknown;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
  const message = parsed && typeof parsed === 'object' && typeof (parsed as { Message?: unknown }).Message === 'string' ? (parsed as { Message: string }).Message : '';
  // IoT Hub's error shape, `ErrorCode:<code>;<text>`: the text is what a person reads
  const error = r.ok ? '' : `${message.replace(/^ErrorCode:[^;]*;/, '') || r.statusText || 'failed'} (${r.status})`;
  return { ok: r.ok, status: r.status, body: parsed as T, error };
}

const path = (d: { deviceId: string; moduleId?: string }) =>
  `identities/${encodeURIComponent(d.deviceId)}${d.moduleId ? `/modules/${encodeURIComponent(d.moduleId)}` : ''}`;

/** A twin section without its `$` members ($version, $metadata): what one edits. */
function editable(section: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(section)) if (!k.startsWith('$')) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

const root = document.getElementById('app')!;

// --- sign-in ----------------------------------------------------------------------------------------------------

async function boot(): Promise<void> {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  // the token leaves the address bar and the history at once, used or not
  if (location.hash) history.replaceState(null, '', location.pathname);
  let failed = '';
  if (token) {
    const r = await api('POST', 'session', { token });
    if (!r.ok) failed = `The sign-in link did not work: ${r.error}. Sign in with a service connection string, or get a new link with: iothub-wasm hub dashboard`;
  }
  const s = await api<{ hostName: string; via: string; policy?: string }>('GET', 'session');
  if (s.ok) new Dashboard(s.body.hostName, s.body.policy ? `policy ${s.body.policy}` : 'one-time link').start();
  else signInForm(failed);
}

function signInForm(message = ''): void {
  const cs = el('textarea', { id: 'login-cs', rows: 3, spellcheck: false, placeholder: 'HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=…' });
  const error = el('p', { id: 'login-error', class: 'error' }, message);
  const submit = el('button', { id: 'login-submit', type: 'submit', class: 'primary' }, 'Sign in');
  const form = el('form', {
    class: 'card login', onsubmit: (e) => {
      e.preventDefault();
      submit.disabled = true;
      void api('POST', 'session', { connectionString: cs.value }).then((r) => {
        submit.disabled = false;
        if (r.ok) void boot();
        else replace(error, r.error);
      });
    },
  },
  el('h1', {}, 'iothub-wasm local IoT Hub'),
  el('p', {}, 'Open the dashboard link the hub printed when it started (it signs you in once), or paste a service connection string whose policy has RegistryRead and ServiceConnect (iothubowner has both).'),
  el('label', { class: 'field' }, el('span', {}, 'Service connection string'), cs),
  el('div', { class: 'row' }, submit),
  error);
  replace(root, el('main', { class: 'center' }, form));
}

// --- the dashboard ----------------------------------------------------------------------------------------------

class Dashboard {
  private devices: DeviceRow[] = [];
  private total = 0;
  private selected: { deviceId: string; moduleId?: string } | undefined;
  private stream: EventSource | undefined;
  private seen = new Set<string>();
  private refusals: RefusalItem[] = [];
  private view: 'devices' | 'refusals' = 'devices';
  private desiredVersion = 0;
  private desiredDirty = false;

  private readonly list = el('ul', { class: 'device-list', id: 'device-list' });
  private readonly detail = el('section', { class: 'detail', id: 'detail' });
  private readonly refusalBody = el('tbody', { id: 'refusal-list' });
  private readonly refusalCount = el('span', { class: 'count' });
  private readonly navDevices = el('button', { id: 'nav-devices', type: 'button', class: 'tab', onclick: () => this.show('devices') }, 'Devices');
  private readonly navRefusals = el('button', { id: 'nav-refusals', type: 'button', class: 'tab', onclick: () => this.show('refusals') }, 'Refusals ', this.refusalCount);
  private readonly devicesView = el('div', { class: 'layout' },
    el('aside', { class: 'sidebar' }, el('h2', {}, 'Devices'), this.list), this.detail);
  private readonly refusalsView = el('div', { class: 'refusals' },
    el('div', { class: 'card wide' },
      el('h3', {}, 'Recent refusals'),
      el('p', { class: 'muted' }, 'What the hub turned away while it ran: refused CONNECTs, connections it closed for a broken rule, provisioning refusals, dashboard sign-ins. Newest first.'),
      el('table', { class: 'table' }, el('thead', {}, el('tr', {}, el('th', {}, 'Time'), el('th', {}, 'Where'), el('th', {}, 'Who'), el('th', {}, 'Reason'))), this.refusalBody)));
  private readonly main = el('main', { class: 'content' });
  private readonly connection = el('span', { class: 'live-state', id: 'live-state' }, 'connecting…');

  constructor(private readonly hostName: string, private readonly via: string) {}

  start(): void {
    replace(root,
      el('header', { class: 'bar' },
        el('span', { class: 'brand' }, 'iothub-wasm'),
        el('span', { class: 'hub' }, `local IoT Hub ‘${this.hostName}’`),
        el('nav', { class: 'tabs' }, this.navDevices, this.navRefusals),
        el('span', { class: 'spacer' }),
        this.connection,
        el('span', { class: 'muted small' }, `signed in with ${this.via}`),
        el('button', { type: 'button', class: 'ghost', onclick: () => void this.signOut() }, 'Sign out')),
      this.main);
    this.show('devices');
    this.renderDetail();
    this.openStream();
    void this.loadDevices();
    void this.loadRefusals();
  }

  private show(view: 'devices' | 'refusals'): void {
    this.view = view;
    this.navDevices.classList.toggle('active', view === 'devices');
    this.navRefusals.classList.toggle('active', view === 'refusals');
    replace(this.main, view === 'devices' ? this.devicesView : this.refusalsView);
  }

  private async signOut(): Promise<void> {
    this.stream?.close();
    await api('DELETE', 'session', {});
    signInForm('Signed out.');
  }

  private async lost(): Promise<void> {
    const s = await api('GET', 'session');
    if (s.status === 401) { this.stream?.close(); signInForm('The session ended (the hub restarted, or it was idle too long): sign in again.'); }
  }

  // --- live stream

  private openStream(): void {
    this.stream?.close();
    const q = this.selected ? `?device=${encodeURIComponent(this.selected.deviceId)}${this.selected.moduleId ? `&module=${encodeURIComponent(this.selected.moduleId)}` : ''}` : '';
    const es = this.stream = new EventSource(`${API}/stream${q}`);
    const data = (e: Event) => JSON.parse((e as MessageEvent<string>).data) as unknown;
    es.onopen = () => { replace(this.connection, 'live'); this.connection.className = 'live-state on'; };
    es.onerror = () => {
      replace(this.connection, 'reconnecting…'); this.connection.className = 'live-state';
      if (es.readyState === EventSource.CLOSED) void this.lost();
    };
    es.addEventListener('state', (e) => {
      const s = data(e) as { deviceId: string; moduleId?: string; connected: boolean };
      const d = this.devices.find((x) => x.deviceId === s.deviceId && x.moduleId === s.moduleId);
      if (d) { d.connected = s.connected; d.since = new Date().toISOString(); this.renderList(); this.renderBadge(); }
      else void this.loadDevices();
    });
    es.addEventListener('devices', () => void this.loadDevices());
    es.addEventListener('refusal', (e) => { this.refusals.unshift(data(e) as RefusalItem); this.renderRefusals(); });
    es.addEventListener('telemetry', (e) => this.addTelemetry([data(e) as TelemetryItem], true));
    es.addEventListener('twin', () => void this.loadTwin());
  }

  // --- devices

  private async loadDevices(): Promise<void> {
    const r = await api<{ identities: DeviceRow[]; total: number }>('GET', 'devices');
    if (r.status === 401) return this.lost();
    if (!r.ok) return;
    this.devices = r.body.identities;
    this.total = r.body.total;
    this.renderList();
    this.renderBadge();
  }

  private renderList(): void {
    if (!this.devices.length) {
      replace(this.list, el('li', { class: 'muted pad' }, 'No devices yet: iothub-wasm hub device add <id>'));
      return;
    }
    const key = this.selected ? identityOf(this.selected) : '';
    const shown = this.devices.filter((d) => !d.moduleId).length;
    replace(this.list, ...this.devices.map((d) => deviceRow(d, identityOf(d) === key, () => this.select(d))),
      shown < this.total ? el('li', { class: 'muted pad small' }, `the first ${shown} of ${this.total} devices`) : null);
  }

  private select(d: DeviceRow): void {
    this.selected = { deviceId: d.deviceId, ...(d.moduleId ? { moduleId: d.moduleId } : {}) };
    this.seen.clear();
    this.desiredDirty = false;
    this.renderList();
    this.renderDetail();
    // the stream first, then what is already stored: nothing falls between (repeats are recognised by sequence number)
    this.openStream();
    void this.loadTelemetry();
    void this.loadTwin();
  }

  // --- the selected device

  private readonly badge = el('span', { class: 'badge', id: 'device-state' });
  private readonly telemetryList = el('ol', { class: 'messages', id: 'telemetry-list' });
  private readonly desired = el('textarea', { id: 'desired', rows: 8, spellcheck: false, oninput: () => { this.desiredDirty = true; } });
  private readonly desiredStatus = el('p', { class: 'status', id: 'desired-status' });
  private readonly reported = el('pre', { class: 'json', id: 'reported' });
  private readonly twinMeta = el('p', { class: 'muted small' });

  private renderBadge(): void {
    const d = this.selected && this.devices.find((x) => identityOf(x) === identityOf(this.selected!));
    if (!d) return;
    const state = d.status === 'disabled' ? 'disabled' : d.connected ? 'connected' : 'disconnected';
    this.badge.className = `badge ${state}`;
    replace(this.badge, state);
  }

  private renderDetail(): void {
    if (!this.selected) {
      replace(this.detail, el('div', { class: 'empty' }, el('p', {}, 'Select a device to see its telemetry, twin, direct methods and cloud-to-device messages.')));
      return;
    }
    const sel = this.selected;
    replace(this.telemetryList, el('li', { class: 'muted pad placeholder' }, 'No telemetry yet: messages appear here as the device sends them.'));
    replace(this.desiredStatus);
    replace(this.reported, '');
    this.desired.value = '';
    replace(this.detail,
      el('h2', { class: 'title' }, identityOf(sel), ' ', this.badge),
      el('div', { class: 'cards' },
        el('article', { class: 'card wide', id: 'telemetry' },
          el('h3', {}, 'Telemetry ', el('span', { class: 'muted small' }, 'newest first, live')), this.telemetryList),
        el('article', { class: 'card', id: 'twin' },
          el('h3', {}, 'Twin'), this.twinMeta,
          el('label', { class: 'field' }, el('span', {}, 'Desired properties (JSON; a member left out is removed)'), this.desired),
          el('div', { class: 'row' }, el('button', { id: 'save-desired', type: 'button', class: 'primary', onclick: () => void this.saveDesired() }, 'Save desired'),
            el('button', { type: 'button', class: 'ghost', onclick: () => { this.desiredDirty = false; void this.loadTwin(); } }, 'Reload')),
          this.desiredStatus,
          el('div', { class: 'field' }, el('span', {}, 'Reported properties'), this.reported)),
        this.methodCard(sel),
        sel.moduleId ? null : this.c2dCard(sel)));
    this.renderBadge();
  }

  private addTelemetry(items: TelemetryItem[], live: boolean): void {
    for (const t of live ? items : [...items].reverse()) {
      const k = `${t.partition}:${t.seq}`;
      if (this.seen.has(k)) continue;
      this.seen.add(k);
      this.telemetryList.querySelector('.placeholder')?.remove();
      // newest first: each arrives after the ones before it (stored ones are added oldest first)
      this.telemetryList.prepend(telemetryItem(t));
    }
    while (this.telemetryList.children.length > TELEMETRY_SHOWN) this.telemetryList.lastElementChild!.remove();
  }

  private async loadTelemetry(): Promise<void> {
    const sel = this.selected;
    if (!sel) return;
    const r = await api<TelemetryItem[]>('GET', `${path(sel)}/telemetry`);
    if (r.ok && sel === this.selected) this.addTelemetry(r.body, false);
  }

  private async loadTwin(): Promise<void> {
    const sel = this.selected;
    if (!sel) return;
    const r = await api<{ version: number; properties: { desired: Record<string, unknown>; reported: Record<string, unknown> } }>('GET', `${path(sel)}/twin`);
    if (sel !== this.selected) return;
    if (!r.ok) { replace(this.desiredStatus, r.error); this.desiredStatus.className = 'status error'; return; }
    const { desired, reported } = r.body.properties;
    const version = Number(desired['$version'] ?? 0);
    if (!this.desiredDirty) {
      this.desired.value = JSON.stringify(editable(desired), null, 2);
      this.desiredVersion = version;
    } else if (version !== this.desiredVersion) {
      replace(this.desiredStatus, `The desired properties changed on the hub ($version ${version}): Reload to see them.`);
      this.desiredStatus.className = 'status warn';
    }
    replace(this.reported, JSON.stringify(editable(reported), null, 2));
    replace(this.twinMeta, `twin version ${r.body.version} · desired $version ${version} · reported $version ${String(reported['$version'] ?? '')}`);
  }

  private async saveDesired(): Promise<void> {
    const sel = this.selected;
    if (!sel) return;
    let desired: unknown;
    try { desired = JSON.parse(this.desired.value || '{}'); } catch (e) {
      replace(this.desiredStatus, `Not JSON: ${(e as Error).message}`); this.desiredStatus.className = 'status error'; return;
    }
    if (typeof desired !== 'object' || desired === null || Array.isArray(desired)) {
      replace(this.desiredStatus, 'The desired properties are a JSON object.'); this.desiredStatus.className = 'status error'; return;
    }
    const r = await api<{ properties: { desired: Record<string, unknown> } }>('PUT', `${path(sel)}/twin/desired`, { desired, version: this.desiredVersion });
    if (!r.ok) { replace(this.desiredStatus, r.error); this.desiredStatus.className = 'status error'; return; }
    this.desiredDirty = false;
    const v = Number(r.body.properties.desired['$version']);
    const changed = v !== this.desiredVersion;
    await this.loadTwin();
    replace(this.desiredStatus, changed ? `Saved: desired $version ${v}, sent to the device.` : 'Nothing changed: no patch sent.');
    this.desiredStatus.className = 'status ok';
  }

  private methodCard(sel: { deviceId: string; moduleId?: string }): HTMLElement {
    const name = el('input', { id: 'method-name', type: 'text', placeholder: 'reboot', spellcheck: false });
    const payload = el('textarea', { id: 'method-payload', rows: 4, spellcheck: false, value: '{}' });
    const timeout = el('input', { id: 'method-timeout', type: 'number', value: '30' });
    const result = el('div', { id: 'method-result', class: 'result' });
    const invoke = el('button', {
      id: 'invoke', type: 'button', class: 'primary', onclick: () => {
        let p: unknown = null;
        if (payload.value.trim()) {
          try { p = JSON.parse(payload.value); } catch (e) { replace(result, el('p', { class: 'error' }, `Payload is not JSON: ${(e as Error).message}`)); return; }
        }
        invoke.disabled = true;
        replace(result, el('p', { class: 'muted' }, `Invoking ${name.value}…`));
        void api<{ status: number; payload: unknown }>('POST', `${path(sel)}/methods`, { methodName: name.value, payload: p, responseTimeoutInSeconds: Number(timeout.value) }).then((r) => {
          invoke.disabled = false;
          if (!r.ok) { replace(result, el('p', { class: 'error' }, r.error)); return; }
          replace(result,
            el('p', {}, 'Status ', el('span', { class: `badge ${r.body.status >= 200 && r.body.status < 300 ? 'connected' : 'disabled'}`, id: 'method-status' }, String(r.body.status))),
            el('pre', { class: 'json', id: 'method-payload-result' }, JSON.stringify(r.body.payload, null, 2)));
        });
      },
    }, 'Invoke');
    return el('article', { class: 'card', id: 'method' },
      el('h3', {}, 'Direct method'),
      el('label', { class: 'field' }, el('span', {}, 'Method name'), name),
      el('label', { class: 'field' }, el('span', {}, 'Payload (JSON)'), payload),
      el('label', { class: 'field inline' }, el('span', {}, 'Response time-out (s)'), timeout),
      el('div', { class: 'row' }, invoke),
      result);
  }

  private c2dCard(sel: { deviceId: string }): HTMLElement {
    const body = el('textarea', { id: 'c2d-body', rows: 3, spellcheck: false, placeholder: '{"led":"on"}' });
    const props = el('textarea', { id: 'c2d-props', rows: 2, spellcheck: false, placeholder: 'name=value, one a line' });
    const result = el('p', { id: 'c2d-result', class: 'status' });
    const send = el('button', {
      id: 'c2d-send', type: 'button', class: 'primary', onclick: () => {
        const properties: [string, string][] = [];
        for (const line of props.value.split('\n')) {
          if (!line.trim()) continue;
          const eq = line.indexOf('=');
          properties.push(eq < 0 ? [line.trim(), ''] : [line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
        }
        send.disabled = true;
        void api<{ messageId: string; queued: number }>('POST', `${path(sel)}/messages`, { body: body.value, properties }).then((r) => {
          send.disabled = false;
          if (!r.ok) { replace(result, r.error); result.className = 'status error'; return; }
          replace(result, `Queued as ${r.body.messageId} (${r.body.queued} waiting for the device).`);
          result.className = 'status ok';
          void this.loadDevices();
        });
      },
    }, 'Send');
    return el('article', { class: 'card', id: 'c2d' },
      el('h3', {}, 'Cloud-to-device message'),
      el('label', { class: 'field' }, el('span', {}, 'Body'), body),
      el('label', { class: 'field' }, el('span', {}, 'Application properties'), props),
      el('div', { class: 'row' }, send),
      result);
  }

  // --- refusals

  private async loadRefusals(): Promise<void> {
    const r = await api<RefusalItem[]>('GET', 'refusals');
    if (!r.ok) return;
    const known = new Set(this.refusals.map((x) => x.n));
    this.refusals = [...this.refusals, ...r.body.filter((x) => !known.has(x.n))].sort((a, b) => b.n - a.n).slice(0, 200);
    this.renderRefusals();
  }

  private renderRefusals(): void {
    replace(this.refusalCount, this.refusals.length ? String(this.refusals.length) : '');
    if (!this.refusals.length) {
      const td = el('td', { class: 'muted' }, 'Nothing refused yet.');
      td.colSpan = 4;
      replace(this.refusalBody, el('tr', {}, td));
    }
    else replace(this.refusalBody, ...this.refusals.map(refusalRow));
  }
}

void boot();
