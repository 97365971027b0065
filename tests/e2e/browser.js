// Drives the UI in Debian's chromium with playwright-core (never a
// downloaded browser): sign in, trigger a DAG from the form (a bad value
// first, shown next to its field; a DAG that could never start, refused
// with the reason), watch the graph turn green, read a
// task's log, play an audio result.  Screenshots go to OUT.
//
//   node browser.js URL_WITH_TOKEN OUT
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { chromium } = require('playwright-core');

const [url, out] = process.argv.slice(2);
const HTML_NAME = '<img src=x onerror="window.pwned=1">';

// Polls fn (async, truthy when done) for up to 10 s.
async function until(fn, failure) {
  for (const end = Date.now() + 10000; Date.now() < end;) {
    if (await fn()) return;
    await new Promise(ok => setTimeout(ok, 100));
  }
  throw new Error(failure);
}

function step(name) {
  console.log('step: ' + name);
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-chromium-'));
  // A fresh profile each time (playwright passes it as --user-data-dir).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  const errors = [];
  try {
    const page = await browser.newPage();
    page.on('pageerror', e => errors.push('pageerror: ' + e.message));
    page.on('console', m => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
    const shot = name => page.screenshot({ path: path.join(out, name), fullPage: true });

    step('sign in with the token URL; it is stripped from the address');
    await page.goto(url);
    await page.waitForSelector('tr[data-dag="hello"]');
    if (page.url().includes('token=')) throw new Error('token still in the URL: ' + page.url());
    const desc = await page.textContent('tr[data-dag="hello"] td:nth-child(3)');
    if (!desc.includes('<b>not bold</b>')) throw new Error('description not shown as text: ' + desc);
    if (await page.$('tr[data-dag="hello"] b')) throw new Error('description rendered as HTML');
    await shot('01-dags.png');

    step('trigger form: a bad value gets the server\'s message next to its field');
    await page.click('tr[data-dag="hello"] a.button');
    await page.waitForSelector('form.trigger');
    await page.fill('#p-name', HTML_NAME);
    await page.fill('#p-rate', '5');
    await page.selectOption('#p-split', 'val');
    await page.click('form.trigger button[type=submit]');
    await page.waitForFunction(() => {
      const m = document.querySelector('[data-msg-for="rate"]');
      return m && /minimum/.test(m.textContent);
    }, null, { timeout: 15000 });
    await shot('02-trigger-error.png');
    errors.length = 0; // the browser logs that 400 itself; it was expected

    step('trigger form: a run that could never start is refused, with the server\'s reason');
    await page.goto(new URL('#/dags/huge/trigger', page.url()).href);
    await page.waitForSelector('form.trigger');
    await page.click('form.trigger button[type=submit]');
    await page.waitForFunction(() => {
      const m = document.querySelector('form.trigger .msg.error');
      return m && /task 'w' asks for 100000 cpus .*could never start/.test(m.textContent);
    }, null, { timeout: 15000 });
    if (!page.url().includes('/dags/huge/trigger')) throw new Error('left the form: ' + page.url());
    await shot('02-trigger-refused.png');
    errors.length = 0; // the browser logs that 422 itself
    await page.goto(new URL('#/dags/hello/trigger', page.url()).href);
    await page.waitForSelector('form.trigger');
    await page.fill('#p-name', HTML_NAME);
    await page.selectOption('#p-split', 'val');

    step('trigger with a good value; the graph turns green');
    await page.fill('#p-rate', '16000');
    const t0 = Date.now();
    await page.click('form.trigger button[type=submit]');
    await page.waitForSelector('svg.graph g.node');
    await page.waitForFunction(() => {
      const nodes = [...document.querySelectorAll('svg.graph g.node')];
      return nodes.length === 3 && nodes.every(n => n.dataset.state === 'success');
    }, null, { timeout: 90000 });
    console.log('graph green after ' + (Date.now() - t0) + ' ms');
    await shot('03-graph-green.png');

    step('the grid: a foreach cell expands into its items');
    await page.click('table.grid button.cell.multi');
    await page.waitForFunction(() => document.querySelectorAll('tr.expand .instances a.st-success').length === 2,
      null, { timeout: 15000 });
    // The grid is drawn again at each change of its runs (a new run here):
    // the expansion stays, for the run it was opened for.
    const expandedRun = await page.$eval('tr.expand', tr => tr.dataset.run);
    const status = await page.evaluate(async name => {
      const csrf = document.cookie.split('; ').find(c => c.startsWith('sf_csrf_')).split('=')[1];
      const r = await fetch('/api/v1/dags/hello/runs', { method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-SynthFlow-CSRF': csrf },
        body: JSON.stringify({ params: { name, rate: 16000, split: 'val' } }) });
      return r.status;
    }, HTML_NAME); // the same params: the later steps look at the newest run
    if (status !== 201 && status !== 200) throw new Error('second run: HTTP ' + status);
    await page.waitForFunction(() => document.querySelectorAll('table.grid thead th.run').length === 2,
      null, { timeout: 15000 });
    await page.waitForFunction(run => {
      const tr = document.querySelector('tr.expand');
      return tr && tr.dataset.run === run && tr.querySelectorAll('.instances a.st-success').length === 2;
    }, expandedRun, { timeout: 15000 });
    // clicking its cell again closes it
    await page.click('table.grid thead + tbody button.cell.multi >> nth=0');
    await page.waitForFunction(() => !document.querySelector('tr.expand'), null, { timeout: 15000 });

    step('pause and unpause from the DAG page');
    const paused = async () => (await (await page.request.get(new URL('/api/v1/dags/hello', page.url()).href)).json()).paused;
    await page.click('h1 .switch span');
    await until(paused, 'the switch did not pause the DAG');
    await page.click('h1 .switch span');
    await until(async () => !(await paused()), 'the switch did not unpause the DAG');

    step('open a task\'s log from the graph');
    await page.click('svg.graph g.node[data-task="greet"]');
    await page.waitForFunction(name => {
      const pre = document.querySelector('pre#log');
      return pre && pre.textContent.includes('hello ' + name);
    }, HTML_NAME, { timeout: 15000 });
    if (await page.$('pre#log img')) throw new Error('log rendered as HTML');
    await shot('04-log.png');

    step('play an audio result');
    await page.click('.crumbs a.mono'); // back to the run
    await page.waitForSelector('table.files audio');
    const audio = await page.evaluate(async () => {
      const a = document.querySelector('table.files audio');
      if (!(a.readyState >= 1)) {
        await new Promise((ok, fail) => {
          a.addEventListener('loadedmetadata', ok, { once: true });
          a.addEventListener('error', () => fail(new Error('audio error ' + (a.error && a.error.code))), { once: true });
          setTimeout(() => fail(new Error('no metadata')), 15000);
        });
      }
      a.muted = true;
      await a.play();
      // Playing means the clock moves: wait for it (bounded), not a fixed
      // 300 ms, which a loaded machine can spend before the first frame.
      await new Promise(ok => {
        const done = () => { if (a.currentTime > 0 || a.ended) ok(); };
        a.addEventListener('timeupdate', done);
        a.addEventListener('ended', done);
        setTimeout(ok, 15000);
        done();
      });
      return { duration: a.duration, time: a.currentTime, src: a.currentSrc };
    });
    console.log('audio: ' + JSON.stringify(audio));
    if (!(audio.duration > 0)) throw new Error('audio has no duration');
    if (!(audio.time > 0)) throw new Error('audio did not play');
    await shot('05-run.png');

    if (await page.evaluate(() => window.pwned)) throw new Error('a param value ran as script');
    if (errors.length) throw new Error('errors in the page:\n' + errors.join('\n'));
    console.log('browser test passed');
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch(e => {
  console.error('FAILED: ' + e.message);
  process.exit(1);
});
