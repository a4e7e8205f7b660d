#!/usr/bin/env node
// quantlab's tfjs evaluator: one long-lived process serving many jobs.
// Protocol (see protocol.json): one JSON request per stdin line, one JSON response per stdout
// line. stdout carries nothing else: console output from tfjs is sent to stderr.
import fs from 'node:fs';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StaticServer } from './static_server.mjs';
import { readTensorFile, writeTensorFile } from './tensor_io.mjs';
import './browser/runner.js'; // sets globalThis.QuantlabRunner (shared with the browser page)
import './browser/compare.js'; // sets globalThis.QuantlabCompare (the same)

const Runner = globalThis.QuantlabRunner;

const PROTOCOL = JSON.parse(fs.readFileSync(new URL('./protocol.json', import.meta.url)));
const out = process.stdout;
const send = (obj) => out.write(JSON.stringify(obj) + '\n');
for (const name of ['log', 'info', 'warn', 'debug']) {
  console[name] = (...args) => process.stderr.write(args.join(' ') + '\n');
}

function fatal(code, message) {
  send({ event: 'fatal', ok: false, error: { code, message } });
  process.exit(2);
}

function parseArgs(argv) {
  const args = { backend: 'wasm' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--backend') args.backend = argv[++i];
  }
  if (!PROTOCOL.backends.includes(args.backend)) {
    fatal('BAD_REQUEST', `unknown backend ${args.backend}; valid: ${PROTOCOL.backends.join(', ')}`);
  }
  return args;
}

// tfjs-node lives in its own folder (built by `quantlab setup --tfjs-node`), apart from the
// default install, so a failed build never breaks the wasm and cpu backends.
function tfjsNodeDir() {
  return process.env.QUANTLAB_TFJS_NODE_DIR ||
    path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '.tfjs-node');
}

async function importTf(backend) {
  const pkg = backend === 'tensorflow' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs';
  let tf;
  try {
    // require, not import(): tfjs ships CommonJS, and an ESM import of it runs Node's
    // cjs-module-lexer over every module it loads, 0.4 s of CPU per evaluator start (of 0.65).
    if (backend === 'tensorflow') {
      tf = createRequire(path.join(tfjsNodeDir(), 'package.json'))(pkg);
    } else {
      tf = createRequire(import.meta.url)(pkg);
    }
    if (backend === 'wasm') createRequire(import.meta.url)('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    if (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') {
      const hint = backend === 'tensorflow' ? `run \`quantlab setup --tfjs-node\` (looked in ${tfjsNodeDir()})`
        : 'run `npm ci`';
      fatal('MISSING_DEPENDENCY', `cannot import ${pkg} (${e.message.split('\n')[0]}); ${hint}`);
    }
    fatal('BACKEND_FAILED', `importing ${pkg} failed: ${e.message}`);
  }
  tf = tf.default ?? tf;
  try {
    if (!(await tf.setBackend(backend))) throw new Error('setBackend returned false');
    await tf.ready();
  } catch (e) {
    fatal('BACKEND_FAILED', `tfjs backend ${backend} failed to initialise: ${e.message}`);
  }
  tf.enableProdMode();
  return tf;
}

function tfVersions(tf) {
  const require = createRequire(import.meta.url);
  const versions = { 'tfjs-core': tf.version_core ?? tf.version?.['tfjs-core'] };
  for (const pkg of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm']) {
    try { versions[pkg] = require(`${pkg}/package.json`).version; } catch { /* not installed */ }
  }
  if (tf.getBackend() === 'tensorflow') {
    versions['@tensorflow/tfjs-node'] = tf.version?.['tfjs-node'];
    versions.libtensorflow = tf.backend()?.binding?.TF_Version;
  }
  return versions;
}

class Evaluator {
  constructor(tf, server, backend) {
    this.tf = tf;
    this.server = server;
    this.backend = backend;
    this.models = new Map();
    this.nextHandle = 1;
  }

  info() {
    return { backend: this.tf.getBackend(), versions: tfVersions(this.tf),
      node: process.version, port: this.server.port, num_tensors: this.tf.memory().numTensors,
      protocol: PROTOCOL.version, requests: this.server.requests.length,
      max_rss_kb: process.resourceUsage().maxRSS };
  }

  async load({ model_dir }) {
    if (!model_dir) throw codeError('BAD_REQUEST', 'load needs model_dir');
    let format;
    try {
      format = Runner.detectFormat(JSON.parse(fs.readFileSync(path.join(model_dir, 'model.json'), 'utf8')));
    } catch (e) {
      throw codeError('LOAD_FAILED', `loading ${model_dir}/model.json failed: ${e.message}`);
    }
    const handle = `m${this.nextHandle++}`;
    const url = this.server.mount(handle, model_dir) + 'model.json';
    const t0 = performance.now();
    let model;
    try {
      model = await Runner.loadModel(this.tf, url, format);
    } catch (e) {
      this.server.unmount(handle);
      const fn = format === 'graph' ? 'tf.loadGraphModel' : 'tf.loadLayersModel';
      throw codeError('LOAD_FAILED', `loading ${model_dir}/model.json failed (${fn}): ${e.message}`);
    }
    const loadMs = performance.now() - t0;
    const entry = Runner.newEntry(model, format);
    entry.modelDir = model_dir;
    this.models.set(handle, entry);
    return { handle, url, load_ms: loadMs, num_tensors: this.tf.memory().numTensors, ...entry.desc };
  }

  // Waits while a test holds the job (QUANTLAB_TEST_BLOCK_DIR): announces predict-started, then
  // polls for <dir>/release. Lets tests interrupt a job that is certainly running.
  async testBlock() {
    const dir = process.env.QUANTLAB_TEST_BLOCK_DIR;
    if (!dir) return;
    // whole or not there at all (written aside, then renamed): a test reads the pid as soon as it sees the file
    for (const name of [`predict-started-${process.pid}`, 'predict-started']) { // one per evaluator, and the last
      const part = path.join(dir, `.${name}.${process.pid}.part`);
      fs.writeFileSync(part, String(process.pid));
      fs.renameSync(part, path.join(dir, name));
    }
    while (!fs.existsSync(path.join(dir, 'release'))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  // inputs: [{name, path, shape, dtype}] (or the v1 single `input`: {path, shape, dtype}).
  async predict({ handle, input, inputs, output_paths, batch_size = 256, layers, feeds = [] }) {
    const entry = this.models.get(handle);
    if (!entry) throw codeError('UNKNOWN_HANDLE', `no model loaded as ${handle}`);
    if (layers != null && !Array.isArray(layers)) throw codeError('BAD_REQUEST', 'layers must be a list of names');
    if (inputs == null && input != null) inputs = [input];
    if (!Array.isArray(inputs) || inputs.length === 0) {
      throw codeError('BAD_REQUEST', 'predict needs inputs: [{name, path, shape, dtype}]');
    }
    const nOut = layers && layers.length ? layers.length : entry.desc.outputs.length;
    if (!Array.isArray(output_paths) || output_paths.length !== nOut) {
      throw codeError('BAD_REQUEST', `predict needs ${nOut} output_paths`);
    }
    await this.testBlock();
    // Test hook (QUANTLAB_TEST_CRASH_MODEL): die on predict with a model whose folder contains it.
    const crashOn = process.env.QUANTLAB_TEST_CRASH_MODEL;
    if (crashOn && String(entry.modelDir).includes(crashOn)) process.exit(70);
    const tensorsBefore = this.tf.memory().numTensors;
    const t0 = performance.now();
    if (!Array.isArray(feeds)) throw codeError('BAD_REQUEST', 'feeds must be a list');
    for (const inp of [...inputs, ...feeds]) {
      if (!inp || !Array.isArray(inp.shape) || !inp.path) {
        throw codeError('BAD_REQUEST', `input ${inp?.name ?? ''} needs path and shape`);
      }
    }
    const withData = inputs.map((inp) => ({ ...inp, data: readTensorFile(inp) }));
    const fedData = feeds.map((f) => ({ ...f, data: readTensorFile(f) }));
    const t1 = performance.now();
    let result;
    try {
      result = await Runner.predict(this.tf, entry, withData, { batchSize: batch_size, layers, feeds: fedData });
    } catch (e) {
      if (!e.code) e.code = 'PREDICT_FAILED';
      throw e;
    }
    const t2 = performance.now();
    result.outputs.forEach((o, k) => writeTensorFile(output_paths[k], o.data));
    const t3 = performance.now();
    return { outputs: result.outputs.map((o, k) => ({ name: o.name, path: output_paths[k], shape: o.shape,
      dtype: o.dtype })), read_ms: t1 - t0, predict_ms: t2 - t1, write_ms: t3 - t2,
      execute_async: result.async, tensors_before: tensorsBefore, tensors_after: this.tf.memory().numTensors };
  }

  // Per-node error statistics of `handle` against `reference` (js/browser/compare.js).
  async compare({ reference, handle, inputs, nodes, fetch = [], groups = [] }) {
    const ref = this.models.get(reference);
    const variant = this.models.get(handle);
    if (!ref || !variant) throw codeError('UNKNOWN_HANDLE', `no model loaded as ${ref ? handle : reference}`);
    if (!Array.isArray(inputs) || inputs.length === 0) throw codeError('BAD_REQUEST', 'compare needs inputs');
    const withData = inputs.map((inp) => ({ ...inp, data: readTensorFile(inp) }));
    const before = this.tf.memory().numTensors;
    let r;
    try {
      r = await globalThis.QuantlabCompare.compare(this.tf, ref, variant, withData, { nodes, fetch, groups });
    } catch (e) {
      if (!e.code) e.code = 'PREDICT_FAILED';
      throw e;
    }
    return { ...r, tensors_before: before, tensors_after: this.tf.memory().numTensors };
  }

  unload({ handle }) {
    const entry = this.models.get(handle);
    if (!entry) throw codeError('UNKNOWN_HANDLE', `no model loaded as ${handle}`);
    Runner.dispose(entry);
    this.models.delete(handle);
    this.server.unmount(handle);
    return { num_tensors: this.tf.memory().numTensors };
  }
}

function codeError(code, message) {
  return Object.assign(new Error(message), { code });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const tf = await importTf(args.backend);
  const server = new StaticServer();
  await server.listen();
  const evaluator = new Evaluator(tf, server, args.backend);
  send({ event: 'ready', ok: true, startup_ms: performance.now() - t0, ...evaluator.info() });

  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  // Jobs run one at a time, in order: the readline iterator awaits each before the next.
  for await (const line of lines) {
    if (!line.trim()) continue;
    let request;
    try { request = JSON.parse(line); } catch (e) {
      send({ ok: false, error: { code: 'BAD_REQUEST', message: `request is not JSON: ${e.message}` } });
      continue;
    }
    const { id, op } = request;
    if (op === 'exit') { send({ id, ok: true }); break; }
    try {
      if (!PROTOCOL.ops.includes(op) || typeof evaluator[op] !== 'function') {
        throw codeError('BAD_REQUEST', `unknown op ${op}; valid: ${PROTOCOL.ops.join(', ')}`);
      }
      send({ id, ok: true, ...(await evaluator[op](request)) });
    } catch (e) {
      const code = PROTOCOL.error_codes[e.code] ? e.code : 'INTERNAL';
      send({ id, ok: false, error: { code, message: e.message } });
    }
  }
  await server.close();
  process.exit(0);
}

main().catch((e) => fatal('INTERNAL', e.stack || String(e)));
