#!/usr/bin/env bash
# The transfer-learning demo of docs/TRANSFER.md (dev.forge.models.TransferDemo): trains the built-in
# mobilenet-mini on five Fashion-MNIST classes, exports it, and fine-tunes the export on the other five
# classes from a few labels, against training from scratch at the same budget; prints a table.
# Needs Fashion-MNIST from Debian (dataset-fashion-mnist; testdata/scripts/install_deps.sh installs it).
# Arguments go to the demo: [--pretrain-epochs N] [--pretrain-images N] [--backbone FILE] [--labels N] [--epochs N] [--seed N] [--out DIR].
set -euo pipefail
cd "$(dirname "$0")/.."
./forge --version >/dev/null   # builds the tree when it is stale
exec java ${FORGE_JAVA_OPTS:-} -cp "models/target/forge-models.jar:models/target/lib/*" dev.forge.models.TransferDemo "$@"
