// Reference-exact MMEB metrics over ranked predictions (the README's library example).
// Run: node --import tsx examples/score.ts
import { scoreTask } from '../src/index.ts';

const scores = scoreTask([
  { prediction: ['40', '7', '12', '15', '3'], label: ['12', '15', '40'], rel_scores: [2, 1, 1], labelKind: 'int' },
]);
// 0.936…: the reference harness pairs grades with CPython's set order of the labels.
console.log(scores['ndcg_linear@5'].toFixed(3));
