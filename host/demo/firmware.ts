// The demo device's behaviour: a thermostat that reports its twin, applies desired properties, answers
// direct methods and receives cloud-to-device messages. Used by `npm start` (on the local hub) and by
// `iothub-wasm run` (on any IoT Hub).
import type { DeviceClient, C2DMessage } from '../device/client.js';

export interface FirmwareLog { (line: string): void }

export class ThermostatFirmware {
  targetTemperature = 21;
  temperature = 20;
  readonly received: C2DMessage[] = [];
  readonly methodCalls: string[] = [];
  readonly desiredVersions: number[] = [];
  /** The reported-properties update answering the latest desired patch. */
  lastReport: Promise<unknown> = Promise.resolve();

  constructor(private readonly client: DeviceClient, private readonly log: FirmwareLog) {
    client.onDesiredProperties((patch, version) => {
      this.desiredVersions.push(version);
      if (typeof patch.targetTemperature === 'number') this.targetTemperature = patch.targetTemperature;
      this.log(`desired properties v${version}: ${JSON.stringify(patch)}`);
      this.lastReport = client.updateReportedProperties({ targetTemperature: { value: this.targetTemperature, ac: 200, av: version } })
        .then((v) => this.log(`reported targetTemperature ${this.targetTemperature} at $version ${v}`), (e: Error) => this.log(`reporting failed: ${e.message}`));
    });
    client.onMethod('getMaxMinReport', (payload) => {
      this.methodCalls.push('getMaxMinReport');
      return { status: 200, payload: { since: payload, maxTemp: 23.4, minTemp: 19.8, avgTemp: 21.2 } };
    });
    client.onMethod('reboot', (payload) => {
      this.methodCalls.push('reboot');
      return { status: 200, payload: { rebooting: true, delay: (payload as { delay?: number } | null)?.delay ?? 0 } };
    });
    client.onC2D((msg) => {
      this.received.push(msg);
      this.log(`cloud-to-device message ${msg.messageId ?? ''}: ${msg.body.toString('utf8')} ${JSON.stringify(msg.properties)}`);
    });
  }

  /** One reading, drifting towards the target. */
  reading(seq: number): { temperature: number; seq: number } {
    this.temperature += (this.targetTemperature - this.temperature) * 0.1 + (Math.sin(seq) * 0.05);
    return { temperature: Math.round(this.temperature * 100) / 100, seq };
  }

  async reportStartup(): Promise<number> {
    const twin = await this.client.getTwin();
    const desired = twin.desired as { targetTemperature?: number };
    if (typeof desired.targetTemperature === 'number') this.targetTemperature = desired.targetTemperature;
    return this.client.updateReportedProperties({ serialNumber: 'IOTHUB-WASM-0001', firmware: 'iothub-wasm demo 0.1.0', targetTemperature: { value: this.targetTemperature } });
  }

  /** Sends `count` readings with up to `inFlight` awaiting their PUBACK; calls progress after each ack. */
  async sendReadings(count: number, inFlight: number, progress: (done: number) => void): Promise<void> {
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < count) {
        const seq = next++;
        await this.client.sendTelemetry(this.reading(seq), {
          messageId: `reading-${seq}`, contentType: 'application/json', contentEncoding: 'utf-8', properties: { sensor: 'thermostat', unit: 'celsius' },
        });
        progress(++done);
      }
    };
    // The outbox bounds what may be in flight (8 on the MCU profile): stay within it rather than be refused.
    await Promise.all(Array.from({ length: Math.min(inFlight, count, this.client.maxQueued) }, worker));
  }
}
