#!/usr/bin/env bash
# Installs the PyTorch peer of the benchmarks (Debian 12, root, non-interactive, idempotent).
set -euo pipefail
if /usr/bin/python3 -c 'import torch' 2>/dev/null && [ -f /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
apt-get install -y -q --no-install-recommends python3-torch python3-numpy python3-onnx libopenblas0-openmp </dev/null
