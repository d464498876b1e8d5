#!/usr/bin/python3
"""PyTorch oracle for Forge: exports the seed's networks to ONNX and writes golden tensors.

For every model this script

  1. builds the network in PyTorch with a fixed seed (``torch.manual_seed(<model seed>)``), gives every
     BatchNorm2d layer non-trivial, seeded statistics and affine parameters, and puts it in eval mode;
  2. exports it with ``torch.onnx.export`` once per requested opset to
     ``<out>/<model>/opset<N>/model.onnx`` (inference export: eval mode, constant folding on, which also
     folds Conv+BatchNorm into the Conv);
  3. for models that contain BatchNorm, also exports ``<out>/<model>/opset<N>/model_bn.onnx``: the same
     eval-mode network exported with ``training=TrainingMode.PRESERVE`` and constant folding off, so the
     graph keeps its ``BatchNormalization`` node and the PyTorch parameter names as initializer names
     (this is the file the compiler's ONNX importer should be tested with);
  4. writes a fixed input batch ``<out>/<model>/input.npy`` (batch 3, standard normal, seeded) and PyTorch's
     eval output for it, ``<out>/<model>/logits.npy``;
  5. writes every floating-point parameter and buffer as ``<out>/<model>/weights/<state_dict key>.npy``
     so the Java builder's version of the same network can load identical weights;
  6. checks each exported file with ``onnx.checker.check_model(m, full_check=True)``, checks that it only
     uses operators of the default ONNX domain and that every initializer named after a state_dict key
     holds exactly that tensor, and writes ``<out>/<model>/README.txt`` (files, op types, node and
     initializer names, the command that regenerates them).

Without --models, only the small models that are committed are made (see COMMITTED_MODELS below).

All .npy files are float32, C order, written with ``numpy.save`` (format version 1.0, little endian).
The output is deterministic: running the script twice gives byte-identical files (PyTorch 1.13 CPU,
onnx 1.12 on Debian 12).

Usage (works from any working directory):

    /usr/bin/python3 testdata/scripts/make_golden.py          # committed models -> testdata/golden
    /usr/bin/python3 testdata/scripts/make_golden.py --models all --out /tmp/g     # every model
    /usr/bin/python3 testdata/scripts/make_golden.py --out /tmp/g --models simple-net,cifar10-net
    /usr/bin/python3 testdata/scripts/make_golden.py --opsets 17

It prints exactly one summary line per model on stdout; warnings from the exporter are suppressed.
The exit status is non-zero if a model fails to build, export or check.

Always run it with Debian's interpreter, /usr/bin/python3 (python3-torch, python3-onnx, python3-numpy;
testdata/scripts/install_deps.sh installs them).
"""

import argparse
import contextlib
import io
import os
import shutil
import sys
import warnings

# Keep PyTorch single-threaded and quiet: results must not depend on the thread count, and the script
# is run from the Java tests, which only want the summary lines.
os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
# testdata/ is the parent of scripts/; the default output is testdata/golden whatever the working dir.
TESTDATA_DIR = os.path.dirname(SCRIPT_DIR)
DEFAULT_OUT = os.path.join(TESTDATA_DIR, "golden")

BATCH = 3  # size of the fixed input batch
DEFAULT_OPSETS = (13, 17)


# ---------------------------------------------------------------------------------------------------
# The networks. Attribute names matter: they become the state_dict keys, hence the weights/*.npy names.
# Linear weights are PyTorch's [out_features, in_features]; Conv weights are [out, in/groups, kH, kW].
# Flatten is torch.flatten(x, 1) (row-major over C, H, W), exported as ONNX Flatten(axis=1).
# ---------------------------------------------------------------------------------------------------

class SimpleNet(nn.Module):
    """Seed section 9 ("Net"); with in_channels=3, num_classes=10 it is the CIFAR-10 net of section 11."""

    def __init__(self, in_channels=1, num_classes=2):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 3)   # 32x32 -> 30x30
        self.conv2 = nn.Conv2d(6, 16, 3)            # 30x30 -> 28x28
        self.fc1 = nn.Linear(16 * 28 * 28, 512)     # 12544 -> 512
        self.fc2 = nn.Linear(512, 64)
        self.fc3 = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class MnistCnn(nn.Module):
    """Seed section 10: Conv(1->32, 5x5, pad 2) -> BN(32) -> ReLU -> MaxPool(2) -> FC(6272 -> 10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)  # 28x28 -> 28x28
        self.bn1 = nn.BatchNorm2d(32)
        self.pool = nn.MaxPool2d(2)                  # 28x28 -> 14x14
        self.fc = nn.Linear(32 * 14 * 14, 10)        # 6272 -> 10

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = torch.flatten(x, 1)
        return self.fc(x)


class LeNet5(nn.Module):
    """Classic LeNet-5 for 28x28 inputs (conv1 padded to keep 28x28)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)  # 28 -> 28
        self.pool1 = nn.MaxPool2d(2)                # 28 -> 14
        self.conv2 = nn.Conv2d(6, 16, 5)            # 14 -> 10
        self.pool2 = nn.MaxPool2d(2)                # 10 -> 5
        self.fc1 = nn.Linear(16 * 5 * 5, 120)       # 400 -> 120
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class OpsZoo(nn.Module):
    """A small model exercising more operators than the seed's networks.

    input 3x16x16
      conv1  Conv2d(3, 8, 3, stride=2, padding=1)                      -> 8x8x8
      bn1    BatchNorm2d(8)
      act1   LeakyReLU(0.1)                                            = a
      branch A: conv2 Conv2d(8, 8, 3, stride=2, padding=2, dilation=2, groups=2) -> 8x4x4 -> Sigmoid
      branch B: pool  AvgPool2d(2) of a                                -> 8x4x4 -> Tanh
      cat([A, B], dim=1)                                               -> 16x4x4
      gap    AdaptiveAvgPool2d(1) (exported as GlobalAveragePool)      -> 16x1x1
      flatten                                                          -> 16
      fc     Linear(16, 5)
      LogSoftmax(dim=1)

    Note conv2 has stride=2: with stride 1 it would give 8x8 maps, which cannot be concatenated with the
    4x4 maps of AvgPool2d(2). Its output size is floor((8 + 2*2 - 2*(3-1) - 1) / 2) + 1 = 4, so the
    floor in the seed's size formula (with dilation) is exercised too.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.act1 = nn.LeakyReLU(0.1)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=2, dilation=2, groups=2)
        self.pool = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        a = self.act1(self.bn1(self.conv1(x)))
        b1 = torch.sigmoid(self.conv2(a))
        b2 = torch.tanh(self.pool(a))
        x = torch.cat([b1, b2], dim=1)
        x = torch.flatten(self.gap(x), 1)
        return F.log_softmax(self.fc(x), dim=1)


# name -> (constructor, input shape without batch, seed, description). The seed is used for
# torch.manual_seed before building the model; seed + 1 seeds the BatchNorm statistics and seed + 2 the
# input batch (each from its own torch.Generator, so the three never depend on each other).
MODELS = {
    "simple-net": (lambda: SimpleNet(1, 2), (1, 32, 32), 9,
                   "seed section 9: the simple CNN 'Net' (1x32x32 -> 2)"),
    "mnist-cnn": (MnistCnn, (1, 28, 28), 10,
                  "seed section 10: MNIST CNN with BatchNorm (1x28x28 -> 10)"),
    "cifar10-net": (lambda: SimpleNet(3, 10), (3, 32, 32), 11,
                    "seed section 11: the simple CNN with 3 input channels and 10 outputs"),
    "lenet5": (LeNet5, (1, 28, 28), 5, "LeNet-5 (1x28x28 -> 10)"),
    "ops-zoo": (OpsZoo, (3, 16, 16), 16,
                "small model exercising strided/dilated/grouped Conv, BatchNorm, LeakyRelu, Sigmoid, "
                "AveragePool, Tanh, Concat, GlobalAveragePool, Gemm, LogSoftmax"),
}

# Extra lines for a model's README.txt.
NOTES = {
    "ops-zoo": [
        "Architecture (input 3x16x16):",
        "  conv1 Conv2d(3,8,3,stride=2,padding=1) -> bn1 BatchNorm2d(8) -> act1 LeakyReLU(0.1)  = a, 8x8x8",
        "  branch A: conv2 Conv2d(8,8,3,stride=2,padding=2,dilation=2,groups=2) -> Sigmoid   8x4x4",
        "  branch B: pool AvgPool2d(2) of a -> Tanh                                           8x4x4",
        "  cat(dim=1) 16x4x4 -> gap AdaptiveAvgPool2d(1) -> flatten 16 -> fc Linear(16,5) -> LogSoftmax(dim=1)",
        "conv2 has stride=2 so that its 4x4 output can be concatenated with AvgPool2d(2)'s 4x4 output.",
        "PyTorch 1.13 exports AvgPool2d as Constant(INT64[8] all zeros) -> Pad(mode=constant) -> AveragePool:",
        "the Pad is a no-op but an importer must accept it (or drop Pads whose pads are all zero).",
    ],
    "mnist-cnn": [
        "bn1 has seeded, non-trivial running_mean U(-0.5,0.5), running_var U(0.5,2), weight U(0.5,1.5),",
        "bias U(-0.5,0.5). In model.onnx the exporter folded bn1 into conv1 (initializers onnx::Conv_*);",
        "model_bn.onnx keeps BatchNormalization (epsilon 1e-5; ONNX momentum 0.9 = 1 - PyTorch's 0.1).",
    ],
}


# The models whose golden files are committed under testdata/golden (about 2 MB in all). simple-net and
# cifar10-net have ~6.4M parameters (~26 MB per ONNX file): the Java tests generate them at test time
# into a build directory with --out <dir> --models simple-net,cifar10-net.
COMMITTED_MODELS = ("mnist-cnn", "lenet5", "ops-zoo")


def randomize_batchnorm(model, seed):
    """Give every BatchNorm2d non-trivial, seeded statistics so BatchNormalization really matters.

    running_mean ~ U(-0.5, 0.5), running_var ~ U(0.5, 2.0), weight ~ U(0.5, 1.5), bias ~ U(-0.5, 0.5).
    """
    g = torch.Generator().manual_seed(seed)

    def u(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                c = module.num_features
                module.running_mean.copy_(u(c, -0.5, 0.5))
                module.running_var.copy_(u(c, 0.5, 2.0))
                module.weight.copy_(u(c, 0.5, 1.5))
                module.bias.copy_(u(c, -0.5, 0.5))


def has_batchnorm(model):
    return any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def save_npy(path, array):
    """Write a float32, C-order .npy file (numpy format 1.0, deterministic header)."""
    np.save(path, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)


def export(model, example, path, opset, keep_batchnorm):
    """torch.onnx.export with the project's fixed arguments; output goes to `path`.

    keep_batchnorm=False is the inference export (the exporter's eval mode folds Conv+BN and constant
    folding renames the folded initializers). keep_batchnorm=True exports the same eval-mode model with
    training=PRESERVE and no constant folding, which keeps BatchNormalization (training_mode=0 from
    opset 14) and the state_dict names as initializer names.
    """
    kwargs = dict(
        opset_version=opset,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
    )
    if keep_batchnorm:
        kwargs.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    else:
        kwargs.update(do_constant_folding=True)
    # The exporter prints diagnostics on stdout/stderr in some versions; keep our output to one line.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        torch.onnx.export(model, example, path, **kwargs)


def check_onnx(path, state_dict):
    """Full ONNX check; also refuse non-standard operators. Returns the sorted list of op types.

    Initializers that carry a state_dict name must hold exactly the values written to weights/.
    """
    m = onnx.load(path)
    for init in m.graph.initializer:
        if init.name in state_dict:
            expected = state_dict[init.name].detach().numpy()
            if not np.array_equal(onnx.numpy_helper.to_array(init), expected):
                raise RuntimeError(f"{path}: initializer {init.name} differs from the state_dict")
    onnx.checker.check_model(m, full_check=True)
    for node in m.graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise RuntimeError(f"{path}: non-standard op {node.domain}::{node.op_type} ({node.name})")
    for imp in m.opset_import:
        if imp.domain not in ("", "ai.onnx"):
            raise RuntimeError(f"{path}: non-standard opset import {imp.domain}")
    return sorted({n.op_type for n in m.graph.node}), m


def describe_graph(m):
    """Lines listing the graph's nodes and initializers, for README.txt."""
    lines = ["  nodes (in order):"]
    for n in m.graph.node:
        attrs = []
        for a in n.attribute:
            v = onnx.helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            if isinstance(v, onnx.TensorProto):
                arr = onnx.numpy_helper.to_array(v)
                v = (f"{onnx.TensorProto.DataType.Name(v.data_type)}{list(v.dims)}"
                     + (f" {arr.tolist()}" if arr.size <= 16 else ""))
            attrs.append(f"{a.name}={v}")
        lines.append(f"    {n.op_type:<20} {n.name}  ({', '.join(n.input)}) -> ({', '.join(n.output)})"
                     + (f"  [{', '.join(attrs)}]" if attrs else ""))
    lines.append("  initializers:")
    for t in m.graph.initializer:
        lines.append(f"    {t.name}  {onnx.TensorProto.DataType.Name(t.data_type)}{list(t.dims)}")
    return lines


def make_model(name, out_root, opsets):
    ctor, in_shape, seed, description = MODELS[name]

    # 1. Build with a fixed seed (PyTorch's default initializers), randomize BN, eval mode.
    torch.manual_seed(seed)
    model = ctor()
    randomize_batchnorm(model, seed + 1)
    model.eval()

    # 2. Fixed input batch and PyTorch's eval output.
    gen = torch.Generator().manual_seed(seed + 2)
    x = torch.randn((BATCH,) + tuple(in_shape), generator=gen, dtype=torch.float32)
    with torch.no_grad():
        y = model(x)

    model_dir = os.path.join(out_root, name)
    if os.path.isdir(model_dir):
        shutil.rmtree(model_dir)  # no stale files from earlier runs (e.g. a dropped opset)
    weights_dir = os.path.join(model_dir, "weights")
    os.makedirs(weights_dir)

    save_npy(os.path.join(model_dir, "input.npy"), x.numpy())
    save_npy(os.path.join(model_dir, "logits.npy"), y.numpy())

    # 3. Parameters and floating-point buffers under their state_dict keys. BatchNorm's
    #    num_batches_tracked (an int64 step counter, unused in eval mode) is skipped.
    weight_lines = []
    for key, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue
        save_npy(os.path.join(weights_dir, key + ".npy"), tensor.detach().numpy())
        weight_lines.append(f"    {key}.npy  {list(tensor.shape)}")
    n_params = sum(p.numel() for p in model.parameters())

    # 4. Export per opset, check each file.
    op_report = []
    graph_report = []
    variants = [("model.onnx", False)] + ([("model_bn.onnx", True)] if has_batchnorm(model) else [])
    for opset in opsets:
        opset_dir = os.path.join(model_dir, f"opset{opset}")
        os.makedirs(opset_dir)
        for file_name, keep_bn in variants:
            path = os.path.join(opset_dir, file_name)
            export(model, x, path, opset, keep_bn)
            ops, m = check_onnx(path, model.state_dict())
            op_report.append(f"  opset{opset}/{file_name}: {' '.join(ops)}")
            graph_report.append(f"opset{opset}/{file_name}:")
            graph_report.extend(describe_graph(m))

    # 5. README.txt: what the files are and how they were made.
    rel_script = "testdata/scripts/make_golden.py"
    readme = [
        f"{name}: {description}",
        "",
        "Generated by the Forge PyTorch oracle; do not edit by hand. Regenerate from the repository root with",
        f"    /usr/bin/python3 {rel_script} --models {name} --opsets {','.join(map(str, opsets))}",
        f"torch {torch.__version__}, onnx {onnx.__version__}, numpy {np.__version__}",
        "",
        f"Model seed: torch.manual_seed({seed}); BatchNorm statistics from torch.Generator seed {seed + 1}; "
        f"input from torch.Generator seed {seed + 2}.",
        f"Parameters: {n_params}",
        "",
        *NOTES.get(name, []),
        *([""] if name in NOTES else []),
        "Files (all .npy are float32, C order, numpy format 1.0):",
        f"  input.npy   input batch, shape {list(x.shape)}, standard normal",
        f"  logits.npy  PyTorch eval-mode output for input.npy, shape {list(y.shape)}",
        "  weights/<state_dict key>.npy  every floating-point parameter and buffer "
        "(Linear weight is [out, in]; Conv weight is [out, in/groups, kH, kW])",
        *weight_lines,
        "  opset<N>/model.onnx  torch.onnx.export(model, input, opset_version=N, input_names=['input'],",
        "      output_names=['logits'], dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}},",
        "      do_constant_folding=True)  -- eval-mode inference export (Conv+BatchNorm folded by the exporter)",
    ]
    if has_batchnorm(model):
        readme += [
            "  opset<N>/model_bn.onnx  same, but training=TrainingMode.PRESERVE (model in eval mode) and",
            "      do_constant_folding=False: keeps BatchNormalization and the state_dict initializer names",
        ]
    readme += [
        "",
        "Every .onnx file passed onnx.checker.check_model(full_check=True) and uses only default-domain ops.",
        "Op types per file:",
        *op_report,
        "",
        "Graphs:",
        *graph_report,
        "",
    ]
    with open(os.path.join(model_dir, "README.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(readme))

    max_abs = float(y.abs().max())
    print(f"{name}: params={n_params} input={list(x.shape)} logits={list(y.shape)} "
          f"max|logit|={max_abs:.4g} opsets={','.join(map(str, opsets))} "
          f"files={len(opsets) * len(variants)} onnx checked -> {model_dir}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="output directory (default: testdata/golden next to this script)")
    parser.add_argument("--models", default=",".join(COMMITTED_MODELS),
                        help="comma-separated subset of: " + ", ".join(MODELS) + "; or 'all' "
                        "(default: the committed ones, " + ",".join(COMMITTED_MODELS) + ")")
    parser.add_argument("--opsets", default=",".join(map(str, DEFAULT_OPSETS)),
                        help="comma-separated ONNX opset versions (default: 13,17)")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if names == ["all"]:
        names = list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    try:
        opsets = sorted({int(o) for o in args.opsets.split(",") if o.strip()})
    except ValueError:
        parser.error(f"--opsets must be comma-separated integers, got {args.opsets!r}")
    if not opsets:
        parser.error("--opsets is empty")

    out_root = os.path.abspath(args.out)
    os.makedirs(out_root, exist_ok=True)
    for name in names:
        make_model(name, out_root, opsets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
