#!/usr/bin/python3
"""The reference ONNX checker on many files in one process (importing onnx once).

    /usr/bin/python3 testdata/scripts/check_onnx.py MODEL.onnx...

Runs ``onnx.checker.check_model(onnx.load(path), full_check=True)`` (Debian's ``python3-onnx``) on every
file: the structural checks plus strict shape inference over the whole graph. Prints ``ok PATH ir=N
opset=N`` or ``error PATH: MESSAGE`` (one line) per file and exits 1 if any file fails. Used by the
``OnnxChecker`` test helper.
"""
import sys

import onnx


def main(paths):
    failed = 0
    for path in paths:
        try:
            m = onnx.load(path)
            onnx.checker.check_model(m, full_check=True)
            opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), "-")
            print(f"ok {path} ir={m.ir_version} opset={opset}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, whatever onnx raises
            failed += 1
            print(f"error {path}: {type(e).__name__}: {' '.join(str(e).split())}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
