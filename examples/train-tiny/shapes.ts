// The fixture pairs of the train-tiny example: small pictures of a coloured shape, each paired with
// the caption naming its colour and shape ("a red circle"), in TIGER-Lab/MMEB-train's layout so
// that `vlm2vec train` reads them with the reference's `mmeb` parser:
//
//   DATA/hub/example/shapes-train/README.md                  dataset card (`configs:`, split `original`)
//   DATA/hub/example/shapes-train/Shapes/original-00000-of-00001.parquet
//                                                            columns qry, qry_image_path, pos_text, pos_image_path
//   DATA/basedir/shapes-images/images/Shapes/Train/<n>.png   the images (image_dir: shapes-images)
//   DATA/mix.yaml                                            the dataset_config
//   DATA/heldout/<n>.png                                     held-out pictures (other positions, sizes, seeds)
//
// Nine classes (3 colours × 3 shapes) make retrieval at chance 1/9. The pictures vary in position,
// size and a little colour noise, so held-out pictures are new images of known classes. Everything
// is drawn from a seeded generator: the same seed gives the same files.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import sharp from 'sharp';

export const COLOURS = { red: [220, 40, 40], green: [40, 180, 60], blue: [50, 80, 230] } as const;
export const SHAPES = ['circle', 'square', 'triangle'] as const;
export type Colour = keyof typeof COLOURS;
export type Shape = (typeof SHAPES)[number];

/** Every class, in a fixed order: its caption is the text a picture should retrieve. */
export const CLASSES: { colour: Colour; shape: Shape; caption: string }[] = (Object.keys(COLOURS) as Colour[])
  .flatMap((colour) => SHAPES.map((shape) => ({ colour, shape, caption: `a ${colour} ${shape}` })));

/** The query prompt of every picture (the backbone's image token replaces `<|image_1|>`). */
export const QUERY_PROMPT = '<|image_1|>\nRepresent the given image.';

/** mulberry32: a small seeded generator, so the pictures are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIZE = 56; // 4 × 4 patches of 14: the processor's default min_pixels (4·28·28)

/** One picture as PNG bytes: a light grey background with one filled shape. */
export async function drawShape(colour: Colour, shape: Shape, next: () => number): Promise<Buffer> {
  const px = new Uint8Array(SIZE * SIZE * 3);
  // Near the centre (±4 px), half-size 17–25 px: the tiny random vision tower sees 4 × 4 patches,
  // and a shape that wanders over them is more than a few dozen CPU steps can learn.
  const r = 17 + next() * 8;
  const cx = SIZE / 2 + (next() - 0.5) * 8;
  const cy = SIZE / 2 + (next() - 0.5) * 8;
  const rgb = COLOURS[colour].map((c) => Math.max(0, Math.min(255, c + (next() - 0.5) * 40)));
  const bg = 200 + next() * 40;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const inside = shape === 'circle' ? dx * dx + dy * dy <= r * r
        : shape === 'square' ? Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85
          : dy <= r * 0.8 && dy >= -r && Math.abs(dx) <= (dy + r) * 0.6; // apex up
      for (let c = 0; c < 3; c++) px[(y * SIZE + x) * 3 + c] = inside ? rgb[c]! : bg;
    }
  }
  return sharp(px, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toBuffer();
}

/** What {@link writeShapesData} wrote. */
export interface ShapesData {
  /** `--data` of `vlm2vec train` (the dataset repos). */
  hub: string;
  /** `--data_basedir` (the images under `image_dir`). */
  basedir: string;
  /** `--dataset_config`. */
  config: string;
  /** Held-out pictures and their class index in {@link CLASSES}. */
  heldout: { path: string; label: number }[];
}

const CARD = `---
configs:
- config_name: Shapes
  data_files:
  - split: original
    path: Shapes/original-*
---

# shapes-train (the train-tiny example's pairs, in MMEB-train's layout)
`;

/**
 * Writes `perClass` training pairs and `heldoutPerClass` held-out pictures of each class under `dir`.
 *
 * @example const d = await writeShapesData('/tmp/shapes', { perClass: 16, heldoutPerClass: 4 });
 */
export async function writeShapesData(dir: string, opts: { perClass: number; heldoutPerClass: number; seed?: number }): Promise<ShapesData> {
  const next = rng(opts.seed ?? 7);
  const repo = join(dir, 'hub', 'example', 'shapes-train');
  const images = join(dir, 'basedir', 'shapes-images', 'images', 'Shapes', 'Train');
  const heldoutDir = join(dir, 'heldout');
  for (const d of [join(repo, 'Shapes'), images, heldoutDir]) mkdirSync(d, { recursive: true });
  const rows = { qry: [] as string[], qry_image_path: [] as string[], pos_text: [] as string[], pos_image_path: [] as string[] };
  // Interleave the classes so the file's order is not sorted by class.
  for (let k = 0; k < opts.perClass; k++) {
    for (const [c, cls] of CLASSES.entries()) {
      const name = `${String(k * CLASSES.length + c).padStart(4, '0')}.png`;
      writeFileSync(join(images, name), await drawShape(cls.colour, cls.shape, next));
      rows.qry.push(QUERY_PROMPT);
      rows.qry_image_path.push(`images/Shapes/Train/${name}`);
      rows.pos_text.push(cls.caption);
      rows.pos_image_path.push('');
    }
  }
  const columnData = Object.entries(rows).map(([name, data]) => ({ name, data, type: 'STRING' as const }));
  writeFileSync(join(repo, 'Shapes', 'original-00000-of-00001.parquet'), Buffer.from(parquetWriteBuffer({ columnData })));
  writeFileSync(join(repo, 'README.md'), CARD);
  const heldout: ShapesData['heldout'] = [];
  for (let k = 0; k < opts.heldoutPerClass; k++) {
    for (const [c, cls] of CLASSES.entries()) {
      const path = join(heldoutDir, `${cls.colour}-${cls.shape}-${k}.png`);
      writeFileSync(path, await drawShape(cls.colour, cls.shape, next));
      heldout.push({ path, label: c });
    }
  }
  const config = join(dir, 'mix.yaml');
  writeFileSync(config, 'Shapes:\n  dataset_parser: mmeb\n  dataset_name: example/shapes-train\n  subset_name: Shapes\n  dataset_split: original\n  image_dir: shapes-images\n  weight: 1\n');
  return { hub: join(dir, 'hub'), basedir: join(dir, 'basedir'), config, heldout };
}
