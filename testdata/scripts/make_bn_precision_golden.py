#!/usr/bin/python3
"""PyTorch oracle for the precision of training-mode BatchNorm when the batch mean dwarfs the batch spread.

A conv+BN net (BnNet below) takes one cross-entropy training step on inputs far from zero. The script runs
the same step twice in PyTorch, in float32 and in float64 (from the same float32-rounded weights and
inputs), and writes, per case directory under --out (default: testdata/golden-training/bn-precision):

  input.npy, labels.npy     the batch (float32 [8, 3, 6, 6]; int64 [8])
  weights/<key>.npy         every parameter and buffer (float32), PyTorch state_dict keys
  f64/<name>.npy            float64 results: logits, loss, grad/<key>, grad/input, running_mean, running_var
                            (after the forward pass), logits_after (training-mode logits on the same batch
                            after one SGD step, lr 0.1)
  pytorch-float32-error.txt one line per result: name and PyTorch float32's error against float64,
                            max |f32 - f64| / max |f64|

The Java test (BatchNormPrecisionTest) makes the same step with Forge in float32 on ONNX Runtime and
requires its error against float64 to be of the order of PyTorch float32's own error.

Cases: offset-1000  input = 1000 + N(0, 1)        (the issue's example)
       mean-50      input = 50 + 0.1 N(0, 1)      (a realistic mid-network activation)
The convolution has no padding, so every output pixel sees the offset equally: the BatchNorm input's
per-channel mean is about 1000 * sum(W) while its spread is about |W|.

Usage: /usr/bin/python3 testdata/scripts/make_bn_precision_golden.py [--out DIR]
Two runs give byte-identical files (one thread, deterministic algorithms, seeded generators).
"""

import argparse
import os
import shutil
import sys
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(SCRIPT_DIR), "golden-training", "bn-precision")
REGEN = "/usr/bin/python3 testdata/scripts/make_bn_precision_golden.py"
CASES = {"offset-1000": (1000.0, 1.0, 1), "mean-50": (50.0, 0.1, 2)}  # name: (offset, std, seed)
LR = 0.1


class BnNet(nn.Module):
    """conv 3->4 3x3 (no padding), BatchNorm2d(4), relu, flatten, fc 64->3."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(64, 3)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.bn(self.conv(x))), 1))


def rel_err(a32, a64):
    a32 = np.asarray(a32, dtype=np.float64)
    a64 = np.asarray(a64, dtype=np.float64)
    scale = float(np.max(np.abs(a64)))
    diff = float(np.max(np.abs(a32 - a64)))
    return diff / scale if scale > 0 else diff


def step(state, x, labels, dtype):
    """One training step in dtype: results by name (numpy float64)."""
    net = BnNet().to(dtype)
    net.load_state_dict({k: torch.from_numpy(v).to(dtype) for k, v in state.items()}, strict=False)
    net.train()
    xin = torch.from_numpy(x).to(dtype).requires_grad_(True)
    logits = net(xin)
    loss = F.cross_entropy(logits, torch.from_numpy(labels))
    loss.backward()
    # clones: the buffers change in place on the next forward pass
    out = {"logits": logits, "loss": loss, "grad/input": xin.grad,
           "running_mean": net.bn.running_mean.clone(), "running_var": net.bn.running_var.clone()}
    for k, p in net.named_parameters():
        out["grad/" + k] = p.grad
    with torch.no_grad():
        for p in net.parameters():
            p -= LR * p.grad
        out["logits_after"] = net(xin)
    return {k: v.detach().double().numpy() for k, v in out.items()}


def make_case(out, name, offset, std, seed):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "weights"))
    os.makedirs(os.path.join(d, "f64", "grad"))
    torch.manual_seed(seed)
    net = BnNet()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        net.bn.weight.copy_(torch.rand(4, generator=g) + 0.5)
        net.bn.bias.copy_(torch.rand(4, generator=g) - 0.5)
    state = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()
             if k != "bn.num_batches_tracked"}
    x = (offset + std * torch.randn(8, 3, 6, 6, generator=g)).numpy().astype(np.float32)
    labels = torch.randint(0, 3, (8,), generator=g).numpy().astype(np.int64)
    np.save(os.path.join(d, "input.npy"), x, allow_pickle=False)
    np.save(os.path.join(d, "labels.npy"), labels, allow_pickle=False)
    for k, v in state.items():
        np.save(os.path.join(d, "weights", k + ".npy"), v, allow_pickle=False)
    r32 = step(state, x, labels, torch.float32)
    r64 = step(state, x, labels, torch.float64)
    lines = []
    for k in sorted(r64):
        np.save(os.path.join(d, "f64", k + ".npy"), r64[k], allow_pickle=False)
        lines.append(f"{k} {rel_err(r32[k], r64[k]):.6g}")
    with open(os.path.join(d, "pytorch-float32-error.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    # conv.bias has gradient 0 in front of training-mode BatchNorm: its float32 value is rounding noise
    worst = max((s for s in lines if not s.startswith("grad/conv.bias")), key=lambda s: float(s.split()[1]))
    print(f"{name}: input {offset} + {std} N(0,1); PyTorch float32 worst error {worst}")
    return f"  {name}/  input = {offset} + {std} * N(0, 1), seed {seed}; PyTorch float32's worst error: {worst}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    out = ap.parse_args().out
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    summary = [make_case(out, n, *c) for n, c in CASES.items()]
    with open(os.path.join(out, "README.txt"), "w", encoding="utf-8") as f:
        f.write("bn-precision: training-mode BatchNorm when the batch mean dwarfs the batch spread\n\n"
                f"Generated by testdata/scripts/make_bn_precision_golden.py; do not edit. Regenerate with\n"
                f"    {REGEN}\ntorch {torch.__version__}, numpy {np.__version__}\n\n"
                "BnNet: conv 3->4 3x3 (no padding), BatchNorm2d(4) (train mode, momentum 0.1, eps 1e-5), relu,\n"
                "flatten, fc 64->3; cross-entropy on a batch of 8; SGD lr 0.1 for logits_after.\n"
                + "\n".join(summary) + "\n\n"
                "f64/*.npy are float64 (PyTorch in double precision from the same float32 inputs); everything\n"
                "else is float32 (labels int64). pytorch-float32-error.txt: max |f32 - f64| / max |f64| per result.\n")


if __name__ == "__main__":
    sys.exit(main())
