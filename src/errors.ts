// Typed errors. Every message starts with `[area]` and names the file, field, tensor or task at
// fault and what was expected, so a user can act on it without reading our code.

export class Vlm2VecError extends Error {
  /** The message without its `[area] ` prefix, for re-wrapping or passing across threads. */
  readonly detail: string;

  constructor(
    readonly area: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`[${area}] ${message}`, options);
    this.detail = message;
    this.name = 'Vlm2VecError';
  }
}
