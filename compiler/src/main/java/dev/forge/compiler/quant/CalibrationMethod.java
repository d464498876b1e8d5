package dev.forge.compiler.quant;

import java.util.Locale;

/**
 * How calibration turns a tensor's statistics over real data into the range it is quantized over. Three
 * methods, spelled as the command line takes them ({@link #parse}):
 *
 * <ul>
 *   <li>{@code minmax}: the smallest and largest value seen. Nothing is clipped, so one outlier stretches the
 *       step of every other value.
 *   <li>{@code percentile:P} (default 99.99): cuts {@code (100 - P) / 2} percent of the values from each tail,
 *       on its own side. Per side rather than ONNX Runtime's default of one threshold on {@code |x|}: Forge
 *       quantizes activations asymmetrically (a zero point), so a skewed tensor keeps all 256 levels over the
 *       range its values really occupy.
 *   <li>{@code entropy}: TensorRT's KL-divergence search: the threshold {@code T} on {@code |x|} whose clipped,
 *       128-level re-quantization of a 2048-bin histogram loses the least information; the range is the
 *       observed one clipped to {@code [-T, T]}.
 * </ul>
 *
 * <p>Every range includes zero ({@link TensorRange#withZero()}): the quantization arithmetic needs zero
 * exact (padding, ReLU's floor), so a ReLU output's range starts at 0 and a negative-only one ends at 0.
 */
public sealed interface CalibrationMethod
        permits CalibrationMethod.MinMax, CalibrationMethod.Percentile, CalibrationMethod.Entropy {

    /** The percentile {@code percentile} without a number means. */
    double DEFAULT_PERCENTILE = 99.99;

    /** The spellings {@link #parse} accepts, for help texts and errors. */
    String CHOICES = "minmax, percentile:P (0 < P <= 100, e.g. percentile:99.99; plain 'percentile' is "
            + DEFAULT_PERCENTILE + "), entropy";

    /**
     * The method a command-line spelling names: {@code minmax}, {@code percentile:99.99}, {@code percentile}
     * or {@code entropy} (case and surrounding spaces ignored).
     *
     * @param spec the spelling
     * @return the method
     * @throws IllegalArgumentException naming the choices when the spelling is none of them
     */
    static CalibrationMethod parse(String spec) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        switch (s) {
            case "minmax":
            case "min-max":
                return minMax();
            case "entropy":
                return entropy();
            case "percentile":
                return percentile(DEFAULT_PERCENTILE);
            default:
                break;
        }
        if (s.startsWith("percentile:")) {
            String p = s.substring("percentile:".length()).trim();
            double v;
            try {
                v = Double.parseDouble(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "calibration method '" + spec + "': '" + p + "' is not a number; choose one of: " + CHOICES);
            }
            if (!(v > 0 && v <= 100)) {
                throw new IllegalArgumentException("calibration method '" + spec
                        + "': the percentile must be in (0, 100], got " + p + "; choose one of: " + CHOICES);
            }
            return percentile(v);
        }
        throw new IllegalArgumentException("unknown calibration method '" + spec + "'; choose one of: " + CHOICES);
    }

    /**
     * Min-max calibration.
     *
     * @return the method
     */
    static CalibrationMethod minMax() {
        return new MinMax();
    }

    /**
     * Percentile calibration, cutting {@code (100 - percentile) / 2} percent of the values from each tail.
     *
     * @param percentile in (0, 100]
     * @return the method
     */
    static CalibrationMethod percentile(double percentile) {
        return new Percentile(percentile, Entropy.DEFAULT_BINS);
    }

    /**
     * Entropy (KL-divergence) calibration with TensorRT's 2048 bins and 128 levels.
     *
     * @return the method
     */
    static CalibrationMethod entropy() {
        return new Entropy(Entropy.DEFAULT_BINS, Entropy.DEFAULT_LEVELS);
    }

    /**
     * The histogram this method reads for a tensor whose values a first pass saw span {@code observed}, or
     * {@link Histogram#rangeOnly()} when the method needs no second pass.
     *
     * @param observed the exact range of the tensor over the calibration data
     * @return an empty histogram to fill with the same data
     */
    Histogram newHistogram(TensorRange observed);

    /**
     * Whether the method needs a histogram, hence a second pass over the data after the first measured the
     * ranges.
     *
     * @return false for min-max
     */
    default boolean needsHistogram() {
        return true;
    }

    /**
     * The range to quantize over, from the statistics filled as {@link #newHistogram} asked.
     *
     * @param statistics the tensor's statistics over the calibration data
     * @return the range, including zero
     * @throws IllegalStateException if the statistics saw no value
     */
    TensorRange range(Histogram statistics);

    /**
     * The spelling {@link #parse} reads back to this method.
     *
     * @return e.g. {@code percentile:99.99}
     */
    String spec();

    /** The smallest and largest value seen. */
    record MinMax() implements CalibrationMethod {
        @Override
        public Histogram newHistogram(TensorRange observed) {
            return Histogram.rangeOnly();
        }

        @Override
        public boolean needsHistogram() {
            return false;
        }

        @Override
        public TensorRange range(Histogram statistics) {
            return statistics.range().withZero();
        }

        @Override
        public String spec() {
            return "minmax";
        }

        @Override
        public String toString() {
            return spec();
        }
    }

    /**
     * Cuts {@code (100 - percentile) / 2} percent of the values from each tail, reading a histogram of
     * {@code bins} bins over the observed range; the cut points are interpolated linearly inside their bin
     * (as {@code numpy.percentile} interpolates between sorted values), so they are within one bin width,
     * {@code (max - min) / bins}, of the exact percentiles.
     *
     * @param percentile in (0, 100]
     * @param bins the histogram's bins, at least 1
     */
    record Percentile(double percentile, int bins) implements CalibrationMethod {
        /** Checks the percentile and the bin count. */
        public Percentile {
            if (!(percentile > 0 && percentile <= 100)) {
                throw new IllegalArgumentException("percentile must be in (0, 100], got " + percentile);
            }
            if (bins < 1) {
                throw new IllegalArgumentException("percentile calibration needs at least 1 bin, got " + bins);
            }
        }

        @Override
        public Histogram newHistogram(TensorRange observed) {
            return Histogram.signed(observed.min(), observed.max(), bins);
        }

        @Override
        public TensorRange range(Histogram h) {
            TensorRange observed = h.range();
            if (h.bins() == 0 || h.isAbsolute()) {
                throw new IllegalArgumentException("percentile calibration reads a signed histogram, got " + h);
            }
            double cut = h.count() * (100 - percentile) / 200;
            long[] c = h.binCounts();
            double w = h.binWidth();
            // lower cut: the point below which `cut` values lie, interpolated inside its bin
            double below = 0;
            double lo = h.lo();
            for (int b = 0; b < c.length; b++) {
                if (below + c[b] > cut) {
                    lo = h.lo() + (b + (cut - below) / c[b]) * w;
                    break;
                }
                below += c[b];
            }
            double above = 0;
            double hi = h.hi();
            for (int b = c.length - 1; b >= 0; b--) {
                if (above + c[b] > cut) {
                    hi = h.lo() + (b + 1 - (cut - above) / c[b]) * w;
                    break;
                }
                above += c[b];
            }
            float min = (float) Math.max(observed.min(), Math.min(lo, observed.max()));
            float max = (float) Math.min(observed.max(), Math.max(hi, min));
            return new TensorRange(min, max).withZero();
        }

        @Override
        public String spec() {
            return "percentile:"
                    + new java.math.BigDecimal(Double.toString(percentile))
                            .stripTrailingZeros()
                            .toPlainString();
        }

        @Override
        public String toString() {
            return spec();
        }
    }

    /**
     * TensorRT's entropy calibration (Migacz, "8-bit Inference with TensorRT", 2017), on a histogram of
     * {@code |x|} with {@code bins} bins over {@code [0, max|x|]}. For each candidate threshold of {@code i}
     * bins ({@code levels <= i <= bins}): the reference distribution P is the first {@code i} bins with every
     * value beyond them clipped into the last one; the candidate Q merges those {@code i} bins into {@code
     * levels} groups and spreads each group's count evenly over its bins that are nonzero in P. Both are
     * normalized and smoothed (every empty bin gets 1e-4, taken evenly from the others, so KL stays finite),
     * and the threshold with the smallest KL(P || Q) wins; ties go to the wider threshold, so data that
     * loses nothing by any clipping (a constant) is not clipped. Exact zeros are left out of the histogram
     * ({@link Histogram}).
     *
     * <p>One guard departs from TensorRT: no threshold may clip more than 1% of the nonzero values. P and Q are
     * normalized separately, so once a threshold clips nearly everything, Q's few remaining bins look like P
     * again and the divergence no longer sees the clipping: for values that sit away from zero (normal with
     * mean -10 and deviation 1) the unguarded search clips at 5.9, saturating every value. On the tensors the
     * method is meant for (a Gaussian, a ReLU's output) the chosen threshold clips far less than 1% and the
     * guard changes nothing.
     *
     * @param bins histogram bins, at least {@code levels}
     * @param levels quantized levels of one sign (128 for 8 bits)
     */
    record Entropy(int bins, int levels) implements CalibrationMethod {
        /** TensorRT's histogram size. */
        public static final int DEFAULT_BINS = 2048;

        /** The levels of one sign of an 8-bit type. */
        public static final int DEFAULT_LEVELS = 128;

        private static final double SMOOTHING = 1e-4;

        /** The largest fraction of the nonzero values a threshold may clip (the guard in the class comment). */
        static final double MAX_CLIPPED = 0.01;

        /** Checks the bin and level counts. */
        public Entropy {
            if (levels < 1 || bins < levels) {
                throw new IllegalArgumentException(
                        "entropy calibration needs 1 <= levels <= bins, got " + levels + " levels, " + bins + " bins");
            }
        }

        @Override
        public Histogram newHistogram(TensorRange observed) {
            return Histogram.absolute(Math.max(Math.abs(observed.min()), Math.abs(observed.max())), bins);
        }

        @Override
        public TensorRange range(Histogram h) {
            TensorRange observed = h.range();
            if (h.bins() == 0 || !h.isAbsolute()) {
                throw new IllegalArgumentException("entropy calibration reads a histogram of |x|, got " + h);
            }
            if (h.hi() == 0) {
                return observed.withZero();
            }
            double t = threshold(h.binCounts()) * h.binWidth();
            float min = (float) Math.max(observed.min(), -t);
            float max = (float) Math.min(observed.max(), t);
            return new TensorRange(Math.min(min, max), max).withZero();
        }

        /**
         * The number of bins the KL search keeps.
         *
         * @param hist counts of {@code |x|}
         * @return {@code i} in {@code [min(levels, hist.length), hist.length]}
         */
        int threshold(long[] hist) {
            int n = hist.length;
            double[] p = new double[n];
            double[] q = new double[n];
            int best = n;
            double bestKl = Double.POSITIVE_INFINITY;
            double[] tail = new double[n + 1]; // tail[i] = sum of hist[i..]
            for (int i = n - 1; i >= 0; i--) {
                tail[i] = tail[i + 1] + hist[i];
            }
            // the guard: the first candidate that clips at most MAX_CLIPPED of the binned values
            int first = Math.min(levels, n);
            while (first < n && tail[first] > MAX_CLIPPED * tail[0]) {
                first++;
            }
            for (int i = first; i <= n; i++) {
                for (int j = 0; j < i; j++) {
                    p[j] = hist[j];
                }
                p[i - 1] += tail[i];
                // merge i bins into `levels` groups (the last takes the remainder), spread over P's nonzero bins
                int merged = Math.max(1, i / levels);
                int groups = Math.min(levels, i);
                for (int g = 0; g < groups; g++) {
                    int start = g * merged;
                    int stop = g == groups - 1 ? i : start + merged;
                    double sum = 0;
                    int nonzero = 0;
                    for (int j = start; j < stop; j++) {
                        sum += hist[j];
                        if (p[j] != 0) {
                            nonzero++;
                        }
                    }
                    for (int j = start; j < stop; j++) {
                        q[j] = p[j] != 0 ? sum / nonzero : 0;
                    }
                }
                // Q is built from the bins without the clipped tail, which P carries in its last bin: the
                // divergence counts what clipping loses as well as what the coarser levels lose
                double kl = divergence(p, q, i);
                if (kl <= bestKl) {
                    bestKl = kl;
                    best = i;
                }
            }
            return best;
        }

        /** KL(P || Q) over the first {@code n} bins after normalizing and smoothing both; +inf if Q cannot be smoothed. */
        private static double divergence(double[] p, double[] q, int n) {
            double[] ps = smoothed(p, n);
            double[] qs = smoothed(q, n);
            if (ps == null || qs == null) {
                return Double.POSITIVE_INFINITY;
            }
            double kl = 0;
            for (int j = 0; j < n; j++) {
                kl += ps[j] * Math.log(ps[j] / qs[j]);
            }
            return kl;
        }

        /** The distribution normalized, each empty bin given SMOOTHING taken evenly from the others; null if impossible. */
        private static double[] smoothed(double[] d, int n) {
            double total = 0;
            int zeros = 0;
            for (int j = 0; j < n; j++) {
                total += d[j];
                if (d[j] == 0) {
                    zeros++;
                }
            }
            if (total == 0 || zeros == n) {
                return null;
            }
            double take = SMOOTHING * zeros / (n - zeros);
            double[] out = new double[n];
            for (int j = 0; j < n; j++) {
                out[j] = d[j] == 0 ? SMOOTHING : d[j] / total - take;
                if (out[j] <= 0) {
                    return null;
                }
            }
            return out;
        }

        @Override
        public String spec() {
            return "entropy";
        }

        @Override
        public String toString() {
            return bins == DEFAULT_BINS && levels == DEFAULT_LEVELS
                    ? spec()
                    : "entropy(" + bins + " bins, " + levels + " levels)";
        }
    }
}
