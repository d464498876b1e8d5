#!/usr/bin/env bash
# Runs every test of Forge on a fresh machine: installs what the tests need (Debian's PyTorch and onnx
# for the oracles), then builds and tests all modules with Maven. Extra arguments go to Maven.
# FORGE_FUZZ_SEED=N replays the fuzz tests' seed N (each run prints its seed; without it, a fresh one).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo -n bash testdata/scripts/install_deps.sh || bash testdata/scripts/install_deps.sh
else
    bash testdata/scripts/install_deps.sh
fi
seed=()
if [ -n "${FORGE_FUZZ_SEED:-}" ]; then
    seed=("-Dforge.fuzz.seed=$FORGE_FUZZ_SEED")
fi
mvn -B -ntp install "${seed[@]}" "$@"
