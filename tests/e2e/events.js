// The Events view (#/events, docs/ui.md) in Debian's chromium driven by
// playwright-core: reached from the top bar, one row per delivery as the API
// lists them (newest first), the kind filter, a failed delivery with its
// note, a script's log shown as text (never as HTML), the link to the run.
// EXPECT is the API's list ({"deliveries": [...]}) taken before the browser
// starts, when every delivery has ended.  Screenshots go to OUT.
//
//   node events.js URL_WITH_TOKEN OUT EXPECT_JSON_FILE
'use strict';
const path = require('path');
const fs = require('fs');
const { withPage } = require('./chromium');

const [url, out, expectFile] = process.argv.slice(2);
const want = JSON.parse(fs.readFileSync(expectFile, 'utf8')).deliveries;
const newestFirst = want.slice().sort((a, b) => b.id - a.id);

function step(name) {
  console.log('step: ' + name);
}

// The table's rows as [id, kind, event, workspace, state] (a placeholder row has no id).
const rowsOf = page => page.$$eval('#deliveries tbody tr[data-delivery]', trs => trs.map(tr =>
  [...tr.querySelectorAll('td')].slice(0, 5).map(td => td.textContent.trim())));

function expectRows(got, list, what) {
  const exp = list.map(d => [String(d.id), d.kind, d.event, d.workspace || '',
    d.redelivered && d.state !== 'redelivered' ? d.state + ' (redelivered)' : d.state]);
  if (JSON.stringify(got) !== JSON.stringify(exp))
    throw new Error(what + ': the table shows\n' + JSON.stringify(got) + '\nthe API lists\n' + JSON.stringify(exp));
}

withPage({}, async page => {
  step('open the UI and follow Events in the top bar');
  await page.goto(url);
  await page.waitForSelector('main#app table');
  await page.click('nav a[href="#/events"]');
  await page.waitForSelector('#deliveries tbody tr[data-delivery]');
  if (!page.url().endsWith('#/events')) throw new Error('not on #/events: ' + page.url());

  step('every delivery, newest first, as the API lists it');
  expectRows(await rowsOf(page), newestFirst, 'all');
  await page.screenshot({ path: path.join(out, 'events.png'), fullPage: true });

  step('the filter: callbacks only, then event scripts only');
  for (const kind of ['callback', 'event']) {
    await page.click(`a[href="#/events?kind=${kind}"]`);
    await page.waitForFunction(k => location.hash === '#/events?kind=' + k &&
      document.querySelector(`a[href="#/events?kind=${k}"].active`), kind);
    await page.waitForSelector('#deliveries tbody tr[data-delivery]');
    const rows = await rowsOf(page);
    expectRows(rows, newestFirst.filter(d => d.kind === kind), kind);
    if (!rows.length) throw new Error('no ' + kind + ' rows');
  }

  step('a failed delivery shows its state and note');
  await page.click('a[href="#/events"]');
  await page.waitForSelector('a.active[href="#/events"]');
  const failed = want.find(d => d.state === 'failed' && d.note);
  if (!failed) throw new Error('the data has no failed delivery with a note');
  const failedRow = `#deliveries tr[data-delivery="${failed.id}"]`;
  const badge = await page.textContent(failedRow + ' .badge');
  if (badge !== 'failed') throw new Error('failed delivery shown as ' + badge);
  const note = await page.textContent(failedRow + ' td:nth-child(8) .muted');
  if (note !== failed.note) throw new Error('note shown as ' + JSON.stringify(note) + ', not ' + JSON.stringify(failed.note));

  step('a script\'s log, shown as text');
  const logged = want.find(d => d.kind === 'event' && d.event === 'run-finished' && d.log);
  if (!logged) throw new Error('the data has no run-finished delivery with a log');
  await page.click(`#deliveries tr[data-delivery="${logged.id}"] button`);
  await page.waitForFunction(() => document.querySelector('#delivery-log').textContent.includes('finished:'));
  const log = await page.textContent('#delivery-log');
  if (!log.startsWith('# event run-finished delivered\n')) throw new Error('log header: ' + log);
  if (!log.includes('<img src=x onerror="window.pwned=1">')) throw new Error('script output missing: ' + log);
  if (await page.evaluate(() => window.pwned) || await page.$('#delivery-log img'))
    throw new Error('the log was rendered as HTML');
  await page.screenshot({ path: path.join(out, 'events-log.png'), fullPage: true });

  step('the run link leads to the run');
  await page.click(`#deliveries tr[data-delivery="${logged.id}"] a[href^="#/runs/"]`);
  await page.waitForFunction(r => location.hash === '#/runs/' + r, logged.run_id);
  // the events page stays until the run page is mounted (after its fetch):
  // the run page is the one with crumbs
  await page.waitForSelector('main#app .crumbs');
  const h1 = await page.textContent('main#app h1');
  if (!h1.includes(logged.run_id)) throw new Error('run page heading: ' + h1);
}, 'events browser test passed');
