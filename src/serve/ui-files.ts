// The files of the search page (src/serve/ui/: plain HTML, CSS and a script module, copied to
// dist/ as they are), read once and served from memory. A Content-Security-Policy keeps the page
// to its own origin: no script, style, image or request goes anywhere but this server.

import { readFile } from 'node:fs/promises';

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/search.js': { file: 'search.js', type: 'text/javascript; charset=utf-8' },
  '/ui/search.css': { file: 'search.css', type: 'text/css; charset=utf-8' },
};

export const UI_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** The page's files by URL path. */
export async function loadUiFiles(): Promise<Map<string, { type: string; body: Buffer }>> {
  const out = new Map<string, { type: string; body: Buffer }>();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    out.set(path, { type, body: await readFile(new URL(`./ui/${file}`, import.meta.url)) });
  }
  return out;
}
