// Status codes of the client area (see assembly/status.ts for the ranges).

export function clientStatusName(code: i32): string | null {
  switch (code) {
  }
  return null;
}
