// Loopback HTTP server that serves registered model folders, so tfjs loads model.json and its
// shards through fetch(): the same code path a browser takes.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = { '.json': 'application/json', '.bin': 'application/octet-stream',
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png' };

export class StaticServer {
  constructor() {
    this.roots = new Map(); // mount name -> absolute folder
    this.requests = [];     // every path asked for, for tests and leak checks
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async listen() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this.port;
  }

  mount(name, folder) {
    this.roots.set(name, path.resolve(folder));
    return `http://127.0.0.1:${this.port}/${name}/`;
  }

  unmount(name) { this.roots.delete(name); }

  handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    this.requests.push(url.pathname);
    const [, mountName, ...rest] = decodeURIComponent(url.pathname).split('/');
    const root = this.roots.get(mountName);
    const file = root && path.resolve(root, rest.join('/'));
    // Refuse anything outside the mounted folder (".." in names from untrusted manifests).
    if (!root || !file.startsWith(root + path.sep)) return this.fail(res, 404);
    fs.readFile(file, (err, data) => {
      if (err) return this.fail(res, 404);
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
        'Content-Length': data.length });
      res.end(data);
    });
  }

  fail(res, status) {
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(String(status));
  }

  close() {
    return new Promise((resolve) => {
      this.server.closeAllConnections?.();
      this.server.close(() => resolve());
    });
  }
}
