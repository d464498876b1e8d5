package dev.forge.compiler.quant;

import java.util.Arrays;
import java.util.Locale;

/**
 * The statistics of one tensor's values over the calibration data, gathered batch by batch without
 * keeping the values: the exact minimum and maximum, the count, and optionally a histogram of equal-width
 * bins over a range fixed in advance (the range a first pass over the same data measured, as ONNX Runtime's
 * {@code HistogramCalibrater} does).
 *
 * <p>A histogram is either <em>signed</em> (bins over {@code [lo, hi]}, for the percentile method, which
 * cuts each tail on its own side) or <em>absolute</em> (bins of {@code |x|} over {@code [0, hi]}, for the
 * entropy method, which searches one threshold for both signs as TensorRT does). An absolute histogram does
 * not bin exact zeros (pytorch-quantization's {@code skip_zeros}): zero is represented exactly whatever the
 * range, so the floor of a ReLU, often half of its values, must not pull the threshold down. Values outside
 * the range (none when the range came from a first pass over the same data) fall into the end bins.
 *
 * <p>Not thread-safe: one collector fills it.
 */
public final class Histogram {
    private final double lo;
    private final double hi;
    private final boolean absolute;
    private final long[] counts;
    private float min = Float.POSITIVE_INFINITY;
    private float max = Float.NEGATIVE_INFINITY;
    private long count;

    private Histogram(double lo, double hi, int bins, boolean absolute) {
        this.lo = lo;
        this.hi = hi;
        this.absolute = absolute;
        this.counts = new long[bins];
    }

    /**
     * Statistics without bins: minimum, maximum and count only (what min-max calibration needs).
     *
     * @return an empty accumulator
     */
    public static Histogram rangeOnly() {
        return new Histogram(0, 0, 0, false);
    }

    /**
     * A histogram of the values over {@code [lo, hi]}.
     *
     * @param lo the lower edge of the first bin
     * @param hi the upper edge of the last bin, at least {@code lo}
     * @param bins the number of bins, at least 1
     * @return an empty histogram
     */
    public static Histogram signed(double lo, double hi, int bins) {
        checkRange(lo, hi, bins);
        return new Histogram(lo, hi, bins, false);
    }

    /**
     * A histogram of the absolute values over {@code [0, hi]}.
     *
     * @param hi the upper edge of the last bin, at least 0
     * @param bins the number of bins, at least 1
     * @return an empty histogram
     */
    public static Histogram absolute(double hi, int bins) {
        checkRange(0, hi, bins);
        return new Histogram(0, hi, bins, true);
    }

    private static void checkRange(double lo, double hi, int bins) {
        if (bins < 1) {
            throw new IllegalArgumentException("a histogram needs at least 1 bin, got " + bins);
        }
        if (!Double.isFinite(lo) || !Double.isFinite(hi) || lo > hi) {
            throw new IllegalArgumentException(
                    "a histogram needs a finite range lo <= hi, got [" + lo + ", " + hi + "]");
        }
    }

    /**
     * Adds values.
     *
     * @param values the values; NaN is rejected (a model that computes NaN on real data cannot be calibrated)
     * @param from index of the first value to add
     * @param to index after the last value to add
     * @throws IllegalArgumentException on a NaN value
     */
    public void add(float[] values, int from, int to) {
        int bins = counts.length;
        double scale = hi > lo ? bins / (hi - lo) : 0;
        for (int i = from; i < to; i++) {
            float v = values[i];
            if (Float.isNaN(v)) {
                throw new IllegalArgumentException("value " + (i - from) + " of the batch is NaN");
            }
            if (v < min) {
                min = v;
            }
            if (v > max) {
                max = v;
            }
            if (bins > 0 && !(absolute && v == 0)) {
                double x = absolute ? Math.abs((double) v) : v;
                int b = (int) Math.floor((x - lo) * scale);
                counts[b < 0 ? 0 : b >= bins ? bins - 1 : b]++;
            }
        }
        count += to - from;
    }

    /**
     * Adds all values of an array.
     *
     * @param values the values
     */
    public void add(float... values) {
        add(values, 0, values.length);
    }

    /** The smallest value seen (+infinity before the first). */
    public float min() {
        return min;
    }

    /** The largest value seen (-infinity before the first). */
    public float max() {
        return max;
    }

    /** The number of values seen. */
    public long count() {
        return count;
    }

    /** The number of bins (0 for {@link #rangeOnly()}). */
    public int bins() {
        return counts.length;
    }

    /** The lower edge of the first bin (0 for an absolute histogram). */
    public double lo() {
        return lo;
    }

    /** The upper edge of the last bin. */
    public double hi() {
        return hi;
    }

    /** Whether the bins count absolute values. */
    public boolean isAbsolute() {
        return absolute;
    }

    /** The width of one bin. */
    public double binWidth() {
        return counts.length == 0 ? 0 : (hi - lo) / counts.length;
    }

    /**
     * The count of bin {@code i}.
     *
     * @param i 0 &le; i &lt; {@link #bins()}
     * @return the number of values that fell into it
     */
    public long binCount(int i) {
        return counts[i];
    }

    /** A copy of the bin counts (an absolute histogram's leave out exact zeros). */
    public long[] binCounts() {
        return counts.clone();
    }

    /**
     * The smallest and largest value seen as a range.
     *
     * @return {@code [min, max]}
     * @throws IllegalStateException if no value was added
     */
    public TensorRange range() {
        if (count == 0) {
            throw new IllegalStateException("no values were added to this histogram");
        }
        return new TensorRange(min, max);
    }

    @Override
    public String toString() {
        return String.format(
                Locale.ROOT,
                "Histogram(%d values in [%g, %g]%s)",
                count,
                min,
                max,
                counts.length == 0
                        ? ""
                        : ", " + counts.length + (absolute ? " bins of |x| over [0, " : " bins over [" + lo + ", ")
                                + hi + "], nonzero bins "
                                + Arrays.stream(counts).filter(c -> c > 0).count());
    }
}
