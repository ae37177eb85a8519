// Video QA parsers (docs/mmeb.md §3.3): videomme, nextqa, egoschema, mvbench, activitynetqa. Every query
// is `VT + " " + P + " " + question…` with P ending in a space (so two spaces follow
// "Question:"); the video token is used directly (not through the prompt helper), as the
// reference does. Candidates are the row's options, ranked locally.

import { Vlm2VecError } from '../../errors.ts';
import { videoToken } from '../../embed/prompt.ts';
import type { Candidate, QueryRow } from '../tasks/types.ts';
import { id, int, str, strList } from '../data/fields.ts';
import type { RowRef } from '../data/read.ts';
import { media, sampledFrames, taskRows, type LoaderCtx } from './context.ts';
import { pyRstrip, pyStripChars } from './pystr.ts';
// One definition of the prompt and the MVBench config order: the registry's typed data.
import { MVBENCH_CONFIGS, VIDEO_QA_PROMPT } from '../tasks/registry-video.ts';

/** `process_query(q, prompt=P, video_token=VT)` = `VT + " " + P + " " + q`. */
function processQuery(ctx: LoaderCtx, q: string): string {
  return `${videoToken(ctx.style)} ${VIDEO_QA_PROMPT} ${q}`;
}

/**
 * The reference `qa_template(question, candidates, answer)`: appends "\nOptions:\n(A) c0\n…",
 * right-strips, and returns the lettered options and the lettered answer. The answer letter is
 * that of the LAST candidate equal to the answer (the loop does not break); '@' when none.
 */
export function qaTemplate(question: string, candidates: string[], answer: string): { query: string; options: string[]; answer: string } {
  let q = `${question}\nOptions:\n`;
  let answerIdx = -1;
  const options: string[] = [];
  candidates.forEach((c, i) => {
    const letter = String.fromCharCode(65 + i);
    q += `(${letter}) ${c}\n`;
    options.push(`(${letter}) ${c}`);
    if (c === answer) answerIdx = i;
  });
  return { query: pyRstrip(q), options, answer: `(${String.fromCharCode(65 + answerIdx)}) ${answer}` };
}

/** `o[o.find('. '):].strip('. ')`: drop the "A. " prefix (and, by Python slicing, keep only the
 *  last character when there is no ". " at all). */
export function stripOptionLetter(o: string): string {
  const i = o.indexOf('. ');
  return pyStripChars(i < 0 ? o.slice(-1) : o.slice(i), '. ');
}

const textCands = (keys: string[], texts: string[] = keys): Candidate[] => keys.map((k, i) => ({ key: k, item: { text: texts[i]! } }));

function bad(ctx: LoaderCtx, r: RowRef, msg: string): never {
  throw new Vlm2VecError('data', `task ${ctx.task.name}: ${r.file} row ${r.index}: ${msg}`);
}

async function qaRow(ctx: LoaderCtx, r: RowRef): Promise<QueryRow> {
  const t = ctx.task.name;
  const frames = (dir: string): Promise<string[]> => sampledFrames(ctx, media(ctx, dir), `video '${dir}' (${r.file} row ${r.index})`);
  switch (ctx.task.parser) {
    case 'videomme': {
      const options = strList(r, 'options', t, { nonEmpty: true });
      const answer = str(r, 'answer', t);
      const ai = ['A', 'B', 'C', 'D'].indexOf(answer);
      if (ai < 0 || ai >= options.length) bad(ctx, r, `field 'answer' should be a letter A-D naming one of ${options.length} options, found '${answer}'`);
      const text = processQuery(ctx, `${str(r, 'question', t)}\n${options.join('\n')}`);
      return { item: { text, video: await frames(id(r, 'videoID', t)) }, candidates: textCands(options, options.map(stripOptionLetter)), label: [options[ai]!], relScores: null };
    }
    case 'nextqa': {
      const options = ['a0', 'a1', 'a2', 'a3', 'a4'].map((f) => str(r, f, t));
      const answer = int(r, 'answer', t);
      if (answer < 0 || answer >= options.length) bad(ctx, r, `field 'answer' should be an option index 0-4, found ${answer}`);
      const { query } = qaTemplate(processQuery(ctx, str(r, 'question', t)), options, options[answer]!);
      return { item: { text: query, video: await frames(id(r, 'video', t)) }, candidates: textCands(options), label: [options[answer]!], relScores: null };
    }
    case 'egoschema': {
      const options = strList(r, 'option', t, { nonEmpty: true });
      const answer = int(r, 'answer', t);
      if (answer < 0 || answer >= options.length) bad(ctx, r, `field 'answer' should index one of ${options.length} options, found ${answer}`);
      // No separator between the question and the first option: the reference joins them so.
      const text = processQuery(ctx, str(r, 'question', t) + options.join(' '));
      return { item: { text, video: await frames(id(r, 'video_idx', t)) }, candidates: textCands(options, options.map(stripOptionLetter)), label: [options[answer]!], relScores: null };
    }
    case 'mvbench': {
      const subset = str(r, 'subset', t);
      const { query, options, answer } = qaTemplate(processQuery(ctx, str(r, 'question', t)), strList(r, 'candidates', t, { nonEmpty: true }), str(r, 'answer', t));
      return { item: { text: query, video: await frames(`${subset}/${str(r, 'video', t)}`) }, candidates: textCands(options), label: [answer], relScores: null };
    }
    case 'activitynetqa': {
      const text = processQuery(ctx, `${str(r, 'question', t)}? (A) yes; (B) no.`);
      const answer = str(r, 'answer', t);
      if (answer !== 'yes' && answer !== 'no') bad(ctx, r, `field 'answer' should be 'yes' or 'no', found '${answer}'`);
      return { item: { text, video: await frames(`v_${id(r, 'video_name', t)}`) }, candidates: textCands(['yes', 'no']), label: [answer], relScores: null };
    }
    default:
      throw new Vlm2VecError('mmeb', `task ${t}: parser '${ctx.task.parser}' is not a video QA parser`);
  }
}

/** Load a video QA task. MVBench concatenates its 20 configs and tags rows with `subset`. */
export async function loadVideoQaTask(ctx: LoaderCtx): Promise<{ queries: QueryRow[]; corpus: Candidate[] }> {
  let rows: RowRef[];
  if (ctx.task.parser === 'mvbench') {
    const configs = ctx.task.source.configs ?? [...MVBENCH_CONFIGS];
    rows = [];
    for (const config of configs) {
      if (rows.length >= ctx.limit) break;
      const part = await taskRows(ctx, { config, limit: ctx.limit - rows.length });
      rows.push(...part.map((r) => ({ ...r, data: { ...r.data, subset: config } })));
    }
  } else {
    rows = await taskRows(ctx, { limit: ctx.limit });
  }
  const queries: QueryRow[] = [];
  for (const r of rows) queries.push(await qaRow(ctx, r));
  return { queries, corpus: [] };
}
