#!/usr/bin/env bash
# Runs bench_torch.py the fair way: Debian's PyTorch 1.13 (/usr/bin/python3) with its sgemm taken from
# OpenBLAS's OpenMP build and 2 threads. Arguments go to bench_torch.py, e.g.
#   benchmarks/torch/run_torch.sh --workload infer --model mnist-cnn --batch 1 --seconds 5
#
# Why: Debian's python3-torch links the generic libblas.so.3. Without OpenBLAS that is the reference BLAS,
# 3-40x slower on Linear layers (benchmarks/torch/README.md has the measurement); and without
# OMP_NUM_THREADS, Debian's torch runs one thread. LD_LIBRARY_PATH pins the OpenMP build of OpenBLAS
# even where the libblas.so.3 alternative points elsewhere (libopenblas0-pthread, if installed, wins it).
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which this machine sets for old OpenBLAS builds, are unset for
# this command only, so OpenBLAS picks its kernel for the real CPU; bench_torch.py prints the kernel it
# chose and checks sgemm's results against float64 in its environment line.
#
# Overrides: FORGE_TORCH_THREADS=N (default 2); FORGE_TORCH_KEEP_CORETYPE=1 keeps OPENBLAS_CORETYPE/L2_SIZE;
# FORGE_TORCH_MALLOC=default leaves glibc malloc's thresholds alone (see below).
# OMP_WAIT_POLICY is passed through untouched (see the README on busy machines).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

blas_dir=""
if command -v dpkg >/dev/null 2>&1; then
    lib="$(dpkg -L libopenblas0-openmp 2>/dev/null | grep '/openblas-openmp/libblas\.so\.3$' | head -n 1 || true)"
    [ -n "$lib" ] && blas_dir="$(dirname "$lib")"
fi
if [ -z "$blas_dir" ] || [ ! -f "$blas_dir/libblas.so.3" ]; then
    blas_dir=/usr/lib/x86_64-linux-gnu/openblas-openmp
fi
if [ ! -f "$blas_dir/libblas.so.3" ]; then
    echo "run_torch: OpenBLAS (OpenMP build) is not installed; run: sudo bash $here/install.sh" >&2
    exit 1
fi

export LD_LIBRARY_PATH="$blas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_NUM_THREADS="${FORGE_TORCH_THREADS:-2}"
unset OPENBLAS_NUM_THREADS  # OpenBLAS then follows OMP_NUM_THREADS
if [ "${FORGE_TORCH_KEEP_CORETYPE:-0}" != 1 ]; then
    unset_note=""
    for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
        if [ -n "${!v+x}" ]; then
            unset_note="${unset_note:+$unset_note,}$v=${!v}"
            unset "$v"
        fi
    done
    # For the record in the environment line: what this script removed.
    [ -n "$unset_note" ] && export FORGE_TORCH_UNSET="$unset_note"
fi
# glibc malloc hands PyTorch's large activation buffers back to the kernel after every call (mmap above
# the mmap threshold, heap trimming above the trim threshold), so each forward page-faults its ~10 MB of
# activations in afresh: the MNIST CNN's batch-64 eval ran at ~1,400 instead of ~9,000 images/s. Keep
# freed memory in the heap, as any caching allocator (ORT's arena, jemalloc, tcmalloc) would.
# FORGE_TORCH_MALLOC=default turns this off.
if [ "${FORGE_TORCH_MALLOC:-tuned}" != default ]; then
    export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"
fi
exec /usr/bin/python3 "$here/bench_torch.py" --require-openblas "$@"
