// `iothub-wasm hub dashboard`: a new one-time sign-in link to the web dashboard of the hub running on the data
// folder (the banner's link works once), asked for over the REST API as the iothubowner policy.
import { dataDirOf, parseCommand, rest, runCommand, serviceTarget, ServiceError, ServiceUsageError } from './cli-service.js';

export const DASHBOARD_USAGE = 'usage: iothub-wasm hub dashboard [--data-dir <dir>]';
const HELP = `${DASHBOARD_USAGE}

Prints a new sign-in link to the web dashboard of the hub running on --data-dir. Each link signs one browser in,
once; the session lasts while the browser keeps its cookie and the hub runs (12 h idle at most).`;

export function dashboardMain(argv: string[]): Promise<number> {
  return runCommand(DASHBOARD_USAGE, async () => {
    const { values: v, positionals } = parseCommand(argv, {});
    if (v.help) { console.log(HELP); return 0; }
    if (positionals.length) throw new ServiceUsageError(`unexpected argument '${positionals[0]}'`);
    const target = serviceTarget(dataDirOf(v), 'rest');
    const r = await rest(target, 'POST', '/dashboard/api/links', {}).catch((e: unknown) => {
      throw (e as { status?: number }).status === 404 ? new ServiceError('the hub running there has no dashboard (started with --no-dashboard?)') : e;
    });
    console.log((r.body as { url: string }).url);
    return 0;
  });
}
