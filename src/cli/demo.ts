// `vlm2vec demo [--db DIR] [--ui]`: the toolkit's main jobs offline on the bundled model and data
// (src/demo/demo.ts): index the bundled gallery, run a few searches, score the mini benchmark
// beside chance. Progress goes to stderr, the results to stdout. `--ui` then serves the search
// page over the demo index through `vlm2vec serve --db DIR --ui` itself.

import { Command } from 'commander';
import { BUNDLED_MODEL_NOTICE, RECOMMENDED_MODEL } from '../embed/bundled.ts';
import { DEMO_QUERIES, runDemo, type DemoResult } from '../demo/demo.ts';
import { nonNegativeInt, pointToHelp, positiveInt } from '../util/cli-args.ts';
import { formatDuration, loadReporter, ProgressBar } from './progress.ts';
import type { EvalEvent } from '../mmeb/run/eval.ts';

interface DemoCliOptions {
  db?: string;
  miniData?: string;
  bench: boolean;
  topK: number;
  threads?: number;
  ui?: boolean;
  host: string;
  port: number;
}

export const DEMO_EXAMPLES = `
Examples:
  $ vlm2vec demo                      # index, search, benchmark: about a minute on 2 cores
  $ vlm2vec demo --ui                 # then the search page at http://127.0.0.1:8000/ (Ctrl-C stops)
  $ vlm2vec demo --db /tmp/demo.lance --no-bench

What it does, offline, with what ships in the package:
  1. indexes assets/demo/gallery (Fashion-MNIST and Noto emoji pictures, Openclipart drawings, a
     three-page PDF, a short video; sources and licences in assets/demo/LICENSES.md) into a
     LanceDB folder index (--db; a rerun reuses it and embeds only what changed), as vlm2vec index;
  2. searches it: ${DEMO_QUERIES.map((q) => (q.text !== undefined ? `"${q.text}"` : q.image)).join(', ')}, as vlm2vec search;
  3. scores the bundled mini benchmark (assets/mini: Fashion-MNIST classes, emoji, drawings,
     document pages, videos; docs/open-data.md) beside chance, as vlm2vec eval --benchmark mini.

The model is the bundled one: a small VLM2Vec-architecture model trained on open data by vlm2vec
train, for trying the toolkit; not for real use. For real embeddings use ${RECOMMENDED_MODEL}:
  $ vlm2vec index -m ${RECOMMENDED_MODEL} --input ~/Pictures --db ~/.vlm2vec/pictures
`;

/** A search's hits as the demo prints them: rank, score, path (#page for PDF pages). */
export function formatDemo(r: DemoResult): string {
  const out: string[] = [];
  out.push(`Indexed ${r.index.files} files of the bundled gallery (${r.index.embeddedFiles} embedded, ${r.index.unchangedFiles} unchanged) ` +
    `into ${r.db}: ${r.index.rows} rows`);
  for (const s of r.searches) {
    out.push('', `${s.label}: ${s.text !== undefined ? `"${s.text}"` : s.image}`);
    if (s.hits.length === 0) out.push('  no results');
    for (const [i, h] of s.hits.entries()) out.push(`  ${i + 1}. ${h.score.toFixed(3)}  ${h.page > 0 ? `${h.path}#page=${h.page}` : h.path}`);
  }
  if (r.bench) {
    const b = r.bench;
    const w = Math.max(...b.tasks.map((t) => t.task.length), 'all (mean)'.length);
    out.push('', `Mini benchmark (${b.tasks.length} tasks; scores ×100; result files in ${b.outDir}):`);
    out.push(`  ${'task'.padEnd(w)}  ${'metric'.padEnd(13)}  ${'score'.padStart(6)}  ${'chance'.padStart(6)}`);
    for (const t of b.tasks) out.push(`  ${t.task.padEnd(w)}  ${t.metric.padEnd(13)}  ${t.score.toFixed(2).padStart(6)}  ${t.chance.toFixed(2).padStart(6)}`);
    out.push(`  ${'all (mean)'.padEnd(w)}  ${''.padEnd(13)}  ${b.all.toFixed(2).padStart(6)}  ${b.allChance.toFixed(2).padStart(6)}`);
  }
  return `${out.join('\n')}\n`;
}

/** Registers `vlm2vec demo`. */
export function registerDemo(program: Command): void {
  pointToHelp(program.command('demo'))
    .description('Index, search and benchmark offline with the bundled small model and data: the quick start')
    .option('--db <dir>', 'the demo\'s LanceDB index folder (default: under $VLM2VEC_CACHE or ~/.cache/vlm2vec/demo/; reused by reruns)')
    .option('--no-bench', 'skip the mini benchmark')
    .option('--mini-data <dir>', 'the mini benchmark data (default: the bundled assets/mini; or the full one of scripts/open-data/fetch.ts)')
    .option('-k, --top-k <n>', 'hits shown per search', positiveInt('--top-k'), 3)
    .option('--threads <n>', 'ONNX Runtime threads', positiveInt('--threads'))
    .option('--ui', 'afterwards, serve the search page over the demo index (vlm2vec serve --db DIR --ui)')
    .option('--host <addr>', 'with --ui: address to listen on', '127.0.0.1')
    .option('--port <n>', 'with --ui: port (0: any free port)', nonNegativeInt('--port'), 8000)
    .addHelpText('after', DEMO_EXAMPLES)
    .action(async (o: DemoCliOptions) => {
      const err = process.stderr;
      err.write(`vlm2vec demo: ${BUNDLED_MODEL_NOTICE.replace('no --model given: using', 'runs on')}\n`);
      const indexBar = new ProgressBar('index (files)', { stream: err });
      let bar: { key: string; bar: ProgressBar } | undefined;
      const onEval = (e: EvalEvent): void => {
        if (e.type === 'start') err.write(`mini benchmark: ${e.tasks.length} tasks\n`);
        else if (e.type === 'task-start') err.write(`[${e.index + 1}/${e.count}] ${e.task}\n`);
        else if (e.type === 'embed') {
          const key = `${e.task}/${e.role}`;
          if (bar?.key !== key) bar = { key, bar: new ProgressBar(`  ${e.role === 'query' ? 'queries   ' : 'candidates'}`, { stream: err }) };
          bar.bar.update(e.done, e.total);
        } else if (e.type === 'task-failed') err.write(`  FAILED: ${e.error}\n`);
      };
      const r = await runDemo({
        db: o.db, miniData: o.miniData, bench: o.bench, topK: o.topK, threads: o.threads,
        onLoad: loadReporter(err), onIndexProgress: (d, t) => indexBar.update(d, t), onEvalProgress: onEval,
      });
      process.stdout.write(formatDemo(r));
      err.write(`vlm2vec demo: done in ${formatDuration(r.seconds)}\n`);
      if (!o.ui) {
        process.stdout.write(`\nNext: vlm2vec demo --ui (the search page), vlm2vec search --db ${r.db} "a dress", ` +
          `and for real embeddings --model ${RECOMMENDED_MODEL}.\n`);
        return;
      }
      // The search page is `vlm2vec serve --db DIR --ui` as it is: same options, messages and Ctrl-C.
      const serve = new Command('vlm2vec').enablePositionalOptions();
      (await import('./serve.ts')).registerServe(serve);
      await serve.parseAsync(['serve', '--db', r.db, '--ui', '--host', o.host, '--port', String(o.port), ...(o.threads ? ['--threads', String(o.threads)] : [])], { from: 'user' });
    });
}
