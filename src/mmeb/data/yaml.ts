// A small YAML reader for the `configs:` block of a Hugging Face dataset card (README.md front
// matter). Cards carry large `dataset_info` blocks we do not need, so only the top-level
// `configs:` section is cut out and parsed; it uses block sequences/mappings, plain or quoted
// scalars and flow lists, which is the subset implemented here (no anchors, tags or multi-docs).

import { Vlm2VecError } from '../../errors.ts';

export type YamlValue = string | boolean | null | YamlValue[] | { [k: string]: YamlValue };

interface Line { indent: number; text: string; no: number }

/**
 * Extract and parse the top-level `configs:` value of a dataset card, or `undefined` when the
 * card has no front matter or no `configs` key.
 *
 * @example
 * readCardConfigs('---\nconfigs:\n- config_name: default\n  data_files: data/*.parquet\n---\n');
 * // [{ config_name: 'default', data_files: 'data/*.parquet' }]
 */
export function readCardConfigs(card: string, file = 'README.md'): YamlValue | undefined {
  const lines = card.split(/\r?\n/);
  if (lines[0]?.trim() !== '---') return undefined;
  const end = lines.findIndex((l, i) => i > 0 && (l.trim() === '---' || l.trim() === '...'));
  const front = lines.slice(1, end < 0 ? lines.length : end);
  const start = front.findIndex((l) => /^configs\s*:/.test(l));
  if (start < 0) return undefined;
  const first = front[start]!.replace(/^configs\s*:/, '').trim();
  const body: string[] = [];
  for (let i = start + 1; i < front.length; i++) {
    const l = front[i]!;
    // The section ends at the next top-level key (a non-blank line at column 0 that is not `-`).
    if (l.length > 0 && !/^\s/.test(l) && !l.startsWith('-') && !l.startsWith('#')) break;
    body.push(l);
  }
  try {
    if (first !== '' && !first.startsWith('#')) return parseScalar(first);
    return parseYamlBlock(body.join('\n'), start + 3);
  } catch (err) {
    throw new Vlm2VecError('data', `${file}: cannot parse the 'configs:' YAML header: ${(err as Error).message}`, { cause: err });
  }
}

/** Parse an indented YAML block (block mappings/sequences of scalars). `lineOffset` is for errors. */
export function parseYamlBlock(text: string, lineOffset = 1): YamlValue {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const stripped = raw.replace(/\t/g, '    ');
    const t = stripped.trim();
    if (t === '' || t.startsWith('#')) return;
    lines.push({ indent: stripped.length - stripped.trimStart().length, text: t, no: i + lineOffset });
  });
  if (lines.length === 0) return null;
  const [v, next] = parseNode(lines, 0, lines[0]!.indent);
  if (next < lines.length) throw new Error(`line ${lines[next]!.no}: unexpected indentation`);
  return v;
}

const isDash = (t: string): boolean => t === '-' || t.startsWith('- ');

function parseNode(lines: Line[], i: number, indent: number): [YamlValue, number] {
  const l = lines[i];
  if (!l || l.indent < indent) return [null, i];
  return isDash(l.text) ? parseSeq(lines, i, l.indent) : parseMap(lines, i, l.indent);
}

function parseSeq(lines: Line[], i: number, ind: number): [YamlValue[], number] {
  const out: YamlValue[] = [];
  while (i < lines.length && lines[i]!.indent === ind && isDash(lines[i]!.text)) {
    const l = lines[i]!;
    const rest = l.text.slice(1);
    const restTrim = rest.trimStart();
    if (restTrim === '') {
      const [v, n] = parseNode(lines, i + 1, ind + 1);
      out.push(v);
      i = n;
    } else if (isDash(restTrim) || keyOf(restTrim) !== undefined) {
      // `- key: v` opens a mapping whose keys sit at the column after the dash.
      const virt = ind + 1 + (rest.length - restTrim.length);
      lines[i] = { indent: virt, text: restTrim, no: l.no };
      const [v, n] = parseNode(lines, i, virt);
      out.push(v);
      i = n;
    } else {
      out.push(parseScalar(restTrim));
      i++;
    }
  }
  return [out, i];
}

/** Split `key: value` (key possibly quoted); undefined when the line is not a mapping entry. */
function keyOf(t: string): [string, string] | undefined {
  let key: string;
  let rest: string;
  if (t.startsWith('"') || t.startsWith("'")) {
    const q = t[0]!;
    let j = 1;
    while (j < t.length && !(t[j] === q && t[j - 1] !== '\\')) j++;
    key = parseScalar(t.slice(0, j + 1)) as string;
    rest = t.slice(j + 1);
    if (!/^\s*:(\s|$)/.test(rest)) return undefined;
    rest = rest.replace(/^\s*:/, '');
  } else {
    if (/^[[{#]/.test(t)) return undefined;
    const m = /:(\s|$)/.exec(t);
    if (!m || m.index === 0) return undefined;
    key = t.slice(0, m.index).trim();
    rest = t.slice(m.index + 1);
  }
  return [key, rest.trim()];
}

function parseMap(lines: Line[], i: number, ind: number): [YamlValue, number] {
  const out: { [k: string]: YamlValue } = {};
  while (i < lines.length && lines[i]!.indent === ind && !isDash(lines[i]!.text)) {
    const l = lines[i]!;
    const kv = keyOf(l.text);
    if (!kv) throw new Error(`line ${l.no}: expected 'key: value', found '${l.text}'`);
    const [key, after] = kv;
    i++;
    if (after === '' || after.startsWith('#')) {
      const nx = lines[i];
      if (nx && nx.indent > ind) [out[key], i] = parseNode(lines, i, nx.indent);
      else if (nx && nx.indent === ind && isDash(nx.text)) [out[key], i] = parseSeq(lines, i, ind);
      else out[key] = null;
    } else if (after === '|' || after === '>' || /^[|>][-+]?$/.test(after)) {
      const parts: string[] = [];
      while (i < lines.length && lines[i]!.indent > ind) parts.push(lines[i++]!.text);
      out[key] = parts.join(after.startsWith('|') ? '\n' : ' ');
    } else {
      out[key] = parseScalar(after);
    }
  }
  return [out, i];
}

/** Scalars: quoted strings, flow lists/maps, booleans/null; everything else stays a string. */
export function parseScalar(s: string): YamlValue {
  const t = s.trim();
  if (t.startsWith('"')) {
    const end = t.lastIndexOf('"');
    return JSON.parse(t.slice(0, end + 1)) as string;
  }
  if (t.startsWith("'")) {
    const end = t.lastIndexOf("'");
    return t.slice(1, end).replace(/''/g, "'");
  }
  if (t.startsWith('[')) return splitFlow(t.slice(1, t.lastIndexOf(']'))).map(parseScalar);
  if (t.startsWith('{')) {
    const obj: { [k: string]: YamlValue } = {};
    for (const part of splitFlow(t.slice(1, t.lastIndexOf('}')))) {
      const kv = keyOf(part);
      if (kv) obj[kv[0]] = parseScalar(kv[1]);
    }
    return obj;
  }
  const plain = t.replace(/\s+#.*$/, '');
  if (plain === 'true' || plain === 'True') return true;
  if (plain === 'false' || plain === 'False') return false;
  if (plain === 'null' || plain === '~' || plain === '') return null;
  return plain;
}

/** Split a flow collection body on top-level commas (quotes and nesting respected). */
function splitFlow(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let cur = '';
  for (const ch of body) {
    if (quote) { if (ch === quote) quote = null; cur += ch; continue; }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') depth--;
    if (ch === ',' && depth === 0) { parts.push(cur.trim()); cur = ''; continue; }
    cur += ch;
  }
  if (cur.trim() !== '') parts.push(cur.trim());
  return parts;
}
