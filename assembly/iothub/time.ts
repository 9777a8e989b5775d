// Unix time as ISO 8601 UTC text, for IoT Hub's creation-time property (`$.ctime`, iothub-creation-time-utc).
import { E_BUFFER_TOO_SMALL } from "../status";

/** The length of `YYYY-MM-DDTHH:MM:SS.mmmZ`. */
export const ISO_TIME_LEN: i32 = 24;

// @ts-ignore: decorator
@inline function digits(out: usize, v: u32, n: i32): void {
  for (let i = n - 1; i >= 0; i--) { store<u8>(out + <usize>i, <u8>(48 + v % 10)); v /= 10; }
}

/**
 * Writes Unix milliseconds `ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, days from the civil calendar
 * by Howard Hinnant's algorithm); returns ISO_TIME_LEN, or E_BUFFER_TOO_SMALL with nothing written.
 */
export function isoTime(ms: u64, out: usize, cap: i32): i32 {
  if (cap < ISO_TIME_LEN) return E_BUFFER_TOO_SMALL;
  const z = <u32>(ms / 86400000) + 719468; // days since 0000-03-01 (u32 Unix seconds end in 2106)
  const inDay = <u32>(ms % 86400000);
  const era = z / 146097;
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const day = doy - (153 * mp + 2) / 5 + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  digits(out, year, 4);
  store<u8>(out + 4, 45); // -
  digits(out + 5, month, 2);
  store<u8>(out + 7, 45);
  digits(out + 8, day, 2);
  store<u8>(out + 10, 84); // T
  digits(out + 11, inDay / 3600000, 2);
  store<u8>(out + 13, 58); // :
  digits(out + 14, inDay / 60000 % 60, 2);
  store<u8>(out + 16, 58);
  digits(out + 17, inDay / 1000 % 60, 2);
  store<u8>(out + 19, 46); // .
  digits(out + 20, inDay % 1000, 3);
  store<u8>(out + 23, 90); // Z
  return ISO_TIME_LEN;
}
