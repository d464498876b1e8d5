package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Tensor;
import org.junit.jupiter.api.Test;

class NormalizeTest {
    @Test
    void halfAndHalfMapsUnitRangeToPlusMinusOne() {
        float[] v = {0f, 0.5f, 1f, 0.25f};
        Normalize.of(0.5f, 0.5f).apply(v, 0, 1, 4);
        assertArrayEquals(new float[] {-1f, 0f, 1f, -0.5f}, v);
    }

    @Test
    void perChannelMeanAndStd() {
        // 3 channels of 2 values; mean (0.1, 0.2, 0.3), std (0.5, 0.25, 2)
        float[] v = {9, 1.1f, 0.6f, 0.2f, 0.7f, 2.3f, 0.3f, 9};
        Normalize n = Normalize.of(new float[] {0.1f, 0.2f, 0.3f}, new float[] {0.5f, 0.25f, 2f});
        n.apply(v, 1, 3, 2);
        assertEquals(9f, v[0], "before the sample: untouched");
        assertEquals((1.1f - 0.1f) / 0.5f, v[1]);
        assertEquals((0.6f - 0.1f) / 0.5f, v[2]);
        assertEquals((0.2f - 0.2f) / 0.25f, v[3]);
        assertEquals((0.7f - 0.2f) / 0.25f, v[4]);
        assertEquals((2.3f - 0.3f) / 2f, v[5]);
        assertEquals((0.3f - 0.3f) / 2f, v[6]);
        assertEquals(9f, v[7], "after the sample: untouched");
    }

    @Test
    void matchesDoubleMathWithinFloatRounding() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        float[] mean = {0.4914f, 0.4822f, 0.4465f};
        float[] std = {0.247f, 0.243f, 0.261f};
        float[] v = new float[3 * 16];
        float[] orig = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = orig[i] = (float) r.nextDouble();
        }
        Normalize.of(mean, std).apply(v, 0, 3, 16);
        for (int i = 0; i < v.length; i++) {
            int c = i / 16;
            double expected = (orig[i] - (double) mean[c]) / std[c];
            assertEquals(expected, v[i], 1e-6 * Math.max(1, Math.abs(expected)));
        }
    }

    @Test
    void datasetViewNormalizesSamplesOnly() {
        NpyDataset ds = NpyDataset.of(
                Tensor.of(new float[] {0, 1, 0.5f, 0.5f, 1, 0}, 1, 3, 2), Tensor.of(new long[] {2}, 1), 3);
        Dataset n = Normalize.of(new float[] {0.5f, 0f, 1f}, new float[] {0.5f, 1f, 2f})
                .apply(ds);
        float[] x = new float[6];
        n.copySample(0, x, 0);
        assertArrayEquals(new float[] {-1, 1, 0.5f, 0.5f, 0, -0.5f}, x);
        assertEquals(2, n.label(0));
        assertEquals(3, n.numClasses());
        assertArrayEquals(new long[] {3, 2}, n.sampleShape());
    }

    @Test
    void rejectsBadParameters() {
        assertThrows(IllegalArgumentException.class, () -> Normalize.of(0.5f, 0f));
        assertThrows(IllegalArgumentException.class, () -> Normalize.of(0.5f, Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> Normalize.of(new float[] {0, 0}, new float[] {1}));
        NpyDataset ds = NpyDataset.of(Tensor.of(new float[6], 1, 3, 2), Tensor.of(new long[] {0}, 1), 1);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Normalize.of(new float[] {0, 0}, new float[] {1, 1}).apply(ds));
        assertTrue(e.getMessage().contains("3 channels"), e.getMessage());
    }
}
