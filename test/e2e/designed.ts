// Designed embeddings for the end-to-end test: every candidate of the e2e fixture tasks gets its
// own one-hot slot, and every query gets a vector whose dot products rank a chosen list of
// candidates in a chosen order (weights 2^(m-1), …, 2, 1), every other candidate scoring 0.
// Items are recognised by content only (the bytes of a fixture file, or a piece of text from
// the fixture data), never by anything our pipeline computed, so the expected metrics in
// eval.test.ts follow by hand from the rankings below.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerItem } from './embed-server.ts';

export const DIM = 64;
/** Slots ≥ RESERVED hold candidates no rule names (e.g. Breakfast's other 8 labels): they score 0. */
const RESERVED = 32;

interface Match {
  /** The item's first image/frame has the bytes of this file (relative to the data dir). */
  file?: string;
  /** Text-only item whose text is exactly this. */
  text?: string;
  textIncludes?: string;
  textEndsWith?: string;
}

/** Candidates, each a one-hot slot in this order. */
const CANDIDATES: [string, Match][] = [
  ['tench', { text: 'tench' }],
  ['goldfish', { text: 'goldfish' }],
  ['umbrella', { text: 'umbrella' }],
  ['bat', { text: 'bat' }],
  ['phone', { text: 'phone' }],
  ['cereal', { text: 'cereal' }],
  ['coffee', { text: 'coffee' }],
  ['holding', { text: 'Holding something' }],
  ['opening', { text: 'Opening something' }],
  ['closing', { text: 'Closing something' }],
  ['catch', { text: 'to catch the ball' }],
  ['page10', { file: 'visdoc-tasks/ViDoRe_arxivqa/10.png' }],
  ['page11', { file: 'visdoc-tasks/ViDoRe_arxivqa/11.png' }],
  ['page12', { file: 'visdoc-tasks/ViDoRe_arxivqa/12.png' }],
  ['page13', { file: 'visdoc-tasks/ViDoRe_arxivqa/13.png' }],
  // VisRAG page files are named by the reference's rule (test/fixtures/mmeb/expected.json).
  ['chart', { file: 'visdoc-tasks/VisRAG_ChartQA/chart_0001_be5a2baf.png' }],
  ['long', { file: 'visdoc-tasks/VisRAG_ChartQA/a_very_long_document_page_name_that_exceeds_fifty__f70a3a61.jpg' }],
];

/** Queries and the candidate order each one must produce. First matching rule wins. */
export const QUERIES: [string, Match, string[]][] = [
  // Both ImageNet query images have identical bytes (same fixture colour); the second row has text.
  ['imagenet_q1', { file: 'image-tasks/ImageNet-1K/val/n01443537_2.JPEG', textIncludes: 'Line one' }, ['tench', 'goldfish']],
  ['imagenet_q0', { file: 'image-tasks/ImageNet-1K/val/n01440764_1.JPEG' }, ['tench', 'goldfish']],
  ['okvqa', { file: 'image-tasks/OK-VQA/img_1.jpg' }, ['bat', 'umbrella', 'phone']],
  ['breakfast_q0', { file: 'video-tasks/frames/video_cls/Breakfast/P03_cereals/frame_0001.jpg' }, ['cereal']],
  ['breakfast_q1', { file: 'video-tasks/frames/video_cls/Breakfast/P05_coffee/1.jpg' }, ['cereal', 'coffee']],
  ['ssv2', { file: 'video-tasks/frames/video_cls/SSv2/12345/frame_0001.jpg' }, ['closing', 'holding', 'opening']],
  ['nextqa', { file: 'video-tasks/frames/video_qa/NExTQA/4010069381/0000.jpeg' }, ['catch']],
  ['vidore_q0', { textEndsWith: 'What is shown in figure 1?' }, ['page11', 'page10', 'page12', 'page13']],
  ['vidore_q1', { textEndsWith: 'Which model is best?' }, ['page12', 'page11', 'page10', 'page13']],
  ['vidore_q2', { textEndsWith: 'What is the y axis?' }, ['page13', 'page10', 'page11', 'page12']],
  ['visrag_q1', { textEndsWith: 'How many bars exceed 10?' }, ['chart', 'long']],
  ['visrag_q2', { textEndsWith: 'What does the legend say?' }, ['chart', 'long']],
];

/** The embedding function of the designed server, plus which query rules it has seen. */
export function designedEmbedder(dataDir: string): { embed: (item: ServerItem, dim: number) => Float32Array; seenQueries: Set<string> } {
  const fileHash = new Map<string, string>();
  const hashOf = (rel: string): string => {
    let h = fileHash.get(rel);
    if (!h) {
      // Read lazily: visdoc pages only exist once the loader has written them.
      h = createHash('sha256').update(readFileSync(join(dataDir, rel))).digest('hex');
      fileHash.set(rel, h);
    }
    return h;
  };
  const matches = (item: ServerItem, m: Match): boolean => {
    const media = item.images[0] ?? item.video[0];
    if (m.file !== undefined && (!media || createHash('sha256').update(media).digest('hex') !== hashOf(m.file))) return false;
    if (m.text !== undefined && (media || item.text !== m.text)) return false;
    if (m.textIncludes !== undefined && !item.text.includes(m.textIncludes)) return false;
    if (m.textEndsWith !== undefined && !item.text.endsWith(m.textEndsWith)) return false;
    return true;
  };
  const slot = new Map(CANDIDATES.map(([id], i) => [id, i]));
  const seenQueries = new Set<string>();
  const embed = (item: ServerItem, dim: number): Float32Array => {
    const v = new Float32Array(dim);
    for (const [id, m, ranking] of QUERIES) {
      if (!matches(item, m)) continue;
      seenQueries.add(id);
      ranking.forEach((c, k) => (v[slot.get(c)!] = 2 ** (ranking.length - 1 - k)));
      let norm = 0;
      for (const x of v) norm += x * x;
      return v.map((x) => x / Math.sqrt(norm));
    }
    const c = CANDIDATES.findIndex(([, m]) => matches(item, m));
    if (c >= 0) v[c] = 1;
    else v[RESERVED + (parseInt(item.digest.slice(0, 8), 16) % (dim - RESERVED))] = 1;
    return v;
  };
  return { embed, seenQueries };
}
