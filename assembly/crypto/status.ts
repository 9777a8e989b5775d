// Status codes of the crypto area (see assembly/status.ts for the ranges).

export function cryptoStatusName(code: i32): string | null {
  switch (code) {
  }
  return null;
}
