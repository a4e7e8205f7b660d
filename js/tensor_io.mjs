// Raw little-endian tensor files: the payload only; dtype and shape travel in the JSON line.
import fs from 'node:fs';

const ARRAYS = { float32: Float32Array, int32: Int32Array };

export function typedArrayFor(dtype) {
  const ctor = ARRAYS[dtype];
  if (!ctor) throw Object.assign(new Error(`unsupported dtype ${dtype}`), { code: 'BAD_REQUEST' });
  return ctor;
}

export function readTensorFile({ path, shape, dtype = 'float32' }) {
  const ctor = typedArrayFor(dtype);
  let buf;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    throw Object.assign(new Error(`cannot read input tensor file ${path}: ${e.code || e.message}`),
      { code: 'INPUT_FILE' });
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== count * ctor.BYTES_PER_ELEMENT) {
    throw Object.assign(new Error(`input tensor file ${path} has ${buf.length} bytes, ` +
      `expected ${count * ctor.BYTES_PER_ELEMENT} for ${dtype}[${shape}]`), { code: 'INPUT_FILE' });
  }
  // Copy into an aligned buffer: Buffer slices may start at any byte offset.
  const aligned = new ctor(count);
  new Uint8Array(aligned.buffer).set(buf);
  return aligned;
}

export function writeTensorFile(path, data) {
  // Write then rename so a reader never sees a half-written file.
  const tmp = `${path}.part`;
  fs.writeFileSync(tmp, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  fs.renameSync(tmp, path);
}
