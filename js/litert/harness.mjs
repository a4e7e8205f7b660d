// Runs inside the LiteRT.js page: load a .tflite model, run batches, read outputs back. Tensors
// travel as for the tfjs page: raw little-endian files fetched from, and PUT back to, the loopback
// server. Errors are thrown as `CODE: message` (js/protocol.json's codes).
import { loadLiteRt, loadAndCompile, getGlobalLiteRt, Tensor } from '/litert/dist/index.js';

const models = new Map();
let cpuThreads = 1;
let nextHandle = 1;
const ARRAYS = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array };
const coded = (code, message) => Object.assign(new Error(message), { code });
const wrap = (fn) => async (arg) => {
  try { return await fn(arg); } catch (e) { throw new Error(`${e.code || 'INTERNAL'}: ${e.message}`); }
};

async function init({ accelerator = 'wasm', threads = 1 } = {}) {
  // JSPI lets WebGPU fall back to wasm op by op (DESIGN 2.9); the plain build is the wasm default;
  // threads > 1 the threaded build, which needs a cross-origin-isolated page (SharedArrayBuffer).
  if (threads > 1 && !globalThis.crossOriginIsolated) throw coded('BACKEND_FAILED', 'threads need a cross-origin-isolated page');
  await loadLiteRt('/litert/wasm/', accelerator === 'webgpu' ? { jspi: true } : threads > 1 ? { threads: true } : {});
  // XNNPack's pool: what was asked, never more than the build offers (the plain build: 1)
  const available = getGlobalLiteRt().liteRtWasm.getThreadCount?.() ?? 1;
  cpuThreads = Math.max(1, Math.min(threads, available));
  if (accelerator === 'webgpu' && !navigator.gpu?.requestAdapter) throw coded('BACKEND_FAILED', 'no WebGPU adapter: unavailable');
  if (accelerator === 'webgpu' && !(await navigator.gpu.requestAdapter())) throw coded('BACKEND_FAILED', 'no WebGPU adapter: unavailable');
  return { accelerator, threads: cpuThreads, threads_available: available,
    cross_origin_isolated: globalThis.crossOriginIsolated === true,
    versions: { '@litertjs/core': globalThis.QUANTLAB_LITERT_VERSION ?? null } };
}

const details = (list) => list.map((d) => ({ name: d.name, shape: Array.from(d.shape), dtype: d.dtype }));

async function load({ url, accelerator = 'wasm' }) {
  const t0 = performance.now();
  let model;
  try { model = await loadAndCompile(url, { accelerator, cpuOptions: { numThreads: cpuThreads } }); } catch (e) {
    throw coded('LOAD_FAILED', `loading ${url} failed (LiteRT.js loadAndCompile): ${e.message ?? e}`);
  }
  const handle = `l${nextHandle++}`;
  models.set(handle, model);
  return { handle, load_ms: performance.now() - t0, inputs: details(model.getInputDetails()),
    outputs: details(model.getOutputDetails()) };
}

// inputs: [{url, shape, dtype}] in the model's input order, each a whole number of the model's
// fixed batch; output_urls: one per output. Runs batch by batch; outputs concatenated.
async function predict({ handle, inputs, output_urls }) {
  const model = models.get(handle);
  if (!model) throw coded('UNKNOWN_HANDLE', `no model loaded as ${handle}`);
  const want = model.getInputDetails();
  const data = await Promise.all(inputs.map(async (inp) => {
    const Ctor = ARRAYS[inp.dtype];
    if (!Ctor) throw coded('BAD_REQUEST', `input ${inp.name}: unsupported dtype ${inp.dtype}`);
    return new Ctor(await (await fetch(inp.url)).arrayBuffer());
  }));
  const batch = want[0].shape[0];
  const n = inputs[0].shape[0];
  if (n % batch) throw coded('INPUT_SHAPE', `${n} examples are not whole batches of the model's fixed ${batch}`);
  const rows = inputs.map((inp) => inp.shape.slice(1).reduce((a, b) => a * b, 1));
  const chunks = [];
  const t0 = performance.now();
  for (let start = 0; start < n; start += batch) {
    const xs = data.map((d, k) => new Tensor(d.slice(start * rows[k], (start + batch) * rows[k]), Array.from(want[k].shape)));
    let ys;
    try { ys = await model.run(xs); } catch (e) {
      throw coded('PREDICT_FAILED', `LiteRT.js run failed: ${e.message ?? e}`);
    } finally { xs.forEach((x) => x.delete()); }
    const out = [];
    for (const y of ys) { const c = await y.moveTo('wasm'); out.push(c.toTypedArray().slice()); c.delete(); y.delete(); }
    chunks.push(out);
  }
  const predictMs = performance.now() - t0;
  const outs = model.getOutputDetails().map((d, k) => {
    const parts = chunks.map((c) => c[k]);
    const all = new parts[0].constructor(parts.reduce((a, p) => a + p.length, 0));
    let off = 0;
    for (const p of parts) { all.set(p, off); off += p.length; }
    // uint8 outputs travel as int32 (the protocol's integer type)
    const wide = d.dtype === 'uint8' ? Int32Array.from(all) : all;
    return { name: d.name, shape: [n, ...Array.from(d.shape).slice(1)], dtype: d.dtype === 'uint8' ? 'int32' : d.dtype, data: wide };
  });
  await Promise.all(outs.map((o, k) => fetch(output_urls[k], { method: 'PUT', body: o.data })));
  return { predict_ms: predictMs, outputs: outs.map(({ name, shape, dtype }) => ({ name, shape, dtype })) };
}

// `quantlab delivery`: from the request for the .tflite to the model compiled, and to one
// prediction (an example of zeros) read back, under the page's network emulation.
async function deliver({ url, accelerator = 'wasm' }) {
  performance.clearResourceTimings();
  const t0 = performance.now();
  const { handle, load_ms: loadMs } = await load({ url, accelerator });
  const model = models.get(handle);
  const xs = model.getInputDetails().map((d) => new Tensor(new (ARRAYS[d.dtype] ?? Float32Array)(
    Array.from(d.shape).reduce((a, b) => a * b, 1)), Array.from(d.shape)));
  try {
    const ys = await model.run(xs);
    for (const y of ys) { const c = await y.moveTo('wasm'); c.toTypedArray(); c.delete(); y.delete(); }
  } catch (e) {
    throw coded('PREDICT_FAILED', `LiteRT.js run failed: ${e.message ?? e}`);
  } finally { xs.forEach((x) => x.delete()); }
  const firstMs = performance.now() - t0;
  const entries = performance.getEntriesByType('resource').filter((r) => r.name === url);
  return { handle, format: 'tflite', load_ms: loadMs, first_prediction_ms: firstMs,
    tf_memory_bytes: null, tf_num_tensors: null,
    js_heap_used_bytes: performance.memory ? performance.memory.usedJSHeapSize : null,
    requests: entries.length,
    transfer_bytes: entries.reduce((a, r) => a + r.transferSize, 0),
    encoded_bytes: entries.reduce((a, r) => a + r.encodedBodySize, 0),
    decoded_bytes: entries.reduce((a, r) => a + r.decodedBodySize, 0) };
}

function unload(handle) {
  const model = models.get(handle);
  if (model) { model.delete?.(); models.delete(handle); }
  return {};
}

window.quantlabLiteRt = { init: wrap(init), load: wrap(load), predict: wrap(predict), deliver: wrap(deliver), unload };
document.getElementById('status').textContent = 'ready';
