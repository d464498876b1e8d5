package dev.forge.spark.train;

import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The trainers of one executor JVM, cached across rounds: building a training graph and its ONNX Runtime
 * sessions takes far longer than a round's few steps. A trainer is used by one task at a time (a task takes
 * one from the pool and gives it back), so an executor running several tasks at once builds as many trainers
 * as tasks run concurrently, never more. Every task sets the whole state, the step counter and the rate, so a
 * reused trainer carries nothing over from its previous task. When a run ends the driver closes the idle
 * trainers of its JVM (all of them in local mode); a cluster's executors keep theirs until the executor exits.
 */
final class TrainerPool {
    private static final Map<String, TrainingGraph> GRAPHS = new ConcurrentHashMap<>();
    private static final Map<String, ConcurrentLinkedDeque<Worker>> IDLE = new ConcurrentHashMap<>();
    private static final AtomicInteger CREATED = new AtomicInteger();

    private TrainerPool() {}

    /** A trainer with its reusable batch tensors (the trainer wraps a direct tensor for ONNX Runtime once). */
    static final class Worker {
        final String key;
        final Trainer trainer;
        final TrainingGraph graph;
        private final Map<Integer, Batch> batches = new HashMap<>();

        Worker(String key, TrainingGraph graph, Trainer trainer) {
            this.key = key;
            this.graph = graph;
            this.trainer = trainer;
        }

        /** Direct float32 inputs {@code [size, ...sample]} and int64 labels {@code [size]}, reused by size. */
        Batch batch(int size, long[] sampleShape, int sampleSize) {
            return batches.computeIfAbsent(size, n -> {
                long[] shape = new long[sampleShape.length + 1];
                shape[0] = n;
                System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
                ByteBuffer x = ByteBuffer.allocateDirect(n * sampleSize * 4).order(ByteOrder.LITTLE_ENDIAN);
                ByteBuffer y = ByteBuffer.allocateDirect(n * 8).order(ByteOrder.LITTLE_ENDIAN);
                return new Batch(Tensor.wrap(DType.FLOAT32, x, shape), Tensor.wrap(DType.INT64, y, n), x, y);
            });
        }
    }

    /** Batch tensors and the buffers they read (a tensor's own view of its buffer is read-only). */
    record Batch(Tensor x, Tensor y, ByteBuffer xBuffer, ByteBuffer yBuffer) {}

    /** An idle trainer for the recipe, or a new one. */
    static Worker acquire(Recipe recipe) {
        ConcurrentLinkedDeque<Worker> idle = IDLE.computeIfAbsent(recipe.key(), k -> new ConcurrentLinkedDeque<>());
        Worker w = idle.pollFirst();
        if (w != null) {
            return w;
        }
        TrainingGraph tg = GRAPHS.computeIfAbsent(recipe.key(), k -> recipe.trainingGraph());
        CREATED.incrementAndGet();
        return new Worker(recipe.key(), tg, new Trainer(tg, recipe.threads(), recipe.seed()));
    }

    /** Gives a trainer back after a task that finished normally. */
    static void release(Worker w) {
        IDLE.computeIfAbsent(w.key, k -> new ConcurrentLinkedDeque<>()).addFirst(w);
    }

    /** Closes a trainer whose task failed. */
    static void discard(Worker w) {
        w.trainer.close();
    }

    /** Trainers built in this JVM so far (tests check that rounds reuse them). */
    static int created() {
        return CREATED.get();
    }

    /** Closes the idle trainers of a recipe and forgets its graph (the driver calls it when a run ends). */
    static void clear(String key) {
        ConcurrentLinkedDeque<Worker> idle = IDLE.remove(key);
        if (idle != null) {
            idle.forEach(w -> w.trainer.close());
        }
        GRAPHS.remove(key);
    }
}
