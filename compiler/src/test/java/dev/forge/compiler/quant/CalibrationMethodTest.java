package dev.forge.compiler.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The calibration methods on synthetic values whose right range is known. */
class CalibrationMethodTest {
    private static final List<CalibrationMethod> ALL =
            List.of(CalibrationMethod.minMax(), CalibrationMethod.percentile(99.99), CalibrationMethod.entropy());

    /** The range a method gives for values seen in two batches, with the two passes calibration makes. */
    static TensorRange calibrate(CalibrationMethod m, float[] values) {
        int half = values.length / 2;
        Histogram first = Histogram.rangeOnly();
        first.add(values, 0, half);
        first.add(values, half, values.length);
        Histogram second = m.newHistogram(first.range());
        second.add(values, 0, half);
        second.add(values, half, values.length);
        return m.range(second);
    }

    static float[] gaussian(int n, double mean, double sigma, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (mean + sigma * CalibrationFixtures.gaussian(r));
        }
        return v;
    }

    /** numpy.percentile's default: linear interpolation between the sorted values at (n - 1) * q. */
    static double exactPercentile(float[] values, double q) {
        float[] s = values.clone();
        Arrays.sort(s);
        double pos = (s.length - 1) * q;
        int i = (int) Math.floor(pos);
        int j = Math.min(i + 1, s.length - 1);
        return s[i] + (pos - i) * (s[j] - s[i]);
    }

    @Test
    void the_command_line_spellings_parse_and_print_back() {
        assertEquals(CalibrationMethod.minMax(), CalibrationMethod.parse("minmax"));
        assertEquals(CalibrationMethod.minMax(), CalibrationMethod.parse(" MinMax "));
        assertEquals(CalibrationMethod.entropy(), CalibrationMethod.parse("entropy"));
        assertEquals(CalibrationMethod.percentile(99.99), CalibrationMethod.parse("percentile:99.99"));
        assertEquals(CalibrationMethod.percentile(99.99), CalibrationMethod.parse("percentile"));
        assertEquals(CalibrationMethod.percentile(99.9), CalibrationMethod.parse("percentile:99.9"));
        for (String s : List.of("minmax", "entropy", "percentile:99.99", "percentile:99.9", "percentile:100")) {
            assertEquals(s, CalibrationMethod.parse(s).spec());
            assertEquals(
                    CalibrationMethod.parse(s),
                    CalibrationMethod.parse(CalibrationMethod.parse(s).spec()));
        }
    }

    @Test
    void a_bad_spelling_is_an_error_listing_the_choices() {
        for (String bad : List.of("kl", "percentile:", "percentile:abc", "percentile:0", "percentile:100.5", "")) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> CalibrationMethod.parse(bad));
            assertTrue(
                    e.getMessage().contains("minmax, percentile:P")
                            && e.getMessage().contains("entropy"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }

    @Test
    void min_max_is_the_exact_range_widened_to_zero() {
        float[] v = gaussian(10_001, 3, 1, 1);
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        for (float f : v) {
            min = Math.min(min, f);
            max = Math.max(max, f);
        }
        assertTrue(min < 0, "the sample crosses zero: " + min);
        assertEquals(new TensorRange(min, max), calibrate(CalibrationMethod.minMax(), v));
        float[] shifted = gaussian(1000, 10, 1, 2);
        TensorRange r = calibrate(CalibrationMethod.minMax(), shifted);
        assertEquals(0f, r.min(), "a positive tensor's range starts at zero");
    }

    @Test
    void percentile_cuts_each_tail_within_one_bin_of_the_exact_percentile() {
        // skewed on purpose (a Gaussian plus an exponential tail on the right), so the two cuts differ
        SplittableRandom r = new SplittableRandom(3);
        float[] v = new float[200_000];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (CalibrationFixtures.gaussian(r) + (i % 4 == 0 ? -Math.log(1 - r.nextDouble()) * 3 : 0));
        }
        TensorRange observed = calibrate(CalibrationMethod.minMax(), v);
        for (double p : new double[] {99.99, 99.9, 99.0, 90.0}) {
            CalibrationMethod.Percentile m = (CalibrationMethod.Percentile) CalibrationMethod.percentile(p);
            TensorRange got = calibrate(m, v);
            double q = (100 - p) / 200;
            double lo = exactPercentile(v, q);
            double hi = exactPercentile(v, 1 - q);
            double bin = (observed.max() - observed.min()) / m.bins();
            assertEquals(lo, got.min(), bin, "lower cut of percentile " + p);
            assertEquals(hi, got.max(), bin, "upper cut of percentile " + p);
            assertTrue(hi > -lo + 1, "the tails differ, so one |x| threshold would be wrong: " + lo + ", " + hi);
        }
        assertEquals(observed, calibrate(CalibrationMethod.percentile(100), v), "percentile 100 is min-max");
    }

    @Test
    void entropy_clips_far_outliers_of_a_gaussian_to_a_few_sigma() {
        float[] v = gaussian(100_000, 0, 1, 4);
        for (int i = 0; i < 5; i++) {
            v[i * 1000] = 40f + i; // far outliers: min-max would spend almost every level on nothing
            v[i * 1000 + 1] = -40f - i;
        }
        TensorRange got = calibrate(CalibrationMethod.entropy(), v);
        assertEquals(44f, calibrate(CalibrationMethod.minMax(), v).max());
        assertTrue(got.max() > 2 && got.max() < 8, "threshold " + got.max() + " is a few sigma");
        assertEquals(-got.max(), got.min(), 1e-6, "one threshold for both signs");
        // without outliers the answer stays a few sigma, inside the sample's own max (about 4.4 sigma)
        float[] clean = gaussian(100_000, 0, 1, 5);
        TensorRange c = calibrate(CalibrationMethod.entropy(), clean);
        assertTrue(
                c.max() > 2
                        && c.max()
                                <= calibrate(CalibrationMethod.minMax(), clean).max(),
                c.toString());
    }

    @Test
    void entropy_does_not_clip_values_that_lose_nothing_unclipped() {
        // two spikes: every value is at 0.5 or at 4; any threshold below 4 moves the second spike
        float[] v = new float[1000];
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 2 == 0 ? 0.5f : 4f;
        }
        assertEquals(new TensorRange(0, 4), calibrate(CalibrationMethod.entropy(), v));
    }

    /** The histograms of testdata/scripts/make_entropy_golden.py, from the same integer formulas. */
    static long[] goldenHistogram(String name) {
        int n = name.equals("small") ? 256 : 2048;
        long[] h = new long[n];
        for (int j = 0; j < n; j++) {
            long jj = (long) j * j;
            h[j] = switch (name) {
                case "cauchy", "cauchy_64_levels" -> 1_000_000_000L * 4096 / (4096 + jj);
                case "power" -> 1_000_000_000_000L / ((long) (j + 64) * (j + 64) * (j + 64));
                case "narrow_with_outliers" -> j < 300 ? 1_000_000_000L * 1024 / (1024 + jj) : j >= 2040 ? 3 : 0;
                case "spikes" -> j == 10 ? 1000 : j == 500 ? 10 : j == 1500 ? 1 : 0;
                case "small" -> 1_000_000L * 64 / (64 + jj);
                default -> throw new IllegalArgumentException(name);
            };
        }
        return h;
    }

    @Test
    void the_entropy_search_picks_the_thresholds_of_an_independent_numpy_implementation() throws Exception {
        List<String> lines = Files.readAllLines(Path.of("../testdata/golden/quant/entropy_thresholds.txt"));
        assertEquals(6, lines.size(), lines.toString());
        for (String line : lines) {
            String[] f = line.split(" ");
            long[] hist = goldenHistogram(f[0]);
            assertEquals(Integer.parseInt(f[1]), hist.length, line);
            CalibrationMethod.Entropy m = new CalibrationMethod.Entropy(hist.length, Integer.parseInt(f[2]));
            assertEquals(Integer.parseInt(f[3]), m.threshold(hist), line);
        }
    }

    @Test
    void a_constant_tensor_gets_the_constant_and_zero() {
        for (CalibrationMethod m : ALL) {
            float[] three = new float[100];
            Arrays.fill(three, 3f);
            assertEquals(new TensorRange(0, 3), calibrate(m, three), m.spec());
            float[] minus = new float[100];
            Arrays.fill(minus, -2f);
            assertEquals(new TensorRange(-2, 0), calibrate(m, minus), m.spec());
            assertEquals(new TensorRange(0, 0), calibrate(m, new float[100]), m.spec());
        }
    }

    @Test
    void a_negative_only_tensor_ends_at_zero() {
        float[] v = gaussian(50_000, -10, 1, 6);
        for (CalibrationMethod m : ALL) {
            TensorRange r = calibrate(m, v);
            assertEquals(0f, r.max(), m.spec());
            assertTrue(
                    r.min() < -12
                            && r.min()
                                    >= calibrate(CalibrationMethod.minMax(), v).min(),
                    m + ": " + r);
        }
    }

    @Test
    void a_relu_like_tensor_starts_at_zero() {
        float[] v = gaussian(50_000, 0, 1, 7);
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.max(0, v[i]);
        }
        for (CalibrationMethod m : ALL) {
            TensorRange r = calibrate(m, v);
            assertEquals(0f, r.min(), m.spec());
            assertTrue(
                    r.max() > 2
                            && r.max()
                                    <= calibrate(CalibrationMethod.minMax(), v).max(),
                    m + ": " + r);
        }
    }

    @Test
    void a_histogram_counts_values_into_their_bins_and_rejects_nan() {
        Histogram h = Histogram.signed(-1, 1, 4);
        h.add(-1f, -0.6f, -0.5f, 0f, 0.49f, 0.5f, 1f, 5f);
        assertEquals(
                List.of(2L, 1L, 2L, 3L), Arrays.stream(h.binCounts()).boxed().toList());
        assertEquals(8, h.count());
        assertEquals(new TensorRange(-1, 5), h.range());
        Histogram a = Histogram.absolute(2, 2);
        a.add(-1.5f, 1.5f, 0.2f, -0.2f);
        assertEquals(List.of(2L, 2L), Arrays.stream(a.binCounts()).boxed().toList());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> h.add(0f, Float.NaN));
        assertTrue(e.getMessage().contains("NaN"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> Histogram.rangeOnly().range());
    }
}
