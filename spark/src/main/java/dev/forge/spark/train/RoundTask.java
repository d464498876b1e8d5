package dev.forge.spark.train;

import dev.forge.compiler.train.Trainer;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.TaskContext;

/** The work of one task: k training steps of one worker, or an evaluation of the state on a shard. */
final class RoundTask {
    private static final java.util.concurrent.atomic.AtomicInteger INJECTED =
            new java.util.concurrent.atomic.AtomicInteger();

    private RoundTask() {}

    /** Failures injected by {@link SparkTrainer#failFirstAttempt} in this JVM (tests check that one happened). */
    static int injectedFailures() {
        return INJECTED.get();
    }

    /**
     * Sets the round's state on a cached trainer and trains the worker's next batches (see {@link ShardPlan}).
     * A pure function of (recipe, input, shard): the trainer's dropout masks depend on (seed, step) only.
     */
    static RoundSum train(Recipe recipe, RoundInput in, Shard shard) {
        TrainerPool.Worker w = TrainerPool.acquire(recipe);
        boolean ok = false;
        try {
            Trainer t = w.trainer;
            t.setState(stateMap(w, in));
            t.setSteps(in.step());
            int[] order = in.shuffle()
                    ? ShardPlan.order(shard.size(), recipe.seed(), shard.worker, in.epoch())
                    : identity(shard.size());
            int b = in.workerBatch();
            long[] sampleShape = sampleShape(w);
            double lossSum = 0;
            long correct = 0;
            long seen = 0;
            long t0 = System.nanoTime();
            for (int j = 0; j < in.steps(); j++) {
                if (j == in.steps() / 2 && injectFailure(in, shard)) {
                    INJECTED.incrementAndGet();
                    throw new IllegalStateException("SparkTrainer: injected failure of worker " + shard.worker
                            + " in round " + (in.round() + 1) + " after " + j + " steps (first attempt only)");
                }
                TrainerPool.Batch xy = w.batch(b, sampleShape, shard.sampleSize);
                fill(xy, shard, order, (in.firstBatch() + j) * b, b);
                t.setLearningRate(in.lrs()[j]);
                Trainer.StepResult r = t.step(xy.x(), xy.y());
                if (!Double.isFinite(r.loss())) {
                    throw new IllegalStateException(String.format(
                            Locale.ROOT,
                            "SparkTrainer: the loss became %s on worker %d at step %d (epoch %d, round %d, lr %s);"
                                    + " lower the learning rate and resume from the last checkpoint",
                            r.loss(),
                            shard.worker,
                            t.steps(),
                            in.epoch() + 1,
                            in.round() + 1,
                            in.lrs()[j]));
                }
                lossSum += r.loss() * r.size();
                correct += Math.max(0, r.correct());
                seen += r.size();
            }
            RoundSum out = RoundSum.of(
                    stateArrays(t.state(), in.names()), t.steps(), lossSum, correct, seen, System.nanoTime() - t0);
            ok = true;
            return out;
        } finally {
            if (ok) {
                TrainerPool.release(w);
            } else {
                TrainerPool.discard(w);
            }
        }
    }

    /** Mean loss (sum over rows), correct predictions and rows of the state on a shard, in batches. */
    static RoundSum evaluate(Recipe recipe, RoundInput in, Shard shard, int batch) {
        TrainerPool.Worker w = TrainerPool.acquire(recipe);
        boolean ok = false;
        try {
            Trainer t = w.trainer;
            t.setState(stateMap(w, in));
            long[] sampleShape = sampleShape(w);
            int[] order = identity(shard.size());
            RoundSum sum = RoundSum.zero();
            for (int from = 0; from < shard.size(); from += batch) {
                int n = Math.min(batch, shard.size() - from);
                TrainerPool.Batch xy = w.batch(n, sampleShape, shard.sampleSize);
                fill(xy, shard, order, from, n);
                Trainer.EvalOutput out = t.evaluate(xy.x(), xy.y());
                float[] p = out.prediction().toFloatArray();
                int classes = (int) out.prediction().shape()[1];
                for (int r = 0; r < n; r++) {
                    int best = 0;
                    for (int c = 1; c < classes; c++) {
                        if (p[r * classes + c] > p[r * classes + best]) {
                            best = c;
                        }
                    }
                    if (best == shard.labels[from + r]) {
                        sum.correct++;
                    }
                }
                sum.lossSum += out.loss() * n;
                sum.seen += n;
            }
            ok = true;
            return sum;
        } finally {
            if (ok) {
                TrainerPool.release(w);
            } else {
                TrainerPool.discard(w);
            }
        }
    }

    /** Positions {@code 0 .. n-1}: a shard in rank order. */
    private static int[] identity(int n) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        return order;
    }

    private static boolean injectFailure(RoundInput in, Shard shard) {
        TaskContext tc = TaskContext.get();
        return in.failWorker() == shard.worker && in.failRound() == in.round() && tc != null && tc.attemptNumber() == 0;
    }

    private static long[] sampleShape(TrainerPool.Worker w) {
        long[] in = w.graph.graph().type(w.graph.dataInput()).shape().toArrayWithWildcards();
        long[] shape = new long[in.length - 1];
        System.arraycopy(in, 1, shape, 0, shape.length);
        return shape;
    }

    /** Copies rows {@code order[from .. from+n)} of the shard into the batch tensors. */
    private static void fill(TrainerPool.Batch xy, Shard shard, int[] order, int from, int n) {
        FloatBuffer x = xy.xBuffer().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        ByteBuffer y = xy.yBuffer().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int s = shard.sampleSize;
        for (int i = 0; i < n; i++) {
            int row = order[from + i];
            x.put(shard.images, row * s, s);
            y.putLong(i * 8, shard.labels[row]);
        }
    }

    private static Map<String, Tensor> stateMap(TrainerPool.Worker w, RoundInput in) {
        Map<String, Tensor> shapes = w.graph.initialState();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < in.names().length; i++) {
            Tensor like = shapes.get(in.names()[i]);
            out.put(in.names()[i], Tensor.of(in.state()[i], like.shape()));
        }
        return out;
    }

    static float[][] stateArrays(Map<String, Tensor> state, String[] names) {
        float[][] out = new float[names.length][];
        for (int i = 0; i < names.length; i++) {
            out[i] = state.get(names[i]).toFloatArray();
        }
        return out;
    }
}
