// Times the DAG page in Debian's chromium: from navigation to the graph
// and the grid drawn (app.js marks body[data-rendered]).  Prints JSON.
//   node bench/web-render.js URL_WITH_TOKEN DAG_ID REPEAT
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { chromium } = require(path.join(__dirname, '../tests/e2e/node_modules/playwright-core'));

(async () => {
  const [url, dag, repeat] = process.argv.slice(2);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-bench-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await ctx.newPage();
  await page.goto(url);
  await page.waitForSelector('tr[data-dag]');
  const times = [];
  for (let i = 0; i < Number(repeat); i++) {
    await page.evaluate(() => { location.hash = '#/'; });
    await page.waitForSelector('tr[data-dag]');
    const t = await page.evaluate(dagId => new Promise(done => {
      delete document.body.dataset.rendered;
      const t0 = performance.now();
      const obs = new MutationObserver(() => {
        if (document.body.dataset.rendered && document.querySelector('table.grid td')) {
          obs.disconnect();
          // the next frame: layout and paint of what was just built
          requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
        }
      });
      obs.observe(document.body, { attributes: true, subtree: true, childList: true });
      location.hash = '#/dags/' + encodeURIComponent(dagId);
    }), dag);
    times.push(t);
  }
  const nodes = await page.$$eval('svg.graph g.node', n => n.length);
  const cells = await page.$$eval('table.grid td', n => n.length);
  await page.screenshot({ path: path.join(os.tmpdir(), 'sf-bench-dag-page.png') });
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ median_ms: times[Math.floor(times.length / 2)], max_ms: times[times.length - 1], nodes, cells }));
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
})().catch(e => { console.error(e.message); process.exit(1); });
