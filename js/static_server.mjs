// Loopback HTTP server that serves registered model folders, so tfjs loads model.json and its
// shards through fetch(): the same code path a browser takes.
//
// What it guarantees, whatever the request: only GET and HEAD; only regular files whose real path
// (symlinks followed) lies inside the mounted folder's real path (a symlink in a model folder to
// /etc/passwd answers 404); a path that does not percent-decode answers 400; directories answer
// 404; and no request, however malformed, throws out of the handler (500 at worst).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = { '.json': 'application/json', '.bin': 'application/octet-stream',
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png' };

class HttpError extends Error {
  constructor(status) { super(String(status)); this.status = status; }
}

// Is `file` strictly inside folder `root` (both absolute, normalised)?
function inside(root, file) {
  const rel = path.relative(root, file);
  return rel !== '' && !rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel);
}

// The request target's path as decoded segments; 400 when it is not an origin-form path or a
// segment does not percent-decode; 404 when a segment could step out of its folder.
export function requestSegments(target) {
  if (typeof target !== 'string' || !target.startsWith('/')) throw new HttpError(400);
  const rawPath = target.split(/[?#]/, 1)[0];
  const segments = [];
  for (const raw of rawPath.split('/').slice(1)) {
    let seg;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new HttpError(400);
    }
    if (seg === '') continue;
    if (seg === '.' || seg === '..' || /[/\\\0]/.test(seg)) throw new HttpError(404);
    segments.push(seg);
  }
  return segments;
}

export class StaticServer {
  constructor() {
    this.roots = new Map(); // mount name -> { folder, real } (absolute; real: symlinks resolved)
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
    const abs = path.resolve(folder);
    let real = abs;
    try { real = fs.realpathSync(abs); } catch { /* missing now: every request will 404 */ }
    this.roots.set(name, { folder: abs, real });
    return `http://127.0.0.1:${this.port}/${name}/`;
  }

  unmount(name) { this.roots.delete(name); }

  handle(req, res) {
    // Never let an exception escape: an uncaught one would end the evaluator's Node process.
    let done;
    try {
      done = this.serve(req, res);
    } catch (err) {
      done = Promise.reject(err);
    }
    done.catch((err) => this.fail(res, err instanceof HttpError ? err.status : 500));
  }

  async serve(req, res) {
    this.requests.push(String(req.url).split(/[?#]/, 1)[0]);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      throw new HttpError(405);
    }
    const [mountName, ...rest] = requestSegments(req.url);
    const root = this.roots.get(mountName);
    if (!root || rest.length === 0) throw new HttpError(404);
    const file = path.resolve(root.folder, ...rest);
    if (!inside(root.folder, file)) throw new HttpError(404);
    let real;
    try {
      real = await fs.promises.realpath(file);
    } catch {
      throw new HttpError(404);
    }
    // The real path, after every symlink, must still be inside the mounted folder's real path.
    if (!inside(root.real, real)) throw new HttpError(404);
    let handle;
    try {
      // O_NOFOLLOW: the final component was resolved above, so do not follow a symlink swapped
      // in since; O_NONBLOCK: a FIFO must not hang the open (it then fails the isFile check).
      const { O_RDONLY, O_NOFOLLOW = 0, O_NONBLOCK = 0 } = fs.constants;
      handle = await fs.promises.open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch {
      throw new HttpError(404);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new HttpError(404);
      const data = req.method === 'HEAD' ? null : await handle.readFile();
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(real)] || 'application/octet-stream',
        'Content-Length': data ? data.length : stat.size });
      res.end(data ?? undefined);
    } finally {
      await handle.close();
    }
  }

  fail(res, status) {
    try {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(String(status));
    } catch {
      res.destroy();
    }
  }

  close() {
    return new Promise((resolve) => {
      this.server.closeAllConnections?.();
      this.server.close(() => resolve());
    });
  }
}
