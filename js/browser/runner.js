// Model jobs shared by the Node evaluator (js/evaluator.mjs imports this file) and the browser
// page (js/browser/harness.js, loaded with a <script> tag): format detection, input/output
// descriptions, input checks, batching, execute/executeAsync for graph models. Pure tfjs: no I/O.
// A plain script (no import/export) so the browser can load it; it sets globalThis.QuantlabRunner.
(() => {
  'use strict';

  const codeError = (code, message) => Object.assign(new Error(message), { code });

  // model.json -> 'graph' | 'layers'. Graph models say `format: "graph-model"` (converter >= 1.x)
  // or have a GraphDef topology (`node`/`library` keys); anything else is a layers model.
  function detectFormat(modelJson) {
    if (!modelJson || typeof modelJson !== 'object') return 'layers';
    if (modelJson.format === 'graph-model') return 'graph';
    if (modelJson.format === 'layers-model') return 'layers';
    const topo = modelJson.modelTopology;
    if (topo && typeof topo === 'object' && ('node' in topo || 'library' in topo)) return 'graph';
    return 'layers';
  }

  const normShape = (shape) => (Array.isArray(shape) ? shape.map((d) => (d == null || d < 0 ? null : d)) : null);

  async function loadModel(tf, url, format) {
    return format === 'graph' ? tf.loadGraphModel(url) : tf.loadLayersModel(url);
  }

  // {format, inputs, outputs, layers}: inputs/outputs as [{name, shape, dtype}], shapes with
  // null for unknown dims. Graph models are named by their signature keys when they have one.
  function describe(model, format) {
    if (format === 'graph') {
      const sigIn = model.modelSignature?.inputs ?? model.signature?.inputs ?? {};
      const sigOut = model.modelSignature?.outputs ?? model.signature?.outputs ?? {};
      const DT = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_BOOL: 'bool', DT_STRING: 'string',
        DT_COMPLEX64: 'complex64' };
      const keyOf = (sig, nodeName) =>
        Object.keys(sig).find((k) => (sig[k].name ?? '').split(':')[0] === nodeName);
      // Graph outputs often carry no shape/dtype on the node: take them from the signature.
      const sigShape = (s) => (s?.tensorShape?.unknownRank || !s?.tensorShape ? null
        : (s.tensorShape.dim ?? []).map((d) => Number(d.size)));
      const info = (sig) => (t) => {
        const node = t.name.split(':')[0];
        const key = keyOf(sig, node);
        const s = key != null ? sig[key] : undefined;
        return { name: key ?? node, node: t.name, shape: normShape(t.shape ?? sigShape(s)),
          dtype: t.dtype ?? DT[s?.dtype] ?? 'float32' };
      };
      return { format, inputs: model.inputs.map(info(sigIn)), outputs: model.outputs.map(info(sigOut)),
        layers: [] };
    }
    // Layers models: inputs and outputs are named by the layer that makes them (as in Keras).
    const named = (names) => (t, k) => ({ name: t.sourceLayer?.name ?? names?.[k] ?? t.name,
      shape: normShape(t.shape), dtype: t.dtype ?? 'float32' });
    return { format,
      inputs: model.inputs.map(named(model.inputNames)),
      outputs: model.outputs.map(named(model.outputNames)),
      // inbound: the layers whose outputs feed this one (its first call), for per-layer diagnosis
      layers: model.layers.map((l) => ({ name: l.name, class_name: l.getClassName(),
        inbound: (l.inboundNodes?.[0]?.inboundLayers ?? []).map((i) => i.name) })) };
  }

  function newEntry(model, format) {
    return { model, format, desc: describe(model, format), submodels: new Map(), async: false };
  }

  // The tensors a graph model owns: a node that passes a weight through (an Identity of a Const)
  // returns the weight tensor itself, which must outlive the prediction that fetched it.
  function ownedIds(entry) {
    if (!entry.owned) {
      const weights = entry.format === 'graph' ? Object.values(entry.model.weights ?? {}).flat() : [];
      entry.owned = new Set(weights.map((t) => t.id));
    }
    return entry.owned;
  }

  // Dispose what a run returned, except the model's own tensors and those in `keep`.
  function release(entry, tensors, keep = []) {
    const owned = ownedIds(entry);
    const kept = new Set(keep.map((t) => t.id));
    for (const t of tensors) if (!owned.has(t.id) && !kept.has(t.id)) t.dispose();
  }

  // A layers model whose outputs are the named layers' outputs (for layer-by-layer comparison).
  function layersSubmodel(tf, entry, layers) {
    const key = layers.join('\u0000');
    if (!entry.submodels.has(key)) {
      const outputs = layers.map((name) => {
        try { return entry.model.getLayer(name).output; } catch (e) {
          throw codeError('BAD_REQUEST', `no layer named ${name} in the model`);
        }
      });
      entry.submodels.set(key, tf.model({ inputs: entry.model.inputs, outputs }));
    }
    return entry.submodels.get(key);
  }

  // Match request inputs ([{name?, shape, dtype}]) to the model's inputs; returns them in the
  // model's input order. One unnamed input is accepted for a single-input model.
  function matchInputs(entry, inputs) {
    const want = entry.desc.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0) throw codeError('BAD_REQUEST', 'predict needs inputs');
    if (inputs.length === 1 && want.length === 1 && inputs[0].name == null) {
      inputs = [{ ...inputs[0], name: want[0].name }];
    }
    const byName = new Map(inputs.map((i) => [i.name, i]));
    const missing = want.filter((w) => !byName.has(w.name)).map((w) => w.name);
    const known = new Set(want.map((w) => w.name));
    const extra = inputs.filter((i) => !known.has(i.name)).map((i) => i.name);
    if (missing.length || extra.length || byName.size !== inputs.length) {
      throw codeError('BAD_REQUEST', [missing.length && `missing input(s) ${missing.join(', ')}`,
        extra.length && `unknown input(s) ${extra.join(', ')}`,
        byName.size !== inputs.length && 'an input is given twice'].filter(Boolean).join('; ') +
        `; the model's inputs: ${want.map((w) => w.name).join(', ')}`);
    }
    const ordered = want.map((w) => ({ ...byName.get(w.name), spec: w }));
    for (const { name, shape, dtype = 'float32', spec } of ordered) {
      const expected = spec.shape;
      if (!Array.isArray(shape)) throw codeError('BAD_REQUEST', `input ${name} has no shape`);
      if (expected && (shape.length !== expected.length ||
          expected.some((d, i) => i > 0 && d != null && d !== shape[i]))) {
        const only = want.length === 1 ? 'input' : `input ${name}`;
        throw codeError('INPUT_SHAPE', `${only} shape [${shape}] does not match the model's ` +
          `${want.length === 1 ? 'input' : name} shape [${expected.map((d) => d ?? 'null')}]`);
      }
      if (!['float32', 'int32'].includes(dtype)) throw codeError('BAD_REQUEST', `input ${name}: unsupported dtype ${dtype}`);
      if (spec.dtype && ['float32', 'int32'].includes(spec.dtype) && spec.dtype !== dtype) {
        throw codeError('BAD_REQUEST', `input ${name} is ${dtype} but the model takes ${spec.dtype}`);
      }
    }
    const n = ordered[0].shape[0];
    const bad = ordered.find((i) => i.shape.length === 0 || i.shape[0] !== n);
    if (bad) throw codeError('INPUT_SHAPE', `inputs differ along axis 0: ${ordered.map((i) => `${i.name} [${i.shape}]`).join(', ')}`);
    return ordered;
  }

  const isAsyncError = (e) => /executeAsync/.test(e?.message ?? '');

  // Layers model, `feeds` given: each named layer applied on its own to the fed outputs of the
  // layers it reads (a model input where none is fed): the layer's error with exact inputs.
  function applyLayers(tf, entry, xs, layers, fed) {
    const model = entry.model;
    return tf.tidy(() => layers.map((name) => {
      let layer;
      try { layer = model.getLayer(name); } catch (e) {
        throw codeError('BAD_REQUEST', `no layer named ${name} in the model`);
      }
      const args = (layer.inboundNodes?.[0]?.inboundLayers ?? []).map((l) => {
        if (fed[l.name]) return fed[l.name];
        // a model input (a Sequential model's InputLayer is its inner model's: matched by name)
        let k = model.inputLayers.findIndex((i) => i === l || i.name === l.name);
        if (k < 0 && l.getClassName() === 'InputLayer' && xs.length === 1) k = 0;
        if (k < 0) throw codeError('BAD_REQUEST', `feeds lack ${l.name}, an input of layer ${name}`);
        return xs[k];
      });
      try { return layer.apply(args.length === 1 ? args[0] : args); } catch (e) {
        throw codeError('PREDICT_FAILED', `layer ${name} failed on the fed inputs: ${e.message}`);
      }
    }));
  }

  // Runs one batch; returns the output tensors (caller disposes them). fed: {name: tensor} of
  // intermediate values (graph: node outputs, `name` or `name:k`; layers: layer outputs).
  async function runBatch(tf, entry, xs, layers, fed = {}) {
    if (entry.format === 'layers' && Object.keys(fed).length) return applyLayers(tf, entry, xs, layers, fed);
    if (entry.format === 'layers') {
      const model = layers && layers.length ? layersSubmodel(tf, entry, layers) : entry.model;
      return tf.tidy(() => {
        let y;
        try { y = model.predict(xs.length === 1 ? xs[0] : xs); } catch (e) {
          throw codeError('PREDICT_FAILED', `model.predict failed: ${e.message}`);
        }
        return Array.isArray(y) ? y : [y];
      });
    }
    const feed = {};
    entry.desc.inputs.forEach((spec, k) => { feed[spec.node] = xs[k]; });
    Object.assign(feed, fed); // tfjs stops at a fed node: only what lies past it is computed
    const names = layers && layers.length ? layers : undefined;
    // An unknown node name in `layers` is the caller's mistake, not the model's.
    const fail = (fn, e) => codeError(names && /not found|not find|cannot find|unknown/i.test(e.message)
      ? 'BAD_REQUEST' : 'PREDICT_FAILED', `model.${fn} failed: ${e.message}`);
    let y;
    if (!entry.async) {
      try {
        y = tf.tidy(() => { const r = entry.model.execute(feed, names); return Array.isArray(r) ? r : [r]; });
      } catch (e) {
        if (!isAsyncError(e)) throw fail('execute', e);
        entry.async = true; // control flow / dynamic ops: remember for this model
      }
    }
    if (entry.async) {
      try { y = await entry.model.executeAsync(feed, names); } catch (e) { throw fail('executeAsync', e); }
      y = Array.isArray(y) ? y : [y];
    }
    return y;
  }

  // inputs: [{name?, shape, dtype, data: TypedArray}]. Returns {outputs: [{name, shape, dtype,
  // data}], predict_ms, async}; outputs in the model's output order (or the order of `layers`).
  // feeds: [{name, shape, dtype, data}] intermediate values, sliced along axis 0 as the inputs are.
  async function predict(tf, entry, inputs, { batchSize = 256, layers, feeds = [] } = {}) {
    if (layers && layers.length && !Array.isArray(layers)) throw codeError('BAD_REQUEST', 'layers must be a list');
    if (!Array.isArray(feeds)) throw codeError('BAD_REQUEST', 'feeds must be a list');
    if (feeds.length && !(layers && layers.length)) throw codeError('BAD_REQUEST', 'feeds need layers (what to fetch)');
    const ordered = matchInputs(entry, inputs);
    const t0 = performance.now();
    const n = ordered[0].shape[0];
    const rows = ordered.map((i) => i.shape.slice(1).reduce((a, b) => a * b, 1));
    for (const f of feeds) {
      if (!Array.isArray(f.shape) || f.shape[0] !== n) {
        throw codeError('INPUT_SHAPE', `feed ${f.name} has shape [${f.shape}]; axis 0 must be ${n}, as the inputs`);
      }
    }
    const feedRows = feeds.map((f) => f.shape.slice(1).reduce((a, b) => a * b, 1));
    const names = layers && layers.length ? layers
      : entry.desc.outputs.map((o) => o.name);
    const chunks = names.map(() => []);
    const meta = names.map(() => null);
    const step = Math.max(1, batchSize | 0);
    for (let start = 0; start < Math.max(n, 1); start += step) {
      const stop = Math.min(n, start + step);
      const xs = ordered.map((inp, k) => tf.tensor(n === 0 ? inp.data : inp.data.subarray(start * rows[k], stop * rows[k]),
        [stop - start, ...inp.shape.slice(1)], inp.dtype || 'float32'));
      const fed = {};
      feeds.forEach((f, k) => {
        fed[f.name] = tf.tensor(f.data.subarray(start * feedRows[k], stop * feedRows[k]),
          [stop - start, ...f.shape.slice(1)], f.dtype || 'float32');
      });
      let ys = [];
      try { ys = await runBatch(tf, entry, xs, layers, fed); } finally {
        release(entry, [...xs, ...Object.values(fed)], ys); // an output may be an input passed through
      }
      try {
        if (ys.length !== names.length) {
          throw codeError('PREDICT_FAILED', `the model returned ${ys.length} outputs, expected ${names.length}`);
        }
        const values = await Promise.all(ys.map((y) => y.data()));
        ys.forEach((y, k) => {
          const shape = y.shape;
          const batched = shape.length > 0 && shape[0] === stop - start;
          if (!batched && n > step) {
            throw codeError('PREDICT_FAILED', `output ${names[k]} has shape [${shape}], not batched along ` +
              `axis 0; predict with batch_size >= ${n}`);
          }
          let v = values[k];
          let dtype = y.dtype;
          if (dtype !== 'float32' && dtype !== 'int32') { v = Int32Array.from(v); dtype = 'int32'; }
          meta[k] = { shape, dtype, batched };
          chunks[k].push(v);
        });
      } finally { release(entry, ys); }
    }
    const outputs = names.map((name, k) => {
      const { shape, dtype, batched } = meta[k];
      const Ctor = dtype === 'int32' ? Int32Array : Float32Array;
      const total = chunks[k].reduce((a, c) => a + c.length, 0);
      const data = new Ctor(total);
      let off = 0;
      for (const c of chunks[k]) { data.set(c, off); off += c.length; }
      return { name, shape: batched ? [n, ...shape.slice(1)] : shape, dtype, data };
    });
    return { outputs, predict_ms: performance.now() - t0, async: entry.async };
  }

  // One batch of every example in `inputs`, the named nodes' (layers') outputs returned as
  // tensors the caller disposes: what a diagnosis keeps on the backend instead of downloading.
  async function fetchNodes(tf, entry, inputs, names, fed = {}) {
    const ordered = matchInputs(entry, inputs);
    const n = ordered[0].shape[0];
    const xs = ordered.map((inp) => tf.tensor(inp.data, inp.shape, inp.dtype || 'float32'));
    let tensors = [];
    try {
      tensors = await runBatch(tf, entry, xs, names, fed);
      return { tensors, n };
    } finally { release(entry, xs, tensors); } // a node may return an input as it is: the caller's now
  }

  function dispose(entry) {
    entry.model.dispose();
    entry.submodels.clear();
  }

  globalThis.QuantlabRunner = { codeError, detectFormat, loadModel, describe, newEntry, predict, fetchNodes, release,
    dispose,
    normShape };
})();
