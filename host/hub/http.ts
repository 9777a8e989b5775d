// HTTP plumbing shared by the hub's HTTPS surfaces (the service REST API, the device endpoint): a bounded body
// reader that stops buffering at the limit, and the refusal that must close the connection after it.
import type { IncomingMessage } from 'node:http';
import { HubError } from './errors.js';

/** A refusal sent before the request was read to its end: the connection cannot carry another one. */
export class UnreadRequestError extends HubError {}

/** Reads the whole body, or rejects with 413 as soon as it passes `max` bytes (the rest is discarded, not kept). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const tooLarge = () => new UnreadRequestError(413, 'MessageTooLarge', `request body over ${max} bytes`);
    if (Number(req.headers['content-length']) > max) { req.resume(); reject(tooLarge()); return; }
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > max) {
        // the rest is discarded, not buffered; the connection closes once the 413 is sent
        chunks.length = 0;
        req.off('data', onData).on('data', () => {});
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

