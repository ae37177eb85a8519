// Where a command prints. Commands take a CliOutput so tests can capture what they print
// without replacing process.stdout.write, which Node's test runner itself uses to report
// (replacing it drops or garbles test results in multi-file runs).

export interface CliOutput {
  out: (text: string) => void;
}

/** Prints to the real stdout. */
export const STDIO: CliOutput = {
  out: (t) => {
    process.stdout.write(t);
  },
};
