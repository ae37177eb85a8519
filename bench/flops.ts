// Arithmetic of a Qwen2-VL encoder pass, counted from the config: how many floating-point operations
// (2 per multiply-add) a batch needs, so that a benchmark's embeddings/s can be read as GFLOP/s and
// set beside the rate of one large matrix product on the same machine (`npm run bench:gemm`).
// Counted: every matrix product (projections, MLPs, patch embedding, merger, attention's two
// products). Not counted: norms, rotary, softmax, activations, the token lookup — under 2 % here.

export interface FlopShape {
  hidden: number; // LM width
  intermediate: number; // LM MLP width
  heads: number;
  kvHeads: number;
  layers: number;
  visionWidth: number;
  visionMlp: number;
  visionLayers: number;
  patchIn: number; // channels × temporal patch × patch² (1176 for Qwen2-VL)
  merge: number; // spatial_merge_size²
}

/** One LM layer over `n` query positions attending to `keys` positions (all positions computing K/V: `kvRows`). */
function lmLayer(s: FlopShape, n: number, keys: number, kvRows: number): number {
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const proj = n * s.hidden * s.hidden * 2 + kvRows * s.hidden * kv * 2; // q + o, k + v
  const mlp = n * s.hidden * s.intermediate * 3; // gate, up, down
  const attn = 2 * n * keys * s.hidden; // QKᵀ and AV over all query heads
  return 2 * (proj + mlp + attn);
}

/** FLOP of one vision tower pass over one image of `p` patches (attention within the image). */
export function visionFlops(s: FlopShape, p: number): number {
  const e = s.visionWidth;
  const layer = p * e * 3 * e + p * e * e + 2 * p * e * s.visionMlp + 2 * p * p * e;
  const merged = p / s.merge;
  const merger = merged * (e * s.merge) * (e * s.merge) + merged * (e * s.merge) * s.hidden;
  return 2 * (p * s.patchIn * e + s.visionLayers * layer + merger);
}

/**
 * FLOP of the LM over a [rows, length] batch (padded positions are computed like real ones, as both
 * implementations do). `pooled`: the last layer computes its query side at one token per row
 * (ours, src/nn/pooled.ts); otherwise every layer is full (transformers).
 */
export function lmFlops(s: FlopShape, rows: number, length: number, pooled: boolean): number {
  const full = lmLayer(s, length, length, length);
  if (!pooled) return rows * s.layers * full;
  return rows * ((s.layers - 1) * full + lmLayer(s, 1, length, length));
}

/** Qwen2-VL config (HF config.json fields) → the widths counted above. */
export function flopShapeOf(cfg: {
  hidden_size: number; intermediate_size: number; num_attention_heads: number; num_key_value_heads: number; num_hidden_layers: number;
  vision_config: { embed_dim: number; mlp_ratio: number; depth: number; in_chans: number; patch_size: number; temporal_patch_size: number; spatial_merge_size: number };
}): FlopShape {
  const v = cfg.vision_config;
  return {
    hidden: cfg.hidden_size, intermediate: cfg.intermediate_size, heads: cfg.num_attention_heads, kvHeads: cfg.num_key_value_heads,
    layers: cfg.num_hidden_layers, visionWidth: v.embed_dim, visionMlp: v.embed_dim * v.mlp_ratio, visionLayers: v.depth,
    patchIn: v.in_chans * v.temporal_patch_size * v.patch_size * v.patch_size, merge: v.spatial_merge_size ** 2,
  };
}
