// A/B of widget.js builds by the main-thread script time of a first visit (bench/WIDGET.md).
//
//   node bench/widget_ab.mjs --playwright /tmp/wbench --n 25 main=/tmp/main.js mine=/tmp/mine.js
//   node bench/widget_ab.mjs --playwright /tmp/wbench --n 25 --settings \
//     main=http://127.0.0.1:5056/ mine=http://127.0.0.1:5055/
//
// Each NAME=FILE is a whole served widget.js (e.g. `curl -o /tmp/mine.js
// 'http://127.0.0.1:5055/widget.js?lang=en'` from a server whose CONSENT_ALLOWED_ORIGINS has
// http://127.0.0.1:8181, the page's origin here; --port moves both ports); the second file and
// the full config then answer 404. Each NAME=URL is a running consent server: its widget.js,
// widget-settings.js and config (en) are read once at the start and served with its
// Cache-Control, so that the idle preload and Settings work as on a site. The page is the shared
// harness's baseline page with the script tag added; the scripts come from another port, as
// from a consent server. Every load is a first visit in a fresh browser context with the
// harness's Chromium flags, the builds interleaved round by round, so that a busy machine slows
// them alike; it prints CDP ScriptDuration (the harness's "script") per build, median and
// minimum, then each later build against the first round by round (the median of its
// differences, and in how many rounds it was faster: builds of one round share the machine's
// load), and with --trace also writes a Chromium trace of every load
// (ab-trace-NAME-ROUND.json) to look inside one. --settings adds the Settings-open time (see
// openSettings below; NAME=URL builds only).
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const options = { n: 15, playwright: null, chromium: '/usr/bin/chromium', wait: 1500, trace: false,
  settings: false, port: 8181, pages: path.join(here, '../../shared/bench/widget/pages') };
const builds = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const flag = args[i].match(/^--(\w+)$/);
  if (!flag) {
    const [name, source] = args[i].split(/=(.*)/);
    builds.push({ name, source, files: {}, samples: [], opens: { late: [], early: [], hover: [] } });
  } else if (flag[1] === 'trace' || flag[1] === 'settings') options[flag[1]] = true;
  else options[flag[1]] = ['n', 'wait', 'port'].includes(flag[1]) ? Number(args[++i]) : args[++i];
}
if (!options.playwright || builds.length === 0) {
  console.error('usage: node widget_ab.mjs --playwright DIR [--n N] [--trace] NAME=FILE ...');
  process.exit(2);
}
// A build's files as the script server sends them: gzipped, with the consent server's
// Cache-Control where there is one (both files' short max-age).
const FILES = { 'widget.js': 'widget.js?lang=en', 'widget-settings.js': 'widget-settings.js?lang=en',
  'api/v1/config': 'api/v1/config?lang=en' };
for (const build of builds) {
  if (!/^https?:/.test(build.source)) {
    build.files['widget.js'] = { body: zlib.gzipSync(fs.readFileSync(build.source), { level: 9 }) };
    continue;
  }
  for (const [name, address] of Object.entries(FILES)) {
    const response = await fetch(new URL(address, build.source));
    if (!response.ok) throw new Error(`${build.name}: ${address} answered ${response.status}`);
    build.files[name] = { body: zlib.gzipSync(Buffer.from(await response.arrayBuffer()), { level: 9 }),
      type: response.headers.get('content-type'), cache: response.headers.get('cache-control') };
  }
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
    `<script src="http://127.0.0.1:${options.port + 1}/${name}/widget.js" async></script>\n</body>`));
}).listen(options.port, '127.0.0.1');
const scriptServer = http.createServer((request, response) => {
  const [, name, file] = request.url.split('?')[0].match(/^\/([^/]+)\/(.*)$/) || [];
  const found = builds.find((b) => b.name === name)?.files[file];
  response.writeHead(found ? 200 : 404, { 'content-type': found?.type ||
    'application/javascript; charset=utf-8', 'content-encoding': 'gzip',
  'cache-control': found?.cache || 'no-store', 'cross-origin-resource-policy': 'cross-origin',
  'access-control-allow-origin': '*' });
  response.end(found ? found.body : undefined);
}).listen(options.port + 1, '127.0.0.1');

// The shared harness's flags (../shared/bench/widget/run.mjs): nothing leaves the machine.
const browser = await chromium.launch({ executablePath: options.chromium, headless: true,
  chromiumSandbox: false, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--proxy-server=http://127.0.0.1:9',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1',
    '--disable-blink-features=AutomationControlled'] });

// Settings-open time: from the click on the first layer's Settings button (the event's time
// stamp) to the first frame in which the settings dialog is open and has a size. The probe is
// put in the page only after the script time has been read, and clicks with the mouse (which
// passes over the button on its way, as a visitor's pointer does).
const SETTINGS = '.csw-b .csw-row button:nth-child(3)';
const openSettings = async (tab, hoverMs) => {
  await tab.evaluate(() => new Promise((armed) => {
    addEventListener('click', (event) => {
      const clicked = event.timeStamp;
      const look = () => {
        const dialog = document.querySelector('dialog.csw-d[open]');
        if (dialog && dialog.getBoundingClientRect().height > 0) {
          window.settingsOpenMs = performance.now() - clicked;
        } else requestAnimationFrame(look);
      };
      requestAnimationFrame(look);
    }, { capture: true, once: true });
    armed();
  }));
  if (hoverMs) {
    await tab.hover(SETTINGS);
    await new Promise((resolve) => setTimeout(resolve, hoverMs));
  }
  await tab.click(SETTINGS);
  await tab.waitForFunction(() => window.settingsOpenMs !== undefined, null, { timeout: 10000 });
  return tab.evaluate(() => window.settingsOpenMs);
};

// kind: 'script' (script time after the wait, then with --settings a click on Settings: the
// visitor read for the wait's length, so the idle preload had its chance), 'early' (Settings
// clicked as soon as the banner is seen) or 'hover' (the pointer rests on Settings for 150 ms
// from then, then clicks).
const load = async (build, round, kind = 'script') => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const tab = await context.newPage();
  const cdp = await context.newCDPSession(tab);
  await cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
  const events = [];
  if (options.trace && kind === 'script') {
    cdp.on('Tracing.dataCollected', (event) => events.push(...event.value));
    await cdp.send('Tracing.start', { transferMode: 'ReportEvents', traceConfig: { includedCategories:
      ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.execute',
        'disabled-by-default-v8.compile', 'blink', 'toplevel', 'mojom'] } });
  }
  await tab.goto(`http://127.0.0.1:${options.port}/${build.name}`, { waitUntil: kind === 'script' ? 'load' : 'commit' });
  if (kind !== 'script') {
    await tab.waitForSelector(SETTINGS, { state: 'visible' });
    const opened = await openSettings(tab, kind === 'hover' ? 150 : 0);
    await context.close();
    return opened;
  }
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
  if (options.settings && round !== 'warm-up') build.opens.late.push(await openSettings(tab, 0));
  await context.close();
  return script;
};

try {
  for (const build of builds) await load(build, 'warm-up');
  for (let round = 0; round < options.n; round++) {
    for (let k = 0; k < builds.length; k++) {
      const build = builds[(round + k) % builds.length];
      build.samples.push(await load(build, round));
      if (!options.settings) continue;
      build.opens.early.push(await load(build, round, 'early'));
      build.opens.hover.push(await load(build, round, 'hover'));
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
    (noBanner ? `; no banner in ${noBanner} loads: is http://127.0.0.1:${options.port} an allowed origin?` : ''));
}
const spread = (values) => `${median(values).toFixed(0)} ms (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
if (options.settings) {
  for (const { name, opens } of builds) {
    console.log(`${name.padEnd(16)} settings open: after ${options.wait} ms ${spread(opens.late)}; ` +
      `at once ${spread(opens.early)}; after 150 ms over it ${spread(opens.hover)}` +
      ` (${[...opens.late, ...opens.early, ...opens.hover].filter((ms) => ms > 100).length} of ` +
      `${opens.late.length * 3} over 100 ms)`);
  }
}
const [first, ...others] = builds;
for (const { name, samples } of others) {
  const differences = samples.map((sample, round) => sample - first.samples[round]);
  const faster = differences.filter((difference) => difference < 0).length;
  console.log(`${name.padEnd(16)} - ${first.name}: ${median(differences).toFixed(1)} ms round by round` +
    ` (faster in ${faster} of ${differences.length} rounds)`);
}
