// Runs inside the page. Same jobs as js/evaluator.mjs (load, predict, unload), same binary
// tensor transfer: inputs are fetched as raw little-endian files, outputs PUT back as raw bytes.
(() => {
  const models = new Map();
  let nextHandle = 1;

  async function init(backend) {
    if (backend === 'wasm') tf.wasm.setWasmPaths('/tfjs-wasm/');
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} unavailable`);
    await tf.ready();
    tf.enableProdMode();
    document.getElementById('status').textContent = `ready: ${tf.getBackend()}`;
    return { backend: tf.getBackend(), tfjs_version: tf.version.tfjs, user_agent: navigator.userAgent,
      num_tensors: tf.memory().numTensors };
  }

  async function load(url) {
    const t0 = performance.now();
    const model = await tf.loadLayersModel(url);
    const handle = `b${nextHandle++}`;
    models.set(handle, { model, submodels: new Map() });
    return { handle, load_ms: performance.now() - t0,
      inputs: model.inputs.map((t) => ({ name: t.name, shape: t.shape })),
      layers: model.layers.map((l) => ({ name: l.name, class_name: l.getClassName() })) };
  }

  function modelFor(entry, layers) {
    if (!layers || !layers.length) return entry.model;
    const key = layers.join('\u0000');
    if (!entry.submodels.has(key)) {
      entry.submodels.set(key, tf.model({ inputs: entry.model.inputs,
        outputs: layers.map((n) => entry.model.getLayer(n).output) }));
    }
    return entry.submodels.get(key);
  }

  async function predict({ handle, input_url, shape, output_urls, batch_size, layers }) {
    const entry = models.get(handle);
    if (!entry) throw new Error(`UNKNOWN_HANDLE: ${handle}`);
    const model = modelFor(entry, layers);
    const expected = model.inputs[0].shape;
    if (shape.length !== expected.length || expected.some((d, i) => i > 0 && d != null && d !== shape[i])) {
      throw new Error(`INPUT_SHAPE: input shape [${shape}] does not match the model's input shape ` +
        `[${expected.map((d) => d ?? 'null')}]`);
    }
    const before = tf.memory().numTensors;
    const data = new Float32Array(await (await fetch(input_url)).arrayBuffer());
    const t0 = performance.now();
    const n = shape[0];
    const row = shape.slice(1).reduce((a, b) => a * b, 1);
    const outShapes = model.outputs.map((o) => [n, ...o.shape.slice(1)]);
    const outs = outShapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
    for (let start = 0; start < n; start += batch_size) {
      const stop = Math.min(n, start + batch_size);
      const ys = tf.tidy(() => {
        const y = model.predict(tf.tensor(data.subarray(start * row, stop * row), [stop - start, ...shape.slice(1)]));
        return Array.isArray(y) ? y : [y];
      });
      const values = await Promise.all(ys.map((y) => y.data()));
      ys.forEach((y) => y.dispose());
      values.forEach((v, k) => outs[k].set(v, start * (outs[k].length / n)));
    }
    const predictMs = performance.now() - t0;
    await Promise.all(outs.map((o, k) => fetch(output_urls[k], { method: 'PUT', body: o })));
    return { predict_ms: predictMs, shapes: outShapes, tensors_before: before,
      tensors_after: tf.memory().numTensors };
  }

  function unload(handle) {
    const entry = models.get(handle);
    if (entry) { entry.model.dispose(); models.delete(handle); }
    return { num_tensors: tf.memory().numTensors };
  }

  window.quantlab = { init, load, predict, unload };
})();
