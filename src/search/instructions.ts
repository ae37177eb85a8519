// Instructions of the folder index, worded as VLM2Vec's own evaluation prompts (MMEB-V2): an
// indexed item is a *candidate*, a search is a *query*, and VLM2Vec embeds each side with the
// instruction of its task's direction. Candidates: the visual-document and video-retrieval
// candidate prompts of MMEB-V2 (ViDoRe, MSR-VTT) and MMEB's image candidate prompt; queries:
// MSCOCO_t2i (text → image), ViDoRe (text → page), MSR-VTT (text → video). Image → image uses
// the candidate prompt on both sides, so an image finds itself with cosine 1. All are settable;
// the candidate instructions are part of an index's identity (changing one means a new index).

/** What one indexed row is. */
export type ItemKind = 'image' | 'page' | 'video' | 'text';
export const ITEM_KINDS: readonly ItemKind[] = ['image', 'page', 'video', 'text'];

/** Instruction per kind for the indexed items (candidates); '' embeds text files as they are. */
export type CandidateInstructions = Record<ItemKind, string>;

export const DEFAULT_CANDIDATE_INSTRUCTIONS: Readonly<CandidateInstructions> = {
  image: 'Represent the given image.',
  page: 'Understand the content of the provided document image.',
  video: 'Understand the content of the provided video.',
  text: '',
};

/** Instruction of a query per kind searched: `text` queries per target kind, plus image queries. */
export interface QueryInstructions {
  /** Text query → each kind of item. */
  text: Record<ItemKind, string>;
  /** Image query → each kind of item. */
  image: Record<ItemKind, string>;
}

export const DEFAULT_QUERY_INSTRUCTIONS: Readonly<QueryInstructions> = {
  text: {
    image: 'Find me an everyday image that matches the given caption:',
    page: 'Find a document image that matches the given query:',
    video: 'Find a video that contains the following visual content:',
    text: 'Find a text that matches the given query:',
  },
  image: {
    image: 'Represent the given image.',
    page: 'Represent the given image.',
    video: 'Represent the given image.',
    text: 'Represent the given image with a short caption.',
  },
};
