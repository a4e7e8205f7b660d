import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StaticServer } from '../../js/static_server.mjs';

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
