package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ConcurrencyTest {
    private static final int THREADS = 8;
    private static final int RUNS = 500;

    private static Tensor input(int seed) {
        Random r = new Random(seed);
        float[] x = new float[3 * 64];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextFloat() * 2 - 1;
        }
        return Tensor.of(x, 3, 1, 8, 8);
    }

    @Test
    void manyThreadsGetTheSameResultsAsOne() throws Exception {
        try (Model m = Model.load(TestModels.conv(), "conv", ModelOptions.defaults())) {
            List<Tensor> inputs = new ArrayList<>();
            List<Tensor> expected = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                inputs.add(input(t));
                expected.add(m.run(inputs.get(t)));
            }
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                CountDownLatch start = new CountDownLatch(1);
                List<Future<Integer>> futures = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    final int id = t;
                    futures.add(pool.submit(() -> {
                        start.await();
                        int same = 0;
                        for (int i = 0; i < RUNS; i++) {
                            // alternate inputs so threads really interleave different data
                            int which = (id + i) % THREADS;
                            if (m.run(inputs.get(which)).equals(expected.get(which))) {
                                same++;
                            }
                        }
                        return same;
                    }));
                }
                start.countDown();
                for (Future<Integer> f : futures) {
                    assertEquals(RUNS, f.get(120, TimeUnit.SECONDS));
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void runAfterCloseIsAnIllegalStateException() {
        Model m = Model.load(TestModels.relu(), "relu", ModelOptions.defaults());
        assertEquals(4, m.run(Tensor.of(new float[4], 1, 4)).size());
        m.close();
        m.close(); // idempotent
        assertTrue(m.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.run(Tensor.of(new float[4], 1, 4)));
        assertEquals("Model is closed", e.getMessage());
        assertThrows(IllegalStateException.class, () -> m.run(Map.of("x", Tensor.of(new float[4], 1, 4))));
        assertThrows(IllegalStateException.class, m::inputs);
        assertThrows(IllegalStateException.class, () -> m.topK(Tensor.of(new float[4], 1, 4), 1));
        assertTrue(m.toString().contains("closed"));
    }

    @Test
    void closeWaitsForRunsInProgressAndLaterRunsFailCleanly() throws Exception {
        Model m = Model.load(TestModels.conv(), "conv", ModelOptions.defaults());
        Tensor x = input(7);
        Tensor expected = m.run(x);
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        AtomicInteger wrong = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            CountDownLatch running = new CountDownLatch(4);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                futures.add(pool.submit(() -> {
                    running.countDown();
                    for (int i = 0; i < 2000; i++) {
                        try {
                            if (m.run(x).equals(expected)) {
                                ok.incrementAndGet();
                            } else {
                                wrong.incrementAndGet();
                            }
                        } catch (IllegalStateException e) {
                            closed.incrementAndGet();
                            return;
                        }
                    }
                }));
            }
            running.await();
            Thread.sleep(20);
            m.close();
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0, wrong.get());
        assertTrue(ok.get() > 0, "some runs finished before close");
        assertTrue(m.isClosed());
    }
}
