// Reads and writes float32 .npy files (numpy format 1.0-3.0, little endian, C order) for the consumer scripts.
'use strict';

const fs = require('fs');
const path = require('path');

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    throw new Error(`${file}: not a .npy file`);
  }
  const major = buf.readUInt8(6);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) {
    throw new Error(`${file}: cannot parse the header ${header.trim()}`);
  }
  if (descr[1] !== '<f4' || fortran[1] !== 'False') {
    throw new Error(`${file}: dtype ${descr[1]}, fortran_order ${fortran[1]}; expected little-endian float32 in C order`);
  }
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (buf.length - offset !== count * 4) {
    throw new Error(`${file}: ${buf.length - offset} data bytes for shape (${dims}); expected ${count * 4}`);
  }
  // copy: the data offset need not be 4-byte aligned for a Float32Array view
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    data[i] = buf.readFloatLE(offset + 4 * i);
  }
  return { data, dims };
}

function writeNpy(file, data, dims) {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + data.length * 4);
  out.writeUInt8(0x93, 0);
  out.write('NUMPY', 1, 'latin1');
  out.writeUInt8(1, 6);
  out.writeUInt8(0, 7);
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) {
    out.writeFloatLE(data[i], 10 + header.length + 4 * i);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, out);
}

module.exports = { readNpy, writeNpy };
