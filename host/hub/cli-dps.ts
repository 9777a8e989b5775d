// `iothub-wasm hub dps …`: the local DPS's id scope and endpoint, and its enrollments. Works with or without a hub
// running on the data folder: enrollments are a locked read-modify-write of dps-enrollments.json, which the running
// hub re-reads, so an enrollment added here is accepted by the running DPS at once.
import { resolve as resolvePath } from 'node:path';
import { runningHub } from './running.js';
import { DpsIdentity } from './dps/identity.js';
import { EnrollmentStore, deriveDeviceKey, type EnrollmentGroup, type IndividualEnrollment, type InitialTwin } from './dps/enrollments.js';

export const DPS_USAGE = `       iothub-wasm hub dps                              the DPS's id scope, endpoint and service connection string
       iothub-wasm hub dps enrollment add <registrationId> [--primary-key <k>] [--secondary-key <k>]
                                  [--x509-thumbprint <sha1|sha256> [--x509-thumbprint <secondary>]]
                                  [--device-id <id>] [--initial-twin <json>] [--disabled]
       iothub-wasm hub dps enrollment list | show <registrationId> | remove <registrationId>
       iothub-wasm hub dps group add <groupId> [--primary-key <k>] [--secondary-key <k>] [--initial-twin <json>] [--disabled]
       iothub-wasm hub dps group list | show <groupId> [--registration-id <id>] | remove <groupId>`;

export const DEFAULT_DPS_PORT = 8884;

type Values = Record<string, string | string[] | boolean | undefined>;

export class DpsUsageError extends Error {}

function initialTwinOf(v: Values): InitialTwin | undefined {
  const raw = v['initial-twin'];
  if (typeof raw !== 'string') return undefined;
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { throw new DpsUsageError(`--initial-twin is not JSON: ${raw.slice(0, 80)}`); }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DpsUsageError('--initial-twin must be a JSON object such as {"tags":{…},"properties":{"desired":{…}}}');
  return parsed as InitialTwin;
}

function describeAttestation(e: IndividualEnrollment | EnrollmentGroup): string[] {
  const a = e.attestation;
  return a.type === 'symmetricKey' ?
    [`primary key    ${a.primaryKey}`, `secondary key  ${a.secondaryKey}`] :
    [`X.509          ${a.primaryThumbprint}${a.secondaryThumbprint ? ` (secondary ${a.secondaryThumbprint})` : ''}`];
}

export async function dpsMain(v: Values, pos: string[], dataDir: string, hostName: string): Promise<number> {
  const [what, verb, id, ...extra] = pos;
  if (extra.length) throw new DpsUsageError(`unexpected argument '${extra[0]}'`);
  const json = !!v['json'];
  const identity = new DpsIdentity(dataDir);
  const running = runningHub(dataDir);
  const endpoint = running?.provisioningHost;
  const where = () => endpoint ? `the DPS of the hub running on this folder (pid ${running!.pid}, ${endpoint}) accepts it now` :
    `no hub with a DPS is running on this folder: one started with --data-dir ${dataDir} will accept it`;
  if (what === undefined) {
    const out = {
      idScope: identity.idScope,
      provisioningHost: endpoint ?? null,
      serviceConnectionString: identity.connectionString(hostName),
      caFile: resolvePath(dataDir, 'tls', 'ca.pem'),
    };
    if (json) { console.log(JSON.stringify(out, null, 2)); return 0; }
    console.log(`id scope      ${out.idScope}`);
    console.log(endpoint ? `endpoint      mqtts://${endpoint} (provisioning host ${endpoint})` :
      `endpoint      none running: start the hub (iothub-wasm hub --data-dir ${dataDir}); its DPS listens on --dps-port (default ${DEFAULT_DPS_PORT})`);
    console.log(`service       ${out.serviceConnectionString}`);
    console.log(`              (azure-iot-provisioning-service; the API is on the hub's HTTPS port)`);
    console.log(`trust         ${out.caFile}`);
    return 0;
  }
  const store = new EnrollmentStore(dataDir);
  const keys = {
    ...(typeof v['primary-key'] === 'string' ? { primaryKey: v['primary-key'] } : {}),
    ...(typeof v['secondary-key'] === 'string' ? { secondaryKey: v['secondary-key'] } : {}),
  };
  const initialTwin = initialTwinOf(v);
  const status = v['disabled'] ? { provisioningStatus: 'disabled' as const } : {};
  if (what === 'enrollment' || what === 'enrollments') {
    switch (verb) {
      case 'add': {
        if (!id) throw new DpsUsageError('dps enrollment add needs a registration id');
        const thumbprints = (v['x509-thumbprint'] ?? []) as string[];
        if (thumbprints.length > 2) throw new DpsUsageError('at most two --x509-thumbprint (primary, secondary)');
        const e = await store.addEnrollment(id, {
          ...keys, ...status, ...(initialTwin ? { initialTwin } : {}),
          ...(typeof v['device-id'] === 'string' ? { deviceId: v['device-id'] } : {}),
          ...(thumbprints[0] ? { x509Thumbprint: thumbprints[0] } : {}), ...(thumbprints[1] ? { x509SecondaryThumbprint: thumbprints[1] } : {}),
        });
        if (json) { console.log(JSON.stringify({ ...e, idScope: identity.idScope }, null, 2)); return 0; }
        console.log(`added enrollment ${e.registrationId} (${e.attestation.type === 'x509' ? 'X.509' : 'symmetric key'}${e.provisioningStatus === 'disabled' ? ', disabled' : ''}) in ${dataDir}`);
        console.log(`id scope       ${identity.idScope}`);
        for (const l of describeAttestation(e)) console.log(l);
        console.log(`  ${where()}`);
        return 0;
      }
      case 'list':
      case undefined: {
        const list = store.listEnrollments();
        if (json) { console.log(JSON.stringify(list, null, 2)); return 0; }
        if (!list.length) { console.log(`no enrollments yet (in ${dataDir}); add one with: iothub-wasm hub dps enrollment add <registrationId>`); return 0; }
        for (const e of list) {
          console.log(`${e.registrationId}  ${e.attestation.type}${e.provisioningStatus === 'disabled' ? ' (disabled)' : ''}${e.deviceId ? `  device ${e.deviceId}` : ''}`);
        }
        return 0;
      }
      case 'show': {
        if (!id) throw new DpsUsageError('dps enrollment show needs a registration id');
        const e = store.getEnrollment(id);
        if (!e) throw new DpsUsageError(`enrollment '${id}' does not exist (see: iothub-wasm hub dps enrollment list)`);
        if (json) { console.log(JSON.stringify({ ...e, idScope: identity.idScope }, null, 2)); return 0; }
        console.log(`enrollment     ${e.registrationId} (${e.provisioningStatus}, created ${e.createdDateTimeUtc})`);
        console.log(`device id      ${e.deviceId ?? e.registrationId}`);
        console.log(`id scope       ${identity.idScope}`);
        for (const l of describeAttestation(e)) console.log(l);
        if (e.initialTwin) console.log(`initial twin   ${JSON.stringify(e.initialTwin)}`);
        return 0;
      }
      case 'remove':
      case 'rm':
      case 'delete': {
        if (!id) throw new DpsUsageError('dps enrollment remove needs a registration id');
        if (!(await store.removeEnrollment(id))) throw new DpsUsageError(`enrollment '${id}' does not exist`);
        console.log(`removed enrollment ${id} (a device it provisioned stays in the hub: iothub-wasm hub device remove)`);
        return 0;
      }
      default:
        throw new DpsUsageError(`unknown enrollment command '${verb}' (add, list, show, remove)`);
    }
  }
  if (what === 'group' || what === 'groups') {
    switch (verb) {
      case 'add': {
        if (!id) throw new DpsUsageError('dps group add needs a group id');
        if (v['x509-thumbprint']) throw new DpsUsageError('the local DPS supports symmetric-key enrollment groups only');
        const g = await store.addGroup(id, { ...keys, ...status, ...(initialTwin ? { initialTwin } : {}) });
        if (json) { console.log(JSON.stringify({ ...g, idScope: identity.idScope }, null, 2)); return 0; }
        console.log(`added enrollment group ${g.enrollmentGroupId}${g.provisioningStatus === 'disabled' ? ' (disabled)' : ''} in ${dataDir}`);
        console.log(`id scope       ${identity.idScope}`);
        for (const l of describeAttestation(g)) console.log(l);
        console.log(`a device's key is base64(HMAC-SHA256(group key, registration id)):`);
        console.log(`  iothub-wasm hub dps group show ${g.enrollmentGroupId} --registration-id <id>`);
        console.log(`  ${where()}`);
        return 0;
      }
      case 'list':
      case undefined: {
        const list = store.listGroups();
        if (json) { console.log(JSON.stringify(list, null, 2)); return 0; }
        if (!list.length) { console.log(`no enrollment groups yet (in ${dataDir}); add one with: iothub-wasm hub dps group add <groupId>`); return 0; }
        for (const g of list) console.log(`${g.enrollmentGroupId}  symmetricKey${g.provisioningStatus === 'disabled' ? ' (disabled)' : ''}`);
        return 0;
      }
      case 'show': {
        if (!id) throw new DpsUsageError('dps group show needs a group id');
        const g = store.getGroup(id);
        if (!g) throw new DpsUsageError(`enrollment group '${id}' does not exist (see: iothub-wasm hub dps group list)`);
        const reg = typeof v['registration-id'] === 'string' ? v['registration-id'] : undefined;
        const deviceKey = reg ? deriveDeviceKey(g.attestation.primaryKey, reg) : undefined;
        if (json) { console.log(JSON.stringify({ ...g, idScope: identity.idScope, ...(reg ? { registrationId: reg, deviceKey } : {}) }, null, 2)); return 0; }
        console.log(`group          ${g.enrollmentGroupId} (${g.provisioningStatus}, created ${g.createdDateTimeUtc})`);
        console.log(`id scope       ${identity.idScope}`);
        for (const l of describeAttestation(g)) console.log(l);
        if (g.initialTwin) console.log(`initial twin   ${JSON.stringify(g.initialTwin)}`);
        if (reg) console.log(`device key     ${deviceKey} (registration ${reg})`);
        return 0;
      }
      case 'remove':
      case 'rm':
      case 'delete': {
        if (!id) throw new DpsUsageError('dps group remove needs a group id');
        if (!(await store.removeGroup(id))) throw new DpsUsageError(`enrollment group '${id}' does not exist`);
        console.log(`removed enrollment group ${id}`);
        return 0;
      }
      default:
        throw new DpsUsageError(`unknown group command '${verb}' (add, list, show, remove)`);
    }
  }
  throw new DpsUsageError(`unknown dps command '${what}' (enrollment, group)`);
}
