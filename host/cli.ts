#!/usr/bin/env node
// The `iothub-wasm` command line. Each sub-command lives in its own module and is loaded on demand, so
// `iothub-wasm sas` does not pay for the broker and `iothub-wasm hub` does not load the device client.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Command { summary: string; module: string }

const commands: Record<string, Command> = {
  hub: { summary: 'run the local IoT Hub and manage its devices (iothub-wasm hub --help)', module: './hub/cli.js' },
  sas: { summary: 'print a SAS token for a connection string or a resource and key', module: './commands/sas.js' },
  run: { summary: 'run the demo device against an IoT Hub, local or real', module: './commands/run.js' },
  simulate: { summary: 'run a fleet of demo devices on one shared core (iothub-wasm simulate --help)', module: './commands/simulate.js' },
};

function usage(): string {
  const lines = ['usage: iothub-wasm <command> [options]      (iothub-wasm --version prints the version)', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  return lines.join('\n');
}

/** The package's version, from its package.json (dist/host/cli.js → ../../package.json, installed or not). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(version());
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`iothub-wasm: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = (await import(command.module)) as { main(argv: string[]): Promise<number> };
  return mod.main(rest);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      const e = err as { code?: string; message?: string };
      console.error(`iothub-wasm: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`);
      process.exitCode = 1;
    },
  );
}
