// The replication pages of the UI (docs/ui.md) in Debian's chromium driven
// by playwright-core: the "cached" mark of a task restored from the content
// cache, its log page (the log of the run that produced the outputs, shown
// as text, with the link to that run), the Compare view reached by ticking
// two runs in the DAG's history, and a replay's report page reached from
// the run page.  DIFF and REPLAY are the API's answers for the same runs
// (/runs/A/diff/B and /runs/R/provenance), taken before the browser starts.
// Screenshots go to OUT.
//
//   node replication.js URL_WITH_TOKEN OUT RUN1 RUN2 RUN3 DIFF_JSON_FILE REPLAY_JSON_FILE
'use strict';
const path = require('path');
const fs = require('fs');
const { withPage } = require('./chromium');

const [url, out, run1, run2, run3, diffFile, replayFile] = process.argv.slice(2);
const diff = JSON.parse(fs.readFileSync(diffFile, 'utf8'));
const report = JSON.parse(fs.readFileSync(replayFile, 'utf8')).provenance.replay;

function step(name) {
  console.log('step: ' + name);
}

function same(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error(what + ': the page shows\n' + JSON.stringify(got) + '\nthe API says\n' + JSON.stringify(want));
}

const cells = (page, sel) => page.$$eval(sel, trs => trs.map(tr =>
  [...tr.querySelectorAll('td')].map(td => td.textContent.trim())));

withPage({}, async page => {
  const base = url.replace(/#.*$/, '');
  const go = async hash => {
    await page.goto(base + hash);
    await page.waitForFunction(h => location.hash === h, hash);
  };

  step('the cached instance carries the mark, the one that ran does not');
  await go('#/runs/' + run2);
  await page.waitForSelector('tr[data-task="a"] .cached-mark');
  same(await page.textContent('tr[data-task="a"] .cached-mark'), 'cached', 'mark of a');
  if (await page.$('tr[data-task="b"] .cached-mark')) throw new Error('b ran, yet carries the cached mark');
  await page.screenshot({ path: path.join(out, 'cached-run.png'), fullPage: true });

  step('its log: the producing run\'s, as text, with the link to that run');
  await page.click('tr[data-task="a"] td:first-child a');
  await page.waitForSelector('#log-cached-from');
  same(await page.textContent('#log-cached-from'), run1, 'the producing run');
  same(await page.getAttribute('#log-cached-from', 'href'), '#/runs/' + run1 + '/log/a', 'its link');
  await page.waitForFunction(() => document.querySelector('#log').textContent.includes('making a'));
  const log = await page.textContent('#log');
  if (!log.includes('making a <b>bold</b>')) throw new Error('log of the cached instance: ' + JSON.stringify(log));
  if (await page.$('#log b')) throw new Error('the log was rendered as HTML');
  if (!(await page.isHidden('select[aria-label="try"]'))) throw new Error('a cached instance shows a list of tries');
  const prov = await page.$$eval('#provenance table.prov tr', trs => trs.map(tr =>
    [tr.querySelector('th').textContent, tr.querySelector('td').textContent]));
  same(prov[0], ['Cached from', 'run ' + run1], 'the provenance\'s first row');
  for (const [k] of prov)
    if (['Command', 'Folder', 'Try', 'Exit code'].includes(k)) throw new Error('a cached instance shows a ' + k + ' row');
  await page.screenshot({ path: path.join(out, 'cached-log.png'), fullPage: true });
  await page.click('#log-cached-from');
  await page.waitForFunction(r => location.hash === '#/runs/' + r + '/log/a', run1);
  // the new page is mounted once its tries are fetched: until then the old
  // one (whose log also says "making a") is still there, so wait for the
  // crumbs to name run1
  await page.waitForFunction(r => document.querySelector('.crumbs a.mono')?.textContent === r &&
    document.querySelector('#log').textContent.includes('making a'), run1);
  if (await page.$('#log-cached-from')) throw new Error('the producing run\'s own log says it is cached');

  step('Compare: tick two runs in the DAG\'s history');
  await go('#/dags/' + diff.dag_id);
  await page.waitForSelector(`input[data-run="${run1}"]`);
  if (!(await page.isDisabled('#compare'))) throw new Error('Compare is enabled with no run ticked');
  await page.check(`input[data-run="${run1}"]`);
  await page.check(`input[data-run="${run2}"]`);
  await page.click('#compare');
  await page.waitForFunction(h => location.hash === h, '#/compare/' + run1 + '/' + run2);
  await page.waitForSelector('#compare-tasks tbody tr');
  const params = await cells(page, 'main#app h2:text-is("Params") + table tbody tr');
  same(params, Object.entries(diff.params).map(([k, v]) => [k, v[0], v[1]]), 'params');
  const rows = await cells(page, '#compare-tasks tbody tr');
  same(rows.map(r => [r[0], r[1], r[2], r[5]]), diff.tasks.map(t => [t.key, t.state[0], t.state[1],
    t.outputs_differ.length ? t.outputs_differ.length + ' of ' + t.outputs + ' differ: ' + t.outputs_differ.join(', ')
      : t.outputs ? 'same' : '']), 'task instances');
  const differs = await page.$$eval('#compare-tasks tbody tr.differs td:first-child', tds => tds.map(td => td.textContent));
  same(differs, diff.tasks.filter(t => t.outputs_differ.length).map(t => t.key), 'rows marked as differing');
  if (!differs.length) throw new Error('the runs\' outputs differ, yet no row is marked');
  await page.screenshot({ path: path.join(out, 'compare.png'), fullPage: true });

  step('the replay run links to its report');
  await go('#/runs/' + run3);
  await page.waitForSelector('#replay-link');
  same(await page.textContent('#replay-link'), 'every output identical', 'replay link');
  await page.click('#replay-link');
  await page.waitForFunction(r => location.hash === '#/runs/' + r + '/replay', run3);
  await page.waitForSelector('#replay-files tbody tr');
  same(await page.textContent('#replay-verdict'), 'identical', 'verdict');
  same(await cells(page, '#replay-files tbody tr'), report.files.map(f => [f.path,
    f.size === null ? '—' : String(f.size), f.expected_size === null ? '—' : String(f.expected_size), f.result]),
  'replay files');
  await page.screenshot({ path: path.join(out, 'replay.png'), fullPage: true });
}, 'replication browser test passed');
