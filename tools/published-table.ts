// Generates src/mmeb/report/published-data.json: the headline metric (hit@1 for image/video,
// ndcg_linear@5 for visdoc; raw 0–1 values) of every task of every model in the reference's
// published score files, so `vlm2vec leaderboard` and the report need no external files.
// Source: TIGER-AI-Lab/VLM2Vec experiments/public/all_scores/<version>/ (HEAD 6e1e1d4), copied
// verbatim to test/fixtures/published-scores/ (see the README there).
// Regenerate from the repo root:  node --import tsx tools/published-table.ts [score-folder]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPublishedScores } from '../src/mmeb/score/aggregate.ts';
import { TASKS, EXTRA_TASKS } from '../src/mmeb/tasks/registry.ts';

const root = process.argv[2] ?? join(import.meta.dirname, '..', 'test', 'fixtures', 'published-scores');
const VERSIONS: Record<string, string> = {
  'v2.0.0': 'v2.0.0',
  'v2.0.1': 'v2.0.1',
  'v2.1': 'v2.1-baselines-visdoc-page-fixed',
};
const tasks = [...TASKS, ...EXTRA_TASKS];
const out: Record<string, unknown> = {
  source: 'TIGER-AI-Lab/VLM2Vec experiments/public/all_scores/ (HEAD 6e1e1d4)',
  generator: 'tools/published-table.ts',
  versions: {} as Record<string, unknown>,
};
for (const [version, folder] of Object.entries(VERSIONS)) {
  const models: Record<string, { date: string; tasks: Record<string, number> }> = {};
  for (const f of readdirSync(join(root, folder)).filter((x) => x.endsWith('.json')).sort()) {
    const run = readPublishedScores(join(root, folder, f));
    const date = (JSON.parse(readFileSync(join(root, folder, f), 'utf8')) as { metadata: { report_generated_date: string } }).metadata.report_generated_date;
    const t: Record<string, number> = {};
    for (const task of tasks) {
      const v = run.tasks[task.name]?.[task.metric];
      if (typeof v === 'number') t[task.name] = v;
    }
    models[run.model] = { date: date.slice(0, 10), tasks: t };
  }
  (out.versions as Record<string, unknown>)[version] = { folder, models };
}
const path = join(import.meta.dirname, '..', 'src', 'mmeb', 'report', 'published-data.json');
writeFileSync(path, `${JSON.stringify(out, null, 1)}\n`);
console.log(`wrote ${path}`);
