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

/**
 * An error's message without the `[area] ` prefix of a Vlm2VecError, for wrapping it into another
 * error's message or sending it across a thread. With `area`, only an error of that area loses
 * its prefix: `[embed] item 3: [image] …` keeps the inner tag that says where the fault lies,
 * while an inner `[embed]` would only repeat the outer one. Other errors give their message as
 * is, a thrown non-Error value its string.
 *
 * @example
 * errorDetail(new Vlm2VecError('fs', 'cannot write /x'));           // → 'cannot write /x'
 * errorDetail(new Vlm2VecError('image', 'cannot decode a.png'), 'embed'); // → '[image] cannot decode a.png'
 * new Vlm2VecError('embed', `item 3: ${errorDetail(err, 'embed')}`, { cause: err });
 */
export function errorDetail(e: unknown, area?: string): string {
  if (e instanceof Vlm2VecError && (area === undefined || e.area === area)) return e.detail;
  return e instanceof Error ? e.message : String(e);
}
