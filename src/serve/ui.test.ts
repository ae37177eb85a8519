// The search page of `vlm2vec serve --db DIR --ui` in headless Chromium (playwright-core driving
// the system's chromium, as the report test does): typing a query, dropping and choosing an
// image, kind filters, errors, the API-key prompt and the keyboard. What the page shows must be
// searchIndex's results on the same index (the tiny fixture model: the ranking is noise, but the
// exact same noise). Screenshots go to $VLM2VEC_UI_SCREENSHOTS when set (docs/search-page*.png
// are made that way), else to a temp folder.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { searchIndex, type SearchHit } from '../search/search.ts';
import type { ItemKind } from '../search/instructions.ts';
import { configureRuntime } from '../tensor/index.ts';
import { makeSearchFixture, MODEL, TOKENIZER_DIR, type SearchFixture } from './search-fixture.test-helper.ts';
import { startServer, type ServeHandle } from './server.ts';

configureRuntime({ threads: 1 });

// The callbacks given to page.evaluate / $$eval / waitForFunction run in the browser. The
// project's tsconfig has no DOM library (Node code must not see browser globals), so the page's
// globals they use are declared here, untyped and for this file only; the declarations compile
// away and the names resolve to the browser's own objects.
type PageGlobals = any;
declare const document: PageGlobals;
declare const DataTransfer: PageGlobals;
declare const DragEvent: PageGlobals;
declare const ClipboardEvent: PageGlobals;

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (apt-get install chromium)`;

let fx: SearchFixture;
let srv: ServeHandle;
let browser: Browser;
let shots: string;

before(async () => {
  if (skip) return;
  fx = await makeSearchFixture();
  srv = await startServer({ model: MODEL, tokenizer: TOKENIZER_DIR, port: 0, threads: 1, db: fx.db, ui: true });
  await srv.ready;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  shots = process.env['VLM2VEC_UI_SCREENSHOTS'] ?? (await mkdtemp(join(tmpdir(), 'vlm2vec-ui-shots-')));
  await mkdir(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await fx?.embedder.close();
  if (fx) await rm(fx.dir, { recursive: true, force: true });
});

/** A page on the server; every request it makes is recorded (none may leave the server's origin). */
async function openPage(url = srv.url): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/`);
  await page.waitForSelector('#kinds input');
  return { page, requests, errors };
}

interface Card { path: string; page: number; kind: string; score: number; rank: number }

/** Waits for the results of the search in progress and reads the cards. */
async function cards(page: Page, count: number): Promise<Card[]> {
  await page.waitForFunction((n) => document.querySelectorAll('.card').length === n && !document.querySelector('#results[aria-busy]'), count);
  return page.$$eval('.card', (els) => els.map((e) => {
    const d = (e as PageGlobals).dataset;
    return { path: d['path']!, page: Number(d['page']), kind: d['kind']!, score: Number(d['score']), rank: Number(d['rank']) };
  }));
}

function assertSame(got: Card[], want: SearchHit[], what: string): void {
  assert.deepEqual(got.map((c) => `${c.path}#${c.page}:${c.kind}`), want.map((h) => `${h.path}#${h.page}:${h.kind}`), what);
  got.forEach((c, i) => {
    assert.equal(c.rank, i + 1);
    assert.ok(Math.abs(c.score - want[i]!.score) < 1e-5, `${what}[${i}]: ${c.score} vs ${want[i]!.score}`);
  });
}

/** Every thumbnail image decoded (naturalWidth > 0), text previews filled. */
async function thumbnailsLoaded(page: Page): Promise<void> {
  await page.waitForFunction(() => [...document.querySelectorAll('.card')].every((c) => {
    const img = c.querySelector('img');
    if (img) return img.complete && img.naturalWidth > 0;
    return (c.querySelector('pre')?.textContent ?? '').length > 0;
  }), undefined, { timeout: 30_000 });
}

const sameOrigin = (requests: string[]): string[] => requests.filter((u) => !u.startsWith(srv.url) && !u.startsWith('data:') && !u.startsWith('blob:'));

test('the page: focus in the search box, type a query and Enter: searchIndex\'s results with their thumbnails', { skip }, async () => {
  const { page, requests, errors } = await openPage();
  try {
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'q', 'the search box has the focus on load');
    const kinds = await page.$$eval('#kinds label', (ls) => ls.map((l) => l.textContent!.trim()));
    assert.deepEqual(kinds, ['Images (7)', 'Document pages (2)', 'Videos (1)', 'Texts (1)']);
    const query = 'a red circle on cream paper';
    await page.keyboard.type(query);
    await page.keyboard.press('Enter');
    const got = await cards(page, 11);
    assertSame(got, await searchIndex({ db: fx.db, embedder: fx.embedder, text: query, topK: 24 }), 'typed query');
    assert.deepEqual(new Set(got.map((c) => c.kind)), new Set(['image', 'page', 'video', 'text']));
    await thumbnailsLoaded(page);
    // The PDF page's thumbnail is its own page (portrait page 1, landscape page 2), the video a frame grid.
    const sizes = await page.$$eval('.card img', (imgs) => imgs.map((i) => {
      const c = i.closest('.card') as PageGlobals;
      return `${c.dataset['path']}#${c.dataset['page']}:${(i as PageGlobals).naturalWidth}x${(i as PageGlobals).naturalHeight}`;
    }));
    assert.ok(sizes.includes('docs/report.pdf#1:288x384'), sizes.join(' '));
    assert.ok(sizes.includes('docs/report.pdf#2:384x288'), sizes.join(' '));
    assert.ok(sizes.some((s) => s.startsWith('clips/pan.mp4#0:384x')), sizes.join(' '));
    assert.match(await page.textContent('.kind-text pre') ?? '', /^# Field notes/);
    assert.match(await page.textContent('#status') ?? '', /^11 results for “a red circle on cream paper” in \d+ ms$/);
    // Scores and paths are on the cards as people read them.
    const first = await page.$eval('.card', (c) => [c.querySelector('.score')!.textContent, c.querySelector('.path')!.textContent]);
    assert.deepEqual(first, [got[0]!.score.toFixed(3), got[0]!.page > 0 ? `${got[0]!.path}, page ${got[0]!.page}` : got[0]!.path]);
    await page.screenshot({ path: join(shots, 'search-page-text.png') });
    assert.deepEqual(sameOrigin(requests), [], 'no request leaves the server');
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

/** Drops `file` on the page as a person dragging it from a file manager would. */
async function dropFile(page: Page, bytes: Buffer, name: string, type: string): Promise<void> {
  await page.evaluate(({ b64, name, type }) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], name, { type }));
    for (const kind of ['dragenter', 'dragover', 'drop']) document.body.dispatchEvent(new DragEvent(kind, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { b64: bytes.toString('base64'), name, type });
}

test('drop an image: searchIndex\'s image-query results, the image itself first; choosing a file and pasting one do the same', { skip }, async () => {
  const { page, errors } = await openPage();
  try {
    const file = join(fx.input, 'photos', 'green-triangle.png');
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['x'], 'x.png', { type: 'image/png' }));
      document.body.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }));
    });
    assert.equal(await page.isVisible('#drop-overlay'), true, 'dragging a file over the page shows where to drop it');
    await page.screenshot({ path: join(shots, 'search-page-drag.png') });
    await dropFile(page, await readFile(file), 'green-triangle.png', 'image/png');
    assert.equal(await page.isVisible('#drop-overlay'), false);
    const got = await cards(page, 11);
    assertSame(got, await searchIndex({ db: fx.db, embedder: fx.embedder, image: file, topK: 24 }), 'dropped image');
    assert.equal(got[0]!.path, 'photos/green-triangle.png');
    assert.ok(got[0]!.score > 0.99999);
    assert.equal(await page.isVisible('#image-chip'), true);
    assert.equal(await page.textContent('#image-name'), 'green-triangle.png');
    await thumbnailsLoaded(page);
    await page.screenshot({ path: join(shots, 'search-page-image.png') });
    // The file chooser: another image replaces the first.
    const other = join(fx.input, 'photos', 'sunset.png');
    await page.setInputFiles('#file', other);
    await page.waitForFunction(() => document.querySelector('#image-name')?.textContent === 'sunset.png');
    await page.waitForFunction(() => (document.querySelector('.card') as PageGlobals)?.dataset['path'] === 'photos/sunset.png');
    assertSame(await cards(page, 11), await searchIndex({ db: fx.db, embedder: fx.embedder, image: other, topK: 24 }), 'chosen image');
    // Pasting an image (Ctrl-V of a copied picture) searches with it too.
    const pasted = join(fx.input, 'photos', 'red-circle.png');
    await page.evaluate((b64) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'image.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, (await readFile(pasted)).toString('base64'));
    await page.waitForFunction(() => (document.querySelector('.card') as PageGlobals)?.dataset['path'] === 'photos/red-circle.png');
    assertSame(await cards(page, 11), await searchIndex({ db: fx.db, embedder: fx.embedder, image: pasted, topK: 24 }), 'pasted image');
    // Typing replaces the image query.
    await page.fill('#q', 'night');
    assert.equal(await page.isVisible('#image-chip'), false);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test('kinds and result count: unchecked kinds are not searched, as searchIndex with those kinds', { skip }, async () => {
  const { page } = await openPage();
  try {
    await page.uncheck('#kinds input[value=image]');
    await page.uncheck('#kinds input[value=video]');
    await page.selectOption('#top-k', '12');
    await page.fill('#q', 'quarterly report');
    await page.press('#q', 'Enter');
    const kinds: ItemKind[] = ['page', 'text'];
    assertSame(await cards(page, 3), await searchIndex({ db: fx.db, embedder: fx.embedder, text: 'quarterly report', topK: 12, kinds }), 'page + text');
    await page.uncheck('#kinds input[value=page]');
    await page.uncheck('#kinds input[value=text]');
    await page.press('#q', 'Enter');
    assert.match(await page.textContent('#status') ?? '', /Choose at least one kind/);
  } finally {
    await page.close();
  }
});

test('errors are shown, not thrown: a file that is not an image, and bytes the server cannot decode', { skip }, async () => {
  const { page, errors } = await openPage();
  try {
    await dropFile(page, Buffer.from('hello'), 'notes.txt', 'text/plain');
    assert.match(await page.textContent('#status') ?? '', /notes\.txt is not an image/);
    assert.equal(await page.getAttribute('#status', 'class'), 'error');
    await dropFile(page, Buffer.from('not really a png'), 'broken.png', 'image/png');
    await page.waitForFunction(() => /^image: unrecognised image format/.test(document.querySelector('#status')!.textContent!));
    assert.equal(await page.getAttribute('#status', 'class'), 'error');
    assert.equal(await page.$$eval('.card', (c) => c.length), 0);
    // Enter with nothing to search says what to do.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Enter');
    assert.match(await page.textContent('#status') ?? '', /Type a query, or drop, paste or choose an image/);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test('keyboard: ↓ into the results, arrows move by card and by row, Tab to the next card, Home/End, ↑ back, / and Escape', { skip }, async () => {
  const { page } = await openPage();
  try {
    await page.keyboard.type('a blue square');
    await page.keyboard.press('Enter');
    const got = await cards(page, 11);
    const focused = (): Promise<string | undefined> => page.evaluate(() => {
      const a = document.activeElement as PageGlobals;
      return a?.classList.contains('card') ? `card ${Number(a.dataset['rank']) - 1}` : a?.id;
    });
    const cols = await page.$$eval('.card', (cs) => cs.filter((c) => c.getBoundingClientRect().top === cs[0]!.getBoundingClientRect().top).length);
    assert.ok(cols >= 2 && cols < 11, `columns ${cols}`);
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(), 'card 0');
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(), 'card 1');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(), `card ${1 + cols}`);
    await page.keyboard.press('ArrowLeft');
    assert.equal(await focused(), `card ${cols}`);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), `card ${cols + 1}`);
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), `card ${cols}`);
    await page.keyboard.press('End');
    assert.equal(await focused(), `card ${got.length - 1}`);
    await page.screenshot({ path: join(shots, 'search-page-keyboard.png') });
    await page.keyboard.press('Home');
    assert.equal(await focused(), 'card 0');
    await page.keyboard.press('ArrowUp');
    assert.equal(await focused(), 'q', '↑ from the first row goes back to the search box');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('/');
    assert.equal(await focused(), 'q');
    assert.equal(await page.inputValue('#q'), 'a blue square', '/ does not type into the box');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Escape');
    assert.equal(await focused(), 'q');
    assert.equal(await page.inputValue('#q'), '');
    assert.equal(await page.$$eval('.card', (c) => c.length), 0);
    assert.equal(await page.textContent('#status'), '');
    // The cards say what they are to a screen reader.
    await page.keyboard.type('a blue square');
    await page.keyboard.press('Enter');
    await cards(page, 11);
    const label = await page.getAttribute('.card', 'aria-label');
    assert.equal(label, `1. ${got[0]!.kind === 'page' ? 'document page' : got[0]!.kind} ${got[0]!.page > 0 ? `${got[0]!.path}, page ${got[0]!.page}` : got[0]!.path}, score ${got[0]!.score.toFixed(3)}`);
  } finally {
    await page.close();
  }
});

test('with an API key the page asks for it once, then searches and loads thumbnails with it', { skip }, async () => {
  const keyed = await startServer({ model: MODEL, tokenizer: TOKENIZER_DIR, port: 0, threads: 1, db: fx.db, ui: true, apiKey: 'open-sesame' });
  try {
    await keyed.ready;
    const page = await browser.newPage();
    try {
      await page.goto(`${keyed.url}/`);
      // /info needs the key: the dialog opens at once.
      await page.waitForSelector('#key-dialog[open]');
      await page.fill('#key', 'open-sesame');
      await page.press('#key', 'Enter');
      await page.waitForSelector('#kinds input');
      await page.fill('#q', 'a sunset');
      await page.press('#q', 'Enter');
      const got = await cards(page, 11);
      assertSame(got, await searchIndex({ db: fx.db, embedder: fx.embedder, text: 'a sunset', topK: 24 }), 'keyed');
      await thumbnailsLoaded(page);
      assert.ok(await page.$$eval('.card img', (imgs) => imgs.every((i) => (i as PageGlobals).src.startsWith('blob:'))));
    } finally {
      await page.close();
    }
  } finally {
    await keyed.close();
  }
});
