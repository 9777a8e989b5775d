// Status codes of the iothub area (see assembly/status.ts for the ranges).

export function iothubStatusName(code: i32): string | null {
  switch (code) {
  }
  return null;
}
