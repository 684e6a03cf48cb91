// Bundles the dashboard (src/web/ui/) into OUTDIR: index.html, app.js and
// app.css, minified, for tools/embed.py to build into kanrid.  Run by Meson:
//   node src/web/build.mjs OUTDIR
import { build } from 'esbuild';
import { copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUTDIR');
  process.exit(2);
}

const common = {
  bundle: true,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  nodePaths: [join(here, 'node_modules')],
};
await build({
  ...common,
  entryPoints: [join(here, 'ui', 'main.js')],
  outfile: join(out, 'app.js'),
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
});
await build({
  ...common,
  entryPoints: [join(here, 'ui', 'app.css')],
  outfile: join(out, 'app.css'),
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
