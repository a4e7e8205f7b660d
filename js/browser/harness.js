// Runs inside the page. Same jobs as js/evaluator.mjs (load, predict, unload), same binary
// tensor transfer: inputs are fetched as raw little-endian files, outputs PUT back as raw bytes.
// The model logic (formats, input checks, batching, execute/executeAsync) is js/browser/runner.js,
// shared with the Node evaluator. Errors are thrown as `CODE: message` (the protocol's codes).
(() => {
  const Runner = globalThis.QuantlabRunner;
  const models = new Map();
  let nextHandle = 1;
  const ARRAYS = { float32: Float32Array, int32: Int32Array };

  // Playwright passes only the message of a thrown error: put the protocol code in front.
  const coded = (fn) => async (arg) => {
    try { return await fn(arg); } catch (e) {
      throw new Error(`${e.code || 'INTERNAL'}: ${e.message}`);
    }
  };

  const loadScript = (src) => new Promise((resolve, reject) => {
    const el = document.createElement('script');
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(el);
  });

  // 1 + 2^-11 on 256 elements (past WEBGL_CPU_FORWARD's size, so it runs on the GPU): exact in
  // float32, halfway between two float16 values, so float16 textures give back exactly 1.
  async function precisionProbe() {
    const y = tf.tidy(() => tf.add(tf.fill([256], 1), tf.fill([256], 2 ** -11)));
    const v = (await y.data())[0];
    y.dispose();
    return v;
  }

  // arg: a backend name, or {backend, flags: {TFJS_FLAG: value} set before the backend starts,
  // scripts: backend bundles to load first (webgpu)}.
  async function init(arg) {
    const { backend, flags = {}, scripts = [], threads = 1 } = typeof arg === 'string' ? { backend: arg } : arg;
    for (const src of scripts) await loadScript(src);
    for (const [k, v] of Object.entries(flags)) tf.env().set(k, v);
    if (backend === 'wasm') {
      tf.wasm.setWasmPaths('/tfjs-wasm/');
      // threads > 1 loads the threaded build where the page is cross-origin isolated; tfjs falls
      // back to one thread silently otherwise, so the count it really uses is read back below.
      tf.wasm.setThreadsCount(threads);
      if (threads <= 1) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    }
    let ok = false;
    try { ok = await tf.setBackend(backend); } catch (e) { throw new Error(`backend ${backend} unavailable: ${e.message}`); }
    if (!ok) throw new Error(`backend ${backend} unavailable`);
    await tf.ready();
    tf.enableProdMode();
    document.getElementById('status').textContent = `ready: ${tf.getBackend()}`;
    const probe = await precisionProbe();
    return { backend: tf.getBackend(), tfjs_version: tf.version.tfjs, user_agent: navigator.userAgent,
      num_tensors: tf.memory().numTensors, precision_probe: probe,
      threads: backend === 'wasm' ? tf.wasm.getThreadsCount() : null, cross_origin_isolated: globalThis.crossOriginIsolated === true,
      flags: Object.fromEntries(Object.keys(flags).map((k) => [k, tf.env().get(k)])) };
  }

  async function load(url) {
    const t0 = performance.now();
    let format;
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      format = Runner.detectFormat(await res.json());
    } catch (e) {
      throw Runner.codeError('LOAD_FAILED', `loading ${url} failed: ${e.message}`);
    }
    let model;
    try { model = await Runner.loadModel(tf, url, format); } catch (e) {
      throw Runner.codeError('LOAD_FAILED', `loading ${url} failed: ${e.message}`);
    }
    const handle = `b${nextHandle++}`;
    const entry = Runner.newEntry(model, format);
    models.set(handle, entry);
    return { handle, load_ms: performance.now() - t0, ...entry.desc };
  }

  // Tensor files by URL: [{name, url, shape, dtype}] -> the same with data (a typed array).
  const fetchAll = (list) => Promise.all(list.map(async (inp) => {
    const Ctor = ARRAYS[inp.dtype || 'float32'];
    if (!Ctor) throw Runner.codeError('BAD_REQUEST', `input ${inp.name}: unsupported dtype ${inp.dtype}`);
    const buf = await (await fetch(inp.url)).arrayBuffer();
    const count = inp.shape.reduce((a, b) => a * b, 1);
    if (buf.byteLength !== count * 4) {
      throw Runner.codeError('INPUT_FILE', `input ${inp.name}: ${buf.byteLength} bytes, expected ${count * 4}`);
    }
    return { ...inp, data: new Ctor(buf) };
  }));

  // inputs: [{name, url, shape, dtype}]; output_urls: one per output (or per entry of layers).
  async function predict({ handle, inputs, output_urls, batch_size = 256, layers, feeds = [] }) {
    const entry = models.get(handle);
    if (!entry) throw Runner.codeError('UNKNOWN_HANDLE', `no model loaded as ${handle}`);
    const before = tf.memory().numTensors;
    const withData = await fetchAll(inputs);
    const fedData = await fetchAll(feeds);
    const r = await Runner.predict(tf, entry, withData, { batchSize: batch_size, layers, feeds: fedData });
    if (!output_urls || output_urls.length !== r.outputs.length) {
      throw Runner.codeError('BAD_REQUEST', `predict needs ${r.outputs.length} output_urls`);
    }
    await Promise.all(r.outputs.map((o, k) => fetch(output_urls[k], { method: 'PUT', body: o.data })));
    return { predict_ms: r.predict_ms, execute_async: r.async,
      outputs: r.outputs.map((o) => ({ name: o.name, shape: o.shape, dtype: o.dtype })),
      shapes: r.outputs.map((o) => o.shape), tensors_before: before, tensors_after: tf.memory().numTensors };
  }

  // Per-node error statistics of `handle` against `reference` (compare.js), inputs fetched as for predict.
  async function compare({ reference, handle, inputs, nodes, fetch = [], groups = [] }) {
    const ref = models.get(reference);
    const variant = models.get(handle);
    if (!ref || !variant) throw Runner.codeError('UNKNOWN_HANDLE', `no model loaded as ${ref ? handle : reference}`);
    const withData = await fetchAll(inputs);
    const before = tf.memory().numTensors;
    const r = await globalThis.QuantlabCompare.compare(tf, ref, variant, withData, { nodes, fetch, groups });
    return { ...r, tensors_before: before, tensors_after: tf.memory().numTensors };
  }

  function unload(handle) {
    const entry = models.get(handle);
    if (entry) { Runner.dispose(entry); models.delete(handle); }
    return { num_tensors: tf.memory().numTensors };
  }

  // Delivery timing: what a user's page does. Fetch model.json once (its response is handed to
  // tf.io.http, so it is not fetched twice), load the weights, then predict one example of zeros
  // and read it back. Times from the first request; the Resource Timing entries of the model's
  // URLs give the bytes that crossed the (emulated) network and the number of requests.
  async function deliver({ url }) {
    performance.clearResourceTimings();
    const t0 = performance.now();
    let format, model;
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      format = Runner.detectFormat(JSON.parse(text));
      const fetchFunc = (u, init) => (u === url
        ? Promise.resolve(new Response(text, { headers: { 'Content-Type': 'application/json' } }))
        : fetch(u, init));
      model = await Runner.loadModel(tf, tf.io.http(url, { fetchFunc }), format);
    } catch (e) {
      throw Runner.codeError('LOAD_FAILED', `loading ${url} failed: ${e.message}`);
    }
    const loadedMs = performance.now() - t0;
    const handle = `b${nextHandle++}`;
    const entry = Runner.newEntry(model, format);
    models.set(handle, entry);
    const inputs = entry.desc.inputs.map((spec) => {
      const shape = [1, ...(spec.shape || [null]).slice(1).map((d) => d ?? 1)];
      const count = shape.reduce((a, b) => a * b, 1);
      const Ctor = spec.dtype === 'int32' ? Int32Array : Float32Array;
      return { name: spec.name, shape, dtype: spec.dtype === 'int32' ? 'int32' : 'float32', data: new Ctor(count) };
    });
    await Runner.predict(tf, entry, inputs, { batchSize: 1 });
    const firstMs = performance.now() - t0;
    const prefix = url.slice(0, url.lastIndexOf('/') + 1);
    const entries = performance.getEntriesByType('resource').filter((r) => r.name.startsWith(prefix));
    const mem = tf.memory();
    return { handle, format, load_ms: loadedMs, first_prediction_ms: firstMs,
      tf_memory_bytes: mem.numBytes, tf_num_tensors: mem.numTensors,
      js_heap_used_bytes: performance.memory ? performance.memory.usedJSHeapSize : null,
      requests: entries.length,
      transfer_bytes: entries.reduce((a, r) => a + r.transferSize, 0),
      encoded_bytes: entries.reduce((a, r) => a + r.encodedBodySize, 0),
      decoded_bytes: entries.reduce((a, r) => a + r.decodedBodySize, 0) };
  }

  window.quantlab = { init, load: coded(load), predict: coded(predict), compare: coded(compare), unload,
    deliver: coded(deliver) };
})();
