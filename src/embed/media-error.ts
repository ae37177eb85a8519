// The error of an item whose media file cannot be read or decoded. It is the data's fault, not
// the embedder's: the MMEB harness fails that task alone and goes on with the others.

import { Vlm2VecError } from '../errors.ts';

/** An item's media file cannot be read or decoded: a data problem of one task, not an embedder failure. */
export class MediaError extends Vlm2VecError {
  constructor(message: string, cause: unknown) {
    super('embed', message, { cause });
    this.name = 'MediaError';
  }
}
