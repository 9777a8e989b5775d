// Numbers of the device client ABI, mirrored from assembly/client/{events,config,machine}.ts.
export const EV = {
  NONE: 0, CONNECTED: 1, DISCONNECTED: 2, TELEMETRY_ACKED: 3, TELEMETRY_FAILED: 4, C2D: 5, METHOD: 6,
  TWIN_RESPONSE: 7, DESIRED: 8, ERROR: 9,
} as const;
/** Word offsets in the event record. */
export const EVF = { type: 0, status: 1, token: 2, version: 3, aPtr: 4, aLen: 5, bPtr: 6, bLen: 7, cPtr: 8, cLen: 9, extra: 10 } as const;
export const OPT = {
  KEEPALIVE_S: 1, TOKEN_LIFETIME_S: 2, CONNECT_TIMEOUT_MS: 3, REQUEST_TIMEOUT_MS: 4, RETRY_MIN_MS: 5, RETRY_MAX_MS: 6,
  RETRY_JITTER_MS: 7, STABLE_MS: 8, FEATURES: 9, PING_TIMEOUT_MS: 10,
} as const;
export const WANT = { NOTHING: 0, OPEN: 1, CLOSE: 2 } as const;
export const STATE_NAMES = ['idle', 'opening', 'connecting', 'subscribing', 'ready', 'closing', 'backoff', 'stopped'] as const;
/** System properties by index (SYS_* in assembly/iothub/property-bag.ts) and their DeviceClient names. */
export const SYSTEM_PROPERTIES = ['messageId', 'correlationId', 'userId', 'to', 'contentType', 'contentEncoding', 'interfaceId', 'expiryTimeUtc', 'componentName'] as const;
