package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * One loaded model shared by 8 threads serving 20,000 requests of batch sizes 1 to 64: no errors, and
 * every result bit-for-bit equal to the single-threaded result for the same input. The model is
 * PyTorch's ops-zoo CNN (strided, dilated and grouped Conv, BatchNorm folded, pooling, Concat, Gemm,
 * LogSoftmax). Prints the requests served and their rate.
 */
class SharedModelStressTest {
    static final int THREADS = 8;
    static final int REQUESTS = Integer.getInteger("forge.stress.requests", 20_000);
    static final int DISTINCT_INPUTS = 128;

    @Test
    void eightThreadsServe20000MixedBatchesBitIdenticalToOneThread() throws Exception {
        long nativeBefore = Model.openNativeObjects();
        Path model = Path.of(SharedModelStressTest.class
                .getResource("ModelLoaderFuzzTestInputs/fuzzModelLoader/pytorch-ops-zoo-opset13.onnx")
                .toURI());
        try (Model m = Model.load(model)) {
            Random r = new Random(2024);
            List<Tensor> inputs = new ArrayList<>();
            List<Tensor> expected = new ArrayList<>();
            for (int i = 0; i < DISTINCT_INPUTS; i++) {
                int batch = 1 + (i * 37) % 64; // every size 1..64, twice
                float[] x = new float[batch * 3 * 16 * 16];
                for (int j = 0; j < x.length; j++) {
                    x[j] = (float) r.nextGaussian();
                }
                Tensor in = i % 2 == 0 ? Tensor.of(x, batch, 3, 16, 16) : direct(x, batch);
                inputs.add(in);
                expected.add(m.run(in)); // single-threaded reference
            }
            AtomicInteger served = new AtomicInteger();
            AtomicInteger samples = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            long t0 = System.nanoTime();
            try {
                CountDownLatch start = new CountDownLatch(1);
                List<Future<List<String>>> results = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    final int thread = t;
                    results.add(pool.submit(() -> {
                        start.await();
                        List<String> wrong = new ArrayList<>();
                        Random pick = new Random(thread);
                        for (int i = thread; i < REQUESTS; i += THREADS) {
                            int which = pick.nextInt(DISTINCT_INPUTS);
                            Tensor out = m.run(inputs.get(which));
                            if (!out.equals(expected.get(which))) {
                                wrong.add("request " + i + " (input " + which + ", batch "
                                        + inputs.get(which).dim(0) + ")");
                            }
                            served.incrementAndGet();
                            samples.addAndGet((int) inputs.get(which).dim(0));
                        }
                        return wrong;
                    }));
                }
                start.countDown();
                List<String> wrong = new ArrayList<>();
                for (Future<List<String>> f : results) {
                    wrong.addAll(f.get(10, TimeUnit.MINUTES));
                }
                assertTrue(
                        wrong.isEmpty(),
                        wrong.size() + " results differ from the single-threaded ones, e.g. "
                                + wrong.subList(0, Math.min(5, wrong.size())));
            } finally {
                pool.shutdownNow();
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(REQUESTS, served.get());
            System.out.printf(
                    "SharedModelStressTest: %d requests (%d samples, batch 1..64) on %d threads in %.1f s: %.0f requests/s,"
                            + " all bit-identical to the single-threaded results%n",
                    served.get(), samples.get(), THREADS, seconds, served.get() / seconds);
        }
        assertEquals(
                nativeBefore, Model.openNativeObjects(), "native objects after closing: " + NativeObjects.describe());
    }

    /** The same values on a direct buffer, handed to ONNX Runtime without a copy. */
    static Tensor direct(float[] x, int batch) {
        java.nio.ByteBuffer b =
                java.nio.ByteBuffer.allocateDirect(4 * x.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(x);
        return Tensor.wrap(DType.FLOAT32, b, batch, 3, 16, 16);
    }
}
