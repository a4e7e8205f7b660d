// Step 2 of 2 (JS): checks the evaluator against tests/fixtures/tiny_dense, made by
// tests/fixtures/make_fixtures.py (step 1, Python) with Keras reference outputs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = path.join(root, 'tests/fixtures/tiny_dense');
const spec = JSON.parse(fs.readFileSync(path.join(fixture, 'fixture.json')));
const readF32 = (file) => { const b = fs.readFileSync(file); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };

function startEvaluator(backend) {
  const proc = spawn(process.execPath, [path.join(root, 'js/evaluator.mjs'), '--backend', backend],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = readline.createInterface({ input: proc.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  let id = 0;
  const next = () => new Promise((resolve) => waiting.push(resolve));
  return {
    proc,
    ready: next(),
    request(op, fields = {}) {
      const reply = next();
      proc.stdin.write(JSON.stringify({ id: ++id, op, ...fields }) + '\n');
      return reply;
    },
  };
}

for (const backend of ['wasm', 'cpu']) {
  describe(`evaluator on ${backend}`, () => {
  let ev; let tmp;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quantlab-js-'));
    ev = startEvaluator(backend);
    const ready = await ev.ready;
    assert.equal(ready.event, 'ready');
    assert.equal(ready.backend, backend);
  });
  after(async () => {
    await ev.request('exit');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test(`${backend}: predicts what Keras predicted, over HTTP, without leaking tensors`, async () => {
    const loaded = await ev.request('load', { model_dir: fixture });
    assert.ok(loaded.ok, JSON.stringify(loaded));
    assert.match(loaded.url, /^http:\/\/127\.0\.0\.1:\d+\//);
    const outPath = path.join(tmp, 'out.bin');
    const r = await ev.request('predict', { handle: loaded.handle, output_paths: [outPath],
      input: { path: path.join(fixture, spec.input.file), shape: spec.input.shape, dtype: 'float32' } });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.outputs[0].shape, spec.expected.shape);
    assert.equal(r.tensors_after, r.tensors_before);
    const got = readF32(outPath); const want = readF32(path.join(fixture, spec.expected.file));
    want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-5, `element ${i}: ${got[i]} vs ${w}`));
    const hiddenPath = path.join(tmp, 'hidden.bin');
    const h = await ev.request('predict', { handle: loaded.handle, output_paths: [hiddenPath],
      layers: ['hidden'], input: { path: path.join(fixture, spec.input.file), shape: spec.input.shape } });
    assert.ok(h.ok, JSON.stringify(h));
    const hw = readF32(path.join(fixture, spec.expected_hidden.file)); const hg = readF32(hiddenPath);
    hw.forEach((w, i) => assert.ok(Math.abs(hg[i] - w) < 1e-5));
    const unloaded = await ev.request('unload', { handle: loaded.handle });
    assert.equal(unloaded.num_tensors, 0);
  });

  test(`${backend}: structured errors for bad requests`, async () => {
    const loaded = await ev.request('load', { model_dir: fixture });
    const badShape = await ev.request('predict', { handle: loaded.handle, output_paths: [path.join(tmp, 'x.bin')],
      input: { path: path.join(fixture, spec.input.file), shape: [6, 4] } });
    assert.equal(badShape.ok, false);
    assert.equal(badShape.error.code, 'INPUT_SHAPE');
    const badOp = await ev.request('explode');
    assert.equal(badOp.error.code, 'BAD_REQUEST');
    const noModel = await ev.request('load', { model_dir: path.join(tmp, 'nothing-here') });
    assert.equal(noModel.error.code, 'LOAD_FAILED');
    const noHandle = await ev.request('predict', { handle: 'm999', input: {}, output_paths: [] });
    assert.equal(noHandle.error.code, 'UNKNOWN_HANDLE');
    await ev.request('unload', { handle: loaded.handle });
  });
  });
}
