// js/browser/compare.js: the per-example sums a diagnosis moves instead of activations, against
// hand-computed values, and its branch-free pass against the careful one that checks every value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../js/browser/runner.js';
import '../../js/browser/compare.js';

const { exampleStats, carefulStats, STATS } = globalThis.QuantlabCompare;
const named = (row) => Object.fromEntries(STATS.map((k, i) => [k, row[i]]));

test('sums by hand', () => {
  const x = new Float32Array([3, 4, 0, 2 ** -20]);
  const y = new Float32Array([3, 0, 1, 0]);
  const s = named(exampleStats(x, y, 0, 4));
  assert.equal(s.sxx, 25 + 2 ** -40);
  assert.equal(s.syy, 10);
  assert.equal(s.sxy, 9);
  assert.equal(s.sdd, 16 + 1 + 2 ** -40);
  assert.equal(s.max_abs_diff, 4);
  assert.equal(s.max_abs_x, 4);
  assert.equal(s.nonzero_x, 3); // 3, 4 and 2^-20
  assert.equal(s.subnormal_x, 1); // 2^-20 < 2^-14, float16's smallest normal
  assert.equal(s.over_f16_x, 0);
  assert.equal(s.count, 4);
  assert.deepEqual(exampleStats(x, y, 2, 4)[11], 2); // one example of a batch: its own slice
});

test('NaN, Inf and values past float16 are counted, and left out of the sums', () => {
  const x = new Float32Array([1, Infinity, 70000, 2]);
  const y = new Float32Array([1, 5, 70000, NaN]);
  const s = named(exampleStats(x, y, 0, 4));
  assert.equal(s.nonfinite_x, 1);
  assert.equal(s.nonfinite_y, 1);
  assert.equal(s.over_f16_x, 1);
  assert.equal(s.max_abs_x, 70000);
  assert.equal(s.sxx, 1 + 70000 ** 2); // only the pairs where both are finite
  assert.equal(s.sdd, 0);
});

test('the branch-free pass agrees with the careful one', () => {
  let seed = 7;
  const rand = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647 - 0.5; };
  const n = 10000;
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let i = 0; i < n; i++) { x[i] = i % 3 === 0 ? 0 : rand() * (i % 7 === 0 ? 1e-6 : 10); y[i] = x[i] + rand() * 0.01; }
  const fast = exampleStats(x, y, 0, n);
  const slow = carefulStats(x, y, 0, n);
  fast.forEach((v, i) => assert.ok(Math.abs(v - slow[i]) <= 1e-9 * Math.max(1, Math.abs(v)), `${STATS[i]}: ${v} vs ${slow[i]}`));
});
