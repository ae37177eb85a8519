// Typed errors. Every message starts with `[area]` and names the file, field, tensor or task at
// fault and what was expected, so a user can act on it without reading our code.

export class Vlm2VecError extends Error {
  constructor(
    readonly area: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`[${area}] ${message}`, options);
    this.name = 'Vlm2VecError';
  }
}
