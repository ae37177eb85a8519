// A loopback stand-in for the Hugging Face hub (dataset tree listing + resolve with ranges), for
// the data-pull tests: serves local folders as dataset repos and records the request paths.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

/** Every file under `dir`, as paths relative to `root`. */
export function walk(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(root, join(dir, e.name)) : [relative(root, join(dir, e.name))]);
}

/** A fake hub serving `repos[name]` folders; records the request paths. */
export async function fakeHub(repos: Record<string, string>): Promise<{ url: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    const tree = /^\/api\/datasets\/([^/]+\/[^/]+)\/tree\/main$/.exec(url.pathname);
    if (tree) {
      const root = repos[tree[1]!];
      if (!root) { res.writeHead(404).end('{"error":"Repository not found"}'); return; }
      const files = walk(root).map((p) => ({ type: 'file', path: p, size: statSync(join(root, p)).size, oid: 'x' }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(files));
      return;
    }
    const resolve = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(url.pathname);
    const root = resolve ? repos[resolve[1]!] : undefined;
    if (!resolve || !root) { res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end(); return; }
    const body = readFileSync(join(root, decodeURIComponent(resolve[2]!)));
    const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    if (range) {
      const a = Number(range[1]);
      const b = Math.min(Number(range[2]), body.length - 1);
      res.writeHead(206, { ETag: '"e"', 'Content-Range': `bytes ${a}-${b}/${body.length}` }).end(body.subarray(a, b + 1));
    } else {
      res.writeHead(200, { ETag: '"e"' }).end(body);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests };
}
