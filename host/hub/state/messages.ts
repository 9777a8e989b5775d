// What the hub carries and stores, whichever protocol brought it: identities, property bags, telemetry messages,
// and the percent-encoding names and values travel in (MQTT topics, SAS resources).

/** A decoded property bag: values are strings, or null for a bare key (`k` with no `=`). */
export type PropertyBag = Record<string, string | null>;

/** Who a connection is: a device, or a module of a device. */
export interface Identity { deviceId: string; moduleId?: string }

export function identityKey(id: Identity): string {
  return id.moduleId ? `${id.deviceId}/${id.moduleId}` : id.deviceId;
}

/** Percent-decoding that never throws: malformed escapes are kept as written. */
export function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/(%[0-9a-fA-F]{2})+/g, (run) => {
      try { return decodeURIComponent(run); } catch { return run; }
    });
  }
}

/** `encodeURIComponent`, which leaves exactly `A-Za-z0-9-_.!~*'()` bare, as IoT Hub expects. */
export function encodeComponent(s: string): string {
  return encodeURIComponent(s);
}

/** A device-to-cloud message as the hub received it, before it is stored on the Event Hub-compatible endpoint. */
export interface TelemetryMessage {
  deviceId: string;
  moduleId?: string;
  body: Buffer;
  /** Application properties; null for a bare key. */
  properties: PropertyBag;
  /** `$.mid` → messageId, `$.cid` → correlationId, `$.ct` → contentType, `$.ce` → contentEncoding, … */
  systemProperties: Record<string, string>;
  topic: string;
  qos: 0 | 1;
  enqueuedTimeUtc: string;
}
