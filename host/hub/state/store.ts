// The data folder's files: JSON documents written atomically and durably (temp file, fsync, rename, fsync of the
// folder), private (0600 in a 0700 folder), and, for documents two processes share (the registry: the hub and
// `iothub-wasm hub device …`), changed only by a read-modify-write under an exclusive lock file.
import {
  chmodSync, closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync,
  writeSync, type Stats,
} from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Mode of every file the hub writes into its data folder, and of the folder itself. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/** How long a writer waits for another process's lock before giving up with an error naming the holder. */
export const LOCK_WAIT_MS = 5000;

/** Creates the folder private (0700), or makes an existing one private. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  try {
    if ((statSync(dir).mode & 0o777) !== DIR_MODE) chmodSync(dir, DIR_MODE);
  } catch { /* a folder we do not own keeps its mode; its files are still 0600 */ }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch { /* not every platform can fsync a folder */ } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

async function fsyncDirAsync(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try { await h.sync(); } finally { await h.close(); }
  } catch { /* not every platform can fsync a folder */ }
}

/** The temp file a process writes before renaming it over `path`; the pid says whose it is (see removeOrphanedTempFiles). */
function tempPath(path: string): string {
  return `${path}.${process.pid}.tmp`;
}

/** Writes `data` to `path` atomically and durably, synchronously: the file is whole and on disk when this returns. */
export function writeFileDurableSync(path: string, data: string | Buffer, mode = FILE_MODE): void {
  ensurePrivateDir(dirname(path));
  const tmp = tempPath(path);
  const fd = openSync(tmp, 'w', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** The same, without blocking the event loop. */
export async function writeFileDurable(path: string, data: string | Buffer, mode = FILE_MODE): Promise<void> {
  ensurePrivateDir(dirname(path));
  const tmp = tempPath(path);
  const h = await open(tmp, 'w', mode);
  try {
    await h.writeFile(data);
    await h.sync();
    await h.chmod(mode);
  } finally {
    await h.close();
  }
  await rename(tmp, path);
  await fsyncDirAsync(dirname(path));
}

/** Whether a process with this pid exists (one we may not signal counts). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `*.tmp` files left by killed processes anywhere under `dir`: `name.<pid>.tmp` when that pid is no longer
 * running (or is this process, which has no write in flight when it starts), and plain `name.tmp` (written only by
 * the hub, which holds the folder's hub lock when it calls this). Returns the paths removed.
 */
export function removeOrphanedTempFiles(dir: string): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return removed;
  }
  for (const rel of entries) {
    if (!rel.endsWith('.tmp')) continue;
    const m = /\.(\d+)\.tmp$/.exec(basename(rel));
    if (m && Number(m[1]) !== process.pid && pidAlive(Number(m[1]))) continue;
    const p = join(dir, rel);
    try {
      if (!statSync(p).isFile()) continue;
      unlinkSync(p);
      removed.push(p);
    } catch { /* gone already */ }
  }
  return removed;
}

export class LockError extends Error {
  constructor(message: string, readonly holderPid: number | undefined) { super(message); }
}

/** What one read of a lock file saw. */
interface LockFileState { ino: number; mtimeMs: number; holder: number | undefined }

/** A lock file holding its owner's pid, created with O_EXCL. */
export class FileLock {
  private held = false;
  constructor(readonly path: string) {}

  /** Takes the lock if it is free or its holder is dead; otherwise returns the holder's pid (or undefined if unreadable). */
  tryAcquire(): { ok: true } | { ok: false; holder: number | undefined } {
    let seen: LockFileState | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        ensurePrivateDir(dirname(this.path));
        const fd = openSync(this.path, 'wx', FILE_MODE);
        try { writeSync(fd, `${process.pid}\n`); } finally { closeSync(fd); }
        this.held = true;
        FileLock.ownedHere.add(this.path);
        return { ok: true };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      // a lock released since our create failed is simply free now: try again (never "stale")
      seen = this.inspect();
      if (!seen) continue;
      if (!this.isStale(seen)) return { ok: false, holder: seen.holder };
      this.removeStale(seen);
    }
    return { ok: false, holder: seen?.holder };
  }

  /** The lock file as one read: which file (inode), whose pid, when written; null when there is none. */
  private inspect(): LockFileState | null {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      const st = fstatSync(fd);
      const n = Number(readFileSync(fd, 'utf8').trim());
      return { ino: st.ino, mtimeMs: st.mtimeMs, holder: Number.isInteger(n) && n > 0 ? n : undefined };
    } finally {
      closeSync(fd);
    }
  }

  /** A lock whose holder died; or, with no readable pid, one older than a holder needs to write its pid. */
  private isStale(lock: LockFileState): boolean {
    if (lock.holder === undefined) return Date.now() - lock.mtimeMs > 1000;
    if (lock.holder === process.pid) return !FileLock.ownedHere.has(this.path);   // left by an earlier process with our pid
    return !pidAlive(lock.holder);
  }

  /**
   * Removes a stale lock. Two processes may both find it stale; only the one holding `{path}.recover` removes it,
   * and only if it is still the same file (inode) and still stale, so nobody removes a lock another has just taken.
   */
  private removeStale(stale: LockFileState): void {
    const recover = `${this.path}.recover`;
    try {
      closeSync(openSync(recover, 'wx', FILE_MODE));
    } catch {
      // someone else is recovering; a recovery lock left by a process killed mid-recovery is removed when old
      try { if (Date.now() - statSync(recover).mtimeMs > 1000) unlinkSync(recover); } catch { /* gone */ }
      return;
    }
    try {
      const now = this.inspect();
      if (now && now.ino === stale.ino && this.isStale(now)) unlinkSync(this.path);
    } catch { /* gone already */ } finally {
      try { unlinkSync(recover); } catch { /* gone */ }
    }
  }

  /** Lock paths this process holds (a second holder in the same process is refused like one in another process). */
  private static readonly ownedHere = new Set<string>();

  acquireSync(waitMs = LOCK_WAIT_MS, what = 'the lock'): void {
    const deadline = Date.now() + waitMs;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      const r = this.tryAcquire();
      if (r.ok) return;
      if (Date.now() >= deadline) throw this.timeout(what, r.holder);
      Atomics.wait(sleeper, 0, 0, delay);
    }
  }

  async acquire(waitMs = LOCK_WAIT_MS, what = 'the lock'): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      const r = this.tryAcquire();
      if (r.ok) return;
      if (Date.now() >= deadline) throw this.timeout(what, r.holder);
      await new Promise((res) => setTimeout(res, delay));
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    FileLock.ownedHere.delete(this.path);
    try {
      if (this.holder() === process.pid) unlinkSync(this.path);
    } catch { /* already gone */ }
  }

  holder(): number | undefined {
    try {
      const n = Number(readFileSync(this.path, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  private timeout(what: string, holder: number | undefined): LockError {
    return new LockError(`${what} is locked by ${holder ? `process ${holder}` : 'another process'} (${this.path}); ` +
      'try again, or delete the lock file if that process is gone', holder);
  }
}

/** What identifies one version of a file: a rename gives a new inode, a rewrite a new mtime or size. */
function stamp(st: Stats): string {
  return `${st.ino}:${st.mtimeMs}:${st.size}`;
}

export class JsonFile<T> {
  private pending: Promise<void> | null = null;
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();
  private readonly lock: FileLock | null;

  /** Version of the file as last read or written by us. */
  private seen = '';
  /** How long update() waits for another process's lock. */
  lockWaitMs = LOCK_WAIT_MS;

  constructor(readonly path: string | null, private readonly snapshot: () => T) {
    this.lock = path ? new FileLock(`${path}.lock`) : null;
  }

  /** True when another process changed the file since we last read or wrote it. */
  changedOnDisk(): boolean {
    if (!this.path || this.pending || this.dirty) return false;
    let now = '';
    try { now = stamp(statSync(this.path)); } catch { /* missing */ }
    return now !== this.seen;
  }

  private noteVersion(): void {
    try { this.seen = this.path ? stamp(statSync(this.path)) : ''; } catch { this.seen = ''; }
  }

  /** Reads the file, or returns undefined when there is none (or no path). A corrupt file is an error. */
  load(): T | undefined {
    if (!this.path) return undefined;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') { this.seen = ''; return undefined; }
      throw e;
    }
    this.noteVersion();
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new Error(`${this.path} is not valid JSON (${(e as Error).message}); fix or delete it`);
    }
  }

  /**
   * A read-modify-write another process cannot interleave with: under `{path}.lock`, re-reads the file (undefined
   * when there is none), lets `change` apply itself to what it read (throw to write nothing), writes the snapshot
   * durably. Resolves with what `change` returned once the new file is on disk.
   */
  async update<R>(change: (onDisk: T | undefined) => R, what = this.path ?? 'the file'): Promise<R> {
    await this.flush();
    if (!this.lock) return change(undefined);
    await this.lock.acquire(this.lockWaitMs, what);
    try {
      return this.updateLocked(change);
    } finally {
      this.lock.release();
    }
  }

  /** update(), synchronously (for constructors that run once at start). */
  updateSync<R>(change: (onDisk: T | undefined) => R, what = this.path ?? 'the file'): R {
    if (!this.lock) return change(undefined);
    this.lock.acquireSync(this.lockWaitMs, what);
    try {
      return this.updateLocked(change);
    } finally {
      this.lock.release();
    }
  }

  private updateLocked<R>(change: (onDisk: T | undefined) => R): R {
    const r = change(this.load());
    writeFileDurableSync(this.path!, JSON.stringify(this.snapshot(), null, 2) + '\n');
    this.dirty = false;
    this.noteVersion();
    return r;
  }

  /** Schedules a durable write of the current snapshot; calls in the same tick share one write. */
  save(): Promise<void> {
    if (!this.path) return Promise.resolve();
    this.dirty = true;
    if (!this.pending) {
      this.pending = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          this.pending = null;
          this.writing = this.writing.then(() => this.write()).then(resolve, reject);
        });
      });
    }
    return this.pending;
  }

  /** Writes now, synchronously (used at shutdown). */
  saveSync(): void {
    if (!this.path || !this.dirty) return;
    writeFileDurableSync(this.path, JSON.stringify(this.snapshot(), null, 2) + '\n');
    this.dirty = false;
    this.noteVersion();
  }

  async flush(): Promise<void> {
    if (this.pending) await this.pending;
    await this.writing;
  }

  private async write(): Promise<void> {
    if (!this.path || !this.dirty) return;
    this.dirty = false;
    await writeFileDurable(this.path, JSON.stringify(this.snapshot(), null, 2) + '\n');
    this.noteVersion();
  }
}

/** Makes an existing file private (files written before the hub wrote them 0600). */
export function makePrivate(path: string): void {
  try {
    if ((statSync(path).mode & 0o777) !== FILE_MODE) chmodSync(path, FILE_MODE);
  } catch { /* missing, or not ours */ }
}

