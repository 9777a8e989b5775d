// Every entry point of the core returns a status: 0 or a positive value (a length, a count, a state) on
// success, a negative code with a stable name on failure. Codes are grouped by area so that a number alone
// says where it came from:
//     0 .. -9      general            -10 .. -99    mqtt codec
//  -100 .. -149    crypto             -150 .. -299  iothub protocol layer
//  -300 .. -399    device client      -400 .. -499  provisioning (DPS)
// Names are static strings in the module (no allocation), read by hosts through `abi_status_name`.

import { mqttStatusName } from "./mqtt/status";
import { cryptoStatusName } from "./crypto/status";
import { iothubStatusName } from "./iothub/status";
import { clientStatusName } from "./client/status";
import { dpsStatusName } from "./dps/status";

/** Success. */
export const OK: i32 = 0;
/** An argument (pointer, length, option) is outside what the entry point accepts. */
export const E_BAD_ARGUMENT: i32 = -1;
/** The output does not fit the buffer the caller gave. */
export const E_BUFFER_TOO_SMALL: i32 = -2;
/** The entry point was called in a state where it cannot run. */
export const E_BAD_STATE: i32 = -3;

function generalStatusName(code: i32): string | null {
  switch (code) {
    case OK: return "OK";
    case E_BAD_ARGUMENT: return "BAD_ARGUMENT";
    case E_BUFFER_TOO_SMALL: return "BUFFER_TOO_SMALL";
    case E_BAD_STATE: return "BAD_STATE";
  }
  return null;
}

/** The name of a status code as a static string, or "UNKNOWN_STATUS". */
export function statusName(code: i32): string {
  let name: string | null = null;
  if (code > -10) name = generalStatusName(code);
  else if (code > -100) name = mqttStatusName(code);
  else if (code > -150) name = cryptoStatusName(code);
  else if (code > -300) name = iothubStatusName(code);
  else if (code > -400) name = clientStatusName(code);
  else if (code > -500) name = dpsStatusName(code);
  return name !== null ? name : "UNKNOWN_STATUS";
}
