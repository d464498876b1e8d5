#!/usr/bin/python3
"""PyTorch training oracle for Forge: losses, gradients, optimizer steps and LR schedules.

Forge's autodiff emits the backward pass and the optimizer update as standard ONNX ops; the Java tests
check what that training-step graph computes against what PyTorch computes here. The script writes
four directories under --out (default: testdata/golden-training next to this script's parent):

  simple-net-l1/  the seed's section 9 experiment: SimpleNet (1x32x32 -> 2), L1 loss, one SGD step.
                  SimpleNet has 6.4M parameters, so its weights are NOT stored: every parameter comes
                  from an integer-hash formula (see simple_net_param) that Java recomputes bit-exactly.
  mnist-cnn-ce/   the seed's section 10 MnistCnn in TRAINING mode (BatchNorm on batch statistics),
                  cross-entropy on a batch of 8: loss, every parameter gradient, the input gradient and
                  the BatchNorm running statistics after the forward pass.
  optimizers/     a tiny CNN (TinyNet below) trained for two steps with each of nine optimizer configs
                  (SGD, weight decay, momentum, Nesterov, RMSprop, Adagrad, Adam, Adam+L2, AdamW), plus
                  the learning rates StepLR and CosineAnnealingLR give for epochs 0..7.
  losses/         cross_entropy, l1_loss, mse_loss and binary_cross_entropy_with_logits on small
                  hand-written tensors: value and gradient with respect to the input.

The networks SimpleNet and MnistCnn are imported from make_golden.py (same directory), not redefined.
Each directory gets a README.txt with its files, shapes, seeds and formulas, written by this script.

Conventions: every tensor is a .npy file written by numpy.save (format 1.0, little endian, C order);
float32 unless stated otherwise (labels and sample indices are int64; the fc1.weight gradient
statistics of simple-net-l1 are float64). File names are PyTorch state_dict keys. Losses are scalars of
shape (). Each output directory is deleted and rewritten, so no stale file survives a regeneration.

Determinism: PyTorch runs on one thread with deterministic algorithms (set by make_golden.py on import,
and again here); every random tensor comes from its own seeded torch.Generator or torch.manual_seed.
Two runs give byte-identical files.

Usage (from any working directory; Debian's interpreter, which has python3-torch and python3-numpy):

    /usr/bin/python3 testdata/scripts/make_training_golden.py            # -> testdata/golden-training
    /usr/bin/python3 testdata/scripts/make_training_golden.py --out /tmp/gt

It prints one summary line per directory. The exit status is non-zero if a self-check fails.
"""

import argparse
import hashlib
import math
import os
import shutil
import sys
import warnings

# Single thread before torch is imported (make_golden.py does the same): results must not depend on the
# number of threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore")

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPT_DIR)
sys.dont_write_bytecode = True   # importing make_golden must not leave __pycache__ in the source tree

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import make_golden as mg  # noqa: E402  (SimpleNet, MnistCnn, randomize_batchnorm)

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

TESTDATA_DIR = os.path.dirname(SCRIPT_DIR)
DEFAULT_OUT = os.path.join(TESTDATA_DIR, "golden-training")
REGEN = "/usr/bin/python3 testdata/scripts/make_training_golden.py"


# ---------------------------------------------------------------------------------------------------
# Writing helpers
# ---------------------------------------------------------------------------------------------------

def save_f32(path, a):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # np.array keeps a scalar's shape (); np.ascontiguousarray would turn it into shape (1,).
    np.save(path, np.array(a, dtype=np.float32, order="C"), allow_pickle=False)


def save_f64(path, a):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.array(a, dtype=np.float64, order="C"), allow_pickle=False)


def save_i64(path, a):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.array(a, dtype=np.int64, order="C"), allow_pickle=False)


def t2n(t):
    return t.detach().cpu().numpy()


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


def write_readme(directory, lines):
    with open(os.path.join(directory, "README.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")


def versions():
    return f"torch {torch.__version__}, numpy {np.__version__}"


def rel_err(a32, a64):
    """max |a32 - a64| / max |a64| (0 if a64 is all zero): float32 noise relative to the tensor's scale."""
    a32 = np.asarray(a32, dtype=np.float64)
    a64 = np.asarray(a64, dtype=np.float64)
    scale = float(np.max(np.abs(a64))) if a64.size else 0.0
    diff = float(np.max(np.abs(a32 - a64))) if a64.size else 0.0
    return diff / scale if scale > 0 else diff


def maxpool2_gap(r):
    """Smallest (largest - second largest) over the 2x2 windows whose largest value is > 0.

    r: [N, C, H, W] input of a MaxPool2d(2) (H, W even). A small gap means the argmax (and so where
    MaxPool's gradient goes) could differ between two float32 implementations.
    """
    n, c, h, w = r.shape
    win = r.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, 4)
    s = np.sort(win, axis=1)
    top, second = s[:, 3], s[:, 2]
    live = top > 0
    return float(np.min(top[live] - second[live])) if live.any() else float("inf")


# ---------------------------------------------------------------------------------------------------
# 1. simple-net-l1: SimpleNet with formula weights, L1 loss, one SGD step
# ---------------------------------------------------------------------------------------------------

# Per-tensor integer k of the weight formula: the position of the tensor in SimpleNet's state_dict,
# counted from 1. fan_in is the number of inputs of one output unit (in_channels * kH * kW for Conv,
# in_features for Linear); it sets the amplitude 1/sqrt(fan_in), PyTorch's default init bound.
SIMPLE_NET_PARAMS = [
    # key, k, fan_in
    ("conv1.weight", 1, 1 * 3 * 3),
    ("conv1.bias", 2, 1 * 3 * 3),
    ("conv2.weight", 3, 6 * 3 * 3),
    ("conv2.bias", 4, 6 * 3 * 3),
    ("fc1.weight", 5, 16 * 28 * 28),
    ("fc1.bias", 6, 16 * 28 * 28),
    ("fc2.weight", 7, 512),
    ("fc2.bias", 8, 512),
    ("fc3.weight", 9, 64),
    ("fc3.bias", 10, 64),
]

MASK32 = np.uint64(0xFFFFFFFF)


def lowbias32(x):
    """Chris Wellons' 'lowbias32' integer hash on uint32 values held in a uint64 array.

    Every multiplication is taken modulo 2^32 (uint64 products wrap modulo 2^64, and the low 32 bits of
    the product do not depend on that), exactly like Java's int arithmetic.
    """
    x = x & MASK32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & MASK32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & MASK32
    x ^= x >> np.uint64(16)
    return x


def simple_net_param(shape, k, fan_in):
    """The weight formula of simple-net-l1 (documented word for word in its README.txt).

    For flat (C-order) index i of a tensor with integer k:
        h     = lowbias32((i + k * 2^24) mod 2^32)         uint32
        u     = h / 2^32                                   float64, exact, in [0, 1)
        scale = 1 / sqrt(fan_in)                           float64 (IEEE sqrt and division)
        w[i]  = (float32) (scale * (2 * u - 1))            one float64 multiply, then round to float32
    2*u - 1 is exact in float64, so the only roundings are the product and the cast: a Java test doing the
    same operations on doubles reproduces every float32 weight bit for bit (no transcendental function
    is involved, unlike a sin-based formula, whose last bit may differ between libm and Java).
    """
    n = int(np.prod(shape))
    assert n < (1 << 24) and 0 < k < 256
    i = np.arange(n, dtype=np.uint64)
    h = lowbias32(i + np.uint64(k << 24))
    u = h.astype(np.float64) / 4294967296.0
    scale = 1.0 / math.sqrt(fan_in)
    return (scale * (2.0 * u - 1.0)).astype(np.float32).reshape(shape)


SIMPLE_NET_INPUT_SEED = 9010   # torch.Generator seed for input.npy (then target.npy from the same one)
FC1_SAMPLE = 1000              # number of sampled fc1.weight gradient entries


def simple_net_forward_parts(model, x):
    """The forward pass spelled out, returning every ReLU input (pre-activation) and the output."""
    z1 = model.conv1(x)
    z2 = model.conv2(F.relu(z1))
    z3 = model.fc1(torch.flatten(F.relu(z2), 1))
    z4 = model.fc2(F.relu(z3))
    out = model.fc3(F.relu(z4))
    return [z1, z2, z3, z4], out


def make_simple_net_l1(out_root):
    d = os.path.join(out_root, "simple-net-l1")
    fresh_dir(d)

    model = mg.SimpleNet(1, 2)
    sd = model.state_dict()
    assert [k for k, _, _ in SIMPLE_NET_PARAMS] == list(sd.keys()), list(sd.keys())
    init = {}
    with torch.no_grad():
        for key, k, fan_in in SIMPLE_NET_PARAMS:
            w = simple_net_param(tuple(sd[key].shape), k, fan_in)
            init[key] = w
            dict(model.named_parameters())[key].copy_(torch.from_numpy(w))

    # Input and target as in the seed (torch.randn(1, 1, 32, 32), torch.randn(2).view(1, -1)), seeded.
    gen = torch.Generator().manual_seed(SIMPLE_NET_INPUT_SEED)
    x = torch.randn((1, 1, 32, 32), generator=gen, dtype=torch.float32)
    y = torch.randn((1, 2), generator=gen, dtype=torch.float32)

    # Forward, L1 loss (mean over the 2 outputs), backward.
    model.zero_grad()
    pre, out = simple_net_forward_parts(model, x)
    assert torch.equal(out, model(x))
    loss = F.l1_loss(out, y)
    loss.backward()
    grads = {k: t2n(p.grad).copy() for k, p in model.named_parameters()}

    # float64 twin of the same computation, to state the float32 noise level in README.txt.
    m64 = mg.SimpleNet(1, 2).double()
    with torch.no_grad():
        for key, _, _ in SIMPLE_NET_PARAMS:
            dict(m64.named_parameters())[key].copy_(torch.from_numpy(init[key].astype(np.float64)))
    pre64, out64 = simple_net_forward_parts(m64, x.double())
    loss64 = F.l1_loss(out64, y.double())
    loss64.backward()
    grads64 = {k: t2n(p.grad) for k, p in m64.named_parameters()}

    # One SGD step (lr 0.01) and the loss on the same input afterwards.
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    opt.step()
    with torch.no_grad():
        out_after = model(x)
        loss_after = F.l1_loss(out_after, y)
    assert float(loss_after) < float(loss), (float(loss), float(loss_after))

    # Margins: how far every ReLU input is from 0 and the outputs from the target (L1's kink).
    relu_margin = min(float(z.detach().abs().min()) for z in pre)
    l1_margin = float((out - y).detach().abs().min())
    assert relu_margin > 2e-5 and l1_margin > 1e-3, (relu_margin, l1_margin)

    save_f32(os.path.join(d, "input.npy"), t2n(x))
    save_f32(os.path.join(d, "target.npy"), t2n(y))
    save_f32(os.path.join(d, "output.npy"), t2n(out))
    save_f32(os.path.join(d, "loss.npy"), t2n(loss))
    save_f32(os.path.join(d, "output_after_sgd_step.npy"), t2n(out_after))
    save_f32(os.path.join(d, "loss_after_sgd_step.npy"), t2n(loss_after))

    # Checksums of the formula weights, so a Java implementation of the formula can be verified alone.
    for key, _, _ in SIMPLE_NET_PARAMS:
        w = init[key].astype(np.float64)
        save_f64(os.path.join(d, "init", key + ".stats.npy"), [w.sum(), (w * w).sum()])

    # Gradients: full for every parameter except fc1.weight.
    n_fc1 = grads["fc1.weight"].size
    for key, _, _ in SIMPLE_NET_PARAMS:
        if key != "fc1.weight":
            save_f32(os.path.join(d, "grad", key + ".npy"), grads[key])
    g = grads["fc1.weight"]                              # [512, 12544] float32
    g64 = g.astype(np.float64)
    idx = (np.arange(FC1_SAMPLE, dtype=np.int64) * n_fc1) // FC1_SAMPLE
    save_i64(os.path.join(d, "grad", "fc1.weight.indices.npy"), idx)
    save_f32(os.path.join(d, "grad", "fc1.weight.sample.npy"), g.reshape(-1)[idx])
    save_f64(os.path.join(d, "grad", "fc1.weight.stats.npy"), [g64.sum(), (g64 * g64).sum()])
    save_f64(os.path.join(d, "grad", "fc1.weight.rowsum.npy"), g64.sum(axis=1))
    save_f64(os.path.join(d, "grad", "fc1.weight.colsum.npy"), g64.sum(axis=0))
    n_sample_nonzero = int(np.count_nonzero(g.reshape(-1)[idx]))
    n_nonzero = int(np.count_nonzero(g))

    noise = {k: rel_err(grads[k], grads64[k]) for k in grads}

    lines = [
        "simple-net-l1: the seed's section 9 experiment (SimpleNet, L1 loss, one SGD step)",
        "",
        "Generated by testdata/scripts/make_training_golden.py; do not edit by hand. Regenerate with",
        f"    {REGEN}",
        versions(),
        "",
        "Network: make_golden.SimpleNet(1, 2), PyTorch layouts (Conv [out,in,kH,kW], Linear [out,in]):",
        "  input [1,1,32,32] -> conv1 Conv2d(1,6,3) -> relu -> conv2 Conv2d(6,16,3) -> relu",
        "  -> flatten(1) [1,12544] (row-major C,H,W) -> fc1 Linear(12544,512) -> relu",
        "  -> fc2 Linear(512,64) -> relu -> fc3 Linear(64,2)",
        "Loss: torch.nn.functional.l1_loss(output, target), reduction mean over the 2 elements,",
        "  so d loss / d output = sign(output - target) / 2.",
        "",
        "WEIGHTS ARE NOT STORED (fc1 alone has 6.4M parameters). Every parameter is made by this formula,",
        "which uses only integer and IEEE double arithmetic, so Java reproduces it bit for bit:",
        "  for the tensor with integer k and fan_in below, and flat C-order index i = 0 .. numel-1:",
        "    x = (i + k * 2^24) mod 2^32                       (as a 32-bit unsigned integer)",
        "    x ^= x >>> 16;  x *= 0x7feb352d;  x ^= x >>> 15;  x *= 0x846ca68b;  x ^= x >>> 16",
        "                                                       (lowbias32 hash; multiplications mod 2^32)",
        "    u = x / 2^32                                       (double, exact, in [0,1))",
        "    scale = 1.0 / Math.sqrt(fan_in)                    (double)",
        "    w[i] = (float) (scale * (2.0 * u - 1.0))           (double product, then rounded to float32)",
        "  i.e. weights uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default init bound),",
        "  computed in float64 and cast to float32 at the very end, once.",
        "  In Java:",
        "    int x = i + (k << 24);",
        "    x ^= x >>> 16; x *= 0x7feb352d; x ^= x >>> 15; x *= 0x846ca68b; x ^= x >>> 16;",
        "    double u = (x & 0xFFFFFFFFL) / 4294967296.0;",
        "    float w = (float) ((1.0 / Math.sqrt(fanIn)) * (2.0 * u - 1.0));",
        "  (the scale is computed first, exactly as written: 1.0 / Math.sqrt(fanIn), then the product)",
        "",
        "  key            k   fan_in  shape            first three values (float32)",
    ]
    for key, k, fan_in in SIMPLE_NET_PARAMS:
        w = init[key]
        first = ", ".join(str(v) for v in w.reshape(-1)[:3])
        lines.append(f"  {key:<14} {k:>2} {fan_in:>7}  {str(list(w.shape)):<16} [{first}]")
    lines += [
        "  SHA-256 of each tensor's float32 values as little-endian bytes in C order (a bit-exact check;",
        "  a Java implementation of the formula above was checked to reproduce all ten):",
        *[f"    {key:<14} {hashlib.sha256(init[key].astype('<f4').tobytes()).hexdigest()}"
          for key, _, _ in SIMPLE_NET_PARAMS],
        "  init/<key>.stats.npy: float64 [sum, sum of squares] of the float32 weights (each widened to",
        "  float64, numpy pairwise summation): check a Java implementation of the formula with these first.",
        "",
        f"Input and target: torch.Generator().manual_seed({SIMPLE_NET_INPUT_SEED}); input = torch.randn(1,1,32,32),",
        "  then target = torch.randn(1,2) from the same generator (as in the seed: random input, random target).",
        "",
        "Files (float32 unless stated):",
        "  input.npy                  [1,1,32,32]",
        "  target.npy                 [1,2]",
        "  output.npy                 [1,2]  network output before the step",
        f"  loss.npy                   ()     L1 loss before the step = {float(loss):.6f}",
        "  grad/<key>.npy             full gradient d loss / d param for every parameter except fc1.weight:",
        "                             conv1.weight [6,1,3,3], conv1.bias [6], conv2.weight [16,6,3,3],",
        "                             conv2.bias [16], fc1.bias [512], fc2.weight [64,512], fc2.bias [64],",
        "                             fc3.weight [2,64], fc3.bias [2]",
        "  grad/fc1.weight.*          fc1.weight's gradient [512,12544] (6,422,528 values, 25 MB) is summarized:",
        f"    .indices.npy  int64 [{FC1_SAMPLE}]   flat C-order indices: indices[j] = floor(j * 6422528 / {FC1_SAMPLE}),",
        "                             j = 0..999 (row = index / 12544, column = index % 12544)",
        f"    .sample.npy   float32 [{FC1_SAMPLE}] the gradient at those indices "
        f"({n_sample_nonzero} of them nonzero)",
        "    .stats.npy    float64 [2]     [sum, sum of squares] of all 6,422,528 float32 entries",
        "                                  (each widened to float64 before summing)",
        "    .rowsum.npy   float64 [512]   sum over columns of each row (widened to float64)",
        "    .colsum.npy   float64 [12544] sum over rows of each column (widened to float64)",
        f"                             {n_nonzero} of the 6,422,528 entries are nonzero (batch 1: the gradient",
        "                             is the outer product of fc1's output gradient and its input, and both",
        "                             have ReLU zeros). sum/sumsq alone cannot see a transposed or permuted",
        "                             gradient; rowsum/colsum and the sample can.",
        "  output_after_sgd_step.npy  [1,2]  output after one torch.optim.SGD(lr=0.01) step (no momentum,",
        "                             no weight decay: p <- p - 0.01 * grad for every parameter)",
        f"  loss_after_sgd_step.npy    ()     L1 loss on the same input after the step = {float(loss_after):.6f}",
        f"                             (lower than before, as in the seed's run: 1.3043 -> 1.2574 there)",
        "",
        "Float32 noise, for choosing tolerances: the same computation in float64 (PyTorch, weights widened)",
        f"gives loss {float(loss64):.9f} vs {float(loss):.9f}; max |g32 - g64| / max |g64| per gradient:",
        *[f"  {k:<14} {noise[k]:.2e}" for k in grads],
        f"Kink margins: min |ReLU input| over all four ReLUs = {relu_margin:.3e}; "
        f"min |output - target| = {l1_margin:.3e}",
        "(no activation or L1 difference sits close enough to 0 for float32 rounding to flip a subgradient).",
        "",
    ]
    write_readme(d, lines)
    print(f"simple-net-l1: loss {float(loss):.6f} -> after SGD(lr=0.01) {float(loss_after):.6f}; "
          f"max grad noise {max(noise.values()):.1e} -> {d}", flush=True)
    return float(loss), float(loss_after)


# ---------------------------------------------------------------------------------------------------
# 2. mnist-cnn-ce: MnistCnn in training mode, cross-entropy, batch 8
# ---------------------------------------------------------------------------------------------------

MNIST_SEED = 20          # torch.manual_seed before building MnistCnn (PyTorch default init)
MNIST_BN_SEED = 21       # make_golden.randomize_batchnorm seed (non-trivial BN stats and affine params)
MNIST_INPUT_SEED = 22    # torch.Generator for the input batch
MNIST_LABEL_SEED = 23    # torch.Generator for the labels
MNIST_BATCH = 8


def make_mnist_cnn_ce(out_root):
    d = os.path.join(out_root, "mnist-cnn-ce")
    fresh_dir(d)

    torch.manual_seed(MNIST_SEED)
    model = mg.MnistCnn()
    mg.randomize_batchnorm(model, MNIST_BN_SEED)
    weights = {k: t2n(v).copy() for k, v in model.state_dict().items() if v.is_floating_point()}
    nbt_before = int(model.bn1.num_batches_tracked)

    x = torch.randn((MNIST_BATCH, 1, 28, 28), generator=torch.Generator().manual_seed(MNIST_INPUT_SEED))
    labels = torch.randint(0, 10, (MNIST_BATCH,), generator=torch.Generator().manual_seed(MNIST_LABEL_SEED),
                           dtype=torch.int64)

    # Capture the ReLU input (BatchNorm output) and the MaxPool input for the margin report.
    captured = {}
    hooks = [model.bn1.register_forward_hook(lambda m, i, o: captured.__setitem__("bn", o.detach().clone())),
             model.pool.register_forward_hook(lambda m, i, o: captured.__setitem__("pool_in", i[0].detach().clone()))]

    def run(m, xin):
        m.train()                       # BatchNorm uses the batch statistics and updates running stats
        xin = xin.clone().requires_grad_(True)
        m.zero_grad()
        logits = m(xin)
        loss = F.cross_entropy(logits, labels)   # mean over the batch
        loss.backward()
        return xin, logits, loss

    xg, logits, loss = run(model, x)
    for h in hooks:
        h.remove()
    grads = {k: t2n(p.grad).copy() for k, p in model.named_parameters()}
    grad_input = t2n(xg.grad).copy()

    # Running statistics after the one training-mode forward; check PyTorch's formula independently.
    rm_after = t2n(model.bn1.running_mean).copy()
    rv_after = t2n(model.bn1.running_var).copy()
    with torch.no_grad():
        conv = t2n(model.conv1(x)).astype(np.float64)   # conv1 unchanged (no optimizer step)
    bmean = conv.mean(axis=(0, 2, 3))
    bvar_unbiased = conv.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(rm_after, 0.9 * weights["bn1.running_mean"] + 0.1 * bmean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv_after, 0.9 * weights["bn1.running_var"] + 0.1 * bvar_unbiased,
                               rtol=1e-5, atol=1e-6)
    assert int(model.bn1.num_batches_tracked) == nbt_before + 1

    # float64 twin for the noise report.
    m64 = mg.MnistCnn()   # its own init is overwritten with the initial (pre-forward) weights
    with torch.no_grad():
        for k, v in m64.state_dict().items():
            if k in weights:
                v.copy_(torch.from_numpy(weights[k]))
    m64 = m64.double()
    hook64 = m64.bn1.register_forward_hook(lambda m, i, o: captured.__setitem__("bn64", o.detach().clone()))
    xg64, logits64, loss64 = run(m64, x.double())
    hook64.remove()
    noise = {k: rel_err(grads[k], t2n(p.grad)) for k, p in m64.named_parameters() if k != "conv1.bias"}
    noise["input"] = rel_err(grad_input, t2n(xg64.grad))
    cb64 = float(np.abs(t2n(m64.conv1.bias.grad)).max())

    relu_margin = float(captured["bn"].abs().min())
    relu_noise = float((captured["bn"].double() - captured["bn64"]).abs().max())
    pool_gap = maxpool2_gap(t2n(captured["pool_in"]))

    for k, v in weights.items():
        save_f32(os.path.join(d, "weights", k + ".npy"), v)
    save_f32(os.path.join(d, "input.npy"), t2n(x))
    save_i64(os.path.join(d, "labels.npy"), t2n(labels))
    save_f32(os.path.join(d, "logits.npy"), t2n(logits))
    save_f32(os.path.join(d, "loss.npy"), t2n(loss))
    for k, g in grads.items():
        save_f32(os.path.join(d, "grad", k + ".npy"), g)
    save_f32(os.path.join(d, "grad", "input.npy"), grad_input)
    save_f32(os.path.join(d, "after", "bn1.running_mean.npy"), rm_after)
    save_f32(os.path.join(d, "after", "bn1.running_var.npy"), rv_after)

    cb = grads["conv1.bias"]
    lines = [
        "mnist-cnn-ce: the seed's section 10 MNIST CNN, one training-mode forward/backward, cross-entropy",
        "",
        "Generated by testdata/scripts/make_training_golden.py; do not edit by hand. Regenerate with",
        f"    {REGEN}",
        versions(),
        "",
        "Network: make_golden.MnistCnn, in TRAINING mode (model.train()):",
        "  input [8,1,28,28] -> conv1 Conv2d(1,32,5,padding=2) -> bn1 BatchNorm2d(32) (eps 1e-5, momentum 0.1,",
        "  normalizes with the BATCH mean and the BIASED batch variance over N,H,W) -> relu -> pool MaxPool2d(2)",
        "  -> flatten(1) [8,6272] -> fc Linear(6272,10) -> logits [8,10]",
        "Loss: torch.nn.functional.cross_entropy(logits, labels), reduction mean over the 8 samples.",
        "",
        f"Weights: torch.manual_seed({MNIST_SEED}) then MnistCnn() (PyTorch's default init), then",
        f"  make_golden.randomize_batchnorm(model, {MNIST_BN_SEED}): bn1.running_mean U(-0.5,0.5), running_var",
        "  U(0.5,2), weight U(0.5,1.5), bias U(-0.5,0.5). All stored, as they were BEFORE the forward pass.",
        f"Input: torch.randn(8,1,28,28, generator=torch.Generator().manual_seed({MNIST_INPUT_SEED})).",
        f"Labels: torch.randint(0,10,(8,), generator=torch.Generator().manual_seed({MNIST_LABEL_SEED})) = "
        f"{t2n(labels).tolist()}.",
        "",
        "Files (float32 unless stated):",
        *[f"  weights/{k}.npy  {list(v.shape)}" for k, v in weights.items()],
        "  input.npy       [8,1,28,28]",
        "  labels.npy      int64 [8]",
        "  logits.npy      [8,10]  training-mode forward output",
        f"  loss.npy        ()      cross-entropy = {float(loss):.6f}",
        *[f"  grad/{k}.npy  {list(g.shape)}" for k, g in grads.items()],
        "  grad/input.npy  [8,1,28,28]  d loss / d input",
        "  after/bn1.running_mean.npy [32]  = 0.9 * running_mean + 0.1 * batch_mean",
        "  after/bn1.running_var.npy  [32]  = 0.9 * running_var + 0.1 * batch_var_UNBIASED",
        "                                 (batch variance over N*H*W = 6272 values with divisor 6271; the",
        "                                 normalization itself uses the biased one, divisor 6272)",
        "  (bn1.num_batches_tracked goes from 0 to 1; it is an int64 counter and is not written.)",
        "",
        "Notes for test writers:",
        "  * grad/conv1.bias.npy is mathematically ZERO: a per-channel constant added before a training-mode",
        "    BatchNorm is removed by the mean subtraction. PyTorch's float32 values are rounding noise",
        f"    (max |g| = {float(np.abs(cb).max()):.2e}, vs max |grad/conv1.weight| = "
        f"{float(np.abs(grads['conv1.weight']).max()):.2e}); compare it with an absolute tolerance only.",
        "  * MaxPool's gradient goes to the argmax of each 2x2 window; ReLU's to positive inputs only.",
        f"    Min |ReLU input| = {relu_margin:.3e}; min (max - second max) over pooling windows with a",
        f"    positive max = {pool_gap:.3e}. Those are the kink margins: a float32 implementation could only",
        "    route a gradient differently where its values differ from PyTorch's by more than that; PyTorch's",
        f"    own float32 ReLU inputs differ from float64 by at most {relu_noise:.1e}. (Among 200,704 ReLU",
        "    inputs the smallest is necessarily near 0; one flipped ReLU or argmax would change a few",
        "    elements of grad/input locally and the parameter gradients only slightly.)",
        "",
        "Float32 noise: the same computation in float64 (PyTorch, weights and input widened) gives loss",
        f"{float(loss64):.9f} vs {float(loss):.9f}; max |g32 - g64| / max |g64| per gradient:",
        *[f"  {k:<14} {v:.2e}" for k, v in noise.items()],
        f"  conv1.bias     exact value 0: max |g32| = {float(np.abs(cb).max()):.2e}, max |g64| = {cb64:.2e}",
        "",
    ]
    write_readme(d, lines)
    print(f"mnist-cnn-ce: cross-entropy {float(loss):.6f} (batch 8, training-mode BN); "
          f"max grad noise (excluding conv1.bias) {max(noise.values()):.1e} "
          f"-> {d}", flush=True)
    return float(loss)


# ---------------------------------------------------------------------------------------------------
# 3. optimizers: TinyNet, two steps per optimizer config, and two LR schedules
# ---------------------------------------------------------------------------------------------------

class TinyNet(nn.Module):
    """The optimizer test network (151 parameters), with Forge-style layer names conv1 and fc.

    input [N,1,8,8] -> conv1 Conv2d(1,4,3) (no padding, stride 1) -> [N,4,6,6] -> relu
    -> MaxPool2d(2) -> [N,4,3,3] -> flatten(1) -> [N,36] -> fc Linear(36,3) -> logits [N,3]
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 3 * 3, 3)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        return self.fc(torch.flatten(x, 1))


TINY_SEED = 30           # torch.manual_seed before TinyNet() (PyTorch default init)
TINY_INPUT_SEED = 31     # torch.Generator for the input batch
TINY_LABEL_SEED = 32     # torch.Generator for the labels
TINY_BATCH = 4

# name -> (optimizer class, keyword arguments). Everything not given is PyTorch's default.
OPTIMIZER_CONFIGS = {
    "sgd": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_wd": (torch.optim.SGD, dict(lr=0.1, weight_decay=0.01)),
    "momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    "rmsprop": (torch.optim.RMSprop, dict(lr=0.01)),
    "adagrad": (torch.optim.Adagrad, dict(lr=0.1)),
    "adam": (torch.optim.Adam, dict(lr=0.01)),
    "adam_wd": (torch.optim.Adam, dict(lr=0.01, weight_decay=0.01)),
    "adamw": (torch.optim.AdamW, dict(lr=0.01, weight_decay=0.01)),
}

# The update each config performs, per parameter p with gradient g, step t = 1, 2 (for README.txt).
# This is PyTorch 1.13's single-tensor implementation (foreach=False is its default on CPU).
OPTIMIZER_FORMULAS = {
    "sgd": ["p <- p - lr*g"],
    "sgd_wd": ["g <- g + wd*p  (L2 added to the gradient, biases included)", "p <- p - lr*g"],
    "momentum": ["t=1: b <- g   (the buffer starts as a copy of the gradient: dampening is not applied on",
                 "              the first step; with dampening 0, as here, b = 0 + g gives the same)",
                 "t>1: b <- 0.9*b + g   (dampening 0)", "p <- p - lr*b"],
    "nesterov": ["t=1: b <- g;  t>1: b <- 0.9*b + g", "p <- p - lr*(g + 0.9*b)   (so step 1 moves by lr*1.9*g)"],
    "rmsprop": ["alpha 0.99, eps 1e-8, no momentum, not centered; s starts at 0",
                "s <- 0.99*s + 0.01*g^2",
                "p <- p - lr * g / (sqrt(s) + eps)   (eps OUTSIDE the sqrt; no bias correction, so",
                "    step 1 moves by about lr*g/(0.1*|g|) = 10*lr = 0.1 per element)"],
    "adagrad": ["eps 1e-10, lr_decay 0, initial_accumulator_value 0: a starts at 0",
                "a <- a + g^2", "p <- p - lr * g / (sqrt(a) + eps)   (step 1 moves by about lr*sign(g))"],
    "adam": ["beta1 0.9, beta2 0.999, eps 1e-8, amsgrad False; m, v start at 0",
             "m <- 0.9*m + 0.1*g;  v <- 0.999*v + 0.001*g^2",
             "p <- p - (lr / (1 - 0.9^t)) * m / (sqrt(v) / sqrt(1 - 0.999^t) + eps)",
             "    (eps is added AFTER the bias correction of sqrt(v): = lr*m_hat/(sqrt(v_hat)+eps); NOT the",
             "    'efficient' form lr*sqrt(1-0.999^t)/(1-0.9^t) * m/(sqrt(v)+eps), which scales eps by",
             "    1/sqrt(1-0.999^t) ~ 22 at t=2; that difference is visible only where |g| ~ 1e-7)"],
    "adam_wd": ["Adam with L2: g <- g + wd*p BEFORE the moments (coupled; wd=0.01), then as adam"],
    "adamw": ["p <- p * (1 - lr*wd)   (decoupled decay first, on the old p; wd=0.01), then the adam update",
              "with the plain gradient"],
}


def reference_updates(name, kwargs, p, grads):
    """The update rules of OPTIMIZER_FORMULAS in float64 numpy; returns the parameter after each step."""
    lr = kwargs["lr"]
    wd = kwargs.get("weight_decay", 0.0)
    out = []
    buf = m = v = None
    for t, g in enumerate(grads, start=1):
        if name == "adamw":
            p = p * (1 - lr * wd)
        elif wd:
            g = g + wd * p
        if name == "sgd" or name == "sgd_wd":
            p = p - lr * g
        elif name in ("momentum", "nesterov"):
            buf = g.copy() if buf is None else 0.9 * buf + g
            p = p - lr * (g + 0.9 * buf if name == "nesterov" else buf)
        elif name == "rmsprop":
            v = 0.01 * g * g if v is None else 0.99 * v + 0.01 * g * g
            p = p - lr * g / (np.sqrt(v) + 1e-8)
        elif name == "adagrad":
            v = g * g if v is None else v + g * g
            p = p - lr * g / (np.sqrt(v) + 1e-10)
        elif name in ("adam", "adam_wd", "adamw"):
            m = 0.1 * g if m is None else 0.9 * m + 0.1 * g
            v = 0.001 * g * g if v is None else 0.999 * v + 0.001 * g * g
            p = p - (lr / (1 - 0.9 ** t)) * m / (np.sqrt(v) / math.sqrt(1 - 0.999 ** t) + 1e-8)
        else:
            raise ValueError(name)
        out.append(p)
    return out


def tiny_loss(model, x, labels):
    return F.cross_entropy(model(x), labels)


def make_optimizers(out_root):
    d = os.path.join(out_root, "optimizers")
    fresh_dir(d)

    torch.manual_seed(TINY_SEED)
    init_model = TinyNet()
    init = {k: t2n(v).copy() for k, v in init_model.state_dict().items()}
    x = torch.randn((TINY_BATCH, 1, 8, 8), generator=torch.Generator().manual_seed(TINY_INPUT_SEED))
    labels = torch.randint(0, 3, (TINY_BATCH,), generator=torch.Generator().manual_seed(TINY_LABEL_SEED),
                           dtype=torch.int64)

    for k, v in init.items():
        save_f32(os.path.join(d, "weights", k + ".npy"), v)
    save_f32(os.path.join(d, "input.npy"), t2n(x))
    save_i64(os.path.join(d, "labels.npy"), t2n(labels))

    # Gradient at the initial weights (the same first gradient for every config).
    init_model.zero_grad()
    loss0 = tiny_loss(init_model, x, labels)
    loss0.backward()
    for k, p in init_model.named_parameters():
        save_f32(os.path.join(d, "grad", k + ".npy"), t2n(p.grad))

    def margins(model):
        with torch.no_grad():
            z = model.conv1(x)
        return float(z.abs().min()), maxpool2_gap(t2n(F.relu(z)))

    summary = []
    min_abs_grad = float("inf")   # smallest nonzero |g| seen by a sign-like (adaptive) first step
    worst_margin = (float("inf"), float("inf"))
    for name, (cls, kwargs) in OPTIMIZER_CONFIGS.items():
        model = TinyNet()
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in init.items()})
        opt = cls(model.parameters(), **kwargs)
        losses = []
        seen_grads, params_after = [], []
        for step in (1, 2):
            rm, pg = margins(model)
            worst_margin = (min(worst_margin[0], rm), min(worst_margin[1], pg))
            opt.zero_grad()
            loss = tiny_loss(model, x, labels)
            loss.backward()
            for p in model.parameters():
                g = t2n(p.grad).reshape(-1)
                nz = np.abs(g[g != 0])
                if nz.size:
                    min_abs_grad = min(min_abs_grad, float(nz.min()))
            seen_grads.append({k: t2n(p.grad).astype(np.float64) for k, p in model.named_parameters()})
            opt.step()
            losses.append(float(loss))
            params_after.append({k: t2n(p).copy() for k, p in model.named_parameters()})
            for k, v in model.state_dict().items():
                save_f32(os.path.join(d, name, f"step{step}", k + ".npy"), t2n(v))
        save_f32(os.path.join(d, name, "losses.npy"), np.array(losses))
        with torch.no_grad():
            loss3 = float(tiny_loss(model, x, labels))
        summary.append((name, kwargs, losses, loss3))
        # The formulas written in README.txt, replayed in float64 on PyTorch's own gradients, must give
        # PyTorch's parameters (to float32 rounding).
        for k in init:
            ref = reference_updates(name, kwargs, init[k].astype(np.float64), [g[k] for g in seen_grads])
            for step_ref, step_torch in zip(ref, params_after):
                np.testing.assert_allclose(step_torch[k], step_ref, rtol=1e-5, atol=1e-6,
                                           err_msg=f"{name} {k}")

    # Adaptive methods take a step of about lr*sign(g) on step 1: a gradient element within float32 noise
    # of zero would make the result depend on rounding. Insist on a clear margin.
    assert min_abs_grad > 1e-6, min_abs_grad
    assert worst_margin[0] > 2e-5 and worst_margin[1] > 2e-5, worst_margin

    # Learning-rate schedules: the lr in effect during epochs 0..7, starting from lr 0.1.
    def schedule(make):
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
        sched = make(opt)
        lrs = []
        for _ in range(8):
            lrs.append(opt.param_groups[0]["lr"])   # lr used for this epoch
            opt.step()                              # (an epoch of training would go here)
            sched.step()
        return lrs

    step_lrs = schedule(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5))
    cos_lrs = schedule(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0))
    closed = [0.05 * (1 + math.cos(math.pi * e / 5)) for e in range(8)]
    assert max(abs(a - b) for a, b in zip(cos_lrs, closed)) < 1e-12
    save_f32(os.path.join(d, "schedules", "step.npy"), step_lrs)
    save_f32(os.path.join(d, "schedules", "cosine.npy"), cos_lrs)

    lines = [
        "optimizers: two optimizer steps on a tiny CNN for nine PyTorch optimizer configs, and two LR schedules",
        "",
        "Generated by testdata/scripts/make_training_golden.py; do not edit by hand. Regenerate with",
        f"    {REGEN}",
        versions(),
        "",
        "Network TinyNet (defined in the script; 151 parameters; layer names conv1, fc):",
        "  input [4,1,8,8] -> conv1 Conv2d(1,4,3) (stride 1, no padding) [4,4,6,6] -> relu",
        "  -> MaxPool2d(2) [4,4,3,3] -> flatten(1) [4,36] (row-major C,H,W) -> fc Linear(36,3) -> logits [4,3]",
        "Loss: torch.nn.functional.cross_entropy(logits, labels), mean over the batch of 4.",
        f"Weights: torch.manual_seed({TINY_SEED}) then TinyNet() (PyTorch's default init).",
        f"Input: torch.randn(4,1,8,8, generator=torch.Generator().manual_seed({TINY_INPUT_SEED})).",
        f"Labels: torch.randint(0,3,(4,), generator=torch.Generator().manual_seed({TINY_LABEL_SEED})) = "
        f"{t2n(labels).tolist()}.",
        "",
        "Files (float32 unless stated):",
        "  weights/<key>.npy   initial parameters: conv1.weight [4,1,3,3], conv1.bias [4], fc.weight [3,36], fc.bias [3]",
        "  input.npy [4,1,8,8]; labels.npy int64 [4]",
        f"  grad/<key>.npy      gradient at the initial weights (the first gradient of every config); loss there "
        f"{float(loss0):.6f}",
        "  <config>/step1/<key>.npy  parameters after the first optimizer.step()",
        "  <config>/step2/<key>.npy  parameters after the second optimizer.step()",
        "  <config>/losses.npy  [2]  the loss computed in step 1 (at the initial weights) and in step 2 (at the",
        "                            step-1 weights), i.e. the value that was backpropagated in each step",
        "Each step is, on the SAME batch: optimizer.zero_grad(); loss = cross_entropy(model(input), labels);",
        "loss.backward(); optimizer.step(). One optimizer instance is used for both steps (its state carries",
        "over). Weight decay, when given, applies to every parameter, biases included.",
        "",
        "Configs (PyTorch defaults unless given) and losses [step 1, step 2] (and after step 2):",
    ]
    for name, kwargs, losses, loss3 in summary:
        cls = OPTIMIZER_CONFIGS[name][0].__name__
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        lines.append(f"  {name:<9} torch.optim.{cls}({args})   losses {losses[0]:.6f}, {losses[1]:.6f} "
                     f"(after step 2: {loss3:.6f})")
        for f_line in OPTIMIZER_FORMULAS[name]:
            lines.append(f"              {f_line}")
    lines += [
        "  (t counts steps from 1; every formula is elementwise. In float32, PyTorch evaluates Adam as",
        "   denom = sqrt(v) / sqrt(1 - 0.999^t) + eps, then p += -(lr / (1 - 0.9^t)) * m / denom; the bias",
        "   corrections and the step size are computed in double on the host and used as scalars.)",
        "",
        "Expect these coincidences; they are PyTorch's semantics, not bugs in the files:",
        "  * momentum/step1 == sgd/step1 (the buffer starts as the gradient), so their step-2 losses agree.",
        "  * The adaptive methods' first step is ~lr_eff*sign(g): rmsprop moves lr*g/(sqrt(0.01 g^2)+eps)",
        "    ~ 0.1*sign(g) and adagrad lr*g/(|g|+eps) = 0.1*sign(g), so rmsprop/step1 and adagrad/step1 differ",
        "    by < 1e-5 (eps and rounding) and their step-2 losses agree to 6 digits; adam, adam_wd and adamw move",
        "    ~0.01*sign(g) on step 1 (weight decay 0.01 barely changes that). Step 2 tells them apart.",
        "",
        f"Margins: smallest nonzero |gradient element| met in any step = {min_abs_grad:.3e} (the adaptive",
        "optimizers' first step is about lr*sign(g), so a gradient within rounding noise of 0 would make it",
        f"ill-defined); min |ReLU input| = {worst_margin[0]:.3e}; min MaxPool (max - second max) = "
        f"{worst_margin[1]:.3e}.",
        "",
        "Learning-rate schedules (torch.optim.lr_scheduler on an SGD optimizer with lr 0.1): the lr in effect",
        "during epochs 0..7, read from optimizer.param_groups[0]['lr'] before each epoch; scheduler.step()",
        "after each epoch. Stored as float32 [8]; the exact double values PyTorch produced are:",
        "  schedules/step.npy    StepLR(step_size=2, gamma=0.5):  lr_e = 0.1 * 0.5^floor(e/2)",
        "      " + ", ".join(repr(v) for v in step_lrs),
        "  schedules/cosine.npy  CosineAnnealingLR(T_max=5, eta_min=0):  lr_e = 0.05 * (1 + cos(pi*e/5))",
        "      " + ", ".join(repr(v) for v in cos_lrs),
        "      (PyTorch computes it recursively; it agrees with the closed form above to 1e-12. Past T_max",
        "      the schedule does not stay at eta_min: it rises again along the cosine, epochs 6 and 7.)",
        "",
    ]
    write_readme(d, lines)
    print(f"optimizers: {len(OPTIMIZER_CONFIGS)} configs x 2 steps, initial loss {float(loss0):.6f}, "
          f"schedules step+cosine -> {d}", flush=True)


# ---------------------------------------------------------------------------------------------------
# 4. losses: value and input gradient of four loss functions on hand-written tensors
# ---------------------------------------------------------------------------------------------------

# All values are dyadic fractions, hence exact in float32. Row by row, what each one exercises:
LOSS_CASES = {
    "cross_entropy": dict(
        fn=lambda x, t: F.cross_entropy(x, t),
        input=[[1.5, -0.25, 0.0],      # an input exactly 0
               [2.0, 2.0, -1.0],       # an exact tie between the two largest logits (smooth: no ambiguity)
               [-3.0, 0.5, 4.25],      # the target class has the smallest logit: large loss
               [12.0, -7.5, 0.75]],    # large margin: softmax ~ one-hot, loss ~ 1e-5
        target=np.array([2, 1, 0, 0], dtype=np.int64),
        doc="F.cross_entropy(input, target): mean over the 4 rows of -log_softmax(input)[n, target[n]];"
            " target int64 class indices; grad = (softmax(input) - onehot(target)) / 4"),
    "l1_loss": dict(
        fn=lambda x, t: F.l1_loss(x, t),
        input=[[0.0, 1.25, -2.5],
               [0.75, -0.5, 3.0],
               [-1.0, 0.125, 2.0],
               [0.5, -3.25, 1.5]],
        target=[[0.5, 1.0, -2.0],
                [0.0, 0.25, 3.5],
                [-1.5, -0.375, 2.25],
                [1.0, -3.0, 0.0]],
        doc="F.l1_loss(input, target): mean over all 12 elements of |input - target|;"
            " grad = sign(input - target) / 12. No element has input == target (see below)"),
    "mse_loss": dict(
        fn=lambda x, t: F.mse_loss(x, t),
        input=[[0.0, 1.25, -2.5],
               [0.75, -0.5, 3.0],
               [-1.0, 0.125, 2.0],
               [0.5, -3.25, 1.5]],
        target=[[0.5, 1.0, -2.0],
                [0.0, 0.25, 3.0],      # [1,2]: input == target exactly (gradient exactly 0, unambiguous)
                [-1.5, -0.375, 2.25],
                [1.0, -3.0, 0.0]],
        doc="F.mse_loss(input, target): mean over all 12 elements of (input - target)^2;"
            " grad = 2 * (input - target) / 12"),
    "binary_cross_entropy_with_logits": dict(
        fn=lambda x, t: F.binary_cross_entropy_with_logits(x, t),
        input=[[0.0, 2.5, -1.25],      # logit exactly 0 (sigmoid 0.5)
               [-30.0, 25.0, 0.5],     # large logits with the opposite target: loss ~30 and ~25
               [1.0, -0.75, 3.0],
               [-4.0, 0.25, -0.5]],
        target=[[0.0, 1.0, 0.5],
                [1.0, 0.0, 0.25],
                [0.75, 1.0, 0.0],
                [0.125, 0.5, 1.0]],   # soft targets in [0,1], including exactly 0 and 1
        doc="F.binary_cross_entropy_with_logits(input, target): mean over all 12 elements of"
            " max(x,0) - x*t + log(1 + exp(-|x|)); float targets in [0,1]; grad = (sigmoid(x) - t) / 12"),
}


def make_losses(out_root):
    d = os.path.join(out_root, "losses")
    fresh_dir(d)
    lines = [
        "losses: PyTorch's value and input gradient of four loss functions on small hand-written tensors",
        "",
        "Generated by testdata/scripts/make_training_golden.py; do not edit by hand. Regenerate with",
        f"    {REGEN}",
        versions(),
        "",
        "For each <name>: <name>/input.npy float32 [4,3], <name>/target.npy (int64 [4] for cross_entropy,",
        "float32 [4,3] otherwise), <name>/loss.npy float32 () (reduction 'mean'), <name>/grad.npy float32 [4,3]",
        "= d loss / d input (autograd). Every input and target value is a dyadic fraction, exact in float32;",
        "the script lists them with comments on what each row exercises.",
        "",
    ]
    summary = []
    for name, case in LOSS_CASES.items():
        x = torch.tensor(case["input"], dtype=torch.float32, requires_grad=True)
        tgt = case["target"]
        t = torch.from_numpy(tgt) if isinstance(tgt, np.ndarray) else torch.tensor(tgt, dtype=torch.float32)
        loss = case["fn"](x, t)
        loss.backward()
        # float64 twin
        x64 = x.detach().double().requires_grad_(True)
        t64 = t if t.dtype == torch.int64 else t.double()
        loss64 = case["fn"](x64, t64)
        loss64.backward()
        assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
        sub = os.path.join(d, name)
        save_f32(os.path.join(sub, "input.npy"), t2n(x))
        if t.dtype == torch.int64:
            save_i64(os.path.join(sub, "target.npy"), t2n(t))
        else:
            save_f32(os.path.join(sub, "target.npy"), t2n(t))
        save_f32(os.path.join(sub, "loss.npy"), t2n(loss))
        save_f32(os.path.join(sub, "grad.npy"), t2n(x.grad))
        lines += [
            f"{name}: loss = {float(loss):.9g} (float64: {float(loss64):.12g}; grad max rel. diff "
            f"{rel_err(t2n(x.grad), t2n(x64.grad)):.1e})",
            f"  {case['doc']}",
            f"  input  = {t2n(x).tolist()}",
            f"  target = {t2n(t).tolist()}",
            "",
        ]
        summary.append(f"{name} {float(loss):.6g}")
    lines += [
        "Why these values:",
        "  * Inputs exactly 0 (cross_entropy [0,2], l1_loss input [0,0], binary_cross_entropy_with_logits",
        "    [0,0]) and an exact tie in cross_entropy row 1: these functions are smooth there, so the value and",
        "    gradient are unambiguous and any correct implementation must match.",
        "  * l1_loss has NO element with input == target: |d| has no derivative at d = 0 and implementations",
        "    legitimately differ there (PyTorch uses sign(0) = 0, an ONNX Sign-based rule gives 0 too, but a",
        "    Greater/Where-based rule gives +1 or -1), so such an element would test a convention, not",
        "    correctness. Its zeros are in input [0,0] and target [1,0], [3,2], never at the same place.",
        "  * mse_loss has one exact zero difference ([1,2]): its gradient there is exactly 0, unambiguously.",
        "  * binary_cross_entropy_with_logits row 1 has logits -30 (target 1) and 25 (target 0): in float32",
        "    1 - sigmoid(25) == 0, so a naive -t*log(sigmoid(x)) - (1-t)*log(1 - sigmoid(x)) gives inf there;",
        "    PyTorch's stable form max(x,0) - x*t + log(1 + exp(-|x|)) gives ~30 and ~25.",
        "  * cross_entropy row 3 (logit 12 for the target) checks the log-sum-exp path: a loss of ~1e-5",
        "    with gradients of the same size.",
        "",
    ]
    write_readme(d, lines)
    print(f"losses: {'; '.join(summary)} -> {d}", flush=True)


# ---------------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="output directory (default: testdata/golden-training next to this script)")
    args = parser.parse_args(argv)
    out_root = os.path.abspath(args.out)
    os.makedirs(out_root, exist_ok=True)

    l_before, l_after = make_simple_net_l1(out_root)
    l_ce = make_mnist_cnn_ce(out_root)
    make_optimizers(out_root)
    make_losses(out_root)

    write_readme(out_root, [
        "golden-training: PyTorch oracles for Forge's training code (autodiff, losses, optimizers, schedules)",
        "",
        "Generated by testdata/scripts/make_training_golden.py; do not edit by hand. Regenerate with",
        f"    {REGEN}",
        versions(),
        "",
        "  simple-net-l1/  SimpleNet (seed section 9), formula weights, L1 loss, gradients, one SGD step",
        f"                  loss {l_before:.6f} -> {l_after:.6f} after SGD(lr=0.01)",
        f"  mnist-cnn-ce/   MnistCnn (seed section 10) in training mode, cross-entropy {l_ce:.6f}, gradients,",
        "                  input gradient, BatchNorm running statistics after the forward pass",
        "  optimizers/     TinyNet, two steps of each of nine optimizer configs; StepLR and CosineAnnealingLR",
        "  losses/         cross_entropy, l1_loss, mse_loss, binary_cross_entropy_with_logits: value and gradient",
        "Each directory's README.txt lists its files, shapes, seeds and formulas.",
        "All .npy: numpy format 1.0, little endian, C order; float32 unless the README says int64/float64.",
        "",
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
