#!/usr/bin/env bash
# Installs the PyTorch peer of Forge's benchmarks: Debian's python3-torch (with numpy and onnx, which
# bench_torch.py and make_golden.py use) and OpenBLAS's OpenMP build. Root, non-interactive, idempotent:
# does nothing when everything is already there.
set -euo pipefail
pkgs=(python3-torch python3-numpy python3-onnx libopenblas0-openmp)
missing=()
for p in "${pkgs[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: needs root to install ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
