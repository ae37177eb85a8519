// Where a command prints. Commands take a CliOutput so tests can capture what they print
// without replacing process.stdout.write, which Node's test runner itself uses to report
// (replacing it drops or garbles test results in multi-file runs).

export interface CliOutput {
  out: (text: string) => void;
  /** Warnings and notes (default: nowhere, for commands that never print them). */
  err?: (text: string) => void;
}

/** Prints to the real stdout and stderr. */
export const STDIO: Required<CliOutput> = {
  out: (t) => {
    process.stdout.write(t);
  },
  err: (t) => {
    process.stderr.write(t);
  },
};
