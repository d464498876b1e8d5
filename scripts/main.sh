#!/usr/bin/env bash
# The main job: builds Forge, exports the seed's MNIST CNN as ONNX, prints it the way the seed's
# print(net) does, and serves it through the runtime on a batch of inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/main-job
mkdir -p "$out"
./forge export mnist-cnn --out "$out/mnist-cnn.onnx"
./forge inspect "$out/mnist-cnn.onnx"
cp testdata/golden/mnist-cnn/input.npy "$out/input.npy"
./forge run "$out/mnist-cnn.onnx" --input "input=$out/input.npy" --output-dir "$out" --top 3
echo "model: $out/mnist-cnn.onnx  outputs: $out/logits.npy"
