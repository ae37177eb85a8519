// Backbone prompt styles: the placeholder tokens and the `process_input_text` helper of the
// reference harness (docs/mmeb.md §3.1, docs/vlm2vec.md §1.2). No chat template, no BOS/EOS: the prompt is the
// instruction, the text and the visual placeholder(s), exactly as the reference builds them,
// because every published MMEB score was computed on these strings.

import { Vlm2VecError } from '../errors.ts';

/** Backbones whose prompt format the reference harness defines. */
export const PROMPT_STYLES = [
  'qwen2_vl', 'qwen2_5_vl', 'phi3_v', 'llava_next', 'e5_v',
  'gme', 'lamra', 'lamra_qwen25', 'colpali', 'internvideo2',
] as const;
export type PromptStyle = (typeof PROMPT_STYLES)[number];

/** The default style: VLM2Vec-V2 is a Qwen2-VL model. */
export const DEFAULT_PROMPT_STYLE: PromptStyle = 'qwen2_vl';

/** The image token the MMEB rows are stored with (Phi-3-V's). */
export const PHI3_IMAGE_TOKEN = '<|image_1|>';

/** `VLM_IMAGE_TOKENS` of the reference. colpali and internvideo2 use no placeholder. */
export const IMAGE_TOKENS: Readonly<Record<PromptStyle, string>> = {
  qwen2_vl: '<|image_pad|>',
  qwen2_5_vl: '<|image_pad|>',
  gme: '<|image_pad|>',
  lamra: '<|image_pad|>',
  lamra_qwen25: '<|image_pad|>',
  llava_next: '<image>',
  e5_v: '<image>',
  phi3_v: '<|image_1|>',
  colpali: '',
  internvideo2: '',
};

/** `VLM_VIDEO_TOKENS` of the reference; Phi-3-V has no video token (null). */
export const VIDEO_TOKENS: Readonly<Record<PromptStyle, string | null>> = {
  qwen2_vl: '<|video_pad|>',
  qwen2_5_vl: '<|video_pad|>',
  gme: '<|video_pad|>',
  lamra: '<|video_pad|>',
  lamra_qwen25: '<|video_pad|>',
  llava_next: '<image>',
  e5_v: '<image>',
  phi3_v: null,
  colpali: '',
  internvideo2: '',
};

/** Parse a user-given style name (CLI `--prompt-style`), with the valid names in the error. */
export function parsePromptStyle(name: string): PromptStyle {
  if ((PROMPT_STYLES as readonly string[]).includes(name)) return name as PromptStyle;
  throw new Vlm2VecError('prompt', `unknown prompt style '${name}': expected one of ${PROMPT_STYLES.join(', ')}`);
}

/** The image placeholder of a style. */
export function imageToken(style: PromptStyle): string {
  return IMAGE_TOKENS[style];
}

/** The video placeholder of a style; throws for Phi-3-V, which cannot take videos. */
export function videoToken(style: PromptStyle): string {
  const t = VIDEO_TOKENS[style];
  if (t === null) throw new Vlm2VecError('prompt', `prompt style '${style}' has no video token: it cannot embed videos`);
  return t;
}

/** Options of {@link processInputText}; `text: undefined` is Python's `None` (matters for e5_v). */
export interface InputTextOptions {
  text?: string;
  addImageToken?: boolean;
  addVideoToken?: boolean;
}

const LLAMA3_TEMPLATE = (body: string): string =>
  `<|start_header_id|>user<|end_header_id|>\n\n${body}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n`;

/** E5-V's one-word-summary prompt. The instruction is dropped, as in the reference. */
function e5vPrompt(text: string | undefined, video: boolean, image: boolean): string {
  // The reference is an if-chain where later branches overwrite earlier ones; replayed in order.
  let prompt: string | undefined;
  if (text !== undefined && !video && !image) prompt = LLAMA3_TEMPLATE(`${text}\nSummary above sentence in one word: `);
  if (text === undefined && video) prompt = LLAMA3_TEMPLATE('<image>\nSummary above video in one word: ');
  if (text === undefined && image) prompt = LLAMA3_TEMPLATE('<image>\nSummary above image in one word: ');
  if (text !== undefined && video) prompt = LLAMA3_TEMPLATE(`<image>\n${text}\nSummary above video and text in one word: `);
  if (text !== undefined && image) prompt = LLAMA3_TEMPLATE(`<image>\n${text}\nSummary above image and text in one word: `);
  if (prompt === undefined) {
    throw new Vlm2VecError('prompt', 'e5_v prompt needs a text or a visual token (the reference leaves it undefined)');
  }
  return prompt;
}

/**
 * The reference `process_input_text(instruction, backbone, text, add_video_token, add_image_token)`.
 * Default styles: `instruction [+ " " + text]`, then `VT + " "` and `IT + " "` prepended (image
 * outermost). gme/lamra: `instruction + " " + text` (or `instruction + " "`), no tokens.
 * internvideo2: the text alone. e5_v: the Llama-3 summary template.
 *
 * @example
 * processInputText('Recognize the category of the video content.', 'qwen2_vl', { addVideoToken: true });
 * // '<|video_pad|> Recognize the category of the video content.'
 * processInputText('Find a document image that matches the given query:', 'qwen2_vl', { text: 'revenue 2021' });
 * // 'Find a document image that matches the given query: revenue 2021'
 */
export function processInputText(instruction: string, style: PromptStyle, opts: InputTextOptions = {}): string {
  const { text, addImageToken = false, addVideoToken = false } = opts;
  switch (style) {
    case 'internvideo2':
      return text ?? '';
    case 'gme':
    case 'lamra':
    case 'lamra_qwen25':
      return text ? `${instruction} ${text}` : `${instruction} `;
    case 'e5_v':
      return e5vPrompt(text, addVideoToken, addImageToken);
    default: {
      let prompt = instruction;
      if (text) prompt = `${prompt} ${text}`;
      if (addVideoToken) prompt = `${videoToken(style)} ${prompt}`;
      if (addImageToken) prompt = `${imageToken(style)} ${prompt}`;
      return prompt;
    }
  }
}

/**
 * Replace every stored Phi-3 `<|image_1|>` by the style's image token (plain string replace,
 * as every reference loader does).
 *
 * @example
 * replaceImage1('<|image_1|>\nRepresent the given image', 'qwen2_vl'); // '<|image_pad|>\nRepresent the given image'
 */
export function replaceImage1(s: string, style: PromptStyle): string {
  return s.split(PHI3_IMAGE_TOKEN).join(imageToken(style));
}

/** Delete every `<|image_1|>` (the image parsers re-add the token through the helper). */
export function stripImage1(s: string): string {
  return s.split(PHI3_IMAGE_TOKEN).join('');
}

/** Media of one input, before formatting. */
export interface RawInput {
  /** Task instruction, e.g. `Represent the given image for classification`. */
  instruction?: string;
  text?: string;
  images?: string[];
  video?: string[];
}

/**
 * Build the model input of a raw item the way the reference formats its own inputs: the prompt
 * helper with one image token per image (the reference only ever attaches one) and a video token
 * when frames are given.
 *
 * @example
 * formatInput({ instruction: 'Represent the given image.', images: ['/x.jpg'] }, 'qwen2_vl');
 * // { text: '<|image_pad|> Represent the given image.', images: ['/x.jpg'] }
 */
export function formatInput(input: RawInput, style: PromptStyle = DEFAULT_PROMPT_STYLE): { text: string; images?: string[]; video?: string[] } {
  const nImages = input.images?.length ?? 0;
  if (nImages > 1 && style !== 'gme' && style !== 'lamra' && style !== 'lamra_qwen25') {
    throw new Vlm2VecError('prompt', `an input has ${nImages} images; the ${style} prompt format takes at most one image per item`);
  }
  const hasVideo = (input.video?.length ?? 0) > 0;
  const tokens = { addImageToken: nImages > 0, addVideoToken: hasVideo };
  // Without an instruction the text takes its place (no leading space); an explicit empty
  // instruction reproduces the reference's `" " + text` (e.g. vidore's empty instructions).
  const text = input.instruction === undefined
    ? processInputText(input.text ?? '', style, tokens)
    : processInputText(input.instruction, style, { ...tokens, ...(input.text !== undefined ? { text: input.text } : {}) });
  return { text, ...(nImages > 0 ? { images: input.images! } : {}), ...(hasVideo ? { video: input.video! } : {}) };
}

/** Non-overlapping occurrences of `token` in `s` (0 for an empty token). */
function occurrences(s: string, token: string): number {
  return token === '' ? 0 : s.split(token).length - 1;
}

/**
 * Check that an already formatted item carries one image placeholder per image and one video
 * placeholder per video, as the Qwen2-VL / LLaVA processors require. Styles without
 * placeholders (gme, lamra, colpali, internvideo2) are not checked.
 *
 * @example
 * checkPlaceholders({ text: '<|image_pad|> Find it', images: [] }, 'qwen2_vl');
 * // throws "[prompt] text has 1 <|image_pad|> placeholder(s) but 0 image(s) …"
 */
export function checkPlaceholders(item: { text: string; images?: readonly string[]; video?: readonly string[] }, style: PromptStyle = DEFAULT_PROMPT_STYLE): void {
  if (style === 'gme' || style === 'lamra' || style === 'lamra_qwen25' || style === 'colpali' || style === 'internvideo2') return;
  const it = IMAGE_TOKENS[style];
  const vt = VIDEO_TOKENS[style];
  const nImages = item.images?.length ?? 0;
  const nVideos = (item.video?.length ?? 0) > 0 ? 1 : 0;
  if (it === vt) {
    // LLaVA-NeXT / E5-V use `<image>` for both.
    const n = occurrences(item.text, it);
    if (n !== nImages + nVideos) {
      throw new Vlm2VecError('prompt', `text has ${n} ${it} placeholder(s) but ${nImages} image(s) and ${nVideos} video(s) (style ${style}): ${JSON.stringify(item.text.slice(0, 80))}`);
    }
    return;
  }
  const ni = occurrences(item.text, it);
  if (ni !== nImages) {
    throw new Vlm2VecError('prompt', `text has ${ni} ${it} placeholder(s) but ${nImages} image(s) (style ${style}): ${JSON.stringify(item.text.slice(0, 80))}`);
  }
  const nv = vt === null ? 0 : occurrences(item.text, vt);
  if (nv !== nVideos) {
    throw new Vlm2VecError('prompt', `text has ${nv} ${vt ?? 'video'} placeholder(s) but ${nVideos} video(s) (style ${style}): ${JSON.stringify(item.text.slice(0, 80))}`);
  }
}
