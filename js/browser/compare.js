// Per-node error statistics of a variant against its reference model, computed where the tensors
// are (Node evaluator and browser page alike), so a diagnosis moves sums, not activations.
// Shared like runner.js: a plain script that sets globalThis.QuantlabCompare.
//
// For each node and example it returns the sums that py/quantlab/analysis/node_error.py turns
// into SQNR, relative L2, cosine and range flags (STATS below, in that order). Sums are taken in
// float64 over the pairs where both values are finite; non-finite values are counted apart.
(() => {
  'use strict';

  const Runner = globalThis.QuantlabRunner;
  const F16_MAX = 65504;
  const F16_MIN_NORMAL = 2 ** -14;
  const STATS = ['sxx', 'syy', 'sxy', 'sdd', 'max_abs_diff', 'max_abs_x', 'nonfinite_x', 'nonfinite_y',
    'subnormal_x', 'nonzero_x', 'over_f16_x', 'count'];

  // One example's statistics of x (reference) against y, both Float32Array of the same length.
  // The hot loop of a diagnosis, kept free of branches (after a ReLU half the values are zero, and
  // a mispredicted branch per element costs 4x): the rare cases, a NaN or Inf anywhere or a value
  // past float16's range, are sorted out by a second, careful pass over that example only.
  function exampleStats(x, y, start, stop) {
    let sxx = 0, syy = 0, sxy = 0, sdd = 0, maxD = 0, maxX = 0, small = 0, zero = 0;
    for (let i = start; i < stop; i++) {
      const a = x[i], b = y[i], d = a - b;
      sxx += a * a; syy += b * b; sxy += a * b; sdd += d * d;
      const m = Math.abs(a), ad = Math.abs(d);
      maxX = m > maxX ? m : maxX; maxD = ad > maxD ? ad : maxD;
      small += +(m < F16_MIN_NORMAL); zero += +(m === 0);
    }
    if (Number.isFinite(sxx + syy + sxy + sdd) && maxX <= F16_MAX) {
      return [sxx, syy, sxy, sdd, maxD, maxX, 0, 0, small - zero, stop - start - zero, 0, stop - start];
    }
    return carefulStats(x, y, start, stop);
  }

  // The same figures with every element checked: non-finite values counted and left out of the sums.
  function carefulStats(x, y, start, stop) {
    let sxx = 0, syy = 0, sxy = 0, sdd = 0, maxD = 0, maxX = 0;
    let badX = 0, badY = 0, sub = 0, nonzero = 0, over = 0;
    for (let i = start; i < stop; i++) {
      const a = x[i], b = y[i];
      const fa = Number.isFinite(a), fb = Number.isFinite(b);
      if (!fa) badX++;
      if (!fb) badY++;
      if (fa) {
        const m = Math.abs(a);
        if (m > maxX) maxX = m;
        if (m > F16_MAX) over++;
        if (m !== 0) { nonzero++; if (m < F16_MIN_NORMAL) sub++; }
      }
      if (!fa || !fb) continue;
      const d = a - b;
      sxx += a * a; syy += b * b; sxy += a * b; sdd += d * d;
      const ad = Math.abs(d);
      if (ad > maxD) maxD = ad;
    }
    return [sxx, syy, sxy, sdd, maxD, maxX, badX, badY, sub, nonzero, over, stop - start];
  }

  // [example][STATS] for a node's reference values (`a`, downloaded once) against tensor y, or
  // null where they cannot be compared (integer, not batched along axis 0, sizes differ).
  async function tensorStats(x, a, y, n) {
    if (x.dtype !== 'float32' || y.dtype !== 'float32' || x.shape.length === 0 || x.shape[0] !== n ||
        x.size !== y.size) return null;
    const b = await y.data();
    const per = a.length / n;
    const out = [];
    for (let k = 0; k < n; k++) out.push(exampleStats(a, b, k * per, (k + 1) * per));
    return out;
  }

  // inputs: [{name, shape, dtype, data}] as Runner.predict takes them (one batch: all examples).
  // nodes: names to compare (graph: node names; layers: layer names). fetch: other keys the
  // groups feed (reference values of the nodes' inputs). groups: [{nodes, feeds, reads}]: nodes none of
  // which reads another, run in the variant on the reference's values of `feeds` (local error).
  // Returns {nodes: [{name, shape, dtype, acc, local}], ms: {run, stats}}.
  async function compare(tf, ref, variant, inputs, { nodes, fetch = [], groups = [] }) {
    if (!Array.isArray(nodes) || nodes.length === 0) throw Runner.codeError('BAD_REQUEST', 'compare needs nodes');
    const t0 = performance.now();
    let runMs = 0, statsMs = 0;
    const timed = async (fn, isRun) => {
      const s = performance.now();
      try { return await fn(); } finally { if (isRun) runMs += performance.now() - s; else statsMs += performance.now() - s; }
    };
    const keys = [...nodes, ...fetch.filter((k) => !nodes.includes(k))];
    const refT = await timed(() => Runner.fetchNodes(tf, ref, inputs, keys), true);
    const byKey = new Map(keys.map((k, i) => [k, refT.tensors[i]]));
    const n = refT.n;
    const refData = new Map(); // a node's reference values, downloaded once for both comparisons
    const values = async (name) => {
      const t = byKey.get(name);
      if (t.dtype !== 'float32') return null;
      if (!refData.has(name)) refData.set(name, await t.data());
      return refData.get(name);
    };
    const result = new Map(nodes.map((name) => [name, { name, shape: byKey.get(name).shape,
      dtype: byKey.get(name).dtype, acc: null, local: null }]));
    try {
      const varT = await timed(() => Runner.fetchNodes(tf, variant, inputs, nodes), true);
      try {
        for (let i = 0; i < nodes.length; i++) {
          result.get(nodes[i]).acc = await timed(async () => tensorStats(byKey.get(nodes[i]),
            await values(nodes[i]), varT.tensors[i], n));
        }
      } finally { Runner.release(variant, varT.tensors); }
      // One group's local run; a group tfjs refuses as a whole (a fed value it cannot take back,
      // e.g. a Where whose declared dtype is its input's) is retried node by node, and a node it
      // refuses alone gets local_error instead of figures.
      const runGroup = async (names, fed) => {
        const loc = await timed(() => Runner.fetchNodes(tf, variant, inputs, names, fed), true);
        try {
          for (let i = 0; i < names.length; i++) {
            result.get(names[i]).local = await timed(async () => tensorStats(byKey.get(names[i]),
              await values(names[i]), loc.tensors[i], n));
          }
        } finally { Runner.release(variant, loc.tensors, refT.tensors); } // a node may pass a fed value through
      };
      for (const group of groups) {
        const fed = {};
        for (const k of group.feeds) {
          if (!byKey.has(k)) throw Runner.codeError('BAD_REQUEST', `group feed ${k} is not fetched`);
          fed[k] = byKey.get(k);
        }
        try { await runGroup(group.nodes, fed); } catch (e) {
          if (e.code === 'BAD_REQUEST' && !/model\./.test(e.message)) throw e;
          for (let i = 0; i < group.nodes.length; i++) { // alone, fed only what it reads
            const own = Object.fromEntries((group.reads?.[i] ?? group.feeds).map((k) => [k, fed[k]]));
            try { await runGroup([group.nodes[i]], own); } catch (one) {
              result.get(group.nodes[i]).local_error = one.message.slice(0, 300);
            }
          }
        }
      }
    } finally { Runner.release(ref, refT.tensors); }
    return { stats: STATS, nodes: [...result.values()], ms: { total: performance.now() - t0, run: runMs,
      stats: statsMs } };
  }

  globalThis.QuantlabCompare = { compare, exampleStats, carefulStats, STATS };
})();
