// Headless Chromium (Debian's, driven by playwright-core) against what people
// look at: the `cloze eval --report` page and the `cloze serve` try-it page.
// The report must render with eval --json's numbers and fetch nothing; the
// page must classify a text and draw bars with the API's numbers, and show
// the API's error message as the API words it.
// Usage: node browser_test.mjs CLOZE_BIN MODEL_DIR SST2_TSV [SCREENSHOT_DIR]
// With SCREENSHOT_DIR, saves eval_report.png and serve_page.png there.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [bin, model, tsv, shots] = process.argv.slice(2);
if (!bin || !model || !tsv) {
  console.error('usage: node browser_test.mjs CLOZE_BIN MODEL_DIR SST2_TSV [SCREENSHOT_DIR]');
  process.exit(2);
}
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const work = mkdtempSync(join(tmpdir(), 'cloze-browser-'));
let server = null, context = null;

function cleanup() {
  if (server) server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}

const f4 = (v) => v.toFixed(4);

async function checkReport(page) {
  const html = join(work, 'report.html');
  const out = execFileSync(bin, ['eval', '--model', model, '--input', tsv, '--threads', '2', '--calibrate', 'contextual',
    '--json', '--report', html], { encoding: 'utf8' });
  const j = JSON.parse(out);
  const outside = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    outside.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(html).href);
  assert.equal(await page.textContent('#accuracy'), f4(j.accuracy));
  assert.equal(await page.textContent('#macro-f1'), f4(j.macro_f1));
  assert.equal(await page.textContent('#accuracy-ci'), `95% CI ${f4(j.accuracy_ci[0])} \u2013 ${f4(j.accuracy_ci[1])}`);
  assert.equal(await page.textContent('#precision-0'), f4(j.metrics.per_class.positive.precision));
  assert.equal(await page.textContent('#ece'),
    `ECE (10 bins): ${f4(j.reliability_uncalibrated.ece)} before calibration, ${f4(j.reliability.ece)} after.`);
  // Three charts drawn (two reliability diagrams, the histogram), with bars of real size.
  const svgs = await page.$$eval('svg', (els) => els.map((e) => e.getBoundingClientRect().width));
  assert.equal(svgs.length, 3);
  for (const w of svgs) assert.ok(w > 200, `svg width ${w}`);
  const bars = await page.$$eval('svg rect.bar', (els) => els.map((e) => e.getBoundingClientRect().height));
  assert.ok(bars.length >= 2 && bars.every((h) => h > 0), `bars ${bars}`);
  const cells = await page.$$eval('table.heat td:not(.total)', (els) => els.map((e) => Number(e.textContent)));
  assert.deepEqual(cells, j.metrics.confusion.matrix.flat());
  assert.equal(await page.$$eval('script', (els) => els.length), 0);
  assert.deepEqual(outside, [], 'the report fetched something');
  if (shots) await page.screenshot({ path: join(shots, 'eval_report.png'), fullPage: true, clip: { x: 0, y: 0, width: 1000, height: 2000 } });
  console.log(`report OK: accuracy ${f4(j.accuracy)}, ${svgs.length} charts, ${cells.length} heat-map cells`);
}

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(bin, ['serve', '--model', model, '--port', '0', '--threads', '2', '--model-id', 'tiny-qwen2'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    server.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`cloze serve exited (${code}): ${err}`)));
  });
}

async function api(port, body) {
  const res = await fetch(`http://127.0.0.1:${port}/v1/classify`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function checkPage(page, port) {
  for (let i = 0; i < 200; ++i) {
    const h = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
    if (h && h.status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const outside = [];
  page.on('request', (req) => { if (!req.url().startsWith(`http://127.0.0.1:${port}/`)) outside.push(req.url()); });
  await page.goto(`http://127.0.0.1:${port}/`);
  assert.equal(await page.inputValue('#labels'), 'positive,negative');
  assert.ok((await page.inputValue('#template')).includes('{text}'));

  const text = "it 's a charming and often affecting journey . ";
  await page.fill('#text', text);
  await page.click('#go');
  await page.waitForSelector('#result .row.prob');
  const rows = await page.$$eval('#result .row', (els) => els.map((e) => ({
    label: e.dataset.label, prob: Number(e.dataset.prob), shown: e.querySelector('.val').textContent,
    width: e.querySelector('.fill').style.width, top: e.classList.contains('top') })));
  const want = (await api(port, { texts: [text] })).body.results[0];
  const probs = rows.filter((r) => r.label !== 'label_mass');
  assert.equal(probs.length, 2);
  for (const r of probs) {
    assert.equal(r.prob, want.probs[r.label], `bar ${r.label}`);
    assert.equal(r.shown, f4(want.probs[r.label]));
    assert.equal(r.width, `${(want.probs[r.label] * 100).toFixed(2)}%`);
    assert.equal(r.top, r.label === want.label);
  }
  const mass = rows.find((r) => r.label === 'label_mass');
  assert.ok(mass, 'no label_mass bar');
  assert.equal(mass.prob, want.label_mass);
  if (shots) await page.screenshot({ path: join(shots, 'serve_page.png'), fullPage: true });

  // An API error appears as the API words it.
  await page.fill('#template', 'no placeholder here');
  await page.click('#go');
  await page.waitForSelector('#error:not([hidden])');
  const shown = await page.textContent('#error');
  const apiErr = await api(port, { texts: [text], template: 'no placeholder here' });
  assert.equal(apiErr.status, 400);
  assert.equal(shown, apiErr.body.error.message);
  assert.ok(await page.isHidden('#result'));
  assert.deepEqual(outside, [], 'the page fetched from elsewhere');
  console.log(`page OK: bars ${probs.map((r) => `${r.label}=${f4(r.prob)}`).join(' ')}, label_mass ${mass.prob}; error "${shown}"`);
}

try {
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1000, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  await checkReport(await context.newPage());
  const port = await startServer();
  const page = await context.newPage();
  await page.setViewportSize({ width: 800, height: 600 });
  await checkPage(page, port);
  console.log('browser test OK');
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  if (context) await context.close();
  cleanup();
}
