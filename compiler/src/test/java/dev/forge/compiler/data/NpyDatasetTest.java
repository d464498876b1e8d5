package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyDatasetTest {
    @TempDir
    Path dir;

    private Path npy(String name, Tensor t) {
        Path p = dir.resolve(name);
        Npy.write(p, t);
        return p;
    }

    private static float[] ramp(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i * 0.5f;
        }
        return v;
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "message lacks '" + p + "': " + e.getMessage());
        }
    }

    @Test
    void float32InputsWithInt64Labels() {
        Path x = npy("x.npy", Tensor.of(ramp(4 * 2 * 3), 4, 2, 3));
        Path y = npy("y.npy", Tensor.of(new long[] {3, 0, 1, 3}, 4));
        NpyDataset ds = NpyDataset.load(x, y);
        assertEquals(4, ds.size());
        assertArrayEquals(new long[] {2, 3}, ds.sampleShape());
        assertEquals(4, ds.numClasses(), "largest label + 1");
        assertEquals(List.of("0", "1", "2", "3"), ds.classNames());
        assertTrue(ds.isClassification());
        float[] s = new float[7];
        ds.copySample(2, s, 1);
        assertArrayEquals(new float[] {0, 6f, 6.5f, 7f, 7.5f, 8f, 8.5f}, s);
        assertEquals(1, ds.label(2));
        assertEquals(10, NpyDataset.load(x, y, 10).numClasses());
        assertThrows(IllegalStateException.class, () -> ds.copyTargets(0, s, 0));
    }

    @Test
    void uint8InputsAreScaledAndFloat64Converted() {
        Path x8 = npy("x8.npy", Tensor.ofUint8(new byte[] {0, (byte) 255, (byte) 128, 51}, 2, 2));
        Path y = npy("y.npy", Tensor.of(new int[] {1, 0}, 2));
        NpyDataset ds = NpyDataset.load(x8, y);
        float[] s = new float[2];
        ds.copySample(0, s, 0);
        assertArrayEquals(new float[] {0f, 1f}, s);
        ds.copySample(1, s, 0);
        assertArrayEquals(new float[] {128 / 255f, 51 / 255f}, s);

        Path x64 = npy("x64.npy", Tensor.of(new double[] {0.1, 0.2, 0.3, 0.4}, 2, 2));
        NpyDataset d64 = NpyDataset.load(x64, y);
        d64.copySample(1, s, 0);
        assertArrayEquals(new float[] {0.3f, 0.4f}, s);

        Path x16 = npy("x16.npy", Tensor.ofFloat16(new float[] {0.1f, 0.2f, 0.3f, 0.4f}, 2, 2));
        NpyDataset d16 = NpyDataset.load(x16, y);
        d16.copySample(1, s, 0);
        assertArrayEquals(new float[] {0.30004883f, 0.39990234f}, s, "float16 widens exactly");
    }

    @Test
    void floatLabelsAreRegressionTargets() {
        Path x = npy("x.npy", Tensor.of(ramp(6), 3, 2));
        Path y = npy("y.npy", Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2));
        NpyDataset ds = NpyDataset.load(x, y);
        assertEquals(-1, ds.numClasses());
        assertFalse(ds.isClassification());
        assertEquals(List.of(), ds.classNames());
        assertArrayEquals(new long[] {2}, ds.targetShape());
        float[] t = new float[2];
        ds.copyTargets(2, t, 0);
        assertArrayEquals(new float[] {5, 6}, t);
        assertThrows(IllegalStateException.class, () -> ds.label(0));
    }

    @Test
    void sampleCountsMustAgree() {
        Path x = npy("x.npy", Tensor.of(ramp(6), 3, 2));
        Path y = npy("y.npy", Tensor.of(new long[] {0, 1}, 2));
        DatasetException e = assertThrows(DatasetException.class, () -> NpyDataset.load(x, y));
        assertMessage(e, "3 samples", x.toString(), "(3, 2)", "have 2", y.toString(), "(2,)");
    }

    @Test
    void labelErrors() {
        Path x = npy("x.npy", Tensor.of(ramp(6), 3, 2));
        Path neg = npy("neg.npy", Tensor.of(new long[] {0, -1, 1}, 3));
        assertMessage(
                assertThrows(DatasetException.class, () -> NpyDataset.load(x, neg)),
                neg.toString(),
                "label -1 at index 1");
        Path big = npy("big.npy", Tensor.of(new long[] {0, 1, 7}, 3));
        assertMessage(
                assertThrows(DatasetException.class, () -> NpyDataset.load(x, big, 5)),
                big.toString(),
                "label 7 at index 2",
                "outside 0..4");
        Path col = npy("col.npy", Tensor.of(new long[] {0, 1, 1}, 3, 1));
        assertMessage(assertThrows(DatasetException.class, () -> NpyDataset.load(x, col)), "shape (N,)", "reshape(-1)");
    }

    @Test
    void unsupportedInputsAndBadFiles() throws IOException {
        Path xi = npy("xi.npy", Tensor.of(new long[] {1, 2}, 2));
        Path y = npy("y.npy", Tensor.of(new long[] {0, 1}, 2));
        assertMessage(
                assertThrows(DatasetException.class, () -> NpyDataset.load(xi, y)),
                xi.toString(),
                "int64",
                "float32, float64, float16 or uint8");
        Path junk = dir.resolve("junk.npy");
        Files.writeString(junk, "not numpy");
        assertMessage(assertThrows(DatasetException.class, () -> NpyDataset.load(junk, y)), junk.toString(), "magic");
    }

    @Test
    void subsetIsAView() {
        NpyDataset ds = NpyDataset.of(Tensor.of(ramp(5), 5, 1), Tensor.of(new long[] {4, 3, 2, 1, 0}, 5), 0);
        Dataset sub = ds.subset(1, 4);
        assertEquals(3, sub.size());
        assertEquals(1, sub.label(2));
        float[] s = new float[1];
        sub.copySample(0, s, 0);
        assertEquals(0.5f, s[0]);
        assertThrows(IndexOutOfBoundsException.class, () -> sub.label(3));
    }
}
