// The dashboard's style sheet (served as /dashboard/style.css): a light, plain look with system fonts.
export const STYLE = `
:root {
  --bg: #f5f6f8; --panel: #fff; --ink: #1d2330; --muted: #677086; --line: #dfe3ea; --accent: #2458d6;
  --ok: #1d8a4e; --ok-bg: #e5f5ec; --off: #8a93a6; --off-bg: #eef0f4; --bad: #b4232f; --bad-bg: #fdecee; --warn: #9a6200;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  color-scheme: light;
}
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg); }
h1 { font-size: 20px; margin: 0 0 8px; }
h2 { font-size: 16px; margin: 0 0 12px; }
h3 { font-size: 14px; margin: 0 0 10px; text-transform: none; }
pre, code, .mono { font-family: var(--mono); font-size: 12.5px; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.pad { padding: 12px 16px; }
.nowrap { white-space: nowrap; }
.error { color: var(--bad); }
.warn { color: var(--warn); }

.bar { display: flex; align-items: center; gap: 16px; padding: 0 20px; height: 52px; background: #161b26; color: #e8ebf2; }
.bar .brand { font-weight: 700; letter-spacing: .2px; }
.bar .hub { color: #aab2c5; }
.bar .spacer { flex: 1; }
.bar .muted { color: #8d96ab; }
.tabs { display: flex; gap: 4px; margin-left: 12px; }
.tab { background: none; border: 0; color: #aab2c5; padding: 8px 12px; border-radius: 6px; font: inherit; cursor: pointer; }
.tab:hover { color: #fff; background: #232a39; }
.tab.active { color: #fff; background: #2b3446; }
.tab .count:not(:empty) { display: inline-block; min-width: 18px; padding: 0 5px; border-radius: 9px; background: var(--bad); color: #fff; font-size: 11px; text-align: center; }
.live-state { font-size: 12px; color: #aab2c5; }
.live-state::before { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%; margin-right: 6px; background: var(--off); vertical-align: 1px; }
.live-state.on::before { background: #3ddc84; }
button.ghost { background: none; border: 1px solid #3a4356; color: #d9deea; }
.bar button.ghost:hover { background: #232a39; }

button { font: inherit; border-radius: 6px; padding: 6px 14px; cursor: pointer; border: 1px solid var(--line); background: var(--panel); color: var(--ink); }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover { background: #1d49b5; }
button:disabled { opacity: .6; cursor: default; }
.card button.ghost { border-color: var(--line); color: var(--ink); }

.content { min-height: calc(100vh - 52px); }
.layout { display: grid; grid-template-columns: 260px 1fr; min-height: calc(100vh - 52px); }
.sidebar { background: var(--panel); border-right: 1px solid var(--line); padding: 16px 0; }
.sidebar h2 { padding: 0 16px; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
.device-list { list-style: none; margin: 0; padding: 0; }
.device { display: grid; grid-template-columns: 14px 1fr; grid-template-rows: auto auto; column-gap: 8px; width: 100%; text-align: left;
  border: 0; border-radius: 0; padding: 8px 16px; background: none; border-left: 3px solid transparent; }
.device:hover { background: #f2f5fb; }
.device.module { padding-left: 32px; }
.device.selected { background: #eaf0fd; border-left-color: var(--accent); }
.device .dot { grid-row: 1 / span 2; align-self: center; }
.device-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.device-meta { color: var(--muted); font-size: 12px; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; background: var(--off); }
.dot.connected { background: var(--ok); box-shadow: 0 0 0 3px var(--ok-bg); }
.dot.disabled { background: var(--bad); }

.detail { padding: 20px 24px; overflow: auto; }
.detail .title { font-size: 18px; display: flex; align-items: center; gap: 10px; }
.empty { display: grid; place-items: center; height: 60%; color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: var(--off-bg); color: var(--off); }
.badge.connected { background: var(--ok-bg); color: var(--ok); }
.badge.disabled { background: var(--bad-bg); color: var(--bad); }

.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; align-items: start; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 16px; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.field { display: block; margin: 0 0 10px; }
.field > span { display: block; font-size: 12px; color: var(--muted); margin-bottom: 4px; }
.field.inline { display: flex; align-items: center; gap: 8px; }
.field.inline > span { margin: 0; }
.field.inline input { width: 90px; }
input, textarea { width: 100%; font-family: var(--mono); font-size: 12.5px; padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px; background: #fbfcfd; color: var(--ink); }
textarea { resize: vertical; }
input:focus, textarea:focus { outline: 2px solid #c9d7fb; border-color: var(--accent); }
.row { display: flex; gap: 8px; margin: 4px 0 8px; }
.status { margin: 6px 0 0; min-height: 1.4em; font-size: 13px; }
.status.ok { color: var(--ok); }
.status.error { color: var(--bad); }
.status.warn { color: var(--warn); }
pre.json { margin: 0; padding: 10px; background: #f7f8fa; border: 1px solid var(--line); border-radius: 6px; overflow: auto; max-height: 260px; }
.result pre.json { margin-top: 6px; }

.messages { list-style: none; margin: 0; padding: 0; max-height: 420px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
.msg { padding: 8px 12px; border-bottom: 1px solid var(--line); }
.msg:last-child { border-bottom: 0; }
.msg:first-child { animation: arrive 1.2s ease-out; }
@keyframes arrive { from { background: #fff8d6; } to { background: transparent; } }
.msg-head { display: flex; gap: 12px; font-size: 12px; margin-bottom: 4px; }
.msg-head time { font-family: var(--mono); font-weight: 600; }
.msg-body { margin: 0; white-space: pre-wrap; word-break: break-word; max-height: 200px; overflow: auto; }
.chips { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; }
.chip { font-family: var(--mono); font-size: 11.5px; padding: 1px 7px; border-radius: 4px; background: #eaf0fd; color: #1d3f94; }
.chip.sys { background: var(--off-bg); color: var(--muted); }
.chip b { font-weight: 600; }

.refusals { padding: 20px 24px; }
.table { width: 100%; border-collapse: collapse; }
.table th { text-align: left; font-size: 12px; color: var(--muted); font-weight: 600; border-bottom: 1px solid var(--line); padding: 6px 8px; }
.table td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; word-break: break-word; }
.tag { font-size: 11px; padding: 1px 6px; border-radius: 4px; background: var(--off-bg); color: var(--muted); font-weight: 600; }
.tag.mqtt, .tag.dps { background: var(--bad-bg); color: var(--bad); }
.tag.dashboard { background: #fff3dc; color: var(--warn); }

.center { display: grid; place-items: center; min-height: 100vh; padding: 24px; }
.login { width: min(560px, 100%); }
.login p { color: var(--muted); }
.login p.error { color: var(--bad); }
`;
