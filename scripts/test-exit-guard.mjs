// Preloaded into every test file (node --import): once the file's tests are done, a handle a test leaked (a
// socket, a timer) may keep the process alive for two more seconds, not forever. When that happens the guard
// says which handles were left, so the leak is visible rather than hidden. The exit code stays the one the test
// harness set, so failures still fail.
import { after } from 'node:test';

after(() => {
  setTimeout(() => {
    const handles = process._getActiveHandles?.() ?? [];
    const names = handles.map((h) => {
      const n = h?.constructor?.name ?? typeof h;
      return h?.remotePort ? `${n} to port ${h.remotePort}` : h?.address?.()?.port ? `${n} on port ${h.address().port}` : n;
    });
    process.stderr.write(`test-exit-guard: ${process.argv[1] ?? 'a test file'} finished but ${names.length} handle(s) kept it alive: ${names.join(', ')}\n`);
    process.exit();
  }, 2000).unref();
});
