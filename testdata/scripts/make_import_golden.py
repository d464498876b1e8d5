#!/usr/bin/python3
"""PyTorch oracle for importing PyTorch exports as they are really made, and training them.

torch.onnx.export deduplicates parameters that happen to be equal (zero biases, BatchNorm ones and zeros,
running statistics): one initializer is kept and every other parameter becomes an Identity of it, whose
output carries the parameter's name. It also writes TrainingMode.TRAINING exports with BatchNormalization
in training mode (extra outputs) and Dropout in training mode. Forge must import each of these, untie the
parameters and train them exactly like PyTorch. For each model below the script writes, under --out
(default: testdata/golden-import):

  <model>/model.onnx         the export, made as described in README.txt
  <model>/input.npy          a fixed batch, float32 [4, 3, 8, 8]
  <model>/labels.npy         its class labels, int64 [4]
  <model>/sgd/<key>.npy      every parameter (state_dict key) after one SGD step (lr 0.1, cross-entropy)
  <model>/adam/<key>.npy     every parameter after three Adam steps (lr 0.01, cross-entropy) on that batch
  <model>/params.txt         the model's parameter keys, one a line (what the export must hold untied)

Running statistics of BatchNorm are written next to the parameters (they are state, updated by training).
Models:
  zero-bias-cnn   Conv-Relu-Conv-Relu-MaxPool-Linear, every bias zero: 3 biases of shape [4] tied into one
  bn-init         Conv-BN-Relu-Conv-BN-Relu-GAP-Linear straight from initialization (BN weight 1, bias 0,
                  running mean 0, running var 1): exported in eval mode, TrainingMode.PRESERVE, no folding
  bn-training     the same network exported with training=TrainingMode.TRAINING from train mode
  squeeze-like    a SqueezeNet-like net (fire modules, 1x1 conv classifier) with every bias zero
  dropout-training  bn-training with Dropout(0.5) before the Linear, TrainingMode.TRAINING export
                  (no optimizer oracle: PyTorch's dropout masks are not Forge's; Java checks it trains)
  decoder-norms   Conv-InstanceNorm2d(affine)-Relu-ConvTranspose2d-GroupNorm-Upsample(x2, bilinear)-Conv-
                  LayerNorm([C, H, W])-GAP-Linear, exported at opset 13 in 'eval' mode (GroupNorm through
                  InstanceNormalization, LayerNorm from ReduceMean/Sub/Pow/Sqrt/Div, Resize linear)
  decoder-norms-opset17  the same model exported at opset 17 (LayerNorm as LayerNormalization)
  upsample-opset9  Conv-BN-Relu-Upsample(x2, nearest)-Conv-Relu-GAP-Linear exported at opset 9 in 'eval' mode:
                  Upsample (deprecated at opset 10) with its scales a Concat of Constants, which Forge turns
                  into Resize on import (nearest only: PyTorch's bilinear is not what an opset-9 Upsample
                  computes, the exporter warns so)

Determinism: one thread, deterministic algorithms, seeded generators. Usage:

    /usr/bin/python3 testdata/scripts/make_import_golden.py              # -> testdata/golden-import
    /usr/bin/python3 testdata/scripts/make_import_golden.py --only decoder-norms decoder-norms-opset17
                                      # only those directories (and their README lines); the rest untouched
"""

import argparse
import contextlib
import io
import os
import shutil
import sys
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(SCRIPT_DIR), "golden-import")
OPSET = 17
SGD_LR = 0.1
ADAM_LR = 0.01
ADAM_STEPS = 3


def zero_biases(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
    return model


class ZeroBiasCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 4)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


class BnNet(nn.Module):
    def __init__(self, dropout=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5) if dropout else None
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        if self.drop is not None:
            x = self.drop(x)
        return self.fc(x)


class Fire(nn.Module):
    def __init__(self, cin, squeeze, expand):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], 1)


class SqueezeLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.fire1 = Fire(8, 4, 8)
        self.fire2 = Fire(16, 4, 8)
        self.fire3 = Fire(16, 8, 8)
        self.classifier = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(self.fire1(x), 2)
        x = self.fire3(self.fire2(x))
        x = F.relu(self.classifier(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class DecoderNorms(nn.Module):
    """The normalization and upsampling layers of decoders and segmentation heads, in one small net."""

    def __init__(self):
        super().__init__()
        # no bias before InstanceNorm: it would cancel it exactly, leaving a zero gradient whose float rounding
        # Adam's normalized step turns into noise of full step size on both sides
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.up = nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1)
        self.gnorm = nn.GroupNorm(4, 8)
        self.conv2 = nn.Conv2d(8, 4, 3, stride=2, padding=1)
        self.lnorm = nn.LayerNorm([4, 16, 16])
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = F.relu(self.inorm(self.conv1(x)))
        x = self.gnorm(self.up(x))
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = self.lnorm(self.conv2(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class UpsampleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv2 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.up(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def randomized(model):
    """Affine normalization parameters away from their initial ones and zeros, so each one is a real case."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(p + 0.1 * torch.randn_like(p))
    return model


def save(path, a, dtype=np.float32):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.array(a, dtype=dtype, order="C"), allow_pickle=False)


def state(model):
    """Parameters and BatchNorm running statistics (not num_batches_tracked), by state_dict key."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def export(model, x, path, mode, opset=OPSET):
    kwargs = dict(opset_version=opset, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    if mode == "eval":
        model.eval()
        kwargs.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    elif mode == "training":
        model.train()
        kwargs.update(training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    else:
        model.eval()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        torch.onnx.export(model, x, path, **kwargs)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


def train(model, x, y, opt, steps):
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return state(model)


def make(out_root, name, ctor, mode, oracle=True, opset=OPSET, seed_name=None):
    d = os.path.join(out_root, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    torch.manual_seed(1000 + sum(map(ord, seed_name or name)))
    model = ctor()
    gen = torch.Generator().manual_seed(77)
    x = torch.randn((4, 3, 8, 8), generator=gen)
    n_classes = 4 if name in ("zero-bias-cnn", "squeeze-like") else 3
    y = torch.tensor([0, 1, 2, 1]) % n_classes
    m = export(model, x, os.path.join(d, "model.onnx"), mode, opset)
    # the oracle starts from what the file holds: a TRAINING export traces the model in train mode, which
    # updates BatchNorm's running statistics once before they are written
    init = state(model)
    for t in m.graph.initializer:
        if t.name in init:
            assert np.array_equal(numpy_helper.to_array(t), init[t.name].numpy()), t.name
    keys = [k for k, _ in model.named_parameters()]
    inits = {i.name for i in m.graph.initializer}
    identities = sum(1 for n in m.graph.node if n.op_type == "Identity" and n.input[0] in inits)
    with open(os.path.join(d, "params.txt"), "w") as f:
        f.write("\n".join(keys) + "\n")
    save(os.path.join(d, "input.npy"), x.numpy())
    save(os.path.join(d, "labels.npy"), y.numpy(), np.int64)
    if oracle:
        for opt_name, make_opt, steps in (("sgd", lambda p: torch.optim.SGD(p, lr=SGD_LR), 1),
                                          ("adam", lambda p: torch.optim.Adam(p, lr=ADAM_LR), ADAM_STEPS)):
            model.load_state_dict(init, strict=False)
            after = train(model, x, y, make_opt(model.parameters()), steps)
            for k, v in after.items():
                save(os.path.join(d, opt_name, k + ".npy"), v.numpy())
    size = os.path.getsize(os.path.join(d, "model.onnx"))
    line = (f"{name}: {len(keys)} parameters, {len(inits)} initializers, {identities} Identity of an initializer,"
            f" {size} bytes" + ("" if opset == OPSET else f", opset {opset}"))
    print(line, flush=True)
    return line


MODELS = {
    "zero-bias-cnn": lambda out: make(out, "zero-bias-cnn", lambda: zero_biases(ZeroBiasCnn()), "default"),
    "bn-init": lambda out: make(out, "bn-init", BnNet, "eval"),
    "bn-training": lambda out: make(out, "bn-training", BnNet, "training"),
    "squeeze-like": lambda out: make(out, "squeeze-like", lambda: zero_biases(SqueezeLike()), "default"),
    "dropout-training": lambda out: make(out, "dropout-training", lambda: BnNet(dropout=True), "training",
                                         oracle=False),
    # 'eval' (no constant folding): the default export folds GroupNorm's Unsqueeze(weight) and Unsqueeze(bias)
    # into initializers named onnx::Mul_<n> and onnx::Add_<n>, which train the same (SGD and Adam are
    # elementwise) but are not named after the parameters the oracle compares
    "decoder-norms": lambda out: make(out, "decoder-norms", lambda: randomized(DecoderNorms()), "eval",
                                      opset=13),
    # the same weights (same seed), LayerNorm exported as LayerNormalization
    "decoder-norms-opset17": lambda out: make(out, "decoder-norms-opset17", lambda: randomized(DecoderNorms()),
                                              "eval", opset=17, seed_name="decoder-norms"),
    "upsample-opset9": lambda out: make(out, "upsample-opset9", UpsampleNet, "eval", opset=9),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--only", nargs="+", choices=sorted(MODELS), help="regenerate only these models")
    args = p.parse_args(argv)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    names = args.only or list(MODELS)
    made = {name: MODELS[name](out) for name in names}
    # README lines of the models not regenerated are kept as they are
    readme = os.path.join(out, "README.txt")
    old = {}
    if args.only and os.path.exists(readme):
        with open(readme, encoding="utf-8") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in MODELS:
                    old[key] = line.rstrip("\n")
    lines = [made.get(name, old.get(name)) for name in MODELS if name in made or name in old]
    with open(readme, "w", encoding="utf-8") as f:
        f.write("golden-import: PyTorch exports as users make them, and PyTorch's parameters after training them\n\n"
                "Generated by testdata/scripts/make_import_golden.py; do not edit by hand. Regenerate with\n"
                "    /usr/bin/python3 testdata/scripts/make_import_golden.py\n"
                f"torch {torch.__version__}, numpy {np.__version__}, onnx {onnx.__version__}, opset {OPSET}"
                " unless a line says otherwise\n\n"
                "Exports: 'default' = torch.onnx.export in eval mode with its defaults; 'eval' = eval mode,\n"
                "training=TrainingMode.PRESERVE, do_constant_folding=False (keeps BatchNormalization);\n"
                "'training' = train mode, training=TrainingMode.TRAINING.\n"
                f"Training: cross-entropy on input.npy/labels.npy; sgd/ = one SGD(lr={SGD_LR}) step, adam/ =\n"
                f"{ADAM_STEPS} Adam(lr={ADAM_LR}) steps, both from the exported values, model in train mode.\n\n"
                + "\n".join(lines) + "\n"
                + __doc__[__doc__.index("  <model>/model.onnx"):__doc__.index("Determinism")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
