// The search page's script: queries POST /v1/search of the server that served it, shows the hits
// as a grid of thumbnails (GET /thumbnail), and keeps everything reachable from the keyboard.
// Plain JavaScript for current browsers: no framework, no build step, no other origin.

const $ = (id) => document.getElementById(id);
const form = $('search-form');
const input = $('q');
const fileInput = $('file');
const results = $('results');
const status = $('status');
const chip = $('image-chip');
const overlay = $('drop-overlay');
$('image-preview').addEventListener('error', () => ($('image-preview').hidden = true));
$('image-preview').addEventListener('load', () => ($('image-preview').hidden = false));
const KINDS = { image: 'Images', page: 'Document pages', video: 'Videos', text: 'Texts' };

/** The query image as a data URI, or null for a text query. */
let queryImage = null;
/** Object URLs of thumbnails fetched with an API key (released on the next search). */
let blobUrls = [];
/** Counts of every search started: an answer to an older one is dropped. */
let generation = 0;
let apiKey = sessionStorage.getItem('vlm2vec-api-key') ?? '';

function headers(extra = {}) {
  return apiKey ? { ...extra, authorization: `Bearer ${apiKey}` } : extra;
}

/** Asks for the API key (after a 401) and resolves when one is given. */
function askKey() {
  const dialog = $('key-dialog');
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      apiKey = $('key').value.trim();
      sessionStorage.setItem('vlm2vec-api-key', apiKey);
      resolve();
    }, { once: true });
    dialog.showModal();
    $('key').focus();
  });
}

/** fetch() with the key; a 401 asks for the key once and retries. */
async function call(url, init = {}) {
  let r = await fetch(url, { ...init, headers: headers(init.headers) });
  if (r.status === 401) {
    await askKey();
    r = await fetch(url, { ...init, headers: headers(init.headers) });
  }
  return r;
}

function setStatus(text, isError = false) {
  status.textContent = text;
  status.classList.toggle('error', isError);
}

/** The kinds checked, or undefined when all are (the server then searches every kind it has). */
function checkedKinds() {
  const boxes = [...document.querySelectorAll('#kinds input:not(:disabled)')];
  const on = boxes.filter((b) => b.checked).map((b) => b.value);
  return on.length === boxes.length ? undefined : on;
}

async function loadInfo() {
  const r = await call('/info');
  if (!r.ok) return;
  const info = await r.json();
  const counts = info.search?.counts ?? {};
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  $('index-info').textContent = `${total} items indexed · model ${info.model}`;
  const box = $('kinds');
  for (const [kind, label] of Object.entries(KINDS)) {
    const n = counts[kind] ?? 0;
    const l = document.createElement('label');
    const c = Object.assign(document.createElement('input'), { type: 'checkbox', value: kind, checked: n > 0, disabled: n === 0 });
    l.append(c, ` ${label} (${n})`);
    if (n === 0) l.classList.add('empty');
    box.append(l);
  }
}

async function search() {
  const text = input.value.trim();
  if (!queryImage && !text) {
    setStatus('Type a query, or drop, paste or choose an image.');
    return;
  }
  const kinds = checkedKinds();
  if (kinds && kinds.length === 0) {
    setStatus('Choose at least one kind to search in.', true);
    return;
  }
  const body = { top_k: Number($('top-k').value), ...(kinds ? { kinds } : {}), ...(queryImage ? { image: queryImage } : { query: text }) };
  const mine = ++generation;
  setStatus('Searching…');
  results.setAttribute('aria-busy', 'true');
  const t0 = performance.now();
  let r;
  let json;
  try {
    r = await call('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    json = await r.json();
  } catch (e) {
    if (mine === generation) setStatus(`The server did not answer: ${e.message}`, true);
    results.removeAttribute('aria-busy');
    return;
  }
  if (mine !== generation) return;
  results.removeAttribute('aria-busy');
  if (!r.ok) {
    // The server's messages start with the module at fault, e.g. "[protocol] image: …".
    setStatus((json?.error?.message ?? `HTTP ${r.status}`).replace(/^\[[a-z-]+\] /, ''), true);
    return;
  }
  show(json.data);
  const what = queryImage ? 'the image' : `“${text}”`;
  setStatus(`${json.data.length} result${json.data.length === 1 ? '' : 's'} for ${what} in ${Math.round(performance.now() - t0)} ms`);
}

function clearResults() {
  for (const u of blobUrls) URL.revokeObjectURL(u);
  blobUrls = [];
  results.replaceChildren();
}

function thumbUrl(hit) {
  return `/thumbnail?path=${encodeURIComponent(hit.path)}&page=${hit.page}`;
}

/** Sets a thumbnail: straight from the URL, or through fetch() when requests need the key. */
async function fillThumb(el, hit) {
  if (hit.kind === 'text') {
    const r = await call(thumbUrl(hit));
    el.textContent = r.ok ? await r.text() : '(preview unavailable)';
    return;
  }
  if (!apiKey) {
    el.src = thumbUrl(hit);
    return;
  }
  const r = await call(thumbUrl(hit));
  if (!r.ok) return;
  const u = URL.createObjectURL(await r.blob());
  blobUrls.push(u);
  el.src = u;
}

function show(hits) {
  clearResults();
  const frag = document.createDocumentFragment();
  hits.forEach((hit) => {
    const li = document.createElement('li');
    const card = document.createElement('article');
    card.className = `card kind-${hit.kind}`;
    card.tabIndex = 0;
    Object.assign(card.dataset, { path: hit.path, page: String(hit.page), kind: hit.kind, score: String(hit.score), rank: String(hit.rank) });
    const where = hit.page > 0 ? `${hit.path}, page ${hit.page}` : hit.path;
    card.setAttribute('aria-label', `${hit.rank}. ${KINDS[hit.kind]?.replace(/s$/, '').toLowerCase() ?? hit.kind} ${where}, score ${hit.score.toFixed(3)}`);
    const thumb = document.createElement('div');
    thumb.className = 'thumb';
    let media;
    if (hit.kind === 'text') {
      media = Object.assign(document.createElement('pre'), { className: 'text-preview' });
    } else {
      media = Object.assign(document.createElement('img'), { alt: '', loading: 'lazy', decoding: 'async' });
      media.addEventListener('error', () => thumb.classList.add('broken'), { once: true });
    }
    thumb.append(media);
    const badge = Object.assign(document.createElement('span'), { className: 'badge', textContent: hit.kind === 'page' ? `page ${hit.page}` : hit.kind });
    thumb.append(badge);
    const meta = document.createElement('div');
    meta.className = 'meta';
    const score = Object.assign(document.createElement('span'), { className: 'score', textContent: hit.score.toFixed(3) });
    const bar = document.createElement('span');
    bar.className = 'scorebar';
    bar.style.setProperty('--w', `${Math.max(0, Math.min(1, hit.score)) * 100}%`);
    const path = Object.assign(document.createElement('span'), { className: 'path', textContent: where, title: where });
    meta.append(score, bar, path);
    card.append(thumb, meta);
    li.append(card);
    frag.append(li);
    fillThumb(media, hit).catch(() => thumb.classList.add('broken'));
  });
  results.append(frag);
}

/** Makes `file` the query image and searches with it. */
function useImage(file) {
  if (!file || !file.type.startsWith('image/')) {
    setStatus(file ? `${file.name || 'That file'} is not an image.` : 'No image found in what was dropped.', true);
    return;
  }
  const reader = new FileReader();
  reader.onload = () => {
    queryImage = reader.result;
    $('image-preview').src = queryImage;
    $('image-name').textContent = file.name || 'pasted image';
    chip.hidden = false;
    input.value = '';
    input.placeholder = 'Searching with the image (Esc to remove it)';
    search();
  };
  reader.onerror = () => setStatus(`Cannot read ${file.name}: ${reader.error?.message}`, true);
  reader.readAsDataURL(file);
}

function clearImage() {
  queryImage = null;
  chip.hidden = true;
  $('image-preview').removeAttribute('src');
  fileInput.value = '';
  input.placeholder = 'Search text, or drop / paste / choose an image';
}

/** Escape: everything back to an empty page, focus in the search box. */
function reset() {
  generation++;
  clearImage();
  input.value = '';
  clearResults();
  setStatus('');
  input.focus();
}

// ── Events ──────────────────────────────────────────────────────────────────────────────────

form.addEventListener('submit', (e) => {
  e.preventDefault();
  search();
});
// Typing replaces an image query.
input.addEventListener('input', () => {
  if (queryImage && input.value !== '') clearImage();
});
$('choose-image').addEventListener('click', () => fileInput.click());
fileInput.addEventListener('change', () => useImage(fileInput.files?.[0]));
$('image-clear').addEventListener('click', () => {
  clearImage();
  input.focus();
});
document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData?.items ?? [])].find((i) => i.kind === 'file' && i.type.startsWith('image/'));
  if (item) {
    e.preventDefault();
    useImage(item.getAsFile());
  }
});

let dragDepth = 0;
const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
window.addEventListener('dragenter', (e) => {
  if (!hasFiles(e)) return;
  dragDepth++;
  overlay.hidden = false;
});
window.addEventListener('dragleave', () => {
  if (--dragDepth <= 0) {
    dragDepth = 0;
    overlay.hidden = true;
  }
});
window.addEventListener('dragover', (e) => {
  if (hasFiles(e)) e.preventDefault();
});
window.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  overlay.hidden = true;
  useImage([...(e.dataTransfer?.files ?? [])][0]);
});

/** Cards per row, read from the layout (the grid reflows with the window). */
function columns(cards) {
  const top = cards[0]?.getBoundingClientRect().top;
  const n = cards.findIndex((c) => c.getBoundingClientRect().top !== top);
  return n === -1 ? cards.length : n;
}

results.addEventListener('keydown', (e) => {
  const cards = [...results.querySelectorAll('.card')];
  const i = cards.indexOf(document.activeElement);
  if (i < 0) return;
  const cols = columns(cards);
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols, Home: -i, End: cards.length - 1 - i };
  if (!(e.key in moves)) return;
  e.preventDefault();
  const j = i + moves[e.key];
  if (j >= 0 && j < cards.length) {
    cards[j].focus();
  } else if (e.key === 'ArrowUp') {
    input.focus();
  }
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowDown') {
    const first = results.querySelector('.card');
    if (first) {
      e.preventDefault();
      first.focus();
    }
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !$('key-dialog').open) {
    e.preventDefault();
    reset();
  } else if (e.key === '/' && document.activeElement !== input && !e.ctrlKey && !e.metaKey) {
    e.preventDefault();
    input.focus();
    input.select();
  }
});

input.focus();
loadInfo().catch((e) => setStatus(`Cannot read /info: ${e.message}`, true));
