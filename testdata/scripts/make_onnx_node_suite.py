#!/usr/bin/python3
"""Generates the ONNX backend node test suite from the generators of the installed onnx package.

Each case becomes a directory like the ones ONNX ships under onnx/backend/test/data/node (what
`python3 -m onnx.backend.test.cmd_tools generate-data` writes):

    OUT/<case>/model.onnx
    OUT/<case>/test_data_set_0/input_<j>.pb    TensorProto (SequenceProto / OptionalProto for those inputs)
    OUT/<case>/test_data_set_0/output_<j>.pb
    OUT/<case>/onnx_types.onnx                 only for cases with a sequence or optional output: the
                                               model with those outputs' types removed and filled in again
                                               by onnx.shape_inference (ONNX's own types, for the compiler's
                                               type rules to be compared with)

plus OUT/manifest.tsv, one line per case: name, the operator whose generator made it (the generator
class, e.g. `Abs`, `BatchNormalization`), and the opset the model imports. OUT/stamp.txt records the onnx
and numpy versions and this script's sha256, so a caller can tell a stale suite from a current one.

Run with Debian's python3-onnx (1.12) and numpy:

    /usr/bin/python3 testdata/scripts/make_onnx_node_suite.py --out testdata/target/onnx-node-suite

Nothing here is committed: ConformanceTest (and scripts/conformance.sh) generate it at test time.
"""
import argparse
import hashlib
import os
import shutil
import sys

import numpy as np

# The onnx 1.12 generators still spell numpy's scalar types with the aliases numpy 1.20 deprecated and
# numpy 1.24 removed (np.float, np.int, np.bool, np.object, ...); Debian 12 ships numpy 1.24, where they
# raise AttributeError at import. They were plain aliases of the Python builtins, so restoring them exactly
# as they were changes nothing else.
for _alias, _builtin in [("float", float), ("int", int), ("bool", bool), ("object", object),
                         ("complex", complex), ("str", str), ("long", int), ("unicode", str)]:
    if _alias not in np.__dict__:
        setattr(np, _alias, _builtin)

import onnx  # noqa: E402  (after the aliases: the generators are imported through it)
import onnx.backend.test.case.node as node_test  # noqa: E402
from onnx import numpy_helper  # noqa: E402
import onnx.shape_inference  # noqa: E402


def generator_class():
    """The name of the generator class whose export method is running (the op the case tests)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "__init__" and "cls" in frame.f_locals and "name" in frame.f_locals:
            return frame.f_locals["name"]
        frame = frame.f_back
    return "?"


def collect():
    """All node cases, each with the generator class that made it."""
    ops = {}
    original = node_test.expect

    def expect(*args, **kwargs):
        before = len(node_test._NodeTestCases)
        original(*args, **kwargs)
        op = generator_class()
        for case in node_test._NodeTestCases[before:]:
            ops[case.name] = op

    # the generator modules do `from . import expect` when collect_testcases imports them
    node_test.expect = expect
    try:
        cases = node_test.collect_testcases(None)
    finally:
        node_test.expect = original
    return [(case, ops.get(case.name, "?")) for case in cases]


def proto_of(value, value_info):
    t = value_info.type
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, value_info.name)
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, value_info.name)
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, value_info.name)
    return numpy_helper.from_array(value, value_info.name)


def write_onnx_types(model, path):
    """ONNX's inferred types of the sequence and optional outputs (their declared types removed first)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    cleared = False
    for o in m.graph.output:
        if o.type.WhichOneof("value") in ("sequence_type", "optional_type"):
            o.ClearField("type")
            cleared = True
    if not cleared:
        return
    try:
        inferred = onnx.shape_inference.infer_shapes(m)
    except Exception as e:  # noqa: BLE001 - a case ONNX cannot infer simply gets no oracle
        print(f"make_onnx_node_suite: {model.graph.name}: onnx.shape_inference fails: {e}", file=sys.stderr)
        return
    with open(path, "wb") as f:
        f.write(inferred.SerializeToString())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="directory to (re)create")
    args = parser.parse_args()
    out = args.out
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    rows = {}
    for case, op in collect():
        d = os.path.join(out, case.name)
        if os.path.exists(d):
            # onnx 1.12 defines test_reduce_sum_negative_axes_keepdims_random twice; like its own
            # cmd_tools generate-data (and the data it ships), the later definition wins
            print(f"make_onnx_node_suite: {case.name} is defined twice; keeping the later one", file=sys.stderr)
            shutil.rmtree(d)
        os.makedirs(d)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        write_onnx_types(case.model, os.path.join(d, "onnx_types.onnx"))
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(d, f"test_data_set_{i}")
            os.makedirs(ds)
            for j, value in enumerate(inputs):
                with open(os.path.join(ds, f"input_{j}.pb"), "wb") as f:
                    f.write(proto_of(value, case.model.graph.input[j]).SerializeToString())
            for j, value in enumerate(outputs):
                with open(os.path.join(ds, f"output_{j}.pb"), "wb") as f:
                    f.write(proto_of(value, case.model.graph.output[j]).SerializeToString())
        opset = max((o.version for o in case.model.opset_import if o.domain in ("", "ai.onnx")), default=0)
        rows[case.name] = f"{case.name}\t{op}\t{opset}\n"
    rows = [rows[name] for name in sorted(rows)]
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        f.write("# case\top\topset\n")
        f.writelines(rows)
    with open(__file__, "rb") as f:
        script_sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(out, "stamp.txt"), "w") as f:
        f.write(f"onnx {onnx.__version__}\nnumpy {np.__version__}\nscript {script_sha}\ncases {len(rows)}\n")
    print(f"make_onnx_node_suite: {len(rows)} cases in {out}")


if __name__ == "__main__":
    main()
