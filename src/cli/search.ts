// `vlm2vec search --db DIR "text" | --image PATH`: a thin layer over src/search/search.ts. The
// model is the one the index was made with (its meta row), unless -m says otherwise.

import { InvalidArgumentError, Option, type Command } from 'commander';
import { BUNDLED_MODEL_NOTICE, isBundledModel } from '../embed/bundled.ts';
import { LocalEmbedder } from '../embed/local.ts';
import { Vlm2VecError } from '../errors.ts';
import { ITEM_KINDS, type ItemKind } from '../search/instructions.ts';
import { openSearchIndex, searchIndex, type SearchHit } from '../search/search.ts';
import { pointToHelp, positiveInt } from '../util/cli-args.ts';
import { loadReporter } from './progress.ts';

interface SearchCliOptions {
  db: string;
  image?: string;
  topK: number;
  format: 'table' | 'json';
  kind?: ItemKind[];
  model?: string;
  adapter?: string;
  threads?: number;
  exact?: boolean;
  instruction: string[];
}

/** `kind=text` → [kind, text] (for --instruction). */
function parseKindInstruction(v: string, prev: string[] = []): string[] {
  const k = v.slice(0, v.indexOf('='));
  if (!v.includes('=') || !(ITEM_KINDS as readonly string[]).includes(k)) {
    throw new InvalidArgumentError(`expected KIND=INSTRUCTION with KIND one of ${ITEM_KINDS.join(', ')}`);
  }
  return [...prev, v];
}

/** Hits as an aligned text table: rank, score, kind, path (with #page for PDF pages). */
export function formatHitsTable(hits: readonly SearchHit[]): string {
  if (hits.length === 0) return 'no results\n';
  const rows = hits.map((h, i) => [String(i + 1), h.score.toFixed(4), h.kind, h.page > 0 ? `${h.path}#page=${h.page}` : h.path]);
  const head = ['#', 'score', 'kind', 'path'];
  const w = head.map((t, c) => Math.max(t.length, ...rows.map((r) => r[c]!.length)));
  return [head, ...rows].map((r) => r.map((x, c) => (c === r.length - 1 ? x : x.padEnd(w[c]!))).join('  ')).join('\n') + '\n';
}

export const SEARCH_EXAMPLES = `
Examples:
  $ vlm2vec search --db ~/.vlm2vec/pictures "a dog on a beach"
  $ vlm2vec search --db ~/.vlm2vec/pictures --image query.jpg --top-k 20 --format json
  $ vlm2vec search --db papers.lance "attention heads" --kind page

The query is embedded with VLM2Vec's instruction for each direction (text → image, text → document
page, text → video, text → text, image → any); --instruction KIND=TEXT replaces one.
`;

/** Registers `vlm2vec search`. */
export function registerSearch(program: Command): void {
  pointToHelp(program.command('search'))
    .description('Search a vlm2vec index (made by vlm2vec index) with a text or an image')
    .argument('[query]', 'text query')
    .requiredOption('--db <dir|uri>', 'the LanceDB database made by vlm2vec index')
    .option('--image <path>', 'image query (instead of a text)')
    .option('-k, --top-k <n>', 'results', positiveInt('--top-k'), 10)
    .addOption(new Option('--format <format>', 'output').choices(['table', 'json']).default('table'))
    .addOption(new Option('--kind <kind...>', 'search only these kinds').choices([...ITEM_KINDS]))
    .option('--instruction <kind=text>', 'query instruction for one kind (repeatable)', parseKindInstruction, [])
    .option('-m, --model <dir|hub-id>', 'model (default: the one the index was made with; an index made without --model: the bundled small demo model)')
    .option('--adapter <dir|hub-id>', 'adapter (with -m)')
    .option('--threads <n>', 'ONNX Runtime threads', positiveInt('--threads'))
    .option('--exact', 'scan every row even when a vector index exists')
    .addHelpText('after', SEARCH_EXAMPLES)
    .action(async (query: string | undefined, o: SearchCliOptions) => {
      if ((query === undefined) === (o.image === undefined)) throw new Vlm2VecError('search', 'give a text query or --image PATH (one of them)');
      const { meta } = await openSearchIndex(o.db);
      const mo = meta.modelOptions;
      if (o.model === undefined && isBundledModel(meta.modelSpec)) process.stderr.write(`vlm2vec search: ${BUNDLED_MODEL_NOTICE.replace('no --model given: using', 'the index was made with')}\n`);
      const embedder = await LocalEmbedder.load(o.model ?? meta.modelSpec, {
        adapter: o.model ? o.adapter : (meta.adapter ?? undefined),
        tokenizerDir: mo['tokenizer'] as string | undefined, dtype: mo['dtype'] as 'float32' | 'float16' | undefined,
        minPixels: mo['minPixels'] as number | undefined, maxPixels: mo['maxPixels'] as number | undefined,
        numCrops: mo['numCrops'] as number | undefined,
        threads: o.threads, onLoad: loadReporter(process.stderr),
      });
      try {
        const mode = query !== undefined ? 'text' : 'image';
        const inst: Partial<Record<ItemKind, string>> = {};
        for (const v of o.instruction) inst[v.slice(0, v.indexOf('=')) as ItemKind] = v.slice(v.indexOf('=') + 1);
        const hits = await searchIndex({
          db: o.db, embedder, text: query, image: o.image, topK: o.topK, kinds: o.kind, exact: o.exact, instructions: { [mode]: inst }, promptStyle: embedder.promptStyle,
        });
        process.stdout.write(o.format === 'json' ? `${JSON.stringify(hits, null, 1)}\n` : formatHitsTable(hits));
      } finally {
        await embedder.close();
      }
    });
}
