#!/usr/bin/env bash
# How much the BLAS matters to Debian's PyTorch: times one Linear(12544 -> 512) forward at batch 64 (the
# simple net's fc1, pure sgemm) under each configuration below, alternating them for ROUNDS rounds.
# Prints bench_torch.py's JSON lines (the environment line of each configuration, then one "linear" line
# per run, tagged with "label"). Usage: benchmarks/torch/blas_compare.sh [ROUNDS] [SECONDS]
#   reference       Debian's python3-torch as installed without libopenblas0-openmp: the reference
#                   libblas.so.3 (forced here with LD_LIBRARY_PATH=.../blas), torch's default 1 thread
#   system-default  plain /usr/bin/python3 with the machine's environment: libblas.so.3 as the Debian
#                   alternatives pick it (OpenBLAS-openmp once it is installed), OPENBLAS_CORETYPE as set
#   run_torch       benchmarks/torch/run_torch.sh: OpenBLAS-openmp pinned, OMP_NUM_THREADS=2,
#                   OPENBLAS_CORETYPE/L2_SIZE unset (kernel chosen for the real CPU)
#   run_torch-keep-coretype   the same with the machine's OPENBLAS_CORETYPE/L2_SIZE kept
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rounds="${1:-3}"
seconds="${2:-3}"
arch_dir=/usr/lib/x86_64-linux-gnu
bench=(--workload linear --batch 64 --seconds "$seconds")
for ((i = 1; i <= rounds; i++)); do
    env -u OMP_NUM_THREADS LD_LIBRARY_PATH="$arch_dir/blas" /usr/bin/python3 "$here/bench_torch.py" "${bench[@]}" --label reference
    env -u OMP_NUM_THREADS /usr/bin/python3 "$here/bench_torch.py" "${bench[@]}" --label system-default
    bash "$here/run_torch.sh" "${bench[@]}" --label run_torch
    FORGE_TORCH_KEEP_CORETYPE=1 bash "$here/run_torch.sh" "${bench[@]}" --label run_torch-keep-coretype
done
