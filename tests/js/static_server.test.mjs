import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { StaticServer } from '../../js/static_server.mjs';

const SECRET = 'top-secret-outside-the-mount';

// A request sent byte for byte as given (fetch() would normalise `..` and reject odd targets).
function raw(port, target, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serves mounted folders on 127.0.0.1 and refuses paths outside them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quantlab-srv-'));
  fs.writeFileSync(path.join(dir, 'model.json'), '{"a":1}');
  fs.writeFileSync(path.join(os.tmpdir(), 'secret.txt'), 'no');
  const server = new StaticServer();
  await server.listen();
  try {
    const base = server.mount('m1', dir);
    assert.match(base, /^http:\/\/127\.0\.0\.1:/);
    const ok = await fetch(base + 'model.json');
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { a: 1 });
    assert.equal((await fetch(base + 'missing.bin')).status, 404);
    assert.equal((await fetch(base + '..%2Fsecret.txt')).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/m2/model.json`)).status, 404);
    server.unmount('m1');
    assert.equal((await fetch(base + 'model.json')).status, 404);
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// Layout: <tmp>/outside/secret.txt, <tmp>/outside/dir/secret.txt, and the mounted folder
// <tmp>/model/ with model.json, a sub-folder, and symlinks both inside and out.
let tmp; let server; let port;
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quantlab-srv-'));
  const outside = path.join(tmp, 'outside');
  const model = path.join(tmp, 'model');
  fs.mkdirSync(path.join(outside, 'dir'), { recursive: true });
  fs.mkdirSync(path.join(model, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret.txt'), SECRET);
  fs.writeFileSync(path.join(outside, 'dir', 'secret.txt'), SECRET);
  fs.writeFileSync(path.join(model, 'model.json'), '{"a":1}');
  fs.writeFileSync(path.join(model, 'sub', 'shard1.bin'), 'shard');
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(model, 'escape.bin'));
  fs.symlinkSync('../outside/secret.txt', path.join(model, 'relative-escape.bin'));
  fs.symlinkSync(path.join(outside, 'dir'), path.join(model, 'linked-dir'));
  fs.symlinkSync('/etc/passwd', path.join(model, 'passwd.json'));
  fs.symlinkSync('model.json', path.join(model, 'alias.json')); // stays inside: allowed
  fs.symlinkSync(model, path.join(tmp, 'model-link'));          // the mount itself is a link
  server = new StaticServer();
  port = await server.listen();
  server.mount('m1', model);
  server.mount('viaLink', path.join(tmp, 'model-link'));
});
after(async () => {
  await server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('symlinks whose real path leaves the mounted folder answer 404', async () => {
  for (const target of ['/m1/escape.bin', '/m1/relative-escape.bin', '/m1/linked-dir/secret.txt',
    '/m1/passwd.json', '/viaLink/escape.bin', '/viaLink/linked-dir/secret.txt']) {
    const r = await raw(port, target);
    assert.equal(r.status, 404, target);
    assert.ok(!r.body.includes(SECRET) && !r.body.includes('root:'), target);
  }
});

test('symlinks that stay inside, and a mounted folder that is itself a symlink, are served', async () => {
  assert.deepEqual(await raw(port, '/m1/alias.json').then((r) => [r.status, r.body]), [200, '{"a":1}']);
  assert.deepEqual(await raw(port, '/viaLink/model.json').then((r) => [r.status, r.body]),
    [200, '{"a":1}']);
  assert.deepEqual(await raw(port, '/m1/sub/shard1.bin').then((r) => [r.status, r.body]),
    [200, 'shard']);
});

test('a percent-escape that does not decode answers 400 and the server keeps answering', async () => {
  for (const target of ['/m1/%c0', '/m1/%', '/m1/%zz', '/%c0/model.json', '/m1/model.json%E0%A4%A']) {
    assert.equal((await raw(port, target)).status, 400, target);
    assert.equal((await raw(port, '/m1/model.json')).status, 200, `after ${target}`);
  }
});

test('.. and encoded traversal answer 404 (or 400), never the file outside', async () => {
  const targets = [
    '/m1/../outside/secret.txt', '/m1/../../outside/secret.txt', '/m1/sub/../../outside/secret.txt',
    '/m1/%2e%2e/outside/secret.txt', '/m1/%2E%2E/outside/secret.txt', '/m1/%2e%2e%2foutside%2fsecret.txt',
    '/m1/..%2Foutside%2Fsecret.txt', '/m1/..%5Coutside%5Csecret.txt', '/m1/./../outside/secret.txt',
    '/m1/model.json%00', '/m1/%2e', '/model/model.json',
  ];
  for (const target of targets) {
    const r = await raw(port, target);
    assert.ok([400, 404].includes(r.status), `${target}: ${r.status}`);
    assert.ok(!r.body.includes(SECRET), target);
  }
});

test('absolute-path tricks answer 404 (or 400)', async () => {
  const secret = path.join(tmp, 'outside', 'secret.txt');
  const targets = [
    `/m1/${encodeURIComponent(secret)}`, `/m1/${secret}`, `/m1//${secret}`, `//${secret}`,
    `/m1/%2Fetc%2Fpasswd`, '/m1//etc/passwd', '//etc/passwd', `http://127.0.0.1${secret}`,
    `http://127.0.0.1:${port}/m1/escape.bin`, '*', `/m1/${encodeURIComponent('\\etc\\passwd')}`,
  ];
  for (const target of targets) {
    const r = await raw(port, target);
    assert.ok([400, 404].includes(r.status), `${target}: ${r.status}`);
    assert.ok(!r.body.includes(SECRET) && !r.body.includes('root:'), target);
  }
});

test('directories answer 404', async () => {
  for (const target of ['/m1', '/m1/', '/m1/sub', '/m1/sub/', '/m1/linked-dir', '/']) {
    assert.equal((await raw(port, target)).status, 404, target);
  }
});

test('only GET and HEAD', async () => {
  const head = await raw(port, '/m1/model.json', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '7');
  assert.equal(head.body, '');
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const r = await raw(port, '/m1/model.json', method);
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.allow, 'GET, HEAD');
  }
  assert.equal((await raw(port, '/m1/model.json')).status, 200);
});

test('any other exception in the handler answers 500 and the server keeps answering', async () => {
  const original = server.serve;
  try {
    server.serve = () => { throw new Error('boom (sync)'); };
    assert.equal((await raw(port, '/m1/model.json')).status, 500);
    server.serve = async () => { throw new TypeError('boom (async)'); };
    assert.equal((await raw(port, '/m1/model.json')).status, 500);
  } finally {
    server.serve = original;
  }
  assert.equal((await raw(port, '/m1/model.json')).status, 200);
});
