// The hub's log as a stream of events for tests: `sink` is handed to LocalHub's `log` option, `next(re)` resolves with
// the first line after the call that matches (a bounded wait for something the hub did, not a timing).
export class LogWatch {
  private waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  readonly lines: string[] = [];

  readonly sink = (line: string): void => {
    if (process.env['HUB_TEST_LOG']) process.stderr.write(line + '\n');
    this.lines.push(line);
    if (this.lines.length > 2000) this.lines.splice(0, 1000);
    this.waiters = this.waiters.filter((w) => { if (!w.re.test(line)) return true; w.resolve(line); return false; });
  };

  next(re: RegExp, ms = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no hub log line matching ${re} within ${ms} ms`));
      }, ms);
      const w = { re, resolve: (line: string) => { clearTimeout(t); resolve(line); } };
      this.waiters.push(w);
    });
  }
}
