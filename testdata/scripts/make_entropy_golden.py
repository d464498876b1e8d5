#!/usr/bin/python3
"""Oracle for Forge's entropy calibration (CalibrationMethod.Entropy.threshold): the KL-divergence threshold
search of TensorRT (Migacz, "8-bit Inference with TensorRT", 2017) written again in numpy, with the same
three documented choices as Forge (docs/QUANTIZATION-calibration.md): probabilities smoothed after
normalizing (empty bins get 1e-4, taken evenly from the others), no threshold that clips more than 1% of
the binned values, ties to the wider threshold.

The histograms are integer formulas, so Java rebuilds them bit for bit; the output is one line per case:
"name bins levels threshold_bins". Run with Debian's numpy:

    /usr/bin/python3 testdata/scripts/make_entropy_golden.py > testdata/golden/quant/entropy_thresholds.txt
"""
import numpy as np

EPS = 1e-4
MAX_CLIPPED = 0.01


def histograms():
    n = 2048
    j = np.arange(n, dtype=np.int64)
    cauchy = (10**9 * 4096) // (4096 + j * j)  # 1 / (1 + (j/64)^2), heavy tailed
    power = 10**12 // ((j + 64) ** 3)  # a power law
    narrow = np.where(j < 300, (10**9 * 1024) // (1024 + j * j), 0)
    narrow[2040:] = 3  # a few far outliers
    spikes = np.zeros(n, dtype=np.int64)
    spikes[[10, 500, 1500]] = [1000, 10, 1]
    small = (10**6 * 64) // (64 + j[:256] * j[:256])  # 256 bins, 128 levels: merge 1 or 2
    return [("cauchy", cauchy, 128), ("power", power, 128), ("narrow_with_outliers", narrow, 128),
            ("spikes", spikes, 128), ("small", small, 128), ("cauchy_64_levels", cauchy, 64)]


def smooth(d):
    total = d.sum()
    zeros = d == 0
    nz = zeros.sum()
    if total == 0 or nz == len(d):
        return None
    out = np.where(zeros, EPS, d / total - EPS * nz / (len(d) - nz))
    return None if (out <= 0).any() else out


def threshold(hist, levels):
    n = len(hist)
    hist = hist.astype(np.float64)
    total = hist.sum()
    first = min(levels, n)
    while first < n and hist[first:].sum() > MAX_CLIPPED * total:
        first += 1
    best, best_kl = n, np.inf
    for i in range(first, n + 1):
        p = hist[:i].copy()
        p[i - 1] += hist[i:].sum()
        nonzero = p != 0
        merged = max(1, i // levels)
        groups = min(levels, i)
        q = np.zeros(i)
        for g in range(groups):
            start = g * merged
            stop = i if g == groups - 1 else start + merged
            count = nonzero[start:stop].sum()
            if count:
                q[start:stop] = np.where(nonzero[start:stop], hist[start:stop].sum() / count, 0)
        ps, qs = smooth(p), smooth(q)
        kl = np.inf if ps is None or qs is None else float((ps * np.log(ps / qs)).sum())
        if kl <= best_kl:
            best, best_kl = i, kl
    return best


for name, hist, levels in histograms():
    print(name, len(hist), levels, threshold(hist, levels))
