// What the browser tests share: Debian's chromium (never a downloaded
// browser) started by playwright-core with a fresh profile, a page that
// collects its errors, and the exit status of the test.
//
//   const { withPage } = require('./chromium');
//   withPage({ viewport }, async (page, errors) => { ... }, 'NAME browser test passed');
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { chromium } = require('playwright-core');

// Runs fn(page, errors) in a fresh headless chromium; prints `passed` when
// it resolves with no error in the page, else the failure, and exits 1.
async function withPage(opts, fn, passed) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-chromium-'));
  let browser;
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true, viewport: opts.viewport || { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const errors = [];
    const page = await browser.newPage();
    page.on('pageerror', e => errors.push('pageerror: ' + e.message));
    page.on('console', m => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
    await fn(page, errors);
    if (errors.length) throw new Error('errors in the page:\n' + errors.join('\n'));
    console.log(passed);
  } catch (e) {
    console.error(e.stack || String(e));
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

module.exports = { withPage };
