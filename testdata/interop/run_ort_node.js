#!/usr/bin/env node
// Runs ONNX models with ONNX Runtime's Node.js binding (onnxruntime-node, CPU), as an outside consumer of
// the files Forge writes (InterchangeTest).
//
//   node testdata/interop/run_ort_node.js MANIFEST
//
// MANIFEST has one case a line, tab-separated: NAME MODEL.onnx INPUT.npy OUTPUT.npy. Each model gets its own
// session (default options: all graph optimizations, CPU), is fed INPUT.npy as its first input and writes its
// first output to OUTPUT.npy. Prints "ok NAME" or "error NAME: MESSAGE" (one line) per case, so one model
// that fails does not hide the others; exits 1 only when the manifest cannot be read or nothing ran.
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');
const { readNpy, writeNpy } = require('./npy');

async function runCase(model, input, output) {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  try {
    const x = readNpy(input);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.dims) };
    const results = await session.run(feeds);
    const y = results[session.outputNames[0]];
    if (y.type !== 'float32') {
      throw new Error(`output ${session.outputNames[0]} is ${y.type}; this script writes float32 only`);
    }
    writeNpy(output, y.data, y.dims);
  } finally {
    await session.release();
  }
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node run_ort_node.js MANIFEST (lines: NAME<TAB>MODEL<TAB>INPUT.npy<TAB>OUTPUT.npy)');
    process.exit(2);
  }
  const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.trim().length > 0);
  console.log(`onnxruntime-node ${ort.env.versions.node} (onnxruntime-common ${ort.env.versions.common})`);
  let ran = 0;
  for (const line of lines) {
    const [name, model, input, output] = line.split('\t');
    try {
      await runCase(model, input, output);
      console.log(`ok ${name}`);
      ran++;
    } catch (e) {
      console.log(`error ${name}: ${String(e && e.message ? e.message : e).replace(/\s+/g, ' ')}`);
    }
  }
  if (ran === 0 && lines.length > 0) {
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
