// `POST /devices`: IoT Hub's bulk registry operation. Up to 100 devices, each `{ id, importMode, … }`, each done or
// refused on its own; the answer says which failed and why (BulkRegistryOperationResult).
import { HubError } from '../errors.js';
import { validateId, type Registry } from '../state/registry.js';
import { isObject, own } from '../state/json.js';
import { identityEtag, readIdentityBody } from './identities.js';

export const BULK_MAX_DEVICES = 100;

interface BulkError { deviceId: string; errorCode: string; errorStatus: string }
export interface BulkResult { isSuccessful: boolean; errors: BulkError[]; warnings: never[] }

/** Import modes by their lower-case name (IoT Hub accepts `create`, `Update`, `UpdateIfMatchETag`, `Delete`, …). */
const MODES = ['create', 'update', 'updateifmatchetag', 'delete', 'deleteifmatchetag'] as const;
type Mode = typeof MODES[number];

export async function bulkImport(registry: Registry, list: unknown[]): Promise<BulkResult> {
  const errors: BulkError[] = [];
  for (const [i, item] of list.entries()) {
    const deviceId = isObject(item) && typeof own(item, 'id') === 'string' ? own(item, 'id') as string : `#${i}`;
    try {
      if (!isObject(item)) throw new HubError(400, 'ArgumentInvalid', `entry ${i} is not a JSON object`);
      validateId('device', deviceId);
      const modeIn = own(item, 'importMode');
      const mode = typeof modeIn === 'string' ? modeIn.toLowerCase() as Mode : undefined;
      if (!mode || !MODES.includes(mode)) throw new HubError(400, 'ArgumentInvalid', `importMode must be one of create, Update, UpdateIfMatchETag, Delete, DeleteIfMatchETag`);
      const etagIn = own(item, 'eTag') ?? own(item, 'etag');
      const checkEtag = () => {
        const rec = registry.record(deviceId);
        if (!rec) throw new HubError(404, 'DeviceNotFound', `device '${deviceId}' is not registered`);
        if (etagIn !== identityEtag(rec)) throw new HubError(412, 'PreconditionFailed', `etag ${JSON.stringify(etagIn)} is stale`);
      };
      const { add, changes } = readIdentityBody(item);
      if (mode === 'create') await registry.addDevice(deviceId, add);
      else if (mode === 'update' || mode === 'updateifmatchetag') {
        if (mode === 'updateifmatchetag') checkEtag();
        if (registry.record(deviceId)) await registry.update(deviceId, undefined, changes);
        else await registry.addDevice(deviceId, add);
      } else {
        if (mode === 'deleteifmatchetag') checkEtag();
        if (!(await registry.remove(deviceId))) throw new HubError(404, 'DeviceNotFound', `device '${deviceId}' is not registered`);
      }
    } catch (e) {
      if (!(e instanceof HubError)) throw e;
      errors.push({ deviceId, errorCode: e.code, errorStatus: e.message });
    }
  }
  return { isSuccessful: errors.length === 0, errors, warnings: [] };
}
