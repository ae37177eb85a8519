// The one warning sink of the library: code that notices something worth telling (unknown config
// keys, skipped rows, an approximate resize) but can carry on takes an `onWarning` option of this
// type, so a library caller can collect or silence the notices; the CLI leaves it unset.

/** Receives one non-fatal notice, a sentence without the `vlm2vec: warning:` prefix. */
export type WarningSink = (message: string) => void;

/**
 * The default sink: one `vlm2vec: warning: …` line on stderr.
 *
 * @example
 * const warn = opts.onWarning ?? warnToStderr;
 * warn('task MSVD: skipped 3 rows whose frames and video are both missing');
 */
export const warnToStderr: WarningSink = (message) => {
  process.stderr.write(`vlm2vec: warning: ${message}\n`);
};

/** A sink that drops every notice (benchmarks, `data pull`'s dry load). */
export const ignoreWarnings: WarningSink = () => {};
