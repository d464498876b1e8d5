#!/usr/bin/env bash
# Forge against PyTorch on this machine, in one run: builds Forge, installs the PyTorch peer
# (Debian's python3-torch with OpenBLAS-openmp, 2 threads), fetches MNIST once, then runs
# dev.forge.bench.Compare, which alternates the two for every figure and prints medians and ratios.
# Arguments go to Compare, e.g. --rounds 5 --seconds 3 --only infer,train,export,epoch.
# The JMH benchmarks alone: java -cp "benchmarks/target/classes:benchmarks/target/lib/*" org.openjdk.jmh.Main
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then bash benchmarks/torch/install.sh; else sudo -n bash benchmarks/torch/install.sh || true; fi
mvn -q -B -ntp -DskipTests install
exec java -Xmx4g -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.Compare "$@"
