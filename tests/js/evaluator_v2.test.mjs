// Protocol v2 fields of js/evaluator.mjs: format detection, named multi-input/multi-output
// predict, per-input errors, graph models (a hand-written GraphDef, no `format` key, so the
// evaluator must detect it from the topology's `node` key). Fixtures: tests/fixtures/js/, made
// by tests/fixtures/js/make_js_fixtures.mjs (tfjs in Node).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.join(root, 'tests/fixtures/js');
const readF32 = (file) => { const b = fs.readFileSync(file); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };

function startEvaluator(backend) {
  const proc = spawn(process.execPath, [path.join(root, 'js/evaluator.mjs'), '--backend', backend],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = readline.createInterface({ input: proc.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  let id = 0;
  const next = () => new Promise((resolve) => waiting.push(resolve));
  return { proc, ready: next(),
    request(op, fields = {}) { const reply = next(); proc.stdin.write(JSON.stringify({ id: ++id, op, ...fields }) + '\n'); return reply; } };
}

function writeGraphModel(dir) {
  // y = x @ w, x: float32 [-1, 2], w: [[2], [-3]]
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
    modelTopology: { node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' },
        shape: { shape: { dim: [{ size: '-1' }, { size: '2' }] } } } },
      { name: 'w', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT',
        tensorShape: { dim: [{ size: '2' }, { size: '1' }] } } } } },
      { name: 'y', op: 'MatMul', input: ['x', 'w'], attr: { T: { type: 'DT_FLOAT' },
        transpose_a: { b: false }, transpose_b: { b: false } } },
    ], versions: { producer: 1 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'w', shape: [2, 1], dtype: 'float32' }] }],
  }));
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), Buffer.from(new Float32Array([2, -3]).buffer));
}

describe('evaluator protocol v2 (cpu)', () => {
  let ev; let tmp;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quantlab-js-'));
    ev = startEvaluator('cpu');
    assert.equal((await ev.ready).protocol, 2);
  });
  after(async () => { await ev.request('exit'); fs.rmSync(tmp, { recursive: true, force: true }); });

  test('two named inputs, two outputs, in any input order; reproduces the tfjs reference', async () => {
    const dir = path.join(fixtures, 'two_in_two_out');
    const spec = JSON.parse(fs.readFileSync(path.join(dir, 'fixture.json')));
    const loaded = await ev.request('load', { model_dir: dir });
    assert.ok(loaded.ok, JSON.stringify(loaded));
    assert.equal(loaded.format, 'layers');
    assert.deepEqual(loaded.inputs, [{ name: 'a', shape: [null, 3], dtype: 'float32' },
      { name: 'b', shape: [null, 2], dtype: 'float32' }]);
    assert.deepEqual(loaded.outputs.map((o) => [o.name, o.shape]), [['reg', [null, 1]], ['cls', [null, 4]]]);
    const inputs = spec.inputs.map((i) => ({ name: i.name, path: path.join(dir, i.file), shape: i.shape,
      dtype: 'float32' })).reverse();
    const outs = [path.join(tmp, 'o0.bin'), path.join(tmp, 'o1.bin')];
    const r = await ev.request('predict', { handle: loaded.handle, inputs, output_paths: outs, batch_size: 2 });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.outputs.map((o) => [o.name, o.shape, o.dtype]), [['reg', [7, 1], 'float32'], ['cls', [7, 4], 'float32']]);
    assert.equal(r.tensors_after, r.tensors_before);
    spec.outputs.forEach((o, k) => {
      const want = readF32(path.join(dir, o.file)); const got = readF32(outs[k]);
      want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-5, `${o.name}[${i}]: ${got[i]} vs ${w}`));
    });
    const missing = await ev.request('predict', { handle: loaded.handle, inputs: inputs.slice(0, 1), output_paths: outs });
    assert.equal(missing.error.code, 'BAD_REQUEST');
    assert.match(missing.error.message, /missing input\(s\) a/);
    const extra = await ev.request('predict', { handle: loaded.handle, inputs: [...inputs, { ...inputs[0], name: 'c' }], output_paths: outs });
    assert.match(extra.error.message, /unknown input\(s\) c/);
    const badShape = await ev.request('predict', { handle: loaded.handle, output_paths: outs,
      inputs: [inputs[1], { ...inputs[0], shape: [14, 1] }] });
    assert.equal(badShape.error.code, 'INPUT_SHAPE');
    assert.match(badShape.error.message, /input b shape \[14,1\] does not match the model's b shape \[null,2\]/);
    await ev.request('unload', { handle: loaded.handle });
  });

  test('v1 single `input` field still works (Sequential with BatchNormalization)', async () => {
    const dir = path.join(fixtures, 'seq_batchnorm');
    const spec = JSON.parse(fs.readFileSync(path.join(dir, 'fixture.json')));
    const loaded = await ev.request('load', { model_dir: dir });
    const out = path.join(tmp, 'seq.bin');
    const r = await ev.request('predict', { handle: loaded.handle, output_paths: [out],
      input: { path: path.join(dir, spec.inputs[0].file), shape: spec.inputs[0].shape } });
    assert.ok(r.ok, JSON.stringify(r));
    const want = readF32(path.join(dir, spec.outputs[0].file)); const got = readF32(out);
    want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-5));
    await ev.request('unload', { handle: loaded.handle });
  });

  test('graph model detected from the topology; execute; node names as layers', async () => {
    const dir = path.join(tmp, 'graph');
    writeGraphModel(dir);
    const loaded = await ev.request('load', { model_dir: dir });
    assert.ok(loaded.ok, JSON.stringify(loaded));
    assert.equal(loaded.format, 'graph');
    assert.deepEqual(loaded.layers, []);
    assert.deepEqual(loaded.inputs.map((i) => [i.name, i.shape, i.dtype]), [['x', [null, 2], 'float32']]);
    assert.deepEqual(loaded.outputs.map((o) => o.name), ['y']);
    const x = path.join(tmp, 'x.bin');
    fs.writeFileSync(x, Buffer.from(new Float32Array([1, 1, 2, 0, 0, 1]).buffer));
    const out = path.join(tmp, 'y.bin');
    const r = await ev.request('predict', { handle: loaded.handle, output_paths: [out], batch_size: 2,
      inputs: [{ name: 'x', path: x, shape: [3, 2], dtype: 'float32' }] });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.execute_async, false);
    assert.deepEqual(Array.from(readF32(out)), [-1, 4, -3]);
    const byNode = await ev.request('predict', { handle: loaded.handle, output_paths: [out], layers: ['y'],
      inputs: [{ name: 'x', path: x, shape: [3, 2], dtype: 'float32' }] });
    assert.ok(byNode.ok, JSON.stringify(byNode));
    const wrongDtype = await ev.request('predict', { handle: loaded.handle, output_paths: [out],
      inputs: [{ name: 'x', path: x, shape: [3, 2], dtype: 'int32' }] });
    assert.equal(wrongDtype.error.code, 'BAD_REQUEST');
    const unloaded = await ev.request('unload', { handle: loaded.handle });
    assert.equal(unloaded.num_tensors, 0);
  });
});
