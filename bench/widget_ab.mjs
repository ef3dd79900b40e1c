// A/B of widget.js builds by the main-thread script time of a first visit (bench/WIDGET.md).
//
//   node bench/widget_ab.mjs --playwright /tmp/wbench --n 25 main=/tmp/main.js mine=/tmp/mine.js
//
// Each NAME=FILE is a whole served widget.js (e.g. `curl -o /tmp/mine.js
// 'http://127.0.0.1:5055/widget.js?lang=en'` from a server whose CONSENT_ALLOWED_ORIGINS has
// http://127.0.0.1:8181, the page's origin here). The page is the shared harness's baseline page
// with the script tag added; the scripts come from another port, as from a consent server. Every
// load is a first visit in a fresh browser context with the harness's Chromium flags, the builds
// interleaved round by round, so that a busy machine slows them alike; it prints CDP
// ScriptDuration (the harness's "script") per build, median and minimum, then each later build
// against the first round by round (the median of its differences, and in how many rounds it
// was faster: builds of one round share the machine's load), and with --trace also
// writes a Chromium trace of every load (ab-trace-NAME-ROUND.json) to look inside one.
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const options = { n: 15, playwright: null, chromium: '/usr/bin/chromium', wait: 1500, trace: false,
  pages: path.join(here, '../../shared/bench/widget/pages') };
const builds = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const flag = args[i].match(/^--(\w+)$/);
  if (!flag) {
    const [name, file] = args[i].split('=');
    builds.push({ name, body: zlib.gzipSync(fs.readFileSync(file), { level: 9 }), samples: [] });
  } else if (flag[1] === 'trace') options.trace = true;
  else options[flag[1]] = flag[1] === 'n' || flag[1] === 'wait' ? Number(args[++i]) : args[++i];
}
if (!options.playwright || builds.length === 0) {
  console.error('usage: node widget_ab.mjs --playwright DIR [--n N] [--trace] NAME=FILE ...');
  process.exit(2);
}
const { chromium } = createRequire(path.join(path.resolve(options.playwright), 'package.json'))('playwright-core');

// The harness's page: baseline.html with its includes expanded and our script tag at the end.
const include = (text) => text.replace(/<!--#include (\S+)-->/g,
  (_, name) => fs.readFileSync(path.join(options.pages, name), 'utf8'));
const page = include(fs.readFileSync(path.join(options.pages, 'baseline.html'), 'utf8'));
const pageServer = http.createServer((request, response) => {
  const name = request.url.slice(1);
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  response.end(page.replace('</body>',
    `<script src="http://127.0.0.1:8182/${name}.js" async></script>\n</body>`));
}).listen(8181, '127.0.0.1');
const scriptServer = http.createServer((request, response) => {
  const build = builds.find((b) => request.url === `/${b.name}.js`);
  response.writeHead(build ? 200 : 404, { 'content-type': 'application/javascript; charset=utf-8',
    'content-encoding': 'gzip', 'cross-origin-resource-policy': 'cross-origin' });
  response.end(build ? build.body : undefined);
}).listen(8182, '127.0.0.1');

// The shared harness's flags (../shared/bench/widget/run.mjs): nothing leaves the machine.
const browser = await chromium.launch({ executablePath: options.chromium, headless: true,
  chromiumSandbox: false, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--proxy-server=http://127.0.0.1:9',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1',
    '--disable-blink-features=AutomationControlled'] });

const load = async (build, round) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const tab = await context.newPage();
  const cdp = await context.newCDPSession(tab);
  await cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
  const events = [];
  if (options.trace) {
    cdp.on('Tracing.dataCollected', (event) => events.push(...event.value));
    await cdp.send('Tracing.start', { transferMode: 'ReportEvents', traceConfig: { includedCategories:
      ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.execute',
        'disabled-by-default-v8.compile', 'blink', 'toplevel', 'mojom'] } });
  }
  await tab.goto(`http://127.0.0.1:8181/${build.name}`, { waitUntil: 'load' });
  await new Promise((resolve) => setTimeout(resolve, options.wait));
  const { metrics } = await cdp.send('Performance.getMetrics');
  const script = metrics.find((m) => m.name === 'ScriptDuration').value * 1000;
  if (round !== 'warm-up' && !(await tab.$('.csw-b'))) build.noBanner = (build.noBanner || 0) + 1;
  if (options.trace) {
    const complete = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
    await cdp.send('Tracing.end');
    await complete;
    fs.writeFileSync(`ab-trace-${build.name}-${round}.json`, JSON.stringify({ traceEvents: events }));
  }
  await context.close();
  return script;
};

try {
  for (const build of builds) await load(build, 'warm-up');
  for (let round = 0; round < options.n; round++) {
    for (let k = 0; k < builds.length; k++) {
      const build = builds[(round + k) % builds.length];
      build.samples.push(await load(build, round));
    }
  }
} finally {
  await browser.close();
  pageServer.close();
  scriptServer.close();
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
for (const { name, samples, noBanner } of builds) {
  console.log(`${name.padEnd(16)} script ${median(samples).toFixed(1)} ms (min ${Math.min(...samples).toFixed(1)}, n=${samples.length})` +
    (noBanner ? `; no banner in ${noBanner} loads: is http://127.0.0.1:8181 an allowed origin?` : ''));
}
const [first, ...others] = builds;
for (const { name, samples } of others) {
  const differences = samples.map((sample, round) => sample - first.samples[round]);
  const faster = differences.filter((difference) => difference < 0).length;
  console.log(`${name.padEnd(16)} - ${first.name}: ${median(differences).toFixed(1)} ms round by round` +
    ` (faster in ${faster} of ${differences.length} rounds)`);
}
