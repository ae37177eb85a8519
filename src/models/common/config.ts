// What every architecture's config parser shares: the options it takes and the one field every
// typed config has (the registry dispatches on it).

/** Options of a config.json parser. */
export interface ParseConfigOptions {
  /** File name for error messages. */
  readonly file?: string;
  /** Reject unknown keys (default true). */
  readonly strict?: boolean;
  /** Called with the unknown keys (dotted paths) when not strict; they are ignored. */
  readonly onUnknownKeys?: (keys: string[]) => void;
}

/** A parsed config.json: each architecture's typed config extends this. */
export interface ModelConfig {
  /** config.json's `model_type`, e.g. 'qwen2_vl'. */
  readonly modelType: string;
}
