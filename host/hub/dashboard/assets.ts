// The dashboard's static files: the page shell, its style sheet, and the browser modules tsc compiled from web/
// (read once, beside this module). Nothing here carries data: the page fetches everything from the API.
import { readFileSync } from 'node:fs';
import { STYLE } from './style.js';

/** The browser modules (web/*.ts compiled), by the name the page asks for. */
const MODULES = ['app.js', 'dom.js', 'views.js'] as const;

export interface Asset { type: string; body: Buffer }

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>iothub-wasm local IoT Hub</title>
<link rel="stylesheet" href="/dashboard/style.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<div id="app"><p class="muted pad">Loading…</p></div>
<noscript><p class="pad">The dashboard needs JavaScript.</p></noscript>
</body>
</html>
`;

let cache: Map<string, Asset> | undefined;

/** `index.html`, `style.css` and the modules; a module missing from dist (a broken build) is an error here, at start. */
export function assets(): Map<string, Asset> {
  if (cache) return cache;
  const m = new Map<string, Asset>();
  m.set('', { type: 'text/html; charset=utf-8', body: Buffer.from(PAGE) });
  m.set('style.css', { type: 'text/css; charset=utf-8', body: Buffer.from(STYLE) });
  for (const name of MODULES) {
    // tsc's source map comment points at a file the hub does not serve: dropped
    const text = readFileSync(new URL(`./web/${name}`, import.meta.url), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
    m.set(name, { type: 'text/javascript; charset=utf-8', body: Buffer.from(text) });
  }
  return (cache = m);
}
