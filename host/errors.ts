// Every failure the package reports is an Error with a stable string `code`. Errors that come from the core
// also carry the core's numeric `status`; the code is the core's own name for it (see assembly/status.ts).

export class IotHubWasmError extends Error {
  readonly code: string;
  readonly status?: number;
  constructor(code: string, message: string, status?: number) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}
