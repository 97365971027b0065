// The dataset view (docs/ui.md): a run's per-clip metrics, or those of a
// folder in uploadable/ (its metrics.jsonl), filtered and sorted by the
// server, with only the visible rows in the document.  Loaded before app.js,
// whose helpers (el, api, enc, put, mount) it calls once the page runs;
// app.js's router calls pageDataset, pageDatasets and pageUploadable.
'use strict';

// Rows are 40 px high; the server is asked for 50 rows at a time, enough
// for a screen, so the first answer is small.
const DS_ROW = 40, DS_PAGE = 50, DS_FILELIST_PAGE = 100000;
const DS_COLS = [['name', 'Clip'], ['character', 'Character'], ['emotion', 'Emotion'], ['noise', 'Noise'],
  ['transcript', 'Transcript'], ['duration', 'Dur (s)'], ['lufs', 'LUFS'], ['rms_db', 'RMS dB'],
  ['peak_db', 'Peak dB'], ['snr_db', 'SNR dB'], ['flags', 'Flags'], ['wave', 'Play']];
const DS_WAVE_W = 200, DS_WAVE_H = 28;
const DS_B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

// Clipper's HH_MM_SS_Character_Emotion_Noise_Transcript, for clips whose metrics lack the fields.
function clipperFields(path) {
  const name = (path || '').split('/').pop().replace(/\.[^.]*$/, '');
  const p = name.split('_');
  if (p.length < 7 || !p.slice(0, 3).every(x => /^\d+$/.test(x))) return { name };
  return { name, character: p[3], emotion: p[4], noise: p[5], transcript: p.slice(6).join('_').replace(/_/g, '?') };
}

// The metric `wave` (docs/audio.md): one character per slice of the clip,
// its peak as 0..63 in base64url's alphabet, drawn as bars around the middle:
// one SVG path, the bars its rectangles.  Not a canvas per row: chromium
// gives each canvas a bitmap of its own to hand to the compositor, 30-40 ms
// of a cold page's first frame with rows; and a path stays sharp at any zoom.
function drawWave(path, wave) {
  if (typeof wave !== 'string' || !wave.length) {
    path.removeAttribute('d');
    return;
  }
  const w = DS_WAVE_W / wave.length, bar = Math.max(1, w - 1).toFixed(2), mid = DS_WAVE_H / 2;
  let d = '';
  for (let k = 0; k < wave.length; k++) {
    const v = Math.max(0, DS_B64.indexOf(wave[k])) / 63, h = Math.max(1, v * DS_WAVE_H);
    d += 'M' + (k * w).toFixed(2) + ' ' + (mid - h / 2).toFixed(2) + 'h' + bar + 'v' + h.toFixed(2) + 'h-' + bar + 'z';
  }
  path.setAttribute('d', d);
}
function waveSvg() {
  return el('svg', { width: DS_WAVE_W, height: DS_WAVE_H, viewBox: '0 0 ' + DS_WAVE_W + ' ' + DS_WAVE_H, 'aria-hidden': 'true' },
    el('path', { class: 'ds-bars' }));
}

// A frame after the rows were put in the document: the time a user waits
// includes style, layout and paint, not only the script.
function dsNextFrame() {
  return new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
}

// A run's clips: `output` is relative to the run's folder.
async function pageDataset(runId, query) {
  const runDir = (await api('/api/v1/runs/' + enc(runId) + '/files')).run_dir;
  return dsTable({
    base: '/api/v1/runs/' + enc(runId) + '/metrics',
    fileUrl: out => runDir ? '/api/v1/runs/' + enc(runId) + '/file?path=' + enc(runDir + '/' + out) : null,
    crumbs: [el('a', { href: '#/runs/' + enc(runId), class: 'mono', text: runId }), ' / dataset'],
    title: 'Dataset', filelist: 'filelist_' + runId + '.txt', task: query.get('task') || '',
  }, query);
}

// The folders of uploadable/, those with a metrics.jsonl linked to their view.
async function pageDatasets() {
  const list = (await api('/api/v1/datasets')).datasets;
  mount(el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'DAGs' }), ' / datasets'),
    el('h1', { text: 'Datasets' }),
    el('p', { class: 'muted', text: 'The folders of uploadable/. A folder with a metrics.jsonl (one JSON object per clip) opens in the dataset view.' }),
    el('table', { id: 'datasets' }, el('thead', {}, el('tr', {}, el('th', { text: 'Folder' }), el('th', { text: 'Clips' }))),
      el('tbody', {}, list.length ? list.map(d => el('tr', {},
        el('td', {}, d.metrics ? el('a', { href: '#/datasets/' + enc(d.name), class: 'mono', text: d.name }) : el('span', { class: 'mono', text: d.name })),
        el('td', { class: 'muted', text: d.metrics ? 'metrics.jsonl' : 'no metrics.jsonl' })))
        : el('tr', {}, el('td', { colspan: 2, class: 'muted', text: 'Nothing in uploadable/ yet.' })))));
  return {};
}

// A folder of uploadable/: `output` is relative to it.
async function pageUploadable(name, query) {
  const b = '/api/v1/datasets/' + enc(name);
  return dsTable({
    base: b + '/metrics', fileUrl: out => b + '/file?path=' + enc(out),
    crumbs: [el('a', { href: '#/datasets', text: 'datasets' }), ' / ', el('span', { class: 'mono', text: name })],
    title: 'Dataset ' + name, filelist: 'filelist_' + name + '.txt', task: null,
  }, query);
}

async function dsTable(src, query) {
  const base = src.base, task = src.task;
  let filter = query.get('filter') || '', sort = query.get('sort') || '';
  let total = 0, pages = new Map(), gen = 0, playing = null, shown = false;
  const status = el('span', { class: 'muted', id: 'ds-status' });
  const input = el('input', { type: 'text', id: 'ds-filter', class: 'ds-filter', value: filter,
    placeholder: 'e.g. character=Fluttershy,lufs<-30,duration>8', 'aria-label': 'filter' });
  const spacer = el('div', { class: 'ds-spacer' });
  const scroller = el('div', { class: 'ds-scroll', id: 'ds-scroll' }, spacer);
  // One player for the page (an <audio> per row costs tens of ms each to
  // create), made at the first play: its controls alone took 25-40 ms of a
  // cold page's first layout.
  let player = null;
  const nowPlaying = el('span', { class: 'mono muted', id: 'ds-playing' });
  const playerBox = el('div', { class: 'ds-player' }, nowPlaying);
  const head = el('div', { class: 'ds-row ds-head' }, DS_COLS.map(([k, h]) => el('div', {
    text: h, class: k === 'wave' || k === 'flags' ? '' : 'sortable',
    onclick: k === 'wave' || k === 'flags' ? null : () => { sort = sort === k ? '-' + k : k; reload(); },
  })));

  const qs = (offset, limit) => '?limit=' + limit + '&offset=' + offset + (task ? '&task=' + enc(task) : '') +
    (filter ? '&filter=' + enc(filter) : '') + (sort ? '&sort=' + enc(sort.replace(/^(-?)name$/, '$1item')) : '');
  function fetchPage(n) {
    if (!pages.has(n)) pages.set(n, api(base + qs(n * DS_PAGE, DS_PAGE)).then(r => { total = r.total; return r.items; }));
    return pages.get(n);
  }

  // Row elements are made once and refilled as the rows under them change.
  const slots = [];
  function slot(k) {
    if (slots[k]) return slots[k];
    const cells = DS_COLS.map(([key]) => {
      if (key !== 'wave') return el('div', { class: key === 'name' ? 'mono' : '' });
      return el('div', { class: 'ds-wave' },
        el('button', { class: 'ds-play', type: 'button', title: 'play', 'aria-label': 'play',
          onclick: () => play(r) }),
        waveSvg());
    });
    const r = el('div', { class: 'ds-row' }, cells);
    r.cells = cells;
    spacer.appendChild(r);
    return (slots[k] = r);
  }
  function fill(r, it, i) {
    const m = it.metrics || {}, item = it.item || m.output, f = Object.assign(clipperFields(item), m);
    r.dataset.i = i;
    r.style.transform = 'translateY(' + (i * DS_ROW) + 'px)';
    r.hidden = false;
    r.out = m.output ? src.fileUrl(m.output) : null;
    r.name = clipperFields(item).name;
    DS_COLS.forEach(([k], c) => {
      const cell = r.cells[c];
      if (k === 'wave') {
        cell.firstChild.disabled = !r.out;
        playIcon(cell.firstChild, r.out && r.out === playing && !player.paused);
        drawWave(cell.lastChild.firstChild, m.wave);
        return;
      }
      let text;
      if (k === 'name') text = r.name;
      else if (k === 'flags') text = m.error ? 'error: ' + m.error : m.dropped ? 'dropped: ' + m.dropped : (m.flags || []).join(' ');
      else {
        const v = f[k];
        text = typeof v === 'number' ? (Math.round(v * 100) / 100).toString() : v === undefined || v === null ? '' : String(v);
        cell.className = typeof v === 'number' ? 'num' : '';
      }
      cell.textContent = text;
      cell.title = k === 'name' ? item || '' : text;
    });
  }
  // The icons are drawn by style.css: a glyph such as U+25B6 sent a cold
  // page looking through the system's fonts for one that has it (25 ms).
  function playIcon(button, on) {
    button.classList.toggle('on', !!on);
    button.title = on ? 'pause' : 'play';
    button.setAttribute('aria-label', button.title);
  }
  function play(r) {
    if (!r.out) return;
    if (!player) {
      player = el('audio', { id: 'ds-player', controls: true, preload: 'none' });
      player.addEventListener('play', markPlaying);
      player.addEventListener('pause', markPlaying);
      playerBox.prepend(player);
    }
    if (playing === r.out && !player.paused) {
      player.pause();
      return;
    }
    if (playing !== r.out) {
      playing = r.out;
      player.src = r.out;
      nowPlaying.textContent = r.name;
    }
    player.play().catch(e => { nowPlaying.textContent = r.name + ': ' + e.message; });
  }
  const markPlaying = () => slots.forEach(s => {
    if (!s.hidden) playIcon(s.cells[DS_COLS.length - 1].firstChild, s.out && s.out === playing && !player.paused);
  });

  // top: the first row shown, given after a reload (the top, 0) so that
  // nothing asks for a layout before the rows are in: a cold page's first
  // layout took 100-140 ms, and the rows' frame then laid it out again.
  // The scroller is 70vh high (style.css), known without a layout too.
  async function paint(top) {
    const my = gen;
    const fresh = top !== undefined;
    const first = fresh ? top : Math.floor(scroller.scrollTop / DS_ROW);
    const count = Math.ceil((fresh ? innerHeight * 0.7 : scroller.clientHeight) / DS_ROW) + 1;
    const want = [];
    for (let p = Math.floor(first / DS_PAGE); p <= Math.floor((first + count - 1) / DS_PAGE); p++) want.push(p);
    const got = await Promise.all(want.map(fetchPage));
    if (my !== gen) return;
    const t1 = performance.now();
    let k = 0;
    for (let i = first; i < Math.min(first + count, total); i++) {
      const it = got[Math.floor(i / DS_PAGE) - want[0]][i % DS_PAGE];
      if (it) fill(slot(k++), it, i);
    }
    for (; k < slots.length; k++) slots[k].hidden = true;
    spacer.style.height = (total * DS_ROW) + 'px';
    status.textContent = total + ' clips';
    return t1;
  }
  // Times the server's answer, the rows' update and the next frame, for the
  // browser test and bench/dataset.sh (window.sfDataset).
  async function reload() {
    const t0 = performance.now();
    gen++;
    pages = new Map();
    filter = input.value.trim();
    head.childNodes.forEach((c, k) => { const key = DS_COLS[k][0]; c.textContent = DS_COLS[k][1] + (sort === key ? ' ▲' : sort === '-' + key ? ' ▼' : ''); });
    try {
      // the request first: the scroll's reset asks for a layout (the first
      // time, the scroller just made is at the top already)
      const answer = paint(0);
      if (shown) scroller.scrollTop = 0;
      shown = true;
      const t1 = await answer, t2 = performance.now();
      await dsNextFrame();
      const t3 = performance.now();
      window.sfDataset = { total, ms: t3 - t0, fetch: t1 - t0, rows: t2 - t1, frame: t3 - t2, filter, sort };
    } catch (e) {
      status.textContent = e.message;
      window.sfDataset = { error: e.message, filter, sort };
    }
  }
  // The filtered clips as output|transcript|speaker lines, fetched in pages of the API's largest limit.
  async function download() {
    const lines = [];
    for (let offset = 0, n = 1; offset < n; offset += DS_FILELIST_PAGE) {
      const r = await api(base + qs(offset, DS_FILELIST_PAGE));
      n = r.total;
      for (const it of r.items) {
        if (!it.metrics || !it.metrics.output) continue;
        const f = Object.assign(clipperFields(it.item || it.metrics.output), it.metrics);
        lines.push([it.metrics.output, f.transcript || '', f.speaker || f.character || ''].join('|'));
      }
      if (!r.items.length) break;
    }
    const a = el('a', { href: URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/plain' })),
      download: src.filelist });
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  let ticking = false;
  scroller.addEventListener('scroll', () => {
    if (ticking) return;
    ticking = true;
    requestAnimationFrame(() => { ticking = false; paint().catch(() => {}); });
  });
  input.addEventListener('keydown', ev => { if (ev.key === 'Enter') reload(); });
  mount(el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'DAGs' }), ' / ', ...src.crumbs),
  el('h1', {}, el('span', { text: src.title }), status),
  el('div', { class: 'pager' }, input, el('button', { text: 'Filter', onclick: reload }),
    el('button', { text: 'Download filelist', id: 'ds-download', onclick: () => download().catch(e => alert(e.message)) })),
  el('p', { class: 'muted ds-hint', text: 'KEY OP VALUE, comma-separated; OP one of = != < <= > >= ~ (contains). Keys: any metric, item' + (task !== null ? ', task' : '') + '. Click a heading to sort.' }),
  playerBox,
  head, scroller);
  await reload();
  return { close() { if (player) player.pause(); } };
}
