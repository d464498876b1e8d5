#!/usr/bin/python3
"""Checks that DenseNet-121's float32 training gap in Forge is one ReLU kink (docs/PERFORMANCE.md).

Forge's float32 training of the DenseNet-121 export (TorchvisionFamiliesVsPyTorchTest) lands 3.2e-4 from the
float64 oracle after one SGD step and 4.0e-2 after three Adam steps. PrecisionBisectTest traced it to one
element: the input of features.denseblock3.denselayer24.relu2 at [1, 24, 1, 3] is 5.77e-6 in float64 and
-1.48e-6 in ONNX Runtime's float32, so Forge's ReLU passes no gradient there. This script prints

  - PyTorch float32's error on that element and on the layers around it (as large as ONNX Runtime's,
    but on the positive side), and
  - how far PyTorch float64 lands from the oracle when that one ReLU output is zeroed in the first forward
    pass (Forge's float32 distances if the kink is the whole difference).

It reads the oracle of make_family_golden.py (default testdata/target/families/densenet, which the test
generates) and writes nothing. Usage:

    /usr/bin/python3 testdata/scripts/densenet_relu_kink.py [--families DIR]
"""

import argparse
import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPT_DIR)
import make_family_golden as mf  # noqa: E402

LAYER = "features.denseblock3.denselayer24"
ELEMENT = (1, 24, 1, 3)


class ZeroedRelu(nn.Module):
    """ReLU whose output at ELEMENT is 0 in the first training forward pass, as Forge's float32 computes it."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        y = F.relu(x)
        if self.training and self.calls == 0:
            mask = torch.ones_like(y)
            mask[ELEMENT] = 0
            y = y * mask
        self.calls += 1
        return y


def captured(model, x, names):
    """Outputs of the named modules in one training-mode forward pass, as float64 copies."""
    out = {}

    def keep(name):
        def hook(module, inputs, output):
            out[name] = output.detach().double().clone()  # returns None: the output itself is unchanged
        return hook

    hooks = [m.register_forward_hook(keep(n)) for n, m in model.named_modules() if n in names]
    model.train()
    model(x)
    for h in hooks:
        h.remove()
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--families", default=os.path.join(os.path.dirname(SCRIPT_DIR), "target", "families"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    d = os.path.join(args.families, "densenet")
    model = mf.make_model("densenet")
    x, y = mf.batch("densenet", mf.SIZE, mf.BATCH)

    # norm2 is followed by an in-place ReLU: capture the BatchNorm output before it is overwritten
    names = [LAYER + ".conv1", LAYER + ".norm2", "classifier"]
    m32 = copy.deepcopy(model)
    m64 = copy.deepcopy(model).double()
    for m in (m32, m64):
        getattr(m.features.denseblock3.denselayer24, "relu2").inplace = False
    a = captured(m32, x, names)
    b = captured(m64, x.double(), names)
    for n in names:
        err = (a[n] - b[n]).abs().max().item()
        scale = b[n].abs().max().item()
        print(f"PyTorch float32 {n}: {err / scale:.3g} of its scale from float64")
    n = LAYER + ".norm2"
    print(f"{n} output {list(ELEMENT)}: float64 {b[n][ELEMENT].item():.6g}, PyTorch float32 {a[n][ELEMENT].item():.6g}"
          " (ONNX Runtime float32: -1.48e-6)")

    for opt_name, make_opt, steps in (("sgd", lambda q: torch.optim.SGD(q, lr=mf.SGD_LR), 1),
                                      ("adam", lambda q: torch.optim.Adam(q, lr=mf.ADAM_LR, eps=mf.ADAM_EPS),
                                       mf.ADAM_STEPS)):
        oracle = np.load(os.path.join(d, opt_name, "logits.npy")).astype(np.float64)
        m = copy.deepcopy(model).double()
        m.features.denseblock3.denselayer24.relu2 = ZeroedRelu()
        mf.train(m, x.double(), y, make_opt(m.parameters()), steps)
        out = mf.eval_logits(m, x.double()).numpy()
        print(f"{opt_name}: float64 with that ReLU output zeroed is {np.abs(out - oracle).max() / np.abs(oracle).max():.3g}"
              " from the oracle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
