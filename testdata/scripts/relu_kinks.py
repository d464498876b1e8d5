#!/usr/bin/python3
"""Checks that Forge's float32 training gaps on DenseNet-121 and RegNet are ReLU kinks (docs/PERFORMANCE.md).

Forge's float32 training of the DenseNet-121 export (TorchvisionFamiliesVsPyTorchTest) lands 3.2e-4 from the
float64 oracle after one SGD step and 4.0e-2 after three Adam steps; RegNet's parameters after one SGD step
are up to 3.4e-2 of their scale off. PrecisionBisectTest traced both to ReLU inputs within float32 rounding
of zero that ONNX Runtime's float32 puts below zero while float64 has them above (DenseNet:
features.denseblock3.denselayer24.relu2 at [1, 24, 1, 3], 5.77e-6 in float64, -1.48e-6 in ORT; RegNet:
block4-0's f.a ReLU at [0, 417, 1, 2], 6.37e-6 and -1.11e-5, and block4-1's at [0, 323, 0, 0], 6.96e-6 and
-5.96e-6), so Forge's ReLU passes no gradient there. For DenseNet this script prints PyTorch float32's
error on that element and the layers around it (as large as ONNX Runtime's, on the positive side); for
both it prints how far PyTorch float64 lands from the oracle when those ReLU outputs are zeroed in the
first forward pass (Forge's float32 distances if the kinks are the whole difference).

It reads the oracle of make_family_golden.py (default testdata/target/families, which the test generates)
and writes nothing. Usage:

    /usr/bin/python3 testdata/scripts/relu_kinks.py [--families DIR]
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

# family -> (parent module path, attribute of the ReLU in it, element) for each kink
KINKS = {
    "densenet": [(LAYER, "relu2", ELEMENT)],
    "regnet": [("trunk_output.block4.block4-0.f.a", "2", (0, 417, 1, 2)),
               ("trunk_output.block4.block4-1.f.a", "2", (0, 323, 0, 0))],
}


class ZeroedRelu(nn.Module):
    """ReLU whose output at one element is 0 in the first training forward pass, as Forge's float32 has it."""

    def __init__(self, element):
        super().__init__()
        self.element = element
        self.calls = 0

    def forward(self, x):
        y = F.relu(x)
        if self.training and self.calls == 0:
            mask = torch.ones_like(y)
            mask[self.element] = 0
            y = y * mask
        self.calls += 1
        return y


def parameter_error(expected, actual, floor=1e-3):
    """max|e - a| / max(max|e|, floor), as TorchvisionFamiliesVsPyTorchTest.parameterError."""
    return np.abs(expected - actual).max() / max(np.abs(expected).max(), floor)


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

    model = mf.make_model("densenet")
    x, _ = mf.batch("densenet", mf.SIZE, mf.BATCH)
    # norm2 is followed by an in-place ReLU: capture the BatchNorm output before it is overwritten
    names = [LAYER + ".conv1", LAYER + ".norm2", "classifier"]
    m32 = copy.deepcopy(model)
    m64 = copy.deepcopy(model).double()
    for m in (m32, m64):
        m.features.denseblock3.denselayer24.relu2.inplace = False
    a = captured(m32, x, names)
    b = captured(m64, x.double(), names)
    for n in names:
        err = (a[n] - b[n]).abs().max().item()
        scale = b[n].abs().max().item()
        print(f"densenet: PyTorch float32 {n}: {err / scale:.3g} of its scale from float64")
    n = LAYER + ".norm2"
    print(f"densenet: {n} output {list(ELEMENT)}: float64 {b[n][ELEMENT].item():.6g}, PyTorch float32"
          f" {a[n][ELEMENT].item():.6g} (ONNX Runtime float32: -1.48e-6)")

    for family, kinks in KINKS.items():
        d = os.path.join(args.families, family)
        model = mf.make_model(family)
        x, y = mf.batch(family, mf.SIZE, mf.BATCH)
        for opt_name, make_opt, steps in (("sgd", lambda q: torch.optim.SGD(q, lr=mf.SGD_LR), 1),
                                          ("adam", lambda q: torch.optim.Adam(q, lr=mf.ADAM_LR, eps=mf.ADAM_EPS),
                                           mf.ADAM_STEPS)):
            oracle = np.load(os.path.join(d, opt_name, "logits.npy")).astype(np.float64)
            m = copy.deepcopy(model).double()
            for parent, attr, element in kinks:
                setattr(m.get_submodule(parent), attr, ZeroedRelu(element))
            mf.train(m, x.double(), y, make_opt(m.parameters()), steps)
            out = mf.eval_logits(m, x.double()).numpy()
            line = (f"{family} {opt_name}: float64 with those ReLU outputs zeroed: outputs"
                    f" {np.abs(out - oracle).max() / np.abs(oracle).max():.3g} from the oracle")
            if opt_name == "sgd":
                worst, key = max((parameter_error(np.load(os.path.join(d, "sgd", k + ".npy")).astype(np.float64),
                                                  v.numpy()), k) for k, v in mf.state(m).items())
                line += f", worst parameter {worst:.3g} ({key})"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
