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

  // inputs: [{name, url, shape, dtype}]; output_urls: one per output (or per entry of layers).
  async function predict({ handle, inputs, output_urls, batch_size = 256, layers }) {
    const entry = models.get(handle);
    if (!entry) throw Runner.codeError('UNKNOWN_HANDLE', `no model loaded as ${handle}`);
    const before = tf.memory().numTensors;
    const withData = await Promise.all(inputs.map(async (inp) => {
      const Ctor = ARRAYS[inp.dtype || 'float32'];
      if (!Ctor) throw Runner.codeError('BAD_REQUEST', `input ${inp.name}: unsupported dtype ${inp.dtype}`);
      const buf = await (await fetch(inp.url)).arrayBuffer();
      const count = inp.shape.reduce((a, b) => a * b, 1);
      if (buf.byteLength !== count * 4) {
        throw Runner.codeError('INPUT_FILE', `input ${inp.name}: ${buf.byteLength} bytes, expected ${count * 4}`);
      }
      return { ...inp, data: new Ctor(buf) };
    }));
    const r = await Runner.predict(tf, entry, withData, { batchSize: batch_size, layers });
    if (!output_urls || output_urls.length !== r.outputs.length) {
      throw Runner.codeError('BAD_REQUEST', `predict needs ${r.outputs.length} output_urls`);
    }
    await Promise.all(r.outputs.map((o, k) => fetch(output_urls[k], { method: 'PUT', body: o.data })));
    return { predict_ms: r.predict_ms, execute_async: r.async,
      outputs: r.outputs.map((o) => ({ name: o.name, shape: o.shape, dtype: o.dtype })),
      shapes: r.outputs.map((o) => o.shape), tensors_before: before, tensors_after: tf.memory().numTensors };
  }

  function unload(handle) {
    const entry = models.get(handle);
    if (entry) { Runner.dispose(entry); models.delete(handle); }
    return { num_tensors: tf.memory().numTensors };
  }

  window.quantlab = { init, load: coded(load), predict: coded(predict), unload };
})();
