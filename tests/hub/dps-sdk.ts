// Microsoft's provisioning device SDK (azure-iot-provisioning-device + azure-iot-provisioning-device-mqtt, with the
// symmetric-key and X.509 security clients), unchanged but for host, port and trust, against a local DPS.
// Host and port: the SDK's provisioningHost goes into `mqtts://{provisioningHost}`, so `localhost:{port}` reaches
// any port. Trust: the provisioning transport has no public CA option (its setTransportOptions takes only
// pollingInterval); its MQTT layer (azure-iot-mqtt-base's MqttBase) has setOptions({ ca }), which the device SDK's
// own setOptions uses, so the CA is handed there. NODE_EXTRA_CA_CERTS in a child process would do the same.
import provisioning from 'azure-iot-provisioning-device';
import provisioningMqtt from 'azure-iot-provisioning-device-mqtt';
import symmetric from 'azure-iot-security-symmetric-key';
import x509 from 'azure-iot-security-x509';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import type { LocalHub } from '../../host/hub/index.js';

const { ProvisioningDeviceClient } = provisioning;
const { Mqtt: ProvisioningMqtt } = provisioningMqtt;
const { SymmetricKeySecurityClient } = symmetric;
const { X509Security } = x509;

export interface SdkRegistration {
  registrationId: string;
  assignedHub: string;
  deviceId: string;
  status?: string;
  substatus?: string;
  createdDateTimeUtc?: string;
  lastUpdatedDateTimeUtc?: string;
  etag?: string;
  payload?: unknown;
}

export type Credential = { symmetricKey: string } | { cert: string; key: string };

/** The SDK's provisioning transport, trusting the hub's CA. */
function transport(ca: string): InstanceType<typeof ProvisioningMqtt> {
  const t = new ProvisioningMqtt();
  (t as unknown as { _mqttBase: { setOptions(o: { ca: string }): void } })._mqttBase.setOptions({ ca });
  return t;
}

/** Registers with the SDK; resolves with the SDK's registration result, rejects with the SDK's error. */
export async function sdkRegister(hub: LocalHub, registrationId: string, cred: Credential, payload?: unknown): Promise<SdkRegistration> {
  const dps = hub.dps!;
  // (the security packages carry their own copy of azure-iot-common's types, hence the cast)
  const security = ('symmetricKey' in cred ? new SymmetricKeySecurityClient(registrationId, cred.symmetricKey) :
    new X509Security(registrationId, { cert: cred.cert, key: cred.key })) as unknown as Parameters<typeof ProvisioningDeviceClient.create>[3];
  const client = ProvisioningDeviceClient.create(dps.provisioningHost, dps.idScope, transport(hub.ca), security);
  if (payload !== undefined) client.setProvisioningPayload(payload as Record<string, unknown>);
  return await client.register() as unknown as SdkRegistration;
}

/** azure-iot-device on the assigned hub, with the key (or certificate) it registered with. */
export async function sdkConnect(hub: LocalHub, r: SdkRegistration, cred: Credential): Promise<InstanceType<typeof device.Client>> {
  // the assigned hub as the device is told it (`localhost:{port}` when the hub is not on 8883)
  const cs = `HostName=${r.assignedHub};DeviceId=${r.deviceId};` + ('symmetricKey' in cred ? `SharedAccessKey=${cred.symmetricKey}` : 'x509=true');
  const client = device.Client.fromConnectionString(cs, deviceMqtt.Mqtt);
  await client.setOptions({ ca: hub.ca, ...('cert' in cred ? { cert: cred.cert, key: cred.key } : {}) });
  await client.open();
  return client;
}
