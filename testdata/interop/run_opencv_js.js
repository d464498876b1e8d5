#!/usr/bin/env node
// Runs ONNX models with OpenCV's DNN module as built for JavaScript (OpenCV 4.12 compiled to WebAssembly, npm
// package @techstark/opencv-js): an ONNX importer and engine independent of ONNX Runtime, and newer than
// Debian 12's python3-opencv (4.6), which cannot read Forge's INT8, FP16 and Clip models (docs/INTERCHANGE.md).
//
//   node testdata/interop/run_opencv_js.js MANIFEST
//
// MANIFEST has one case a line, tab-separated: NAME MODEL.onnx INPUT.npy OUTPUT.npy. INPUT.npy is an image
// batch [N, C, H, W] (C 1 or 3); each image goes through cv.blobFromImage (scale 1, mean 0, no resize, no
// channel swap: the values pass unchanged into a [1, C, H, W] blob) and one forward pass (the WebAssembly
// build has one backend, OpenCV's own CPU code), and the N outputs are stacked into OUTPUT.npy. Prints
// "ok NAME" or "error NAME: MESSAGE" (OpenCV's message, one line) per case; exits 1 only when the manifest
// cannot be read or nothing ran.
'use strict';

const fs = require('fs');
const { readNpy, writeNpy } = require('./npy');

// The module object is a "thenable" (Emscripten's Module.then): it must never be returned from an async
// function or passed to resolve(), which would adopt it again and again, so this resolves with a wrapper.
function loadOpenCv() {
  const cv = require('@techstark/opencv-js');
  return new Promise((resolve) => {
    if (cv.Mat) {
      resolve({ cv });
    } else {
      cv.onRuntimeInitialized = () => resolve({ cv });
    }
  });
}

function message(cv, e) {
  // OpenCV's C++ exceptions arrive as a pointer (a number) in the WebAssembly build
  const text = typeof e === 'number' ? cv.exceptionFromPtr(e).msg : e && e.message ? e.message : String(e);
  return String(text).replace(/\s+/g, ' ').trim();
}

function runCase(cv, name, model, input, output, index) {
  // the WebAssembly module reads files from its own in-memory file system
  const file = `/model${index}.onnx`;
  cv.FS_createDataFile('/', file.substring(1), new Uint8Array(fs.readFileSync(model)), true, false, false);
  const net = cv.readNetFromONNX(file);
  const owned = [net];
  try {
    const x = readNpy(input);
    if (x.dims.length !== 4 || (x.dims[1] !== 1 && x.dims[1] !== 3)) {
      throw new Error(`${input}: shape (${x.dims}); this script feeds image batches [N, 1 or 3, H, W]`);
    }
    const [n, c, h, w] = x.dims;
    let result = null;
    let outDims = null;
    for (let s = 0; s < n; s++) {
      // CHW -> HWC: an image Mat is interleaved, blobFromImage turns it back into CHW
      const hwc = new Float32Array(h * w * c);
      for (let ch = 0; ch < c; ch++) {
        for (let i = 0; i < h * w; i++) {
          hwc[i * c + ch] = x.data[s * c * h * w + ch * h * w + i];
        }
      }
      const img = cv.matFromArray(h, w, c === 1 ? cv.CV_32FC1 : cv.CV_32FC3, hwc);
      owned.push(img);
      const blob = cv.blobFromImage(img, 1.0, new cv.Size(w, h), new cv.Scalar(0, 0, 0, 0), false, false, cv.CV_32F);
      owned.push(blob);
      net.setInput(blob);
      const out = net.forward();
      owned.push(out);
      const y = out.data32F;
      if (result === null) {
        result = new Float32Array(n * y.length);
        outDims = [n].concat(Array.from(out.matSize).slice(1));
      }
      result.set(y, s * y.length);
    }
    writeNpy(output, result, outDims);
  } finally {
    for (const m of owned) {
      m.delete();
    }
    cv.FS_unlink(file);
  }
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node run_opencv_js.js MANIFEST (lines: NAME<TAB>MODEL<TAB>INPUT.npy<TAB>OUTPUT.npy)');
    process.exit(2);
  }
  const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.trim().length > 0);
  const { cv } = await loadOpenCv();
  const version = /Version control:\s*(\S+)/.exec(cv.getBuildInformation());
  console.log(`opencv.js ${version ? version[1] : '?'} (@techstark/opencv-js)`);
  let ran = 0;
  for (let i = 0; i < lines.length; i++) {
    const [name, model, input, output] = lines[i].split('\t');
    try {
      runCase(cv, name, model, input, output, i);
      console.log(`ok ${name}`);
      ran++;
    } catch (e) {
      console.log(`error ${name}: ${message(cv, e)}`);
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
