// SynthFlow UI: plain JavaScript, no dependencies, no network beyond this
// server.  Every piece of data reaches the page through textContent or
// attribute setters, never through HTML parsing, so a task id or a param
// value holding markup shows as text.
'use strict';

const STATES = ['queued', 'running', 'success', 'failed', 'up_for_retry', 'upstream_failed',
  'skipped', 'cancelled'];
const FINAL_RUN = ['success', 'failed', 'cancelled'];
const AUDIO = /\.(wav|flac|ogg|opus|mp3)$/i;
const IMAGE = /\.(png|jpe?g|gif|webp)$/i;
const TEXT = /\.(txt|log|csv|tsv|json|ya?ml|md|py|sh)$/i;

// ---- small helpers ----

function el(tag, attrs, ...kids) {
  const svg = ['svg', 'g', 'rect', 'path', 'text', 'title', 'tspan', 'defs', 'marker'].includes(tag);
  const e = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.setAttribute('class', v);
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.appendChild(typeof k === 'object' ? k : document.createTextNode(String(k)));
  }
  return e;
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return '';
}

function port() {
  return location.port || (location.protocol === 'https:' ? '443' : '80');
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || ('HTTP ' + status));
    this.status = status;
    this.body = body || {};
  }
}

async function api(path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: {}, credentials: 'same-origin' };
  if (init.method !== 'GET') {
    init.headers['X-SynthFlow-CSRF'] = cookie('sf_csrf_' + port());
    if (opts.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
  }
  if (opts.range) init.headers.Range = opts.range;
  const r = await fetch(path, init);
  if (r.status === 401) {
    showLogin();
    throw new ApiError(401, { error: 'not signed in' });
  }
  if (opts.raw) {
    if (!r.ok && r.status !== 206) throw new ApiError(r.status, await r.json().catch(() => null));
    return r;
  }
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

const enc = encodeURIComponent;

function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const sec = (Date.now() - d.getTime()) / 1000;
  if (sec < 60) return Math.max(0, Math.round(sec)) + 's ago';
  if (sec < 3600) return Math.round(sec / 60) + ' min ago';
  if (sec < 86400) return Math.round(sec / 3600) + ' h ago';
  return d.toLocaleString();
}

function fmtDur(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return '';
  if (ms < 1000) return Math.round(ms) + ' ms';
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + Math.round(s % 60) + 's';
  return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
}

function duration(o) {
  if (!o.started_at) return null;
  const end = o.ended_at ? Date.parse(o.ended_at) : Date.now();
  return end - Date.parse(o.started_at);
}

function fmtSize(n) {
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1048576).toFixed(1) + ' MiB';
}

function badge(state) {
  return el('span', { class: 'badge st-' + (state || 'none'), text: (state || 'none').replace('_', ' ') });
}

function legend() {
  return el('div', { class: 'legend' }, STATES.map(s =>
    el('span', {}, el('i', { class: 'st-' + s }), s.replace('_', ' '))));
}

// Coalesces bursts of events into one refresh at most every `ms` (a number,
// or a function giving it, for refreshes whose cost grows with the data).
function throttle(fn, ms) {
  let timer = null, again = false;
  return function run() {
    if (timer) { again = true; return; }
    fn();
    timer = setTimeout(() => { timer = null; if (again) { again = false; run(); } },
      typeof ms === 'function' ? ms() : ms);
  };
}

// ---- live updates (server-sent events) ----

let view = null; // the current page: {onEvent(kind, data), close()}
let source = null;
let signedOut = false;

function connectEvents() {
  const live = document.getElementById('live');
  source = new EventSource('/api/v1/events');
  source.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  source.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.className = 'live off'; });
  for (const kind of ['run', 'task', 'dags', 'hello']) {
    source.addEventListener(kind, ev => {
      let data = {};
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (view && view.onEvent) view.onEvent(kind, data);
    });
  }
}

// ---- pages ----

const app = () => document.getElementById('app');

// replaceChildren that skips the null/false of optional parts.
function put(parent, ...kids) {
  parent.replaceChildren(...kids.flat().filter(k => k !== null && k !== undefined && k !== false));
}

function mount(...nodes) {
  put(app(), ...nodes);
}

function failure(err) {
  return el('div', { class: 'banner', text: err.message || String(err) });
}

function showLogin() {
  signedOut = true;
  if (source) { source.close(); source = null; }
  const live = document.getElementById('live');
  live.textContent = 'signed out';
  live.className = 'live';
  view = null;
  const input = el('input', { type: 'text', placeholder: 'http://127.0.0.1:8881/?token=…  or the token', size: 60 });
  const go = ev => {
    ev.preventDefault();
    const v = input.value.trim();
    const m = v.match(/[?&]token=([^&#\s]+)/);
    location.href = '/?token=' + enc(m ? decodeURIComponent(m[1]) : v);
  };
  mount(el('div', { class: 'card', style: null },
    el('h1', { text: 'Sign in' }),
    el('p', {}, 'Open the URL that ', el('code', { text: 'synthflow serve' }),
      ' printed (it ends in ', el('code', { text: '?token=…' }), '), or paste it here. The token is also in ',
      el('code', { text: 'flow/secret' }), ' of your data folder.'),
    el('form', { onsubmit: go, class: 'row' }, input, el('button', { class: 'primary', type: 'submit', text: 'Sign in' }))));
}

function pausedSwitch(dag, paused, onChange) {
  const box = el('input', { type: 'checkbox', 'aria-label': 'paused' });
  box.checked = !!paused;
  box.addEventListener('change', async () => {
    try {
      await api('/api/v1/dags/' + enc(dag) + '/pause', { method: 'POST', body: { paused: box.checked } });
      if (onChange) onChange(box.checked);
    } catch (e) {
      box.checked = !box.checked;
      alert(e.message);
    }
  });
  return el('label', { class: 'switch', title: 'paused: schedules and file triggers do not start runs' }, box, el('span'));
}

async function pageDags() {
  let dags;
  const render = async () => {
    const res = await api('/api/v1/dags');
    dags = res.dags;
    const rows = dags.map(d => el('tr', { 'data-dag': d.dag_id },
      el('td', {}, pausedSwitch(d.dag_id, d.paused)),
      el('td', {}, el('a', { href: '#/dags/' + enc(d.dag_id), class: 'dag-link', text: d.dag_id }),
        d.workspace ? el('div', { class: 'muted', text: d.workspace }) : null),
      el('td', { text: d.description || '' }),
      el('td', { class: 'mono', text: d.schedule || (d.on_file ? 'on file ' + d.on_file : '') },
        d.next_run ? el('div', { class: 'muted', text: 'next ' + d.next_run + (d.paused ? ' (paused)' : '') }) : null,
        (d.warnings || []).length ? el('div', { class: 'notyet', title: d.warnings.join('\n'), text: 'not acted on yet' }) : null),
      el('td', {}, d.recent_runs.slice().reverse().map(r =>
        el('a', { href: '#/runs/' + enc(r.run_id), title: r.run_id + ': ' + r.state + ' ' + fmtTime(r.created_at) },
          el('span', { class: 'dot st-' + r.state })))),
      el('td', { class: 'muted', text: d.recent_runs[0] ? fmtTime(d.recent_runs[0].created_at) : 'never' }),
      el('td', {}, el('a', { class: 'button primary', href: '#/dags/' + enc(d.dag_id) + '/trigger', text: 'Trigger' }))));
    const table = el('table', { class: 'list' },
      el('thead', {}, el('tr', {}, ['Active', 'DAG', 'Description', 'Schedule', 'Recent runs', 'Last run', ''].map(h => el('th', { text: h })))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 7, class: 'muted', text: 'No DAGs yet: add YAML files under run-data/src/NAME/dags/.' }))));
    mount(el('h1', { text: 'DAGs' }),
      el('p', { class: 'muted', text: res.total + ' DAG' + (res.total === 1 ? '' : 's') +
        (res.invalid_files ? ' · ' + res.invalid_files + ' file(s) with errors (run synthflow dags validate)' : '') }),
      table);
  };
  await render();
  const refresh = throttle(() => render().catch(() => {}), 1000);
  return { onEvent(kind) { if (kind === 'run' || kind === 'dags') refresh(); } };
}

// Layered layout: longest-path layers, then barycentre ordering sweeps.
function layout(tasks, edges) {
  const ids = tasks.map(t => t.task_id);
  const idx = new Map(ids.map((id, i) => [id, i]));
  const preds = ids.map(() => []), succs = ids.map(() => []);
  for (const [a, b] of edges) {
    if (!idx.has(a) || !idx.has(b)) continue;
    preds[idx.get(b)].push(idx.get(a));
    succs[idx.get(a)].push(idx.get(b));
  }
  const layer = ids.map(() => 0), indeg = preds.map(p => p.length), queue = [];
  indeg.forEach((d, i) => { if (!d) queue.push(i); });
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q];
    for (const s of succs[v]) {
      layer[s] = Math.max(layer[s], layer[v] + 1);
      if (--indeg[s] === 0) queue.push(s);
    }
  }
  const nlayers = Math.max(0, ...layer) + 1;
  const layers = Array.from({ length: nlayers }, () => []);
  ids.forEach((_, i) => layers[layer[i]].push(i));
  const pos = new Array(ids.length).fill(0);
  const place = () => layers.forEach(l => l.forEach((v, k) => { pos[v] = k; }));
  place();
  const bary = (v, nb) => nb.length ? nb.reduce((s, u) => s + pos[u], 0) / nb.length : pos[v];
  for (let it = 0; it < 4; it++) {
    for (let l = 1; l < nlayers; l++) {
      layers[l].sort((a, b) => bary(a, preds[a]) - bary(b, preds[b]));
      layers[l].forEach((v, k) => { pos[v] = k; });
    }
    for (let l = nlayers - 2; l >= 0; l--) {
      layers[l].sort((a, b) => bary(a, succs[a]) - bary(b, succs[b]));
      layers[l].forEach((v, k) => { pos[v] = k; });
    }
  }
  const W = 168, H = 38, GX = 56, GY = 14;
  const tall = Math.max(1, ...layers.map(l => l.length));
  const xy = ids.map((_, i) => {
    const l = layers[layer[i]];
    const off = (tall - l.length) * (H + GY) / 2;
    return { x: 12 + layer[i] * (W + GX), y: 12 + off + pos[i] * (H + GY) };
  });
  return { ids, xy, W, H, width: 24 + nlayers * (W + GX) - GX, height: 24 + tall * (H + GY) - GY, succs };
}

// State of a task in a run, from the run's instances: a state, or counts.
function taskStates(run) {
  const m = new Map();
  for (const t of (run && run.tasks) || []) {
    if (t.index === null) { m.set(t.task_id, t.state); continue; }
    const c = m.get(t.task_id) || {};
    c[t.state] = (c[t.state] || 0) + 1;
    m.set(t.task_id, c);
  }
  return m;
}

// The single state a foreach cell stands for: failures first, then activity.
function summaryState(c) {
  if (typeof c === 'string') return c;
  if (!c) return 'none';
  for (const s of ['failed', 'upstream_failed', 'running', 'up_for_retry', 'queued', 'cancelled'])
    if (c[s]) return s;
  if (c.success) return 'success';
  return c.skipped ? 'skipped' : 'none';
}

function countsText(c) {
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  return (c.success || 0) + '/' + total;
}

function drawGraph(dag, lay, states, onNode) {
  const svg = el('svg', { class: 'graph', width: lay.width, height: lay.height, viewBox: `0 0 ${lay.width} ${lay.height}` });
  svg.appendChild(el('defs', {}, el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto' }, el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#aab3bf' }))));
  const edges = el('g');
  lay.succs.forEach((ss, a) => ss.forEach(b => {
    const p = lay.xy[a], q = lay.xy[b];
    const x1 = p.x + lay.W, y1 = p.y + lay.H / 2, x2 = q.x, y2 = q.y + lay.H / 2, mx = (x1 + x2) / 2;
    edges.appendChild(el('path', { class: 'edge', 'marker-end': 'url(#arrow)', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
  }));
  svg.appendChild(edges);
  dag.tasks.forEach((t, i) => {
    const s = states.get(t.task_id);
    const st = summaryState(s);
    const { x, y } = lay.xy[i];
    const label = t.task_id.length > 22 ? t.task_id.slice(0, 21) + '…' : t.task_id;
    const g = el('g', { class: 'node st-' + st, 'data-task': t.task_id, 'data-state': st, transform: `translate(${x},${y})`,
      onclick: () => onNode(t) },
      el('title', { text: t.task_id + ': ' + (typeof s === 'object' ? JSON.stringify(s) : (s || 'no run')) }),
      el('rect', { width: lay.W, height: lay.H, class: 'st-' + st }),
      el('text', { x: 10, y: t.foreach ? 16 : 23, text: label }));
    if (t.foreach) g.appendChild(el('text', { x: 10, y: 30, class: 'sub', text: s && typeof s === 'object' ? 'foreach ' + countsText(s) : 'foreach' }));
    svg.appendChild(g);
  });
  return svg;
}

function gridCell(cell, task, run, expand) {
  if (cell === null || cell === undefined) return el('span', { class: 'cell st-none' });
  if (typeof cell === 'string') {
    return el('a', { class: 'cell st-' + cell, href: '#/runs/' + enc(run.run_id) + '/log/' + enc(task.task_id),
      title: task.task_id + ' · ' + cell });
  }
  const st = summaryState(cell);
  const total = Object.values(cell).reduce((a, b) => a + b, 0);
  return el('button', { class: 'cell multi st-' + st, title: task.task_id + ' · ' + JSON.stringify(cell) + ' (click to expand)',
    onclick: expand, text: total > 99 ? '99+' : total });
}

async function pageDag(dagId, query) {
  let dag, grid, run = null, states = new Map(), lay, selected = query.get('run'), offset = 0;
  const graphBox = el('div', { class: 'graph-wrap' });
  const gridBox = el('div', { class: 'grid-wrap' });
  const histBox = el('div');
  const filesBox = el('div');
  const head = el('div');
  const runInfo = el('div', { class: 'row muted' });

  // The selected run's states: from the grid when it holds that run (no
  // download of every instance of a big foreach), else from the run itself.
  async function loadRun() {
    const id = selected || (grid.runs[0] && grid.runs[0].run_id);
    const i = grid.runs.findIndex(r => r.run_id === id);
    if (i >= 0) {
      run = grid.runs[i];
      states = new Map(grid.tasks.map((t, k) => [t.task_id, grid.cells[i][k]]).filter(e => e[1] !== null));
    } else {
      run = id ? await api('/api/v1/runs/' + enc(id)).catch(() => null) : null;
      states = taskStates(run);
    }
  }
  function renderGraph() {
    graphBox.replaceChildren(drawGraph(dag, lay, states, t => {
      if (!run) return;
      location.hash = t.foreach ? '#/runs/' + enc(run.run_id) : '#/runs/' + enc(run.run_id) + '/log/' + enc(t.task_id);
    }));
    runInfo.replaceChildren(run
      ? el('span', {}, 'Showing run ', el('a', { href: '#/runs/' + enc(run.run_id), class: 'mono', text: run.run_id }), ' ', badge(run.state),
        ' ' + fmtTime(run.created_at))
      : el('span', { text: 'No runs yet.' }));
  }
  // The foreach cell the user expanded ({ task, run, row }): the grid is
  // drawn again at every change of its runs, and the expansion must survive
  // that (it used to vanish when a late change came after the click).
  let expanded = null;
  function taskRow(taskId) {
    return [...gridBox.querySelectorAll('tbody tr[data-task]')].find(x => x.dataset.task === taskId);
  }
  function placeExpansion() {
    gridBox.querySelectorAll('tr.expand').forEach(x => x.remove());
    const tr = expanded && expanded.row && taskRow(expanded.task);
    if (tr) tr.after(expanded.row);
  }
  async function loadExpansion(want, ncols) {
    const full = await api('/api/v1/runs/' + enc(want.run));
    if (expanded !== want) return; // closed, or another one opened meanwhile
    const inst = full.tasks.filter(x => x.task_id === want.task);
    want.row = el('tr', { class: 'expand', 'data-run': want.run },
      el('td', { colspan: ncols + 1 },
        el('div', { class: 'muted', text: want.task + ' in ' + want.run + ': ' + inst.length + ' items' }),
        el('div', { class: 'instances' }, inst.map(x => el('a', {
          class: 'st-' + x.state, title: '#' + x.index + ' ' + x.state,
          href: '#/runs/' + enc(want.run) + '/log/' + enc(want.task) + '?index=' + x.index })))));
    placeExpansion();
  }
  function expandForeach(task, r, ncols) {
    const same = expanded && expanded.task === task.task_id && expanded.run === r.run_id;
    expanded = same ? null : { task: task.task_id, run: r.run_id, row: null };
    placeExpansion();
    if (expanded) loadExpansion(expanded, ncols);
  }
  function renderGrid() {
    const runs = grid.runs.slice().reverse(); // oldest left, as a timeline
    const cells = grid.cells.slice().reverse();
    const thead = el('tr', {}, el('th', { class: 'task' }),
      runs.map(r => el('th', { class: 'run' + (run && r.run_id === run.run_id ? ' selected' : '') },
        el('a', { class: 'st-' + r.state, href: '#/dags/' + enc(dagId) + '?run=' + enc(r.run_id),
          title: r.run_id + ' · ' + r.state + ' · ' + fmtTime(r.created_at) }))));
    const body = el('tbody');
    grid.tasks.forEach((t, ti) => {
      const tr = el('tr', { 'data-task': t.task_id }, el('th', { class: 'task', title: t.task_id, text: t.task_id }));
      runs.forEach((r, ri) => {
        tr.appendChild(el('td', {}, gridCell(cells[ri][ti], t, r, () => expandForeach(t, r, runs.length))));
      });
      body.appendChild(tr);
    });
    gridBox.replaceChildren(el('table', { class: 'grid' }, el('thead', {}, thead), body));
    // an expansion stays open while its run is in the grid, its states read again
    if (expanded && runs.some(r => r.run_id === expanded.run) && taskRow(expanded.task)) {
      placeExpansion();
      loadExpansion(expanded, runs.length);
    } else {
      expanded = null;
    }
  }
  // Two runs ticked in the history: the Compare view (#/compare/A/B).
  const picked = [];
  const compareButton = el('button', { id: 'compare', text: 'Compare 2 runs', disabled: true,
    onclick: () => { location.hash = '#/compare/' + enc(picked[0]) + '/' + enc(picked[1]); } });
  function pickRun(id, on) {
    const i = picked.indexOf(id);
    if (on && i < 0) picked.push(id);
    if (!on && i >= 0) picked.splice(i, 1);
    while (picked.length > 2) picked.shift();
    histBox.querySelectorAll('input[data-run]').forEach(c => { c.checked = picked.includes(c.dataset.run); });
    compareButton.disabled = picked.length !== 2;
  }
  async function renderHistory() {
    const res = await api('/api/v1/dags/' + enc(dagId) + '/runs?limit=25&offset=' + offset);
    const rows = res.runs.map(r => el('tr', {},
      el('td', {}, el('input', { type: 'checkbox', 'aria-label': 'compare ' + r.run_id, 'data-run': r.run_id,
        checked: picked.includes(r.run_id), onchange: e => pickRun(r.run_id, e.target.checked) })),
      el('td', {}, el('a', { class: 'mono', href: '#/runs/' + enc(r.run_id), text: r.run_id })),
      el('td', {}, badge(r.state)),
      el('td', { title: r.created_at, text: fmtTime(r.created_at) }),
      el('td', { class: 'num', text: fmtDur(duration(r)) }),
      el('td', { class: 'mono', text: JSON.stringify(r.params || {}) })));
    put(histBox, el('table', { class: 'list' },
      el('thead', {}, el('tr', {}, ['', 'Run', 'State', 'Created', 'Duration', 'Params'].map(h => el('th', { text: h })))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No runs yet.' })))),
    el('div', { class: 'pager' }, compareButton,
      el('button', { text: '‹ Newer', disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - 25); renderHistory(); } }),
      el('span', { class: 'muted', text: res.total ? `${offset + 1}–${Math.min(offset + 25, res.total)} of ${res.total}` : '' }),
      el('button', { text: 'Older ›', disabled: offset + 25 >= res.total, onclick: () => { offset += 25; renderHistory(); } })));
  }
  // Files in downloaded/ this DAG took (on_file), with a retry per file.
  async function renderFiles() {
    if (!dag.on_file) return;
    const res = await api('/api/v1/dags/' + enc(dagId) + '/files');
    const rows = res.files.map(f => el('tr', {},
      el('td', { class: 'mono', text: f.path + (f.dir ? '/' : '') }),
      el('td', {}, f.run_id
        ? el('span', {}, 'run ', el('a', { class: 'mono', href: '#/runs/' + enc(f.run_id), text: f.run_id }))
        : el('span', { text: f.status })),
      el('td', { title: f.at, text: fmtTime(f.at) }),
      el('td', {}, f.dag_id ? el('button', { text: 'Retry', title: 'a new run for this file', onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api('/api/v1/dags/' + enc(dagId) + '/files/retry', { method: 'POST', body: { path: f.path } });
          await renderFiles();
        } catch (e) { alert(e.message); ev.target.disabled = false; }
      } }) : '')));
    put(filesBox, el('table', { class: 'list' },
      el('thead', {}, el('tr', {}, ['File in downloaded/', 'Status', 'At', ''].map(h => el('th', { text: h })))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'No files matching ' + dag.on_file + ' yet.' })))));
  }
  function renderHead() {
    put(head,
      el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'DAGs' }), ' / ' + dagId),
      el('h1', {}, el('span', { text: dagId }), pausedSwitch(dagId, dag.paused), el('span', { class: 'spacer' }),
        el('a', { class: 'button primary', href: '#/dags/' + enc(dagId) + '/trigger', text: 'Trigger' })),
      el('p', { class: 'muted', text: [dag.description, dag.schedule && 'schedule ' + dag.schedule + (dag.timezone ? ' (' + dag.timezone + ')' : ''),
        dag.next_run && 'next ' + dag.next_run,
        dag.on_file && 'on file ' + dag.on_file, dag.tasks.length + ' tasks'].filter(Boolean).join(' · ') }),
      // keys the DAG file sets that nothing acts on yet (src/flow/notyet.c)
      (dag.warnings || []).map(w => el('p', { class: 'notyet', text: 'warning: ' + w })));
  }

  [dag, grid] = await Promise.all([api('/api/v1/dags/' + enc(dagId)), api('/api/v1/dags/' + enc(dagId) + '/grid?limit=25')]);
  lay = layout(dag.tasks, dag.edges);
  await loadRun();
  renderHead();
  mount(head, el('h2', { text: 'Graph' }), runInfo, graphBox, legend(),
    el('h2', { text: 'Grid (recent runs × tasks)' }), gridBox,
    el('h2', { text: 'Run history' }), histBox,
    dag.on_file ? el('h2', { text: 'Files' }) : '', filesBox);
  renderGraph();
  renderGrid();
  await renderHistory();
  await renderFiles();
  const t0 = performance.now();
  document.body.dataset.rendered = String(t0);

  const refresh = throttle(async () => {
    try {
      grid = await api('/api/v1/dags/' + enc(dagId) + '/grid?limit=25');
      await loadRun();
      renderGraph();
      renderGrid();
      renderHistory();
      renderFiles();
    } catch (e) { /* the next event retries */ }
  }, 400);
  return {
    onEvent(kind, d) {
      if ((kind === 'run' || kind === 'task') && d.dag_id === dagId) refresh();
      if (kind === 'dags') route();
    },
  };
}

function paramInput(name, p) {
  const id = 'p-' + name;
  let input;
  if (p.type === 'enum') {
    input = el('select', { id, name }, (p.values || []).map(v => el('option', { value: v, text: v })));
    if (p.default !== null && p.default !== undefined) input.value = p.default;
  } else if (p.type === 'boolean') {
    input = el('input', { id, name, type: 'checkbox' });
    input.checked = !!p.default;
  } else {
    const num = p.type === 'integer' || p.type === 'number';
    input = el('input', { id, name, type: num ? 'number' : 'text',
      step: p.type === 'integer' ? 1 : (num ? 'any' : null),
      min: p.minimum, max: p.maximum, placeholder: p.type === 'path' ? 'path to a file' : null });
    if (p.default !== null && p.default !== undefined) input.value = String(p.default);
  }
  return input;
}

function readParam(p, input) {
  if (p.type === 'boolean') return input.checked;
  const v = input.value;
  if (v === '') return undefined;
  if (p.type === 'integer' || p.type === 'number') {
    const n = Number(v);
    return Number.isNaN(n) ? v : n; // let the server say what is wrong
  }
  return v;
}

async function pageTrigger(dagId) {
  const dag = await api('/api/v1/dags/' + enc(dagId));
  const fields = new Map();
  const top = el('div', { class: 'msg error' });
  const form = el('form', { class: 'trigger card', novalidate: true });
  for (const [name, p] of Object.entries(dag.params || {})) {
    const input = paramInput(name, p);
    const msg = el('div', { class: 'msg', 'data-msg-for': name });
    const range = [p.minimum !== undefined && p.minimum !== null ? 'min ' + p.minimum : null,
      p.maximum !== undefined && p.maximum !== null ? 'max ' + p.maximum : null].filter(Boolean).join(', ');
    const box = el('div', { class: 'field' },
      el('label', { for: 'p-' + name }, name, ' ', el('span', { class: 'muted', text: p.type + (range ? ' (' + range + ')' : '') }),
        p.required ? el('span', { class: 'req', text: ' *' }) : null),
      p.description ? el('div', { class: 'desc', text: p.description }) : null,
      input, msg);
    fields.set(name, { p, input, msg, box });
    form.appendChild(box);
  }
  if (!fields.size) form.appendChild(el('p', { class: 'muted', text: 'This DAG takes no parameters.' }));
  const submit = el('button', { class: 'primary', type: 'submit', text: 'Trigger run' });
  form.append(top, el('div', { class: 'row' }, submit, el('a', { href: '#/dags/' + enc(dagId), text: 'Cancel' })));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const params = {};
    for (const [name, f] of fields) {
      f.box.classList.remove('invalid');
      f.msg.textContent = '';
      const v = readParam(f.p, f.input);
      if (v !== undefined) params[name] = v;
    }
    top.textContent = '';
    submit.disabled = true;
    try {
      const res = await api('/api/v1/dags/' + enc(dagId) + '/runs', { method: 'POST', body: { params } });
      location.hash = '#/dags/' + enc(dagId) + '?run=' + enc(res.run_id);
    } catch (e) {
      const f = e.body && e.body.param && fields.get(e.body.param);
      if (f) {
        f.box.classList.add('invalid');
        f.msg.textContent = e.message;
        f.input.focus();
      } else {
        top.textContent = e.message;
      }
    } finally {
      submit.disabled = false;
    }
  });
  mount(el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'DAGs' }), ' / ',
    el('a', { href: '#/dags/' + enc(dagId), text: dagId }), ' / trigger'),
  el('h1', { text: 'Trigger ' + dagId }),
  dag.description ? el('p', { class: 'muted', text: dag.description }) : null, form);
  return {};
}

// Execution order: what started first, then what has not started, by id.
function byStart(a, b) {
  const sa = a.started_at ? Date.parse(a.started_at) : Infinity;
  const sb = b.started_at ? Date.parse(b.started_at) : Infinity;
  if (sa !== sb) return sa - sb;
  if (a.task_id !== b.task_id) return a.task_id < b.task_id ? -1 : 1;
  return (a.index || 0) - (b.index || 0);
}

function gantt(run) {
  const tis = run.tasks.filter(t => t.started_at);
  if (!tis.length) return el('p', { class: 'muted', text: 'Nothing has started yet.' });
  const t0 = Math.min(...tis.map(t => Date.parse(t.started_at)));
  const t1 = Math.max(...tis.map(t => (t.ended_at ? Date.parse(t.ended_at) : Date.now())));
  const span = Math.max(1, t1 - t0);
  const shown = tis.slice(0, 300);
  const box = el('div', { class: 'gantt' }, shown.map(t => {
    const s = Date.parse(t.started_at) - t0;
    const e = (t.ended_at ? Date.parse(t.ended_at) : Date.now()) - t0;
    const bar = el('div', { class: 'g-bar st-' + t.state, title: `${t.task_id}${t.index !== null ? '[' + t.index + ']' : ''}: ${fmtDur(e - s)}` });
    bar.style.left = (100 * s / span) + '%';
    bar.style.width = (100 * (e - s) / span) + '%';
    return el('div', { class: 'g-row' },
      el('div', { class: 'g-label', text: t.task_id + (t.index !== null ? '[' + t.index + ']' : '') }),
      el('div', { class: 'g-track' }, bar));
  }));
  if (tis.length > shown.length) box.appendChild(el('div', { class: 'muted', text: `… and ${tis.length - shown.length} more` }));
  box.appendChild(el('div', { class: 'muted', text: 'total ' + fmtDur(span) }));
  return box;
}

function fileUrl(runId, path) {
  return '/api/v1/runs/' + enc(runId) + '/file?path=' + enc(path);
}

function fileRow(runId, f, players, base) {
  const url = fileUrl(runId, f.path);
  const show = el('td');
  if (AUDIO.test(f.path)) {
    const mk = () => el('audio', { controls: true, preload: 'metadata', src: url });
    if (players.n++ < 20) show.appendChild(mk());
    else show.appendChild(el('button', { text: 'Load player', onclick: ev => ev.target.replaceWith(mk()) }));
  } else if (IMAGE.test(f.path)) {
    show.appendChild(el('img', { class: 'thumb', loading: 'lazy', alt: f.path, src: url }));
  } else if (TEXT.test(f.path) || f.type.startsWith('text/')) {
    show.appendChild(el('button', { text: 'Preview', onclick: async ev => {
      const r = await api(url, { raw: true, range: 'bytes=0-65535' });
      const text = await r.text();
      ev.target.replaceWith(el('pre', { class: 'preview', text: text + (f.size > 65536 ? '\n…' : '') }));
    } }));
  }
  return el('tr', {},
    el('td', { class: 'fname' }, el('a', { class: 'mono', href: url, target: '_blank', rel: 'noopener', title: f.path,
      text: base && f.path.startsWith(base + '/') ? f.path.slice(base.length + 1) : f.path }),
      f.output ? el('div', { class: 'muted', text: 'output of ' + f.output }) : null),
    el('td', { class: 'num', text: fmtSize(f.size) }), show);
}

// Runs the task (every foreach item) again; with `down`, everything after it too.
function clearButton(runId, task, down) {
  return el('button', {
    text: down ? 'Clear ↓' : 'Clear',
    title: down ? 'run ' + task + ' and everything downstream of it again' : 'run ' + task + ' again',
    onclick: async ev => {
      ev.target.disabled = true;
      try {
        await api('/api/v1/runs/' + enc(runId) + '/tasks/' + enc(task) + '/clear', { method: 'POST', body: { downstream: down } });
      } catch (e) {
        alert(e.message);
      } finally {
        ev.target.disabled = false;
      }
    },
  });
}

async function pageRun(runId) {
  let run;
  const head = el('div'), table = el('div'), chart = el('div'), files = el('div');
  let limit = 200;

  let filesShown = 50;
  // Declared outputs first (what the run is for), then the run folder.
  async function renderFiles() {
    const res = await api('/api/v1/runs/' + enc(runId) + '/files');
    if (!res.files.length) { files.replaceChildren(el('p', { class: 'muted', text: 'No files yet in ' + (res.run_dir || 'the run folder') + '.' })); return; }
    const players = { n: 0 };
    const outputs = res.files.filter(f => f.output), inDir = res.files.filter(f => !f.output);
    const table = (title, list, base) => list.length ? [
      el('h3', { text: title }),
      el('table', { class: 'list files' }, el('thead', {}, el('tr', {}, ['File', 'Size', ''].map(h => el('th', { text: h })))),
        el('tbody', {}, list.slice(0, filesShown).map(f => fileRow(runId, f, players, base)))),
      list.length > filesShown ? el('div', { class: 'pager' }, el('button', {
        text: `Show all ${list.length} files`, onclick: () => { filesShown = Infinity; renderFiles(); } })) : null,
    ] : [];
    put(files, table('Outputs', outputs, null),
      table('Run folder ' + res.run_dir + ' (' + inDir.length + ' files' + (res.truncated ? ', list truncated' : '') + ')', inDir, res.run_dir));
  }
  function render() {
    const final = FINAL_RUN.includes(run.state);
    run.tasks.sort(byStart);
    put(head,
      el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'DAGs' }), ' / ',
        el('a', { href: '#/dags/' + enc(run.dag_id) + '?run=' + enc(run.run_id), text: run.dag_id }), ' / run',
        ' · ', el('a', { href: '#/runs/' + enc(run.run_id) + '/dataset', id: 'dataset-link', text: 'dataset view' })),
      el('h1', {}, el('span', { class: 'mono', text: run.run_id }), badge(run.state), el('span', { class: 'spacer' }),
        final ? null : el('button', { class: 'danger', text: 'Cancel run', onclick: async () => {
          if (!confirm('Cancel run ' + run.run_id + '?')) return;
          try { await api('/api/v1/runs/' + enc(run.run_id) + '/cancel', { method: 'POST' }); } catch (e) { alert(e.message); }
        } })),
      el('dl', { class: 'kv' },
        el('dt', { text: 'created' }), el('dd', { title: run.created_at, text: fmtTime(run.created_at) }),
        el('dt', { text: 'duration' }), el('dd', { text: fmtDur(duration(run)) || '—' }),
        el('dt', { text: 'params' }), el('dd', { class: 'mono', text: JSON.stringify(run.params) }),
        run.reason ? el('dt', { text: 'reason' }) : null, run.reason ? el('dd', { text: run.reason }) : null));
    const rows = run.tasks.slice(0, limit).map(t => {
      const log = '#/runs/' + enc(run.run_id) + '/log/' + enc(t.task_id) + (t.index !== null ? '?index=' + t.index : '');
      return el('tr', { 'data-task': t.task_id },
        el('td', {}, el('a', { href: log, text: t.task_id })),
        el('td', { class: 'num', text: t.index === null ? '' : t.index }),
        el('td', {}, badge(t.state), t.cached
          ? el('span', { class: 'cached-mark', title: t.reason || 'outputs restored from the content cache', text: 'cached' }) : null),
        el('td', { class: 'num', text: t.try }),
        el('td', { class: 'num', text: t.exit_code === null ? '' : t.exit_code }),
        el('td', { title: t.started_at || '', text: fmtTime(t.started_at) }),
        el('td', { class: 'num', text: fmtDur(duration(t)) }),
        el('td', { class: 'actions' }, el('a', { href: log, text: 'log' }), ' ',
          clearButton(run.run_id, t.task_id, false), ' ', clearButton(run.run_id, t.task_id, true)));
    });
    put(table, el('table', { class: 'list' },
      el('thead', {}, el('tr', {}, ['Task', 'Index', 'State', 'Try', 'Exit', 'Started', 'Duration', ''].map(h => el('th', { text: h })))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 8, class: 'muted', text: 'The run has not started yet.' })))),
    run.tasks.length > limit ? el('div', { class: 'pager' }, el('button', { text: `Show more (${run.tasks.length - limit} left)`, onclick: () => { limit += 500; render(); } })) : null);
    chart.replaceChildren(gantt(run));
  }
  run = await api('/api/v1/runs/' + enc(runId));
  const replayBox = el('div');
  api('/api/v1/runs/' + enc(runId) + '/provenance').then(p => {
    const rec = p.provenance;
    if (rec && rec.replay_of) replayBox.replaceChildren(el('p', {}, 'Replay of run ', el('span', { class: 'mono', text: rec.replay_of }),
      rec.replay ? [' · ', el('a', { href: '#/runs/' + enc(runId) + '/replay', id: 'replay-link',
        text: rec.replay.identical ? 'every output identical' : 'outputs differ: see the report' })] : null));
  }).catch(() => {});
  mount(head, replayBox, el('h2', { text: 'Tasks' }), table, el('h2', { text: 'Timeline' }), chart, el('h2', { text: 'Results' }), files);
  render();
  renderFiles().catch(e => files.replaceChildren(failure(e)));
  const refresh = throttle(async () => {
    try {
      const was = run.state;
      run = await api('/api/v1/runs/' + enc(runId));
      render();
      if (was !== run.state || FINAL_RUN.includes(run.state)) renderFiles().catch(() => {});
    } catch (e) { /* retried on the next event */ }
  }, () => Math.min(5000, 500 + run.tasks.length / 4)); // a 10,000-item run: every 3 s
  return { onEvent(kind, d) { if ((kind === 'run' || kind === 'task') && d.run_id === runId) refresh(); } };
}

// What a task instance ran with (docs/replication.md): command, environment, file hashes.
function provenanceView(doc) {
  if (!doc) return el('p', { class: 'muted', text: 'No provenance recorded yet (it is written when a try ends).' });
  const files = (title, list) => list && list.length ? [el('h3', { text: title }),
    el('table', { class: 'list prov-files' },
      el('thead', {}, el('tr', {}, ['File', 'Size', 'SHA-256'].map(h => el('th', { text: h })))),
      el('tbody', {}, list.map(f => el('tr', {}, el('td', { class: 'mono', text: f.path }),
        el('td', { text: f.missing ? 'missing' : String(f.size) }),
        el('td', { class: 'mono', text: f.sha256 || '' })))))] : [];
  // a cached instance ran nothing: no command, folder or exit code, and try 0
  const row = (k, v) => v === null || v === undefined ? null
    : el('tr', {}, el('th', { text: k }), el('td', { class: 'mono', text: String(v) }));
  return el('div', { class: 'provenance', id: 'provenance' },
    el('table', { class: 'prov' }, el('tbody', {},
      doc.cached ? row('Cached from', 'run ' + doc.cached_from + (doc.cached_from_index != null ? ', item ' + doc.cached_from_index : '')) : null,
      doc.cached ? row('Cache key', doc.cache_key) : null,
      row('Command', doc.command), row('Folder', doc.workdir), doc.cached ? null : row('Try', doc.try),
      row('Exit code', doc.exit_code), row('Started', doc.started_at), row('Ended', doc.ended_at),
      ...Object.entries(doc.env || {}).map(([k, v]) => row(k, v)))),
    files('Foreach item', doc.item ? [doc.item] : null), files('Inputs', doc.inputs), files('Outputs', doc.outputs));
}

function pairRows(obj) {
  const show = v => v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v);
  return Object.entries(obj || {}).map(([k, v]) => el('tr', {}, el('td', { class: 'mono', text: k }),
    el('td', { class: 'mono', text: show(v[0]) }), el('td', { class: 'mono', text: show(v[1]) })));
}

// Two runs side by side (docs/ui.md): params, variables, per instance outputs and durations.
async function pageCompare(a, b) {
  const d = await api('/api/v1/runs/' + enc(a) + '/diff/' + enc(b));
  const secs = ms => ms === null ? '—' : (ms / 1000).toFixed(2) + ' s';
  const kv = (title, obj) => [el('h2', { text: title }), Object.keys(obj).length
    ? el('table', { class: 'list' }, el('thead', {}, el('tr', {}, ['Name', 'Run A', 'Run B'].map(h => el('th', { text: h })))),
      el('tbody', {}, pairRows(obj)))
    : el('p', { class: 'muted', text: 'The same in both runs.' })];
  const rows = d.tasks.map(t => el('tr', { class: t.outputs_differ.length ? 'differs' : '' },
    el('td', { class: 'mono', text: t.key }),
    el('td', {}, t.state[0] ? badge(t.state[0]) : '—'), el('td', {}, t.state[1] ? badge(t.state[1]) : '—'),
    el('td', { class: 'num', text: secs(t.duration_ms[0]) }), el('td', { class: 'num', text: secs(t.duration_ms[1]) }),
    el('td', { text: t.outputs_differ.length ? t.outputs_differ.length + ' of ' + t.outputs + ' differ: ' + t.outputs_differ.join(', ')
      : t.outputs ? 'same' : '' })));
  mount(el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'DAGs' }), ' / ',
    el('a', { href: '#/dags/' + enc(d.dag_id), text: d.dag_id }), ' / compare'),
  el('h1', {}, 'Compare ', el('a', { class: 'mono', href: '#/runs/' + enc(d.a), text: d.a }), ' and ',
    el('a', { class: 'mono', href: '#/runs/' + enc(d.b), text: d.b })),
  el('p', { class: 'muted', text: 'Duration ' + secs(d.duration_ms[0]) + ' and ' + secs(d.duration_ms[1]) }),
  kv('Params', d.params), kv('Variables', d.vars),
  el('h2', { text: 'Task instances' }),
  el('table', { class: 'list', id: 'compare-tasks' },
    el('thead', {}, el('tr', {}, ['Instance', 'State A', 'State B', 'Duration A', 'Duration B', 'Outputs'].map(h => el('th', { text: h })))),
    el('tbody', {}, rows)));
}

// A replay's report (synthflow replay): every output of the bundle, identical or not.
async function pageReplay(runId) {
  const res = await api('/api/v1/runs/' + enc(runId) + '/provenance');
  const rep = res.provenance && res.provenance.replay;
  const head = el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'DAGs' }), ' / ',
    el('a', { href: '#/runs/' + enc(runId), class: 'mono', text: runId }), ' / replay');
  if (!rep) { mount(head, el('p', { class: 'muted', text: 'This run is not a replay with a report.' })); return; }
  const count = k => rep.files.filter(f => f.result === k).length;
  mount(head,
    el('h1', {}, 'Replay of ', el('span', { class: 'mono', text: rep.replay_of }), ' ',
      el('span', { class: 'badge ' + (rep.identical ? 'st-success' : 'st-failed'), id: 'replay-verdict',
        text: rep.identical ? 'identical' : 'not identical' })),
    el('p', { class: 'muted', text: `Run ${rep.run_id}: ${rep.state}; ${count('identical')} identical, ${count('different')} different, ` +
      `${count('missing')} missing, ${count('extra')} extra. Bundle ${rep.bundle}.` }),
    rep.warnings.length ? el('ul', { class: 'warnings' }, rep.warnings.map(w => el('li', { text: w }))) : null,
    el('table', { class: 'list', id: 'replay-files' },
      el('thead', {}, el('tr', {}, ['File', 'Size', 'Expected size', 'Result'].map(h => el('th', { text: h })))),
      el('tbody', {}, rep.files.map(f => el('tr', { class: 'replay-' + f.result },
        el('td', { class: 'mono', text: f.path }), el('td', { class: 'num', text: f.size === null ? '—' : String(f.size) }),
        el('td', { class: 'num', text: f.expected_size === null ? '—' : String(f.expected_size) }),
        el('td', { text: f.result }))))));
}

async function pageLog(runId, task, query) {
  const index = query.get('index');
  const qs = index !== null ? '?index=' + enc(index) : '';
  const base = '/api/v1/runs/' + enc(runId) + '/tasks/' + enc(task);
  const first = await api(base + '/tries' + qs);
  let tries = first.tries;
  const prov = el('div', {}, provenanceView(first.provenance));
  let current = Number(query.get('try')) || (tries.length ? tries[tries.length - 1].try : 0);
  let offset = 0, timer = null, closed = false;
  const pre = el('pre', { class: 'log', id: 'log' });
  const status = el('span', { class: 'muted' });
  const select = el('select', { 'aria-label': 'try' });

  function fillSelect() {
    select.hidden = !tries.length; // a cached instance has no try of its own
    select.replaceChildren(...tries.map(t => el('option', { value: t.try, text: 'try ' + t.try + (t.exit_code !== null ? ' (exit ' + t.exit_code + ')' : ' (running)') })));
    select.value = String(current);
  }
  async function poll() {
    timer = null;
    if (closed || !current) return;
    try {
      const r = await api(base + '/log?try=' + current + (index !== null ? '&index=' + enc(index) : ''),
        { raw: true, range: 'bytes=' + offset + '-' });
      if (r.status === 206 || r.status === 200) {
        const text = await r.text();
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
        if (r.status === 200) { pre.textContent = ''; offset = 0; }
        pre.appendChild(document.createTextNode(text));
        offset += new TextEncoder().encode(text).length;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) {
      if (e.status !== 416) { status.textContent = e.message; }
    }
    const t = tries.find(x => x.try === current);
    const running = t && !t.ended_at;
    status.textContent = running ? 'following (live)…' : (t ? 'finished, exit ' + t.exit_code : '');
    if (running) timer = setTimeout(poll, 1000);
  }
  function show() {
    pre.textContent = '';
    offset = 0;
    if (timer) clearTimeout(timer);
    const p = first.provenance;
    if (!current && p && p.cached) {
      // restored from the content cache: the log of the run that made its outputs
      const there = '#/runs/' + enc(p.cached_from) + '/log/' + enc(task) + (p.cached_from_index != null ? '?index=' + p.cached_from_index : '');
      status.replaceChildren('from the cache, produced by run ', el('a', { class: 'mono', id: 'log-cached-from', href: there, text: p.cached_from }));
      api(base + '/log' + qs, { raw: true }).then(r => r.text()).then(text => { pre.textContent = text; },
        e => { pre.textContent = e.message; });
      return;
    }
    if (!current) { pre.textContent = 'This task has not started yet.'; return; }
    poll();
  }
  select.addEventListener('change', () => { current = Number(select.value); show(); });
  fillSelect();
  mount(el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'DAGs' }), ' / ',
    el('a', { href: '#/runs/' + enc(runId), class: 'mono', text: runId }), ' / log'),
  el('h1', {}, el('span', { text: task + (index !== null ? '[' + index + ']' : '') }), select, status),
  pre, el('h2', { text: 'Provenance' }), prov);
  show();
  const refreshTries = throttle(async () => {
    try {
      const got = await api(base + '/tries' + qs);
      tries = got.tries;
      prov.replaceChildren(provenanceView(got.provenance));
      const last = tries.length ? tries[tries.length - 1].try : 0;
      const follow = current === 0 || (timer === null && last > current && Number(select.value) === current);
      if (follow) current = last;
      fillSelect();
      if (follow) show(); else if (!timer) poll();
    } catch (e) { /* next event */ }
  }, 500);
  return {
    onEvent(kind, d) { if (kind === 'task' && d.run_id === runId && d.task_id === task) refreshTries(); },
    close() { closed = true; if (timer) clearTimeout(timer); },
  };
}

// ---- dataset view: web/dataset-view.js (pageDataset) ----

// ---- variables (docs/events.md): list, edit, unset, history ----

function varValue(v) {
  return v === null ? el('span', { class: 'muted', text: '(unset)' }) : el('span', { class: 'mono', text: v });
}

async function pageVariables(query) {
  const msg = el('div', { class: 'msg error' });
  const keyIn = el('input', { id: 'var-key', type: 'text', placeholder: 'KEY', value: query.get('key') || '' });
  const valIn = el('input', { id: 'var-value', type: 'text', placeholder: 'value' });
  const history = el('div', { id: 'var-history' });
  const showHistory = async key => {
    const res = await api('/api/v1/variables/' + enc(key) + '/history');
    history.replaceChildren(el('h2', { text: 'History of ' + key }),
      el('table', { class: 'list' },
        el('thead', {}, el('tr', {}, ['When', 'Source', 'Old', 'New', 'Runs started'].map(h => el('th', { text: h })))),
        el('tbody', {}, res.history.length ? res.history.slice().reverse().map(c => el('tr', {},
          el('td', { text: fmtTime(c.at) }), el('td', { text: c.source }),
          el('td', {}, varValue(c.old)), el('td', {}, varValue(c.new)),
          el('td', {}, c.runs.map(r => el('a', { class: 'mono', href: '#/runs/' + enc(r.run_id), text: r.dag_id + ' ' + r.run_id + ' ' })))))
          : el('tr', {}, el('td', { colspan: 5, class: 'muted', text: 'No recorded changes.' })))));
  };
  const change = async (key, value) => {
    msg.textContent = '';
    try {
      if (value === null) await api('/api/v1/variables/' + enc(key), { method: 'DELETE' });
      else await api('/api/v1/variables/' + enc(key), { method: 'PUT', body: { value } });
      await render();
      await showHistory(key);
    } catch (e) {
      msg.textContent = e.message;
    }
  };
  const render = async () => {
    const res = await api('/api/v1/variables');
    const rows = Object.entries(res.variables).map(([k, v]) => el('tr', { 'data-var': k },
      el('td', {}, el('a', { href: '#/variables?key=' + enc(k), class: 'mono', text: k,
        onclick: ev => { ev.preventDefault(); keyIn.value = k; valIn.value = v; showHistory(k); } })),
      el('td', {}, el('span', { class: 'mono', text: v })),
      el('td', {}, el('button', { text: 'Unset', onclick: () => change(k, null) }))));
    table.replaceChildren(
      el('thead', {}, el('tr', {}, ['Key', 'Value', ''].map(h => el('th', { text: h })))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'No variables set.' }))));
  };
  const table = el('table', { class: 'list', id: 'vars' });
  const form = el('form', { class: 'card row', id: 'var-form' }, keyIn, valIn,
    el('button', { class: 'primary', type: 'submit', text: 'Set' }), msg);
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    change(keyIn.value.trim(), valIn.value);
  });
  await render();
  mount(el('h1', { text: 'Variables' }),
    el('p', { class: 'muted', text: 'Templates read them as {{ vars.KEY }}. A run keeps the values of the moment it was created; a change starts the DAGs whose on_variable matches the key.' }),
    form, table, history);
  if (query.get('key')) await showHistory(query.get('key'));
  return {};
}

// ---- events (docs/events.md): callbacks and event scripts run, with their output ----

async function pageEvents(query) {
  const kind = query.get('kind') || '';
  const res = await api('/api/v1/deliveries?limit=200' + (kind ? '&kind=' + enc(kind) : ''));
  const logBox = el('pre', { id: 'delivery-log', class: 'log' });
  const showLog = async d => {
    logBox.textContent = '';
    try {
      const r = await api('/api/v1/deliveries/' + d.id + '/log', { raw: true });
      logBox.textContent = '# ' + d.kind + ' ' + d.event + ' ' + d.state + '\n' + await r.text();
    } catch (e) {
      logBox.textContent = e.message;
    }
  };
  const rows = res.deliveries.slice().reverse().map(d => el('tr', { 'data-delivery': d.id, class: 'state-' + d.state },
    el('td', { class: 'mono', text: String(d.id) }), el('td', { text: d.kind }), el('td', { class: 'mono', text: d.event }),
    el('td', { text: d.workspace || '' }),
    el('td', {}, el('span', { class: 'badge ' + d.state, text: d.redelivered && d.state !== 'redelivered' ? d.state + ' (redelivered)' : d.state })),
    el('td', { text: d.exit_code === null || d.exit_code < 0 ? '' : String(d.exit_code) }),
    el('td', { text: fmtTime(d.at) }),
    el('td', {}, d.run_id ? el('a', { class: 'mono', href: '#/runs/' + enc(d.run_id), text: d.run_id }) : '',
      d.task_id ? ' ' + d.task_id : '', d.note ? el('div', { class: 'muted', text: d.note }) : ''),
    el('td', {}, d.log ? el('button', { text: 'Log', onclick: () => showLog(d) }) : '')));
  const filter = ['', 'event', 'callback'].map(k => el('a', { href: '#/events' + (k ? '?kind=' + k : ''),
    class: k === kind ? 'active' : '', text: (k || 'all') + ' ' }));
  mount(el('h1', { text: 'Events' }),
    el('p', { class: 'muted', text: 'Run callbacks (on_success, on_failure, on_retry) and event scripts (run-data/src/WS/events/EVENT), newest first: each runs once; one interrupted by a crash runs again and shows redelivered.' }),
    el('p', {}, filter),
    el('table', { class: 'list', id: 'deliveries' },
      el('thead', {}, el('tr', {}, ['ID', 'Kind', 'Event', 'Workspace', 'State', 'Exit', 'When', 'About', ''].map(h => el('th', { text: h })))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 9, class: 'muted', text: 'No deliveries yet.' })))),
    logBox);
  return {};
}

// ---- router ----

async function route() {
  if (view && view.close) view.close();
  view = null;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = hash.split('?');
  const query = new URLSearchParams(qs || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  try {
    if (!parts.length) view = await pageDags();
    else if (parts[0] === 'dags' && parts.length === 2) view = await pageDag(parts[1], query);
    else if (parts[0] === 'dags' && parts[2] === 'trigger') view = await pageTrigger(parts[1]);
    else if (parts[0] === 'runs' && parts.length === 2) view = await pageRun(parts[1]);
    else if (parts[0] === 'runs' && parts[2] === 'log') view = await pageLog(parts[1], parts[3], query);
    else if (parts[0] === 'runs' && parts[2] === 'dataset') view = await pageDataset(parts[1], query);
    else if (parts[0] === 'datasets' && parts.length === 1) view = await pageDatasets();
    else if (parts[0] === 'datasets' && parts.length === 2) view = await pageUploadable(parts[1], query);
    else if (parts[0] === 'runs' && parts[2] === 'replay') view = await pageReplay(parts[1]);
    else if (parts[0] === 'compare' && parts.length === 3) view = await pageCompare(parts[1], parts[2]);
    else if (parts[0] === 'variables' && parts.length === 1) view = await pageVariables(query);
    else if (parts[0] === 'events' && parts.length === 1) view = await pageEvents(query);
    else mount(el('h1', { text: 'Not found' }), el('p', {}, el('a', { href: '#/', text: 'Back to the DAGs' })));
  } catch (e) {
    if (e.status !== 401) mount(failure(e), el('p', {}, el('a', { href: '#/', text: 'Back to the DAGs' })));
  }
  if (!source && !signedOut) connectEvents();
}

window.addEventListener('hashchange', route);
route();
