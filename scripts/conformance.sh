#!/usr/bin/env bash
# Regenerates docs/CONFORMANCE.md: generates the ONNX backend node test suite from the installed
# python3-onnx (testdata/scripts/make_onnx_node_suite.py, cached in testdata/target/onnx-node-suite),
# runs every case through Forge's runtime, reader/writer round trip and shape inference, checks every
# refusal against a plain ONNX Runtime session, and writes the table. It is NodeConformanceTest with
# -Dforge.conformance.write=true: the same code CI runs, which fails when the page is out of date.
# Needs python3-onnx (testdata/scripts/install_deps.sh). Extra arguments go to Maven (e.g. -o).
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -ntp -q -pl testdata -am test -Dtest=NodeConformanceTest -Dsurefire.failIfNoSpecifiedTests=false \
    -Dforge.conformance.write=true "$@"
echo "conformance: wrote docs/CONFORMANCE.md"
