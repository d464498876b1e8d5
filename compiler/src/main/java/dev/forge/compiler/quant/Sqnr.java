package dev.forge.compiler.quant;

import java.util.Locale;

/**
 * Signal-to-quantization-noise ratio of a tensor, accumulated batch by batch: {@code 10 log10(sum x^2 /
 * sum (x - x_q)^2)} in dB over every element seen, where {@code x} is the float model's value and {@code x_q}
 * the quantized model's. Each bit of a uniform quantizer is worth about 6 dB; 8-bit activations of a
 * well-calibrated layer land around 30-40 dB.
 *
 * <p>Identical values give +infinity (printed {@code inf}); an all-zero signal with noise gives -infinity;
 * no elements, or zero signal and zero noise, give +infinity too (nothing was lost). Sums are kept in
 * double precision. Not thread-safe.
 */
public final class Sqnr {
    private double signal;
    private double noise;
    private long count;

    /** An empty accumulator. */
    public Sqnr() {}

    /**
     * Adds elements.
     *
     * @param reference the float model's values
     * @param quantized the quantized model's values at the same positions
     * @throws IllegalArgumentException if the lengths differ
     */
    public void add(float[] reference, float[] quantized) {
        if (reference.length != quantized.length) {
            throw new IllegalArgumentException("SQNR compares tensors of one size, got " + reference.length + " and "
                    + quantized.length + " values");
        }
        double s = 0;
        double e = 0;
        for (int i = 0; i < reference.length; i++) {
            double x = reference[i];
            double d = x - quantized[i];
            s += x * x;
            e += d * d;
        }
        signal += s;
        noise += e;
        count += reference.length;
    }

    /** The sum of squared reference values. */
    public double signalPower() {
        return signal;
    }

    /** The sum of squared differences. */
    public double noisePower() {
        return noise;
    }

    /** The number of elements compared. */
    public long count() {
        return count;
    }

    /**
     * The ratio in dB.
     *
     * @return {@code 10 log10(signal / noise)}; +infinity when there is no noise
     */
    public double db() {
        if (noise == 0) {
            return Double.POSITIVE_INFINITY;
        }
        return 10 * Math.log10(signal / noise);
    }

    /**
     * A value in dB as the report prints it: one decimal, {@code inf} and {@code -inf} for the infinities.
     *
     * @param db a ratio in dB
     * @return e.g. {@code 38.2}
     */
    public static String format(double db) {
        if (db == Double.POSITIVE_INFINITY) {
            return "inf";
        }
        if (db == Double.NEGATIVE_INFINITY) {
            return "-inf";
        }
        return String.format(Locale.ROOT, "%.1f", db);
    }

    @Override
    public String toString() {
        return format(db()) + " dB over " + count + " values";
    }
}
