// Status codes of the MQTT codec (-10 .. -99). Filled in by the codec.

export function mqttStatusName(code: i32): string | null {
  switch (code) {
  }
  return null;
}
