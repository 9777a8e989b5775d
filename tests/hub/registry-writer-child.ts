// Adds `count` devices named `{prefix}-{n}` to the registry in the data folder argv[2], as `iothub-wasm hub device add`
// would, but in a loop: stores.test.ts runs several of these at once to contend for the registry's lock.
import { Registry } from '../../host/hub/state/registry.js';

const [dir, prefix, count] = process.argv.slice(2) as [string, string, string];
const registry = new Registry(dir, 'localhost');
for (let n = 0; n < Number(count); n++) await registry.addDevice(`${prefix}-${n}`);
