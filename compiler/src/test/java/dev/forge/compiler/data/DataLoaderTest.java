package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;

class DataLoaderTest {
    private static final int N = 103;

    /** Sample i is [i, i + 0.5] (shape [2]) with label i % 7, so a batch shows which samples it holds. */
    static NpyDataset indexed(int n) {
        float[] x = new float[2 * n];
        long[] y = new long[n];
        for (int i = 0; i < n; i++) {
            x[2 * i] = i;
            x[2 * i + 1] = i + 0.5f;
            y[i] = i % 7;
        }
        return NpyDataset.of(Tensor.of(x, n, 2), Tensor.of(y, n), 7);
    }

    /** The sample indices of every batch of one epoch, checking each batch's shapes and contents. */
    static List<int[]> epochIndices(DataLoader loader, int epoch) {
        List<int[]> out = new ArrayList<>();
        try (DataLoader.Epoch it = loader.epoch(epoch)) {
            for (Batch b : it) {
                out.add(indices(b));
            }
        }
        return out;
    }

    static int[] indices(Batch b) {
        assertEquals(DType.FLOAT32, b.inputs().dtype());
        assertEquals(DType.INT64, b.labels().dtype());
        assertArrayEquals(new long[] {b.size(), 2}, b.inputs().shape());
        assertArrayEquals(new long[] {b.size()}, b.labels().shape());
        assertTrue(b.inputs().isDirect() && b.labels().isDirect(), "batches live in direct buffers");
        int[] idx = new int[b.size()];
        for (int j = 0; j < b.size(); j++) {
            float v = b.inputs().getFloat(2L * j);
            idx[j] = (int) v;
            assertEquals(v + 0.5f, b.inputs().getFloat(2L * j + 1));
            assertEquals(idx[j] % 7, b.labels().getLong(j));
        }
        return idx;
    }

    static int[] flatten(List<int[]> batches) {
        return batches.stream().flatMapToInt(Arrays::stream).toArray();
    }

    @Test
    void permutationFollowsTheDocumentedAlgorithm() {
        // golden values from an independent Python implementation of the algorithm in the Javadoc
        assertArrayEquals(new int[] {8, 9, 4, 0, 7, 6, 3, 5, 2, 1}, DataLoader.permutation(10, 42, 0));
        assertArrayEquals(new int[] {4, 6, 8, 3, 0, 7, 5, 9, 2, 1}, DataLoader.permutation(10, 42, 1));
        assertArrayEquals(new int[] {0, 2, 4, 3, 7, 6, 9, 5, 10, 8, 1, 11}, DataLoader.permutation(12, -7, 3));
    }

    @Test
    void sameSeedAndEpochGiveTheSameBatchesInAnyLoader() {
        try (DataLoader a =
                        DataLoader.builder(indexed(N), 10).shuffle(true).seed(5).build();
                DataLoader b =
                        DataLoader.builder(indexed(N), 10).shuffle(true).seed(5).build()) {
            List<int[]> a3 = epochIndices(a, 3);
            epochIndices(b, 0); // an earlier epoch on b must not matter
            List<int[]> b3 = epochIndices(b, 3);
            assertEquals(a3.size(), b3.size());
            for (int i = 0; i < a3.size(); i++) {
                assertArrayEquals(a3.get(i), b3.get(i));
            }
            assertArrayEquals(a.permutation(3), flatten(a3));
        }
    }

    @Test
    void differentEpochsAndSeedsDiffer() {
        try (DataLoader a =
                        DataLoader.builder(indexed(N), 10).shuffle(true).seed(5).build();
                DataLoader c =
                        DataLoader.builder(indexed(N), 10).shuffle(true).seed(6).build()) {
            int[] e0 = flatten(epochIndices(a, 0));
            int[] e1 = flatten(epochIndices(a, 1));
            assertFalse(Arrays.equals(e0, e1), "epochs 0 and 1 have the same order");
            assertFalse(Arrays.equals(e0, flatten(epochIndices(c, 0))), "seeds 5 and 6 give the same order");
            int[] identity = new int[N];
            Arrays.setAll(identity, i -> i);
            assertFalse(Arrays.equals(identity, e0), "shuffled epoch is in file order");
        }
    }

    @Test
    void everySampleExactlyOncePerEpochAndLastBatchIsPartial() {
        try (DataLoader loader =
                DataLoader.builder(indexed(N), 10).shuffle(true).seed(1).build()) {
            assertEquals(11, loader.batchesPerEpoch());
            for (int e = 0; e < 3; e++) {
                List<int[]> batches = epochIndices(loader, e);
                assertEquals(11, batches.size());
                for (int i = 0; i < 10; i++) {
                    assertEquals(10, batches.get(i).length);
                }
                assertEquals(3, batches.get(10).length, "103 = 10 x 10 + 3");
                int[] all = flatten(batches);
                Arrays.sort(all);
                for (int i = 0; i < N; i++) {
                    assertEquals(i, all[i]);
                }
            }
        }
    }

    @Test
    void dropLastDropsThePartialBatch() {
        try (DataLoader loader =
                DataLoader.builder(indexed(N), 10).shuffle(true).dropLast(true).build()) {
            assertEquals(10, loader.batchesPerEpoch());
            List<int[]> batches = epochIndices(loader, 0);
            assertEquals(10, batches.size());
            assertArrayEquals(Arrays.copyOf(loader.permutation(0), 100), flatten(batches));
        }
        try (DataLoader tiny = DataLoader.builder(indexed(5), 10).dropLast(true).build()) {
            assertEquals(0, tiny.batchesPerEpoch());
            assertFalse(tiny.epoch(0).hasNext());
        }
    }

    @Test
    void noShuffleIsFileOrder() {
        try (DataLoader loader = DataLoader.builder(indexed(N), 16).build()) {
            int[] order = flatten(epochIndices(loader, 7));
            for (int i = 0; i < N; i++) {
                assertEquals(i, order[i]);
            }
        }
    }

    @Test
    void prefetchGivesIdenticalBatches() {
        for (boolean dropLast : new boolean[] {false, true}) {
            List<int[]> reference;
            try (DataLoader plain = DataLoader.builder(indexed(N), 8)
                    .shuffle(true)
                    .seed(9)
                    .dropLast(dropLast)
                    .build()) {
                reference = epochIndices(plain, 2);
            }
            for (int prefetch = 1; prefetch <= 3; prefetch++) {
                try (DataLoader pre = DataLoader.builder(indexed(N), 8)
                        .shuffle(true)
                        .seed(9)
                        .dropLast(dropLast)
                        .prefetch(prefetch)
                        .build()) {
                    for (int repeat = 0; repeat < 3; repeat++) {
                        List<int[]> got = epochIndices(pre, 2);
                        assertEquals(reference.size(), got.size());
                        for (int i = 0; i < got.size(); i++) {
                            assertArrayEquals(reference.get(i), got.get(i), "prefetch " + prefetch + ", batch " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void resumingMidEpochGivesTheRemainingBatches() {
        try (DataLoader loader = DataLoader.builder(indexed(N), 10)
                .shuffle(true)
                .seed(11)
                .prefetch(1)
                .build()) {
            List<int[]> full = epochIndices(loader, 4);
            try (DataLoader.Epoch it = loader.epoch(4, 6)) {
                assertEquals(6, it.nextBatchIndex());
                int k = 6;
                while (it.hasNext()) {
                    assertArrayEquals(full.get(k++), indices(it.next()));
                }
                assertEquals(11, k);
                assertThrows(NoSuchElementException.class, it::next);
            }
            assertThrows(IllegalArgumentException.class, () -> loader.epoch(0, 12));
        }
    }

    @Test
    void buffersAreReusedNotReallocated() {
        try (DataLoader loader = DataLoader.builder(indexed(N), 10).build()) {
            DataLoader.Epoch it = loader.epoch(0);
            Batch first = it.next();
            int[] firstIdx = indices(first);
            Batch second = it.next();
            assertSame(first, second, "a full batch reuses its tensors");
            assertNotEquals(firstIdx[0], indices(second)[0], "and its buffers now hold the next batch");
        }
    }

    @Test
    void startingAnotherEpochInvalidatesTheOldIterator() {
        try (DataLoader loader = DataLoader.builder(indexed(N), 10).prefetch(2).build()) {
            DataLoader.Epoch old = loader.epoch(0);
            old.next();
            loader.epoch(1);
            IllegalStateException e = assertThrows(IllegalStateException.class, old::next);
            assertTrue(e.getMessage().contains("epoch 1 was started"), e.getMessage());
        }
        DataLoader closed = DataLoader.builder(indexed(N), 10).build();
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.epoch(0));
    }

    @Test
    void closeStopsThePrefetchThread() throws InterruptedException {
        DataLoader loader = DataLoader.builder(indexed(N), 4).prefetch(2).build();
        DataLoader.Epoch it = loader.epoch(0);
        it.next();
        assertTrue(threadAlive("forge-data-loader-epoch-0"));
        loader.close();
        assertFalse(threadAlive("forge-data-loader-epoch-0"), "the prefetch thread outlived close()");
    }

    private static boolean threadAlive(String name) {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals(name) && t.isAlive());
    }

    @Test
    void aFailingDatasetFailsTheSameWayWithAndWithoutPrefetch() {
        NpyDataset base = indexed(N);
        Dataset failing = new Dataset() {
            @Override
            public int size() {
                return base.size();
            }

            @Override
            public long[] sampleShape() {
                return base.sampleShape();
            }

            @Override
            public int numClasses() {
                return base.numClasses();
            }

            @Override
            public List<String> classNames() {
                return base.classNames();
            }

            @Override
            public void copySample(int index, float[] dst, int offset) {
                if (index == 42) {
                    throw new DatasetException("sample 42 is broken");
                }
                base.copySample(index, dst, offset);
            }

            @Override
            public long label(int index) {
                return base.label(index);
            }
        };
        for (int prefetch = 0; prefetch <= 2; prefetch++) {
            try (DataLoader loader =
                    DataLoader.builder(failing, 10).prefetch(prefetch).build()) {
                DataLoader.Epoch it = loader.epoch(0);
                for (int b = 0; b < 4; b++) {
                    it.next();
                }
                DatasetException e = assertThrows(DatasetException.class, it::next, "prefetch " + prefetch);
                assertEquals("sample 42 is broken", e.getMessage());
            }
        }
    }

    @Test
    void regressionTargetsComeAsFloats() {
        float[] x = new float[5 * 3];
        float[] t = new float[5 * 2];
        for (int i = 0; i < 5; i++) {
            x[3 * i] = i;
            t[2 * i] = 10 * i;
            t[2 * i + 1] = -i;
        }
        NpyDataset reg = NpyDataset.of(Tensor.of(x, 5, 3), Tensor.of(t, 5, 2), 0);
        try (DataLoader loader =
                DataLoader.builder(reg, 2).shuffle(true).seed(3).prefetch(1).build()) {
            int seen = 0;
            for (Batch b : loader.epoch(0)) {
                assertEquals(DType.FLOAT32, b.labels().dtype());
                assertArrayEquals(new long[] {b.size(), 2}, b.labels().shape());
                assertArrayEquals(new long[] {b.size(), 3}, b.inputs().shape());
                for (int j = 0; j < b.size(); j++) {
                    int i = (int) b.inputs().getFloat(3L * j);
                    assertEquals(10f * i, b.labels().getFloat(2L * j));
                    assertEquals(-i, b.labels().getFloat(2L * j + 1));
                    seen++;
                }
            }
            assertEquals(5, seen);
        }
    }

    @Test
    void batchTensorsFeedLikeAnyTensor() {
        try (DataLoader loader =
                DataLoader.builder(Normalize.of(1f, 2f).apply(indexed(4)), 3).build()) {
            DataLoader.Epoch it = loader.epoch(0);
            Batch b = it.next();
            Tensor copy = Tensor.of(b.inputs().toFloatArray(), b.inputs().shape());
            assertEquals(copy, b.inputs());
            assertArrayEquals(
                    new float[] {-0.5f, -0.25f, 0f, 0.25f, 0.5f, 0.75f},
                    b.inputs().toFloatArray());
            Batch last = it.next();
            assertEquals(1, last.size());
            assertArrayEquals(new float[] {1f, 1.25f}, last.inputs().toFloatArray());
            assertArrayEquals(new long[] {3}, last.labels().toLongArray());
        }
    }
}
