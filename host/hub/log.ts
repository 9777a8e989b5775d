// The hub's log: one readable line per event, e.g. `12:00:01.234 devA connected (clean=0, keepalive=180s)`.
export type LogSink = (line: string) => void;

export type LogOption = boolean | LogSink | undefined;

/**
 * Lines per second the hub writes to stderr; past it, the rest of that second is counted and said in one line.
 * A flood of hostile connections (thousands refused per second) must not become a flood of log. A sink the
 * program passes in gets every line: it decides itself what to keep.
 */
export const STDERR_LINES_PER_SECOND = 200;

/** Env `IOTHUB_WASM_HUB_LOG=1` turns the log on when the option does not say. */
export function makeLogger(opt: LogOption, now: () => number = Date.now): LogSink | null {
  const env = process.env['IOTHUB_WASM_HUB_LOG'];
  const on = opt === undefined ? env !== undefined && env !== '' && env !== '0' && env !== 'false' : opt !== false;
  if (!on) return null;
  const stamp = (msg: string) => {
    const t = new Date(now());
    const ts = `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}:` +
      `${String(t.getSeconds()).padStart(2, '0')}.${String(t.getMilliseconds()).padStart(3, '0')}`;
    return `${ts} ${msg}`;
  };
  if (typeof opt === 'function') return (msg) => opt(stamp(msg));
  return rateLimited((line) => process.stderr.write(line + '\n'), STDERR_LINES_PER_SECOND, now, stamp);
}

/** At most `perSecond` lines a second reach `sink`; the first line of a later second says how many were not shown. */
export function rateLimited(sink: LogSink, perSecond: number, now: () => number, stamp: (msg: string) => string = (m) => m): LogSink {
  let second = -1, shown = 0, dropped = 0;
  return (msg) => {
    const s = Math.floor(now() / 1000);
    if (s !== second) {
      if (dropped) sink(stamp(`(${dropped} log line${dropped === 1 ? '' : 's'} not shown: more than ${perSecond} a second)`));
      second = s; shown = 0; dropped = 0;
    }
    if (shown++ < perSecond) sink(stamp(msg));
    else dropped++;
  };
}

/** Shortens a payload for the log. */
export function preview(body: Buffer, max = 80): string {
  const text = body.toString('utf8');
  const printable = /^[\x20-\x7e\u00a0-\uffff\n\r\t]*$/.test(text);
  if (!printable) return `<${body.length} bytes binary>`;
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? JSON.stringify(one.slice(0, max)) + `… (${body.length} bytes)` : JSON.stringify(one);
}
