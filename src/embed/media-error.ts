// The error of an item whose media file cannot be read or decoded. It is the data's fault, not
// the embedder's: the MMEB harness fails that task alone and goes on with the others, and a
// server answers it with HTTP 400 naming the media's JSON path (src/embed/protocol.ts), from
// which RemoteEmbedder raises a MediaError again on the client side.

import { Vlm2VecError } from '../errors.ts';

/** Which media of which item: `images[index]` or `video[index]` (a frame) of item `item`. */
export interface MediaRef {
  /** The item's index in the embed call (absent while only the media is known). */
  readonly item?: number;
  readonly kind: 'images' | 'video';
  readonly index: number;
}

/** An item's media file cannot be read or decoded: a data problem of one task, not an embedder failure. */
export class MediaError extends Vlm2VecError {
  constructor(message: string, cause: unknown, readonly media?: MediaRef) {
    super('embed', message, { cause });
    this.name = 'MediaError';
  }
}
