// The hub's log: one readable line per event, e.g. `12:00:01.234 devA connected (clean=0, keepalive=180s)`.
export type LogSink = (line: string) => void;

export type LogOption = boolean | LogSink | undefined;

/** Env `IOTHUB_WASM_HUB_LOG=1` turns the log on when the option does not say. */
export function makeLogger(opt: LogOption): LogSink | null {
  const env = process.env['IOTHUB_WASM_HUB_LOG'];
  const on = opt === undefined ? env !== undefined && env !== '' && env !== '0' && env !== 'false' : opt !== false;
  if (!on) return null;
  const sink: LogSink = typeof opt === 'function' ? opt : (line) => process.stderr.write(line + '\n');
  return (msg) => {
    const t = new Date();
    const ts = `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}:` +
      `${String(t.getSeconds()).padStart(2, '0')}.${String(t.getMilliseconds()).padStart(3, '0')}`;
    sink(`${ts} ${msg}`);
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
