// `iothub-wasm hub twin show | update`: a device's twin read and patched as a back end does (REST GET/PATCH
// /twins/{id}, like `az iot hub device-twin show | update`); a desired patch reaches the connected device at once.
import { dataDirOf, jsonArg, parseCommand, rest, runCommand, serviceTarget, ServiceUsageError } from './cli-service.js';

export const TWIN_USAGE = 'usage: iothub-wasm hub twin show <deviceId> [--module <mod>] [--data-dir <dir>]\n' +
  '       iothub-wasm hub twin update <deviceId> [--module <mod>] [--desired <json>] [--tags <json>] [--data-dir <dir>]';
const HELP = `${TWIN_USAGE}

show prints the twin as JSON (tags, desired and reported properties, versions, connection state).
update merges the patches (a member set to null is removed) and prints the new twin:
  --desired <json>   a patch of the desired properties, e.g. '{"interval":5}'
  --tags <json>      a patch of the tags, e.g. '{"site":"lab"}'`;

export function twinMain(argv: string[]): Promise<number> {
  return runCommand(TWIN_USAGE, async () => {
    const { values: v, positionals } = parseCommand(argv, { desired: { type: 'string' }, tags: { type: 'string' }, module: { type: 'string', short: 'm' } });
    if (v.help) { console.log(HELP); return 0; }
    const [verb, deviceId, ...extra] = positionals;
    if (verb !== 'show' && verb !== 'update') throw new ServiceUsageError(verb ? `unknown twin command '${verb}' (show, update)` : 'twin needs a command (show, update)');
    if (!deviceId) throw new ServiceUsageError(`twin ${verb} needs a device id`);
    if (extra.length) throw new ServiceUsageError(`unexpected argument '${extra[0]}'`);
    const path = `/twins/${encodeURIComponent(deviceId)}${v.module ? `/modules/${encodeURIComponent(v.module)}` : ''}`;
    if (verb === 'show') {
      if (v.desired !== undefined || v.tags !== undefined) throw new ServiceUsageError('twin show takes no --desired or --tags (see twin update)');
      const target = serviceTarget(dataDirOf(v), 'rest');
      console.log(JSON.stringify((await rest(target, 'GET', path)).body, null, 2));
      return 0;
    }
    if (v.desired === undefined && v.tags === undefined) throw new ServiceUsageError('twin update needs --desired <json>, --tags <json> or both');
    const desired = v.desired === undefined ? undefined : jsonArg('--desired', v.desired, true);
    const tags = v.tags === undefined ? undefined : jsonArg('--tags', v.tags, true);
    const target = serviceTarget(dataDirOf(v), 'rest');
    const patch = { ...(tags ? { tags } : {}), ...(desired ? { properties: { desired } } : {}) };
    console.log(JSON.stringify((await rest(target, 'PATCH', path, patch)).body, null, 2));
    return 0;
  });
}
