// Reads a bundle's ro-crate-metadata.json with the npm ro-crate package (an
// independent RO-Crate implementation) and checks it describes the run:
//   node check-crate.js DIR INSTANCES
// DIR: the unpacked bundle; INSTANCES: the run's task instances.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { ROCrate, validate } = require('ro-crate');

function fail(msg) { console.error('check-crate: ' + msg); process.exit(1); }
const asArray = v => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

(async () => {
  const [dir, instances] = process.argv.slice(2);
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'ro-crate-metadata.json'), 'utf8'));
  // RO-Crate 1.2's context ships with the package (tests have no network); the
  // validator's warning that it could not fetch it is expected, an error is not.
  const crate = new ROCrate(json, { array: true, link: true });
  await crate.resolveContext();
  const results = await validate(crate);
  const errors = results.filter(r => r.status === 'error');
  if (errors.length) fail('validator errors: ' + JSON.stringify(errors));
  const root = crate.rootDataset;
  if (!root) fail('no root dataset');
  const profiles = asArray(root.conformsTo).map(p => p['@id']);
  if (!profiles.includes('https://w3id.org/ro/wfrun/workflow/0.5')) fail('not a Workflow Run Crate: ' + profiles);
  const wf = asArray(root.mainEntity)[0];
  if (!wf || !asArray(wf['@type']).includes('ComputationalWorkflow')) fail('mainEntity is not a ComputationalWorkflow');
  if (!fs.existsSync(path.join(dir, wf['@id']))) fail('the workflow file is not in the bundle: ' + wf['@id']);
  const actions = asArray(root.mentions).filter(a => asArray(a['@type']).includes('CreateAction'));
  if (actions.length !== Number(instances) + 1) fail(`${actions.length} CreateActions, want ${Number(instances) + 1}`);
  let checked = 0;
  for (const a of actions) {
    if (!asArray(a.instrument).length) fail('action without instrument: ' + a['@id']);
    if (!asArray(a.startTime).length || !asArray(a.endTime).length) fail('action without times: ' + a['@id']);
    for (const f of asArray(a.result)) {
      if (!f['@id'].startsWith('outputs/')) continue;
      const file = path.join(dir, decodeURIComponent(f['@id']));
      const data = fs.readFileSync(file);
      const sha = crypto.createHash('sha256').update(data).digest('hex');
      if (asArray(f.sha256)[0] !== sha) fail(`${f['@id']}: sha256 ${asArray(f.sha256)[0]}, file has ${sha}`);
      if (String(asArray(f.contentSize)[0]) !== String(data.length)) fail(`${f['@id']}: contentSize`);
      checked++;
    }
  }
  if (!checked) fail('no result file was checked');
  console.log(`crate ok: ${actions.length} actions, ${checked} result files checked`);
})().catch(e => fail(e.stack || String(e)));
