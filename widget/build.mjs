// Builds dist/ from src/ (npm ci && node build.mjs): esbuild bundles the modules and minifies
// the stylesheets, terser minifies the scripts. consent.min.js is the banner (from index.js),
// settings.min.js the settings layer it loads when wanted (from settings.js). The server puts
// `{const CONSENT_SETTINGS=<json>;` before the file, which closes that block (and V8's compile
// hint before that: consent_server/web/widget.py).
// dist/stamp.json records the hash of the sources, which tests/test_widget.py recomputes.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { minify } from 'terser';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const dist = join(here, 'dist');

// The same hash as tests/test_widget.py: each source file's name and bytes, in name order.
export const sourceHash = () => {
  const hash = createHash('sha256');
  for (const name of readdirSync(src).sort()) {
    hash.update(name + '\0').update(readFileSync(join(src, name))).update('\0');
  }
  return hash.digest('hex');
};

const minifyCss = async (name) => (await esbuild.transform(readFileSync(join(src, name), 'utf8'),
  { loader: 'css', minify: true })).code.trim();

const build = async (entry, format, define) => {
  const bundled = await esbuild.build({
    entryPoints: [join(src, entry)], bundle: true, write: false, format, target: 'es2020',
    define, legalComments: 'none',
  });
  const { code } = await minify(bundled.outputFiles[0].text, {
    ecma: 2020, module: format === 'esm', compress: { passes: 3, unsafe_arrows: true },
    mangle: true, format: { comments: false },
  });
  return code.trim();
};

const core = await build('index.js', 'iife',
  { CONSENT_CSS: JSON.stringify(await minifyCss('consent.css')) });
if (!/\bCONSENT_SETTINGS\b/.test(core)) throw new Error('the bundle must read CONSENT_SETTINGS');
const settings = await build('settings.js', 'esm',
  { CONSENT_SETTINGS_CSS: JSON.stringify(await minifyCss('settings.css')) });
writeFileSync(join(dist, 'consent.min.js'), core + '}\n');
writeFileSync(join(dist, 'settings.min.js'), settings + '\n');
writeFileSync(join(dist, 'stamp.json'), JSON.stringify({ sources: sourceHash(),
  esbuild: esbuild.version }, null, 2) + '\n');
for (const name of ['consent.min.js', 'settings.min.js']) {
  const size = readFileSync(join(dist, name)).length;
  console.log(`dist/${name}: ${size} B, ${gzipSync(readFileSync(join(dist, name)), { level: 9 }).length} B gzipped`);
}
