// Which protocol a WebSocket upgrade to /$iothub/websocket asks for: IoT Hub serves MQTT (subprotocol `mqtt`) and
// AMQP (`AMQPWSB10`) on the same path, chosen by the Sec-WebSocket-Protocol header.

export type WebSocketRoute = { to: 'mqtt' } | { to: 'amqp' } | { to: 'refuse'; reason: string };

export const AMQP_WS_SUBPROTOCOL = 'AMQPWSB10';

/** No subprotocol (some MQTT clients send none) or `mqtt` is MQTT; `AMQPWSB10` alone is AMQP; anything else is refused. */
export function webSocketRoute(header: string | string[] | undefined): WebSocketRoute {
  const offered = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (offered.length === 0 || offered.includes('mqtt')) return { to: 'mqtt' };
  if (offered.includes(AMQP_WS_SUBPROTOCOL)) return { to: 'amqp' };
  const named = offered.slice(0, 4).map((p) => JSON.stringify(p.slice(0, 40))).join(', ');
  return { to: 'refuse', reason: `WebSocket subprotocol ${named} is not served here: use 'mqtt' (MQTT 3.1.1) or '${AMQP_WS_SUBPROTOCOL}' (AMQP 1.0)` };
}
