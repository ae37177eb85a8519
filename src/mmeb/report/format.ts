// Plain-text and Markdown tables for summaries and leaderboards. Scores print with 2 decimals
// (the stored values stay unrounded); a partial group shows how many of its tasks it averages.

import type { GroupName, Summary } from '../score/aggregate.ts';

/** `58.02`, `62.50 (2/4)` for a partial group, `–` when the group has no task. */
export function cell(s: Summary, g: GroupName): string {
  const v = s.scores[g];
  if (v === undefined) return '–';
  const p = s.partial[g];
  return p ? `${v.toFixed(2)} (${p.n}/${p.expected})` : v.toFixed(2);
}

/** Left-aligned first column, right-aligned numbers, columns padded to their widest cell. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Narrowest first column a fitted table cuts names to (see {@link fitTextTable}). */
const MIN_NAME = 10;

/** `s` cut to `n` characters keeping `head` of them in front: `abc…XYZ`. */
function cutAt(s: string, n: number, head: number): string {
  return s.length <= n ? s : `${s.slice(0, head)}…${s.slice(s.length - (n - 1 - head))}`;
}

/**
 * Labels of at most `max` characters, cut in the middle (`ViDoRe_synth…ntelligence`) so both
 * ends survive. Names whose middle cuts would read the same are cut elsewhere (the split nearest
 * the middle that tells them apart), or at a greater length when no split does.
 *
 * @example shortLabels(['abcdefghijXYZ', 'short'], 7) // ['abc…XYZ', 'short']
 * @example shortLabels(['gme-Qwen2-VL-7B-Instruct', 'gme-Qwen2-VL-2B-Instruct'], 16) // ['gme-…7B-Instruct', 'gme-…2B-Instruct']
 */
export function shortLabels(names: readonly string[], max: number): string[] {
  const n0 = Math.max(3, max);
  const out = names.map((s) => cutAt(s, n0, Math.ceil((n0 - 1) / 2)));
  const groups = new Map<string, number[]>();
  out.forEach((l, i) => { if (l !== names[i]) groups.set(l, [...(groups.get(l) ?? []), i]); });
  for (const group of groups.values()) {
    if (group.length < 2 || new Set(group.map((i) => names[i])).size === 1) continue;
    const others = new Set(out.filter((_, i) => !group.includes(i)));
    const longest = Math.max(...group.map((i) => names[i]!.length));
    search: for (let n = n0; n <= longest; n++) {
      const mid = Math.ceil((n - 1) / 2);
      const splits = Array.from({ length: n - 2 }, (_, h) => h + 1).sort((x, y) => Math.abs(x - mid) - Math.abs(y - mid));
      for (const h of splits) {
        const cand = group.map((i) => cutAt(names[i]!, n, h));
        if (new Set(cand).size === cand.length && !cand.some((c) => others.has(c))) {
          group.forEach((i, k) => { out[i] = cand[k]!; });
          break search;
        }
      }
    }
  }
  return out;
}

/**
 * {@link textTable} fitted to `width` characters: the columns after the first are split into
 * stacked panels that each repeat the first column, so every cell is still shown; first-column
 * names are cut in the middle only when one name plus the widest column cannot fit.
 *
 * @example fitTextTable(['model', 'all', 'image'], [['VLM2Vec', '57.89', '64.92']], 20) // two panels
 */
export function fitTextTable(header: readonly string[], rows: readonly (readonly string[])[], width: number): string {
  const colWidth = (i: number) => Math.max(header[i]!.length, ...rows.map((r) => (r[i] ?? '').length));
  const rest = header.slice(1).map((_, j) => colWidth(j + 1));
  const widest = Math.max(0, ...rest);
  const nameRoom = Math.max(MIN_NAME, width - widest - 2);
  const names = shortLabels(rows.map((r) => r[0] ?? ''), nameRoom);
  const first = Math.max(header[0]!.length, ...names.map((n) => n.length));
  const panels: number[][] = [];
  let used = Infinity;
  rest.forEach((w, j) => {
    if (used + 2 + w > width || panels.length === 0) {
      panels.push([]);
      used = first;
    }
    panels[panels.length - 1]!.push(j + 1);
    used += 2 + w;
  });
  if (panels.length === 0) panels.push([]);
  return panels.map((cols) => textTable([header[0]!, ...cols.map((c) => header[c]!)], rows.map((r, i) => [names[i]!, ...cols.map((c) => r[c] ?? '')]))).join('\n\n');
}

/**
 * Words of `text` wrapped to lines of at most `width` characters (a longer word is broken).
 *
 * @example wrapText('a bb ccc', 4) // 'a bb\nccc'
 */
export function wrapText(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  const words = text.split(/\s+/).filter(Boolean)
    .flatMap((w) => (w.length <= width ? [w] : w.match(new RegExp(`.{1,${width}}`, 'gu')) ?? [w]));
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** GitHub-flavoured Markdown table (numbers right-aligned). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** Rows = groups, columns = runs. */
export function groupRows(summaries: readonly Summary[], groups: readonly GroupName[]): string[][] {
  return groups.map((g) => [g, ...summaries.map((s) => cell(s, g))]);
}
