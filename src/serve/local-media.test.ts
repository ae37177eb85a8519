// Media named by local path: refused without --allow-local-media, read (as a data URI) when the
// file's real location is inside an allowed folder, refused outside it, symlinks included.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProtocolError } from '../embed/protocol.ts';
import { inlineLocalMedia, mediaRoots } from './local-media.ts';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
const uri = `data:image/png;base64,${PNG.toString('base64')}`;

test('allowed paths and file: URLs become data URIs in both forms; others are refused naming the field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'v2v-local-media-'));
  try {
    const ok = join(dir, 'ok');
    const secret = join(dir, 'secret');
    await mkdir(ok);
    await mkdir(secret);
    await writeFile(join(ok, 'a.png'), PNG);
    await writeFile(join(secret, 'key.png'), PNG);
    await symlink(join(secret, 'key.png'), join(ok, 'escape.png'));
    const roots = await mediaRoots([ok]);

    const body = { input: [{ text: 'x', images: [join(ok, 'a.png'), uri] }, { text: 'y', video: [pathToFileURL(join(ok, 'a.png')).href] }] };
    await inlineLocalMedia(body, roots, 1000);
    assert.deepEqual(body.input[0]!.images, [uri, uri]);
    assert.deepEqual(body.input[1]!.video, [uri]);
    const chat = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: join(ok, 'a.png') } }] }] };
    await inlineLocalMedia(chat, roots, 1000);
    assert.equal(chat.messages[0]!.content[0]!.image_url.url, uri);

    const refused = async (b: unknown, r: string[], field: string, msg: RegExp): Promise<void> => {
      await assert.rejects(inlineLocalMedia(b, r, 1000), (e: unknown) => e instanceof ProtocolError && e.field === field && msg.test(e.message));
    };
    await refused({ input: [{ text: 'x', images: [join(ok, 'a.png')] }] }, [], 'input[0].images[0]', /is a local path; .*--allow-local-media DIR/);
    await refused({ input: [{ text: 'x', images: [join(secret, 'key.png')] }] }, roots, 'input[0].images[0]', /outside the folders of --allow-local-media/);
    await refused({ input: [{ text: 'x', images: [join(ok, '..', 'secret', 'key.png')] }] }, roots, 'input[0].images[0]', /outside/);
    await refused({ input: [{ text: 'x', video: [join(ok, 'escape.png')] }] }, roots, 'input[0].video[0]', /outside/);
    await refused({ input: [{ text: 'x', images: [join(ok, 'missing.png')] }] }, roots, 'input[0].images[0]', /cannot read .*ENOENT/);
    await refused({ input: [{ text: 'x', images: [ok] }] }, roots, 'input[0].images[0]', /is not a file/);
    await assert.rejects(inlineLocalMedia({ input: [{ text: 'x', images: [join(ok, 'a.png')] }] }, roots, 5), /11 bytes, more than the limit of 5/);
    // A relative path is not a local-path reference: decodeRequest refuses it as a non-data URI.
    const rel = { input: [{ text: 'x', images: ['a.png'] }] };
    await inlineLocalMedia(rel, roots, 1000);
    assert.deepEqual(rel.input[0]!.images, ['a.png']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
