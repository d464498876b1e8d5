#!/usr/bin/env bash
# Runs bench_torch.py the fair way: Debian's PyTorch with OpenBLAS (OpenMP build) on 2 threads.
# Debian's python3-torch links the generic libblas.so.3; without OpenBLAS its Linear layers are 3-40x
# slower, and without OMP_NUM_THREADS it stays on one thread. OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, which
# this machine sets for old OpenBLAS builds, are unset for this command only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ ! -f "$blas/libblas.so.3" ]; then
    echo "run_torch: $blas is missing; run benchmarks/torch/install.sh (apt-get install libopenblas0-openmp)" >&2
    exit 1
fi
export LD_LIBRARY_PATH="$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# Debian's build starts with one intra-op thread; two is faster on this 2-core machine (measured 1075 vs
# 579 images/s for the MNIST CNN training step), so the peer uses two like Forge.
export TORCH_THREADS="${TORCH_THREADS:-2}"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
exec /usr/bin/python3 "$here/bench_torch.py" "$@"
