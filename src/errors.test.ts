import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vlm2VecError, errorDetail } from './errors.ts';

test('Vlm2VecError: message has the [area] prefix, detail has not', () => {
  const e = new Vlm2VecError('safetensors', 'w: expected [2,3], found [2,4]');
  assert.equal(e.message, '[safetensors] w: expected [2,3], found [2,4]');
  assert.equal(e.detail, 'w: expected [2,3], found [2,4]');
  assert.equal(e.area, 'safetensors');
  assert.equal(e.name, 'Vlm2VecError');
});

test('errorDetail strips only a Vlm2VecError prefix, whatever its area', () => {
  assert.equal(errorDetail(new Vlm2VecError('fs', 'cannot write /x: EACCES')), 'cannot write /x: EACCES');
  // A detail that itself starts with a bracket is kept whole (a regex strip would eat it).
  assert.equal(errorDetail(new Vlm2VecError('mmeb', '[hub] timed out')), '[hub] timed out');
  // Other errors are not ours: their brackets are part of the message.
  assert.equal(errorDetail(new Error('[x] plain error')), '[x] plain error');
  assert.equal(errorDetail(new TypeError('bad')), 'bad');
  assert.equal(errorDetail('a thrown string'), 'a thrown string');
  assert.equal(errorDetail(42), '42');
});

test('errorDetail with an area strips only that area, keeping an inner tag that says where the fault lies', () => {
  assert.equal(errorDetail(new Vlm2VecError('embed', 'item 2: no tokens'), 'embed'), 'item 2: no tokens');
  assert.equal(errorDetail(new Vlm2VecError('image', 'cannot decode a.png'), 'embed'), '[image] cannot decode a.png');
  assert.equal(errorDetail(new Error('[embed] not ours'), 'embed'), '[embed] not ours');
  assert.equal(errorDetail(undefined, 'embed'), 'undefined');
});
