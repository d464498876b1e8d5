#!/usr/bin/python3
"""PyTorch oracle for the twelve torchvision CNN families: export each, train it, record the results.

For each family below (torchvision's own model definition, random weights from a fixed seed, nothing
downloaded, 10 classes) the script exports ONNX the way a user exports a model for fine-tuning, then
trains PyTorch's model one SGD step and, from a fresh copy, three Adam steps on one fixed batch with
cross-entropy. It writes, under --out (default: testdata/target/families; the exports are tens of MB, so
they are generated at test time and never committed):

  <family>/model.onnx          the export (see "Export" below)
  <family>/input.npy           the fixed batch, float32 [2, 3, 64, 64], standard normal, seeded
  <family>/labels.npy          its class labels, int64 [2]
  <family>/logits.npy          PyTorch's eval-mode output on input.npy before training, float32 [2, 10]
  <family>/params.txt          the model's parameter keys (named_parameters), one a line
  <family>/<opt>/logits.npy    PyTorch's eval-mode output on input.npy after training (opt = sgd or adam),
                               computed in float64 from the exported float32 values, written as float32
  <family>/<opt>/logits32.npy  the same from PyTorch's float32 training (its own rounding noise)
  <family>/<opt>/<key>.npy     every parameter and BatchNorm running statistic after training (state_dict
                               keys; num_batches_tracked is not written), likewise
  STAMP                        written last: the SHA-256 of this script, so a caller can tell the files
                               are complete and up to date

Families (the smallest standard variant of each): mobilenet_v2, mobilenet_v3_small, shufflenet_v2_x0_5,
efficientnet_b0, mnasnet0_5, regnet_y_400mf, densenet121, googlenet, resnet18, vgg11_bn, alexnet,
squeezenet1_1.

Changes to the definitions, each to make training deterministic or the files small, never the layers the
families are about:
  - every Dropout has p=0 and every StochasticDepth p=0: the exported eval graph carries no Dropout (it is
    the identity in eval mode), so PyTorch must train without it to be comparable;
  - GoogLeNet: aux_logits=False, transform_input=False;
  - VGG and AlexNet: their classifiers are 4096 wide (hundreds of MB of weights). They keep their
    structure (Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear) but are narrowed to 256 wide, and
    their adaptive average pool (7x7 for VGG, 6x6 for AlexNet, meant for 224x224 inputs) becomes 1x1:
    at 64x64 their feature maps are 2x2 and 1x1, and PyTorch cannot export an adaptive pool that
    upsamples.

Export: torch.onnx.export from eval mode with torch's default opset (14 for torch 1.13) and its default
constant folding, with training=TrainingMode.PRESERVE. That last argument is what a user exporting for
fine-tuning must give: with the default (TrainingMode.EVAL) the exporter folds every BatchNorm that follows
a Conv into the Conv's weights, and a network without its BatchNorm layers trains differently from the
family. The exporter deduplicates equal initial parameters (BatchNorm ones and zeros, zero biases) into
Identity nodes; Forge unties them on import.

Training (PyTorch): model.train(), cross-entropy (mean over the batch), SGD(lr=0.01) for one step and
Adam(lr=0.001, eps=1e-5) for three steps, both from the exported values, in float64 (model.double(): the
exact answer for Forge's float32 to be measured against). Then model.eval() gives the output after
training. One thread and deterministic algorithms.

Why Adam's eps is 1e-5 and not its default 1e-8: many gradients of these networks are mathematically zero
(the bias of a layer followed, through linear layers only, by a BatchNorm in training mode cancels in the
batch mean: MobileNet's linear bottlenecks, every BatchNorm running mean behind them) and are computed as
float32 rounding noise of 1e-10 to 1e-8. Adam divides by sqrt(v) + eps, so with eps 1e-8 that noise becomes
a step of up to lr in a random direction, different in every implementation and summation order: PyTorch in
float32 then differs from PyTorch in float64 by 0.6% on ShuffleNet's outputs after three steps, and no
implementation can match another within 1e-3. With eps 1e-5 the noise moves a parameter by at most about
1e-3 lr while real gradients (1e-4 and up here) keep Adam's normalized steps.

Usage:

    /usr/bin/python3 testdata/scripts/make_family_golden.py [--out DIR] [--families a,b,...]
    /usr/bin/python3 testdata/scripts/make_family_golden.py --bench --families mobilenet_v2 --size 224 --batch 8

--bench exports one family per line of --families into --out (model.onnx, input.npy, labels.npy) at the
given size and batch, and prints PyTorch's median training step time (SGD, 2 threads) for it, for
benchmarks/FamilyTraining; it writes no oracle.
"""

import argparse
import contextlib
import copy
import hashlib
import io
import os
import shutil
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

try:
    import torchvision  # noqa: E402
    from torchvision import models  # noqa: E402
    from torchvision.ops import StochasticDepth  # noqa: E402
except ImportError:
    sys.stderr.write("make_family_golden: torchvision does not import with /usr/bin/python3; install it with\n"
                     "    sudo testdata/scripts/install_deps.sh   (Debian package python3-torchvision)\n")
    sys.exit(2)

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(SCRIPT_DIR), "target", "families")
CLASSES = 10
BATCH = 2
SIZE = 64
SGD_LR = 0.01
ADAM_LR = 0.001
ADAM_EPS = 1e-5
ADAM_STEPS = 3
CLASSIFIER_WIDTH = 256


def narrow_classifier(model, features):
    """VGG/AlexNet: the same classifier structure, 256 wide instead of 4096, after a 1x1 adaptive pool."""
    model.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    w = CLASSIFIER_WIDTH
    model.classifier = nn.Sequential(
        nn.Dropout(0.0), nn.Linear(features, w), nn.ReLU(inplace=True),
        nn.Dropout(0.0), nn.Linear(w, w), nn.ReLU(inplace=True),
        nn.Linear(w, CLASSES))
    for m in model.classifier:
        if isinstance(m, nn.Linear):  # VGG's own initialization of its classifier
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)
    return model


FAMILIES = {
    "mobilenet_v2": lambda: models.mobilenet_v2(num_classes=CLASSES, dropout=0.0),
    "mobilenet_v3_small": lambda: models.mobilenet_v3_small(num_classes=CLASSES, dropout=0.0),
    "shufflenet_v2": lambda: models.shufflenet_v2_x0_5(num_classes=CLASSES),
    "efficientnet_b0": lambda: models.efficientnet_b0(
        num_classes=CLASSES, stochastic_depth_prob=0.0),  # its dropout (0.2, fixed) is zeroed below
    "mnasnet": lambda: models.mnasnet0_5(num_classes=CLASSES, dropout=0.0),
    "regnet": lambda: models.regnet_y_400mf(num_classes=CLASSES),
    "densenet": lambda: models.densenet121(num_classes=CLASSES),
    "googlenet": lambda: models.googlenet(
        num_classes=CLASSES, aux_logits=False, transform_input=False, init_weights=True, dropout=0.0),
    "resnet": lambda: models.resnet18(num_classes=CLASSES),
    "vgg_bn": lambda: narrow_classifier(models.vgg11_bn(num_classes=CLASSES, dropout=0.0), 512),
    "alexnet": lambda: narrow_classifier(models.alexnet(num_classes=CLASSES, dropout=0.0), 256),
    "squeezenet": lambda: models.squeezenet1_1(num_classes=CLASSES, dropout=0.0),
}


def script_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_model(name):
    torch.manual_seed(1000 + sum(map(ord, name)))
    model = FAMILIES[name]()
    for m in model.modules():
        if isinstance(m, (nn.Dropout, StochasticDepth)):
            m.p = 0.0
    return model


def save(path, a, dtype=np.float32):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.array(a, dtype=dtype, order="C"), allow_pickle=False)


def state(model):
    """Parameters and BatchNorm running statistics (not num_batches_tracked), by state_dict key."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def export(model, x, path):
    model.eval()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        torch.onnx.export(model, x, path, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                          training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


def batch(name, size, n):
    gen = torch.Generator().manual_seed(77 + sum(map(ord, name)))
    x = torch.randn((n, 3, size, size), generator=gen)
    y = torch.randint(0, CLASSES, (n,), generator=gen)
    return x, y


def train(model, x, y, opt, steps):
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


def eval_logits(model, x):
    model.eval()
    with torch.no_grad():
        return model(x)


def make(out_root, name):
    t0 = time.time()
    d = os.path.join(out_root, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    model = make_model(name)
    x, y = batch(name, SIZE, BATCH)
    m = export(model, x, os.path.join(d, "model.onnx"))
    save(os.path.join(d, "input.npy"), x.numpy())
    save(os.path.join(d, "labels.npy"), y.numpy(), np.int64)
    save(os.path.join(d, "logits.npy"), eval_logits(model, x).numpy())
    keys = [k for k, _ in model.named_parameters()]
    with open(os.path.join(d, "params.txt"), "w") as f:
        f.write("\n".join(keys) + "\n")
    # PyTorch as users run it, in float32: its distance from the float64 oracle is the rounding noise of
    # these steps, against which the test weighs Forge's
    for opt_name, make_opt, steps in (("sgd", lambda p: torch.optim.SGD(p, lr=SGD_LR), 1),
                                      ("adam", lambda p: torch.optim.Adam(p, lr=ADAM_LR, eps=ADAM_EPS), ADAM_STEPS)):
        fresh = copy.deepcopy(model)
        train(fresh, x, y, make_opt(fresh.parameters()), steps)
        save(os.path.join(d, opt_name, "logits32.npy"), eval_logits(fresh, x).numpy())
    # the oracle trains in float64 from the exported float32 values: PyTorch's own float32 run differs from
    # it by up to 9e-4 relative on these outputs (RegNet, MnasNet after one SGD step), as much as Forge does,
    # so a float32 oracle would measure the sum of two rounding noises instead of Forge's error
    model = model.double()
    x64 = x.double()
    for opt_name, make_opt, steps in (("sgd", lambda p: torch.optim.SGD(p, lr=SGD_LR), 1),
                                      ("adam", lambda p: torch.optim.Adam(p, lr=ADAM_LR, eps=ADAM_EPS), ADAM_STEPS)):
        fresh = copy.deepcopy(model)
        train(fresh, x64, y, make_opt(fresh.parameters()), steps)
        for k, v in state(fresh).items():
            save(os.path.join(d, opt_name, k + ".npy"), v.numpy())
        save(os.path.join(d, opt_name, "logits.npy"), eval_logits(fresh, x64).numpy())
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"{name}: {len(keys)} parameters, {len(m.graph.node)} nodes, opset {m.opset_import[0].version},"
          f" {os.path.getsize(os.path.join(d, 'model.onnx'))} bytes, {time.time() - t0:.1f} s; ops {' '.join(ops)}",
          flush=True)


def bench(out_root, name, size, n, steps=5):
    """Exports one family at the given size for the Java benchmark and times PyTorch's SGD step."""
    torch.set_num_threads(2)
    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    model = make_model(name)
    x, y = batch(name, size, n)
    export(model, x, os.path.join(d, "model.onnx"))
    save(os.path.join(d, "input.npy"), x.numpy())
    save(os.path.join(d, "labels.npy"), y.numpy(), np.int64)
    opt = torch.optim.SGD(model.parameters(), lr=SGD_LR)
    train(model, x, y, opt, 1)  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        train(model, x, y, opt, 1)
        times.append(time.perf_counter() - t0)
    print(f"{name} pytorch_step_ms {sorted(times)[len(times) // 2] * 1000:.1f}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--bench", action="store_true")
    p.add_argument("--size", type=int, default=SIZE)
    p.add_argument("--batch", type=int, default=BATCH)
    a = p.parse_args(argv)
    out = os.path.abspath(a.out)
    names = [s for s in a.families.split(",") if s]
    unknown = [s for s in names if s not in FAMILIES]
    if unknown:
        p.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    if a.bench:
        for name in names:
            bench(out, name, a.size, a.batch)
        return 0
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(out, exist_ok=True)
    stamp = os.path.join(out, "STAMP")
    if os.path.exists(stamp):
        os.remove(stamp)
    for name in names:
        make(out, name)
    with open(os.path.join(out, "README.txt"), "w", encoding="utf-8") as f:
        f.write("Generated by testdata/scripts/make_family_golden.py; do not edit, do not commit.\n"
                f"torch {torch.__version__}, torchvision {torchvision.__version__}, numpy {np.__version__},"
                f" onnx {onnx.__version__}\n")
    with open(stamp, "w") as f:
        f.write(script_hash() + " " + ",".join(names) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
