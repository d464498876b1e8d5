#!/bin/sh
# Installs what Forge's tests need from Debian: PyTorch, torchvision (model definitions of the CNN families,
# no weights), onnx and numpy for /usr/bin/python3 (the oracle scripts, the ONNX checker and the ONNX
# backend node test suite that NodeConformanceTest generates with make_onnx_node_suite.py) and the
# Fashion-MNIST data set (dataset-fashion-mnist).
#
# Idempotent and non-interactive: run as root on Debian 12 (bookworm), no standard input needed. If the
# four modules already import, it does nothing and exits 0 at once. Otherwise it runs apt-get and checks
# the import again; it exits non-zero with a message on stderr if they still do not import.
#
#   sudo testdata/scripts/install_deps.sh
set -eu

# --- Interchange consumers (InterchangeTest, docs/INTERCHANGE.md): Debian's OpenCV for /usr/bin/python3, and
# from npm into testdata/interop/node_modules, pinned by its package-lock.json: ONNX Runtime's Node.js binding
# and OpenCV compiled to WebAssembly. --ignore-scripts: onnxruntime-node's CPU binaries are in the package, its
# install script only fetches CUDA ones. Idempotent; runs first because the checks below exit early.
install_interchange_consumers() {
    if ! /usr/bin/python3 -c 'import cv2' 2>/dev/null || ! command -v node >/dev/null 2>&1 \
            || ! command -v npm >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "install_deps: python3-opencv, node or npm is missing, and installing them needs root." >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q </dev/null
        apt-get install -y -q --no-install-recommends python3-opencv </dev/null
        command -v node >/dev/null 2>&1 || apt-get install -y -q --no-install-recommends nodejs </dev/null
        command -v npm >/dev/null 2>&1 || apt-get install -y -q --no-install-recommends npm </dev/null
    fi
    interop="$(cd "$(dirname "$0")/../interop" && pwd)"
    if [ ! -f "$interop/node_modules/onnxruntime-node/package.json" ] \
            || [ ! -f "$interop/node_modules/@techstark/opencv-js/package.json" ]; then
        npm ci --ignore-scripts --no-audit --no-fund --prefix "$interop" </dev/null
    fi
    echo "install_deps: interchange consumers ready (python3-opencv" \
        "$(/usr/bin/python3 -c 'import cv2; print(cv2.__version__)'), node $(node --version), $interop/node_modules)"
}
install_interchange_consumers

PYTHON=/usr/bin/python3
PACKAGES="python3-torch python3-torchvision python3-onnx python3-numpy dataset-fashion-mnist"
FASHION=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

# Imports the four modules once (importing torch takes a couple of seconds); on success sets $VERSIONS.
have_modules() {
    [ -x "$PYTHON" ] || return 1
    [ -f "$FASHION" ] || return 1
    VERSIONS=$("$PYTHON" -c 'import torch, torchvision, onnx, numpy; print("torch", torch.__version__, "torchvision", torchvision.__version__, "onnx", onnx.__version__, "numpy", numpy.__version__)' 2>/dev/null)
}

if have_modules; then
    echo "install_deps: already installed ($VERSIONS)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install_deps: torch, torchvision, onnx and numpy do not import with $PYTHON, and installing them needs root." >&2
    echo "install_deps: run this script as root (e.g. with sudo), or: apt-get install $PACKAGES" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_deps: apt-get not found; this script supports Debian 12 only. Install $PACKAGES by hand." >&2
    exit 1
fi

echo "install_deps: installing $PACKAGES"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
# shellcheck disable=SC2086  # $PACKAGES is a word list on purpose
apt-get install -y -q --no-install-recommends $PACKAGES </dev/null

if ! have_modules; then
    echo "install_deps: apt-get finished but '$PYTHON -c \"import torch, torchvision, onnx, numpy\"' still fails:" >&2
    "$PYTHON" -c 'import torch, torchvision, onnx, numpy' >&2 || true
    exit 1
fi
echo "install_deps: installed ($VERSIONS)"
