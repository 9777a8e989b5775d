// Microsoft's SDKs dial port 443 for HTTPS and AMQP/MQTT over WebSocket whatever the connection string says (their
// HostName cannot carry a port there). A hub that binds 443 needs nothing; the test hubs listen on random ports, so
// this agent, handed to an SDK's HTTP or WebSocket layer, connects to the hub's port instead.
import { Agent, type AgentOptions } from 'node:https';
import type { Duplex } from 'node:stream';

export class PortAgent extends Agent {
  constructor(private readonly port: number, o: AgentOptions = {}) { super({ keepAlive: false, ...o }); }
  override createConnection(options: Record<string, unknown>, cb?: (err: Error | null, s: Duplex) => void): Duplex {
    return (Agent.prototype as unknown as { createConnection: (o: unknown, c?: unknown) => Duplex }).createConnection.call(this, { ...options, port: this.port }, cb);
  }
}
