// Embed an image and a text query with a local model and compare them (the README's example).
// Run: node --import tsx examples/embed.ts <model folder | hub id | adapter folder> <image>
import { LocalEmbedder } from '../src/index.ts';

const [modelSpec, image] = process.argv.slice(2);
if (!modelSpec || !image) throw new Error('usage: examples/embed.ts <model> <image>');

const model = await LocalEmbedder.load(modelSpec); // folder, hub id or adapter folder
// Prompts in VLM2Vec's format: the image placeholder token, then the instruction (see
// processInputText for building them); the text query is plain text.
const [img, txt] = await model.embed([
  { text: '<|image_pad|> Represent the given image for classification\n', images: [image] },
  { text: 'Find a document image that matches the given query: what was the revenue in 2023?' },
]);
// Embeddings are unit vectors: cosine similarity is the dot product.
let cos = 0;
for (let i = 0; i < img!.length; i++) cos += img![i]! * txt![i]!;
console.log(`dim ${img!.length}, cosine ${cos.toFixed(5)}`);
await model.close();
