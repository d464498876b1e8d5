#!/usr/bin/python3
"""PyTorch peer of Forge's performance comparison: the same workloads as dev.forge.bench.Compare, in PyTorch.

Run it through benchmarks/torch/run_torch.sh (OpenBLAS-openmp, 2 threads); see benchmarks/torch/README.md.
Every line on stdout is one JSON object: first the environment, then one line per measured figure.
Diagnostics and progress go to stderr.

  --list                                      the workloads of the standard suite, one JSON line each
  --env                                       only the environment line (torch, threads, BLAS actually loaded)
  --workload infer --model M --batch 1        eval-mode latency of single calls: p50/p90/p99 ms
  --workload infer --model M --batch 64       eval-mode throughput: median images/s over timed blocks
  --workload train_step --model M --batch B [--optimizer adam|momentum|sgd]
                                              zero_grad + forward + cross-entropy + backward + step on one
                                              fixed batch: median images/s over timed blocks
  --workload mnist_epoch [--epochs N]         the seed's MNIST recipe from Forge's IDX cache: wall seconds
                                              including loading and evaluation, test accuracy, peak RSS
  --workload linear [--batch 64]              one Linear(12544 -> 512) forward (the BLAS-bound layer)
  --workload all                              the whole standard suite (see --list), one line per figure
  --export-onnx DIR                           PyTorch's own ONNX (opset 17, dynamic batch) and the weights
                                              (.npy per state_dict key) of the three networks, for --seed

Networks: simple-net (1x32x32), mnist-cnn (1x28x28), cifar10-net (3x32x32), imported from
testdata/scripts/make_golden.py.
"""

import argparse
import ctypes
import json
import math
import os
import platform
import resource
import sys
import time

# What the caller set, before anything below can change it (make_golden sets OMP_NUM_THREADS=1 by default).
_ENV_KEYS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
             "OPENBLAS_L2_SIZE", "LD_LIBRARY_PATH", "LD_PRELOAD", "GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_",
             "MALLOC_TRIM_THRESHOLD_", "FORGE_TORCH_UNSET")
_CALLER_ENV = {k: os.environ[k] for k in _ENV_KEYS if k in os.environ}
_T_START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

_DEFAULT_THREADS = torch.get_num_threads()

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "..", "testdata", "scripts"))
import make_golden  # noqa: E402  (the seed's networks; its import pins torch to 1 thread and determinism)

# make_golden configures PyTorch for reproducible goldens at import time (torch.set_num_threads(1),
# torch.use_deterministic_algorithms(True)). A benchmark must not inherit that: restore the defaults.
torch.use_deterministic_algorithms(False)
torch.set_num_threads(_DEFAULT_THREADS)
_IMPORT_SECONDS = time.perf_counter() - _T_START

NETS = ("simple-net", "mnist-cnn", "cifar10-net")
CLASSES = {"simple-net": 2, "mnist-cnn": 10, "cifar10-net": 10}
# The seed's optimizer settings: section 10 (MNIST, Adam 0.01), section 11 (CIFAR-10, SGD 1e-4 momentum 0.9),
# section 9 (the simple net, plain SGD 0.01).
DEFAULT_OPTIMIZER = {"mnist-cnn": "adam", "cifar10-net": "momentum", "simple-net": "sgd"}
OPTIMIZERS = {
    "adam": (lambda p: torch.optim.Adam(p, lr=0.01), {"lr": 0.01}),
    "momentum": (lambda p: torch.optim.SGD(p, lr=0.0001, momentum=0.9), {"lr": 0.0001, "momentum": 0.9}),
    "sgd": (lambda p: torch.optim.SGD(p, lr=0.01), {"lr": 0.01}),
}

# Above this many cores busy with other work during a measurement, the figure is flagged "noisy": true.
NOISY_LOAD = 0.25

# The standard suite: what Forge's Compare measures (plus the BLAS probe), in the order `--workload all` runs it.
SUITE = (
    [{"workload": "infer", "model": m, "batch": b} for m in NETS for b in (1, 64)]
    + [{"workload": "train_step", "model": "mnist-cnn", "optimizer": "adam", "batch": 64},
       {"workload": "train_step", "model": "cifar10-net", "optimizer": "momentum", "batch": 16},
       {"workload": "train_step", "model": "cifar10-net", "optimizer": "momentum", "batch": 64},
       {"workload": "mnist_epoch", "model": "mnist-cnn", "optimizer": "adam", "batch": 64, "epochs": 1},
       {"workload": "linear", "model": "linear-12544x512", "batch": 64}]
)


def log(msg):
    print("bench_torch: " + msg, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


def r(x, digits=4):
    """Round to `digits` significant digits for the JSON output."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, max(0, digits - 1 - int(math.floor(math.log10(abs(x))))))


# ---- environment --------------------------------------------------------------------------------------

class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _mapped_libraries():
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[-1].startswith("/") and ".so" in parts[-1] and parts[-1] not in libs:
                libs.append(parts[-1])
    return libs


def _sgemm_provider(libs):
    """The file that libtorch_cpu's sgemm_ resolves to (dlsym through its handle, then dladdr)."""
    torch_cpu = next((p for p in libs if os.path.basename(p).startswith("libtorch_cpu.so")), None)
    if torch_cpu is None:
        return None
    try:
        handle = ctypes.CDLL(torch_cpu, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        addr = ctypes.cast(handle.sgemm_, ctypes.c_void_p).value
        info = _DlInfo()
        libc = ctypes.CDLL(None)
        if libc.dladdr(ctypes.c_void_p(addr), ctypes.byref(info)) and info.dli_fname:
            return os.path.realpath(info.dli_fname.decode())
    except (OSError, AttributeError) as e:
        log(f"could not resolve sgemm_ through {torch_cpu}: {e}")
    return None


def _blas_kind(path):
    if path is None:
        return "unknown"
    p = path.lower()
    if "openblas-openmp" in p:
        return "openblas-openmp"
    if "openblas-pthread" in p:
        return "openblas-pthread"
    if "openblas-serial" in p:
        return "openblas-serial"
    if "openblas" in p:
        return "openblas"
    if "/blas/" in p or "libblas.so.3.11" in p:
        return "reference"
    if "mkl" in p:
        return "mkl"
    if "blis" in p:
        return "blis"
    return "unknown"


def _openblas_info(libs):
    lib_path = next((p for p in libs if os.path.basename(p).startswith("libopenblas")), None)
    if lib_path is None:
        return None
    try:
        lib = ctypes.CDLL(lib_path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return {"path": lib_path, "core": lib.openblas_get_corename().decode(),
                "config": lib.openblas_get_config().decode(), "threads": lib.openblas_get_num_threads()}
    except (OSError, AttributeError) as e:
        return {"path": lib_path, "error": str(e)}


def _blas_correctness():
    """sgemm through torch (odd sizes hit the edge kernels) against a float64 product: max relative error."""
    g = torch.Generator().manual_seed(1234)
    worst = 0.0
    for m, k, n in ((64, 1031, 259), (67, 12544, 33), (1, 512, 64)):
        a = torch.rand(m, k, generator=g) - 0.5
        b = torch.rand(k, n, generator=g) - 0.5
        got = torch.mm(a, b).numpy().astype(np.float64)
        want = a.numpy().astype(np.float64) @ b.numpy().astype(np.float64)
        scale = np.abs(a.numpy().astype(np.float64)) @ np.abs(b.numpy().astype(np.float64))
        worst = max(worst, float(np.max(np.abs(got - want) / scale)))
    return worst


def _config_summary():
    show = torch.__config__.show()
    out = {}
    for line in show.splitlines():
        s = line.strip().lstrip("- ").strip()
        if s.startswith("CPU capability usage:"):
            out["cpu_capability"] = s.split(":", 1)[1].strip()
        elif s.startswith("Intel(R) MKL-DNN") or s.startswith("Intel(R) oneDNN"):
            out["onednn"] = s.split("(Git")[0].strip()
        elif s.startswith("OpenMP"):
            out["openmp"] = s
        elif s.startswith("Build settings:"):
            for kv in s.split(":", 1)[1].split(","):
                if "=" in kv:
                    key, val = kv.strip().split("=", 1)
                    if key in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP", "BUILD_TYPE"):
                        out[key] = val
    return out


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(args):
    """The environment line. Runs one matmul first so that the BLAS in use is loaded and initialized."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    libs = _mapped_libraries()
    blas_files = [p for p in libs if "blas" in os.path.basename(p).lower() or "lapack" in os.path.basename(p).lower()]
    provider = _sgemm_provider(libs)
    if provider is None:  # fall back to the file mapped as libblas.so.3
        provider = next((p for p in blas_files if "libblas" in os.path.basename(p)), None)
    env = {
        "env": "pytorch",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkldnn_enabled": torch.backends.mkldnn.enabled,
        "blas": _blas_kind(provider),
        "sgemm_from": provider,
        "blas_libs_mapped": blas_files,
        "openblas": _openblas_info(libs),
        "blas_max_rel_err": r(_blas_correctness(), 3),
        "config": _config_summary(),
        "caller_env": _CALLER_ENV,
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "loadavg_1m": os.getloadavg()[0],
        "import_s": r(_IMPORT_SECONDS, 3),
    }
    problems = []
    if env["blas"] != "openblas-openmp":
        problems.append(f"PyTorch's sgemm comes from {provider} ({env['blas']}), not OpenBLAS-openmp: "
                        "Linear layers are 3-70x slower on the reference BLAS; run benchmarks/torch/run_torch.sh")
    if env["blas_max_rel_err"] > 1e-5:
        problems.append(f"the BLAS computes wrong results (max relative error {env['blas_max_rel_err']})")
    want = args.threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if want and env["threads"] != want:
        problems.append(f"torch runs {env['threads']} threads, {want} were asked for")
    env["checks"] = "ok" if not problems else problems
    for p in problems:
        log("WARNING: " + p)
    if args.require_openblas and env["blas"] != "openblas-openmp":
        emit(env)
        log("--require-openblas: refusing to measure PyTorch on " + env["blas"])
        sys.exit(3)
    return env


# ---- measurement --------------------------------------------------------------------------------------

class CpuMeter:
    """How busy the rest of the machine was while we measured: (all CPU time - ours) / wall, in cores."""

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK")
        self.t0, self.busy0, self.self0 = time.perf_counter(), self._busy(), self._self()
        self.faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    @staticmethod
    def _busy():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v) - v[3] - (v[4] if len(v) > 4 else 0)  # all but idle and iowait

    @staticmethod
    def _self():
        t = os.times()
        return t.user + t.system

    def stop(self, calls=None):
        wall = time.perf_counter() - self.t0
        busy = (self._busy() - self.busy0) / self.hz
        mine = self._self() - self.self0
        out = {"other_cpu_load": r(max(0.0, busy - mine) / wall, 2), "own_cpu_load": r(mine / wall, 2)}
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self.faults0
        if calls:  # page faults per call: fresh memory from the kernel on every call (see README)
            out["page_faults_per_call"] = r(faults / calls, 3)
        else:
            out["page_faults"] = faults
        return out


def warm_up(fn, seconds, min_calls=3):
    end = time.perf_counter_ns() + int(seconds * 1e9)
    calls = 0
    while time.perf_counter_ns() < end or calls < min_calls:
        fn()
        calls += 1
    return calls


def nearest_rank(sorted_values, p):
    """The p-th percentile by the nearest-rank method (the same rule as Forge's Compare)."""
    i = math.ceil(p / 100.0 * len(sorted_values)) - 1
    return sorted_values[max(0, min(len(sorted_values) - 1, i))]


def latency(fn, seconds, warmup, min_samples=20):
    """Per-call latency in ms after warm-up: every call is timed on its own with perf_counter_ns."""
    warm = warm_up(fn, warmup)
    meter = CpuMeter()
    ns = []
    end = time.perf_counter_ns() + int(seconds * 1e9)
    while time.perf_counter_ns() < end or len(ns) < min_samples:
        t0 = time.perf_counter_ns()
        fn()
        ns.append(time.perf_counter_ns() - t0)
    load = meter.stop(len(ns))
    ms = sorted(x / 1e6 for x in ns)
    return dict({"p50": r(nearest_rank(ms, 50)), "p90": r(nearest_rank(ms, 90)), "p99": r(nearest_rank(ms, 99)),
                 "samples": len(ms), "mean": r(sum(ms) / len(ms)), "min": r(ms[0]), "max": r(ms[-1]),
                 "warmup_calls": warm}, **load)


def throughput(fn, items_per_call, seconds, warmup, block_s, min_blocks=5):
    """Items/s: the median over timed blocks of about `block_s` seconds (whole calls) after warm-up."""
    warm = warm_up(fn, warmup)
    meter = CpuMeter()
    rates = []
    calls_total = 0
    end = time.perf_counter_ns() + int(seconds * 1e9)
    block_ns = int(block_s * 1e9)
    while time.perf_counter_ns() < end or len(rates) < min_blocks:
        calls = 0
        t0 = time.perf_counter_ns()
        while True:
            fn()
            calls += 1
            t = time.perf_counter_ns() - t0
            if t >= block_ns:
                break
        rates.append(calls * items_per_call / (t / 1e9))
        calls_total += calls
    load = meter.stop(calls_total)
    rates.sort()
    med = float(np.median(rates))
    return dict({"median": r(med), "samples": len(rates), "min": r(rates[0]), "max": r(rates[-1]),
                 "ms_per_call": r(items_per_call * 1e3 / med), "calls": calls_total, "warmup_calls": warm}, **load)


# ---- workloads ----------------------------------------------------------------------------------------

def build(name, seed, randomize_bn=False):
    """The network with PyTorch's default initialization under torch.manual_seed(seed), as make_golden does."""
    ctor, in_shape, _, _ = make_golden.MODELS[name]
    torch.manual_seed(seed)
    model = ctor()
    if randomize_bn:
        make_golden.randomize_batchnorm(model, seed + 1)
    return model, tuple(in_shape)


def fixed_input(shape, batch, seed):
    """A pre-made batch, uniform in [-1, 1) like Forge's Workloads.input."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand((batch,) + shape, generator=g) * 2 - 1


def run_infer(args, name, batch):
    model, shape = build(name, args.seed)
    model.eval()
    x = fixed_input(shape, batch, args.seed + 2)
    head = {"workload": "infer", "model": name, "batch": batch}
    with torch.inference_mode():
        if batch == 1:
            res = latency(lambda: model(x), args.seconds, args.warmup)
            return dict(head, metric="latency_ms", **res)
        res = throughput(lambda: model(x), batch, args.seconds, args.warmup, args.block)
        return dict(head, metric="images_per_s", **res)


def run_train_step(args, name, batch, optimizer):
    model, shape = build(name, args.seed)
    model.train()
    make_opt, hyper = OPTIMIZERS[optimizer]
    opt = make_opt(model.parameters())
    x = fixed_input(shape, batch, args.seed + 2)
    y = torch.arange(batch) % CLASSES[name]  # labels cycling 0..classes-1, like Forge's Workloads.labels

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    res = throughput(step, batch, args.seconds, args.warmup, args.block)
    return dict({"workload": "train_step", "model": name, "optimizer": optimizer, "batch": batch,
                 "metric": "images_per_s"}, **res, **hyper)


def run_linear(args, batch):
    """Linear(12544 -> 512) forward, the simple net's fc1: the one layer that is pure sgemm."""
    torch.manual_seed(args.seed)
    layer = nn.Linear(12544, 512)
    x = fixed_input((12544,), batch, args.seed + 2)
    with torch.inference_mode():
        res = latency(lambda: layer(x), args.seconds, args.warmup, min_samples=10)
    flops = 2.0 * batch * 12544 * 512
    return dict({"workload": "linear", "model": "linear-12544x512", "batch": batch, "metric": "latency_ms"}, **res,
                gflops_per_s_p50=r(flops / (res["p50"] / 1e3) / 1e9))


def read_idx(path):
    """An IDX file (uncompressed) as a numpy array: magic 0x0000 08 <ndim>, big-endian int32 dims, uint8 data."""
    with open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise SystemExit(f"{path}: {arr.size} bytes of data for shape {shape}")
    return arr.reshape(shape)


def mnist_dir():
    root = os.environ.get("FORGE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "forge")
    return os.path.join(root, "mnist")


def run_mnist_epoch(args, epochs, batch):
    """The seed's MNIST recipe (section 10), timed from reading the files to the last test evaluation.

    Data: the four IDX files read with numpy, pixels scaled to [0, 1], held as float32 tensors in memory;
    each epoch draws a fresh permutation (torch.Generator seeded with --seed) and slices shuffled batches
    of 64 by index (the last batch has 60000 % 64 = 32 images, as DataLoader's drop_last=False gives).
    Training: mnist-cnn in train mode (BatchNorm batch statistics), cross-entropy, Adam lr 0.01.
    Evaluation after every epoch: eval mode under torch.inference_mode, the 10k test images in batches of
    --eval-batch, test accuracy and mean test loss.
    """
    d = mnist_dir()
    files = {k: os.path.join(d, f) for k, f in (("xtr", "train-images-idx3-ubyte"), ("ytr", "train-labels-idx1-ubyte"),
                                                ("xte", "t10k-images-idx3-ubyte"), ("yte", "t10k-labels-idx1-ubyte"))}
    missing = [p for p in files.values() if not os.path.isfile(p)]
    if missing:
        raise SystemExit("MNIST is not cached: missing " + ", ".join(missing)
                         + " (Forge fetches it there; or set FORGE_CACHE)")
    meter = CpuMeter()
    t0 = time.perf_counter_ns()
    xtr = torch.from_numpy(read_idx(files["xtr"]).astype(np.float32) / np.float32(255)).unsqueeze(1)
    ytr = torch.from_numpy(read_idx(files["ytr"]).astype(np.int64))
    xte = torch.from_numpy(read_idx(files["xte"]).astype(np.float32) / np.float32(255)).unsqueeze(1)
    yte = torch.from_numpy(read_idx(files["yte"]).astype(np.int64))
    t_loaded = time.perf_counter_ns()
    model, _ = build("mnist-cnn", args.seed)
    make_opt, hyper = OPTIMIZERS["adam"]
    opt = make_opt(model.parameters())
    g = torch.Generator().manual_seed(args.seed)
    n = xtr.shape[0]
    train_s, eval_s, accs, losses = [], [], [], []
    for epoch in range(epochs):
        te0 = time.perf_counter_ns()
        model.train()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        te1 = time.perf_counter_ns()
        model.eval()
        correct, loss_sum = 0, 0.0
        with torch.inference_mode():
            for i in range(0, xte.shape[0], args.eval_batch):
                logits = model(xte[i:i + args.eval_batch])
                target = yte[i:i + args.eval_batch]
                loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
                correct += (logits.argmax(1) == target).sum().item()
        te2 = time.perf_counter_ns()
        train_s.append((te1 - te0) / 1e9)
        eval_s.append((te2 - te1) / 1e9)
        accs.append(correct / xte.shape[0])
        losses.append(loss_sum / xte.shape[0])
        log(f"mnist epoch {epoch + 1}/{epochs}: train {train_s[-1]:.2f} s, eval {eval_s[-1]:.2f} s, "
            f"test accuracy {accs[-1]:.4f}, test loss {losses[-1]:.4f}")
    seconds = (time.perf_counter_ns() - t0) / 1e9
    load = meter.stop()
    return dict({"workload": "mnist_epoch", "model": "mnist-cnn", "optimizer": "adam", "batch": batch,
                 "epochs": epochs, "metric": "wall_s", "seconds": r(seconds), "accuracy": accs[-1],
                 "test_loss": r(losses[-1]), "load_s": r((t_loaded - t0) / 1e9),
                 "epoch_train_s": [r(s) for s in train_s], "epoch_eval_s": [r(s) for s in eval_s],
                 "epoch_accuracy": accs, "train_images_per_s": r(n * epochs / sum(train_s)),
                 "peak_rss_mib": r(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0),
                 "eval_batch": args.eval_batch}, **hyper, **load)


def export_onnx(args, out_dir):
    """PyTorch's own inference export of each network, with the weights written as .npy.

    <DIR>/<net>/<net>.onnx         torch.onnx.export, opset 17, eval mode, dynamic batch ('N'), constant
                                   folding on (Conv+BatchNorm folded) -- make_golden.export, checked by
                                   make_golden.check_onnx (onnx.checker full check, default-domain ops only)
    <DIR>/<net>/weights/<key>.npy  every floating-point state_dict entry (float32, C order): load these
                                   into Forge's builder model to get the identical network
    <DIR>/<net>/input.npy, logits.npy   a batch of 3 and PyTorch's eval output for it, to check both agree
    Weights: torch.manual_seed(seed) + PyTorch's default initialization; BatchNorm statistics and affine
    parameters randomized with make_golden.randomize_batchnorm(model, seed + 1) so the folding matters.
    """
    os.makedirs(out_dir, exist_ok=True)
    for name in NETS:
        model, shape = build(name, args.seed, randomize_bn=True)
        model.eval()
        d = os.path.join(out_dir, name)
        wdir = os.path.join(d, "weights")
        os.makedirs(wdir, exist_ok=True)
        for f in os.listdir(wdir):  # no stale weights from an earlier seed
            if f.endswith(".npy"):
                os.remove(os.path.join(wdir, f))
        x = fixed_input(shape, 3, args.seed + 2)
        with torch.no_grad():
            y = model(x)
        path = os.path.join(d, name + ".onnx")
        make_golden.export(model, x, path, 17, keep_batchnorm=False)
        ops, _ = make_golden.check_onnx(path, model.state_dict())
        keys = []
        for key, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                make_golden.save_npy(os.path.join(wdir, key + ".npy"), tensor.detach().numpy())
                keys.append(key)
        make_golden.save_npy(os.path.join(d, "input.npy"), x.numpy())
        make_golden.save_npy(os.path.join(d, "logits.npy"), y.numpy())
        emit({"workload": "export_onnx", "model": name, "onnx": os.path.abspath(path), "opset": 17, "seed": args.seed,
              "batch": "dynamic", "ops": ops, "weights": keys, "params": sum(p.numel() for p in model.parameters()),
              "bytes": os.path.getsize(path)})


# ---- command line -------------------------------------------------------------------------------------

def run_one(args, spec):
    w = spec["workload"]
    t0 = time.perf_counter()
    if w == "infer":
        res = run_infer(args, spec["model"], spec["batch"])
    elif w == "train_step":
        res = run_train_step(args, spec["model"], spec["batch"], spec["optimizer"])
    elif w == "mnist_epoch":
        res = run_mnist_epoch(args, spec["epochs"], spec["batch"])
    elif w == "linear":
        res = run_linear(args, spec["batch"])
    else:
        raise SystemExit("unknown workload " + w)
    res["threads"] = torch.get_num_threads()
    if res.get("other_cpu_load", 0) > NOISY_LOAD:
        res["noisy"] = True
        log(f"WARNING: other processes kept {res['other_cpu_load']} cores busy during {w} {spec.get('model')}: "
            "with 2 OpenMP threads on 2 cores PyTorch slows down many times over; measure on a quiet machine")
    if args.label:
        res["label"] = args.label
    emit(res)
    log(f"{w} {spec.get('model')} batch {spec.get('batch')} done in {time.perf_counter() - t0:.1f} s")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list", action="store_true", help="print the standard suite, one JSON line per workload")
    p.add_argument("--env", action="store_true", help="print only the environment line")
    p.add_argument("--workload", choices=["infer", "train_step", "mnist_epoch", "linear", "all"])
    p.add_argument("--model", choices=NETS, default="mnist-cnn")
    p.add_argument("--batch", type=int, help="default: 1 (infer), 64 (train_step, mnist_epoch, linear)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS),
                   help="train_step optimizer; default: the seed's for the model (mnist-cnn adam lr 0.01, "
                        "cifar10-net momentum lr 1e-4 m 0.9, simple-net sgd lr 0.01)")
    p.add_argument("--seconds", type=float, default=5.0, help="measuring budget per figure (default 5)")
    p.add_argument("--warmup", type=float, help="warm-up seconds before measuring (default 0.3 x --seconds)")
    p.add_argument("--block", type=float, default=0.25, help="length of one timed throughput block (s)")
    p.add_argument("--epochs", type=int, default=1, help="mnist_epoch: epochs (the seed's full run is 10)")
    p.add_argument("--eval-batch", type=int, default=64, help="mnist_epoch: test-set batch size (the seed's 64)")
    p.add_argument("--seed", type=int, default=0, help="weights and inputs (default 0, like Forge's Compare)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: OMP_NUM_THREADS, else torch's)")
    p.add_argument("--mkldnn", choices=["on", "off"], default="on",
                   help="torch.backends.mkldnn.enabled (default on, as PyTorch ships)")
    p.add_argument("--require-openblas", action="store_true",
                   help="exit 3 after the environment line unless sgemm comes from OpenBLAS-openmp")
    p.add_argument("--export-onnx", metavar="DIR", help="write PyTorch's ONNX export and weights of each network")
    p.add_argument("--label", help="a tag copied into every result line (e.g. the configuration's name)")
    args = p.parse_args(argv)

    if args.list:
        for spec in SUITE:
            emit(dict(spec, command=_command(spec)))
        return 0
    if not (args.env or args.export_onnx or args.workload):
        p.error("nothing to do: give --workload, --export-onnx DIR, --env or --list")
    if args.seconds <= 0 or (args.warmup is not None and args.warmup < 0) or args.block <= 0:
        p.error("--seconds and --block must be positive, --warmup not negative")
    if args.warmup is None:
        args.warmup = 0.3 * args.seconds
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = args.mkldnn == "on"

    emit(environment(args))
    if args.env:
        return 0
    if args.export_onnx:
        export_onnx(args, args.export_onnx)
    if args.workload == "all":
        for spec in SUITE:
            run_one(args, spec)
    elif args.workload is not None:
        w = args.workload
        spec = {"workload": w, "model": args.model}
        spec["batch"] = args.batch or (1 if w == "infer" else 64)
        if w == "train_step":
            spec["optimizer"] = args.optimizer or DEFAULT_OPTIMIZER[args.model]
        if w == "mnist_epoch":
            spec.update(model="mnist-cnn", epochs=args.epochs)
        run_one(args, spec)
    return 0


def _command(spec):
    parts = ["benchmarks/torch/run_torch.sh", "--workload", spec["workload"]]
    if spec["workload"] in ("infer", "train_step"):
        parts += ["--model", spec["model"]]
    parts += ["--batch", str(spec["batch"])]
    if "optimizer" in spec and spec["workload"] == "train_step":
        parts += ["--optimizer", spec["optimizer"]]
    if spec["workload"] == "mnist_epoch":
        parts += ["--epochs", str(spec["epochs"])]
    return " ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
