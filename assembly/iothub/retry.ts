// Reconnect/retry timing: min(minMs·2^attempt, maxMs) plus jitter, capped at maxMs, minus the
// time the failed operation already took — the azure-sdk-for-c formula (az_iot_calculate_retry_delay), so its
// vectors apply. The core has no entropy source of its own: the caller passes a random jitter (jitterFrom turns
// a random u32 into 0..jitterMaxMs).

import { E_BAD_ARGUMENT } from "../status";

/** Delay in ms before the next attempt, or E_BAD_ARGUMENT for negative inputs. */
export function retryDelay(operationMs: i32, attempt: i32, minMs: i32, maxMs: i32, jitterMs: i32): i32 {
  if (operationMs < 0 || attempt < 0 || minMs < 0 || maxMs < 0 || jitterMs < 0) return E_BAD_ARGUMENT;
  let delay: i64 = maxMs;
  if (attempt < 31) {
    const exp = <i64>minMs << attempt;
    if (exp < delay) delay = exp;
  } else if (minMs == 0) delay = 0;
  if (<i64>maxMs - delay > <i64>jitterMs) delay += jitterMs; else delay = maxMs;
  delay -= operationMs;
  return delay > 0 ? <i32>delay : 0;
}

/** A jitter in 0..jitterMaxMs from a random 32-bit value (jitterMaxMs < 0 → 0). */
export function jitterFrom(random: u32, jitterMaxMs: i32): i32 {
  if (jitterMaxMs <= 0) return 0;
  return <i32>(random % (<u32>jitterMaxMs + 1));
}

/** 1 when a hub status is a success (< 400). */
export function statusSucceeded(status: i32): bool { return status < 400; }

/** 1 when a hub status is worth retrying: 429 (throttled) or any 5xx (azure-sdk-for-c retries 429 and 500 only). */
export function statusRetriable(status: i32): bool { return status == 429 || (status >= 500 && status <= 599); }
