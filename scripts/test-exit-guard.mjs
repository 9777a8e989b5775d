// Preloaded into every test file (node --import): once the file's tests are done, a handle a test leaked (a
// socket, a timer) may keep the process alive for two more seconds, not forever. The exit code stays the one the
// test harness set, so failures still fail.
import { after } from 'node:test';

after(() => {
  setTimeout(() => process.exit(), 2000).unref();
});
