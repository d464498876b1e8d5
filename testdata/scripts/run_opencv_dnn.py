#!/usr/bin/python3
"""Runs ONNX models with OpenCV's DNN module, an ONNX importer independent of ONNX Runtime.

Used by InterchangeTest as an outside consumer of the models Forge writes (Debian's ``python3-opencv``,
installed by ``install_deps.sh``)::

    /usr/bin/python3 testdata/scripts/run_opencv_dnn.py MANIFEST

MANIFEST has one case a line, tab-separated: ``NAME MODEL.onnx INPUT.npy OUTPUT.npy``. Each model is read
with ``cv2.dnn.readNetFromONNX``, run on OpenCV's own CPU backend (``DNN_BACKEND_OPENCV``, ``DNN_TARGET_CPU``)
with INPUT.npy as its input, and its first output is written to OUTPUT.npy (float32). Prints ``ok NAME`` or
``error NAME: MESSAGE`` (OpenCV's message on one line) per case, so one model that OpenCV cannot read does
not hide the others; exits 1 only when the manifest cannot be read or nothing ran.
"""
import os
import sys

import cv2
import numpy as np


def run_case(model, input_path, output_path):
    net = cv2.dnn.readNetFromONNX(model)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    x = np.load(input_path)
    if x.dtype != np.float32:
        raise ValueError(f"{input_path}: dtype {x.dtype}, expected float32")
    net.setInput(x)
    y = np.ascontiguousarray(net.forward(), dtype=np.float32)
    os.makedirs(os.path.dirname(output_path) or ".", exist_ok=True)
    np.save(output_path, y)


def main(argv):
    if len(argv) != 2:
        print("usage: run_opencv_dnn.py MANIFEST (lines: NAME<TAB>MODEL<TAB>INPUT.npy<TAB>OUTPUT.npy)",
              file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    print(f"opencv {cv2.__version__} numpy {np.__version__}", flush=True)
    # one thread: the results do not depend on it, and the test machine is shared
    cv2.setNumThreads(1)
    ran = 0
    for line in lines:
        name, model, input_path, output_path = line.split("\t")
        try:
            run_case(model, input_path, output_path)
            print(f"ok {name}", flush=True)
            ran += 1
        except (cv2.error, ValueError) as e:
            print(f"error {name}: {' '.join(str(e).split())}", flush=True)
    return 0 if ran > 0 or not lines else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
