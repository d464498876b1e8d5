#!/usr/bin/env python3
"""PyTorch side of Forge's performance comparison (benchmarks/torch/run_torch.sh runs it).

Measures the same workloads as dev.forge.bench.Compare and prints one JSON object per line on stdout
(diagnostics go to stderr). The networks are those of testdata/scripts/make_golden.py.

  --env                                   the environment: torch version, threads, the BLAS library loaded
  --workload infer --model M --batch B    eval-mode inference under torch.inference_mode(); batch 1 prints
                                          latency percentiles (ms), larger batches the median images/s
  --workload train_step --model M --batch B --optimizer adam|momentum
                                          zero_grad + forward + cross-entropy + backward + step on a fixed batch
  --workload mnist_epoch [--epochs N]     the seed's MNIST recipe from the IDX files Forge caches
                                          (~/.cache/forge/mnist): seconds including loading and evaluation
  --export-onnx DIR                       PyTorch's own ONNX export (opset 17) and weights of each network
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "testdata", "scripts"))
import make_golden  # noqa: E402  (the seed's networks in PyTorch)

NETS = {"simple-net": lambda: make_golden.SimpleNet(1, 2), "mnist-cnn": make_golden.MnistCnn,
        "cifar10-net": lambda: make_golden.SimpleNet(3, 10)}
SHAPES = {"simple-net": (1, 32, 32), "mnist-cnn": (1, 28, 28), "cifar10-net": (3, 32, 32)}
CLASSES = {"simple-net": 2, "mnist-cnn": 10, "cifar10-net": 10}


# Debian's torch reports one intra-op thread even with OMP_NUM_THREADS set (OpenBLAS still uses
# OMP_NUM_THREADS threads inside its GEMMs). TORCH_THREADS sets torch's own intra-op threads; the
# comparison uses PyTorch's faster configuration (see benchmarks/torch/README.md).
if os.environ.get("TORCH_THREADS"):
    torch.set_num_threads(int(os.environ["TORCH_THREADS"]))


def emit(obj):
    print(json.dumps(obj), flush=True)


def blas_loaded():
    torch.mm(torch.randn(64, 64), torch.randn(64, 64))
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            if "blas" in line or "lapack" in line:
                libs.add(line.split()[-1])
    return sorted(libs)


def build(name, seed=0):
    torch.manual_seed(seed)
    return NETS[name]()


def timed_blocks(fn, items, seconds, block=0.25):
    """Median items/s over timed blocks of about `block` seconds, after a warm-up of 30% of the budget."""
    end = time.perf_counter() + 0.3 * seconds
    while time.perf_counter() < end:
        fn()
    rates = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(rates) < 3:
        t0 = time.perf_counter_ns()
        calls = 0
        while time.perf_counter_ns() - t0 < block * 1e9 or calls == 0:
            fn()
            calls += 1
        rates.append(calls * items / ((time.perf_counter_ns() - t0) / 1e9))
    return float(np.median(rates)), len(rates)


def infer(name, batch, seconds):
    model = build(name).eval()
    x = torch.randn(batch, *SHAPES[name])
    with torch.inference_mode():
        if batch == 1:
            end = time.perf_counter() + 0.3 * seconds
            while time.perf_counter() < end:
                model(x)
            ms = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end or len(ms) < 20:
                t0 = time.perf_counter_ns()
                model(x)
                ms.append((time.perf_counter_ns() - t0) / 1e6)
            p = np.percentile(ms, [50, 90, 99])
            emit({"workload": "infer", "model": name, "batch": 1, "metric": "latency_ms", "p50": p[0], "p90": p[1],
                  "p99": p[2], "samples": len(ms)})
        else:
            rate, n = timed_blocks(lambda: model(x), batch, seconds)
            emit({"workload": "infer", "model": name, "batch": batch, "metric": "images_per_s", "median": rate,
                  "samples": n})


def make_optimizer(name, params):
    if name == "adam":
        return torch.optim.Adam(params, lr=0.01)
    if name == "momentum":
        return torch.optim.SGD(params, lr=0.0001, momentum=0.9)
    raise SystemExit("unknown optimizer " + name)


def train_step(name, batch, optimizer, seconds):
    model = build(name).train()
    opt = make_optimizer(optimizer, model.parameters())
    x = torch.randn(batch, *SHAPES[name])
    y = torch.arange(batch) % CLASSES[name]

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    rate, n = timed_blocks(step, batch, seconds)
    emit({"workload": "train_step", "model": name, "optimizer": optimizer, "batch": batch, "metric": "images_per_s",
          "median": rate, "samples": n})


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist_epoch(epochs):
    """The seed's recipe: shuffled batches of 64, Adam 0.01, cross-entropy, then the test set."""
    t0 = time.perf_counter()
    cache = os.path.join(os.environ.get("FORGE_CACHE", os.path.expanduser("~/.cache/forge")), "mnist")
    xs = torch.from_numpy(read_idx(os.path.join(cache, "train-images-idx3-ubyte")).astype(np.float32) / 255.0).unsqueeze(1)
    ys = torch.from_numpy(read_idx(os.path.join(cache, "train-labels-idx1-ubyte")).astype(np.int64))
    xt = torch.from_numpy(read_idx(os.path.join(cache, "t10k-images-idx3-ubyte")).astype(np.float32) / 255.0).unsqueeze(1)
    yt = torch.from_numpy(read_idx(os.path.join(cache, "t10k-labels-idx1-ubyte")).astype(np.int64))
    model = build("mnist-cnn")
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xs), generator=g)
        for i in range(0, len(xs), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(xs[idx]), ys[idx]).backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.inference_mode():
            for i in range(0, len(xt), 1000):
                correct += (model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item()
    seconds = time.perf_counter() - t0
    emit({"workload": "mnist_epoch", "model": "mnist-cnn", "epochs": epochs, "seconds": seconds,
          "accuracy": correct / len(xt), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def export_onnx(out):
    for name in NETS:
        model = build(name).eval()
        d = os.path.join(out, name)
        os.makedirs(os.path.join(d, "weights"), exist_ok=True)
        x = torch.randn(1, *SHAPES[name])
        torch.onnx.export(model, x, os.path.join(d, name + ".onnx"), opset_version=17, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                np.save(os.path.join(d, "weights", k + ".npy"), v.detach().numpy().astype(np.float32))
        print("exported " + name, file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", action="store_true")
    p.add_argument("--workload", choices=["infer", "train_step", "mnist_epoch"])
    p.add_argument("--model", default="mnist-cnn", choices=sorted(NETS))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--export-onnx", metavar="DIR")
    a = p.parse_args()
    if a.env:
        emit({"env": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
              "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "blas": blas_loaded()})
    if a.export_onnx:
        export_onnx(a.export_onnx)
    if a.workload == "infer":
        infer(a.model, a.batch, a.seconds)
    elif a.workload == "train_step":
        train_step(a.model, a.batch, a.optimizer, a.seconds)
    elif a.workload == "mnist_epoch":
        mnist_epoch(a.epochs)


if __name__ == "__main__":
    main()
