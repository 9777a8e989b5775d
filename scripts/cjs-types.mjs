// The package's declarations as CommonJS consumers see them: a copy of the shipped .d.ts tree (dist/host,
// dist/boards/node) under dist/cjs, whose package.json says "type": "commonjs". The JavaScript is the same ES
// modules for both (Node ≥ 20.19 and 22.12 require() them); only TypeScript needs declarations of the right
// format, or a `module: node16` CommonJS project fails with TS1479 ("the referenced file is an ECMAScript module").
// A dependency that is itself ESM-only (aedes) is imported by type with resolution-mode "import", which a
// CommonJS declaration may do (TypeScript ≥ 5.3).
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = 'dist/cjs';
rmSync(out, { recursive: true, force: true });
for (const dir of ['host', 'boards/node']) {
  cpSync(`dist/${dir}`, `${out}/${dir}`, { recursive: true, filter: (src) => !/\.(js|map)$/.test(src) });
}
mkdirSync(out, { recursive: true });
writeFileSync(`${out}/package.json`, '{\n  "type": "commonjs"\n}\n');

const esmOnly = new Map();
/** Whether a bare specifier names a package that CommonJS cannot require (its package.json says "type": "module"). */
function isEsmOnly(specifier) {
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
  if (name.startsWith('node:')) return false;
  if (!esmOnly.has(name)) {
    // the package's own package.json, found as Node finds the package (its exports may not expose package.json)
    const entry = fileURLToPath(import.meta.resolve(name));
    const root = entry.slice(0, entry.lastIndexOf(`node_modules${sep}${name.replaceAll('/', sep)}${sep}`)) + `node_modules${sep}${name.replaceAll('/', sep)}`;
    esmOnly.set(name, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).type === 'module');
  }
  return esmOnly.get(name);
}

for (const file of readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))) {
  const path = join(out, file);
  const text = readFileSync(path, 'utf8');
  const fixed = text.replace(/^import (?:type )?\{([^}]*)\} from '([^.'][^']*)';$/gm, (line, names, specifier) => {
    if (!isEsmOnly(specifier)) return line;
    const types = names.split(',').map((n) => n.trim().replace(/^type /, '')).filter(Boolean).join(', ');
    return `import type { ${types} } from '${specifier}' with { 'resolution-mode': 'import' };`;
  });
  const left = /^import .* from '([^.'][^']*)';$/gm;
  for (const [line, specifier] of fixed.matchAll(left)) {
    if (isEsmOnly(specifier) && !line.includes('resolution-mode')) throw new Error(`${path}: cannot rewrite the import of ESM-only '${specifier}' for CommonJS: ${line}`);
  }
  if (fixed !== text) writeFileSync(path, fixed);
}
