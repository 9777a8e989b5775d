// A JSON document kept in a file: loaded once, written atomically (temp file + rename), writes coalesced.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export class JsonFile<T> {
  private pending: Promise<void> | null = null;
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();

  /** mtime of the file as last read or written by us. */
  private seenMtime = 0;

  constructor(readonly path: string | null, private readonly snapshot: () => T) {}

  /** True when another process changed the file since we last read or wrote it. */
  changedOnDisk(): boolean {
    if (!this.path || this.pending || this.dirty) return false;
    try { return statSync(this.path).mtimeMs !== this.seenMtime; } catch { return false; }
  }

  private noteMtime(): void {
    try { this.seenMtime = this.path ? statSync(this.path).mtimeMs : 0; } catch { this.seenMtime = 0; }
  }

  /** Reads the file, or returns undefined when there is none (or no path). A corrupt file is an error. */
  load(): T | undefined {
    if (!this.path) return undefined;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    this.noteMtime();
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new Error(`${this.path} is not valid JSON (${(e as Error).message}); fix or delete it`);
    }
  }

  /** Schedules a write of the current snapshot; calls in the same tick share one write. */
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
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.snapshot(), null, 2) + '\n');
    renameSync(tmp, this.path);
    this.dirty = false;
    this.noteMtime();
  }

  async flush(): Promise<void> {
    if (this.pending) await this.pending;
    await this.writing;
  }

  private async write(): Promise<void> {
    if (!this.path || !this.dirty) return;
    this.dirty = false;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(this.snapshot(), null, 2) + '\n');
    await rename(tmp, this.path);
    this.noteMtime();
  }
}
