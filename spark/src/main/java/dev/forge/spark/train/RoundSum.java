package dev.forge.spark.train;

import java.io.Serializable;

/**
 * A partial sum of worker states and metrics, the value {@code treeAggregate} combines. One worker's result keeps
 * its state in float32 (what crosses the network from a task is the state itself, 4 bytes per element); once two
 * are merged the sums are kept in double, so the average does not depend on the order Spark merges results in
 * beyond the last bit of a double (for two workers not at all: the sum of two numbers does not depend on their
 * order).
 */
final class RoundSum implements Serializable {
    private static final long serialVersionUID = 1L;

    private float[][] single;
    private double[][] sums;
    long workers;
    long step = -1;
    double lossSum;
    long correct;
    long seen;
    /** The longest time a worker spent in its steps (nanoseconds): the round's compute on the critical path. */
    long computeNanos;

    /** The empty sum ({@code treeAggregate}'s zero). */
    static RoundSum zero() {
        return new RoundSum();
    }

    /** One worker's result: its state after the round, its step counter and its training metrics. */
    static RoundSum of(float[][] state, long step, double lossSum, long correct, long seen, long computeNanos) {
        RoundSum s = new RoundSum();
        s.computeNanos = computeNanos;
        s.single = state;
        s.workers = 1;
        s.step = step;
        s.lossSum = lossSum;
        s.correct = correct;
        s.seen = seen;
        return s;
    }

    /** Adds {@code o} into this sum and returns it (metrics always; states when {@code o} carries one). */
    RoundSum merge(RoundSum o) {
        if (o.single != null || o.sums != null) {
            if (single == null && sums == null) {
                single = o.single;
                sums = o.sums;
                step = o.step;
            } else {
                add(o);
            }
        }
        workers += o.workers;
        lossSum += o.lossSum;
        correct += o.correct;
        seen += o.seen;
        computeNanos = Math.max(computeNanos, o.computeNanos);
        return this;
    }

    private void add(RoundSum o) {
        if (step != o.step) {
            // every worker starts from the same step and takes the same number of batches (ShardPlan)
            throw new IllegalStateException(
                    "SparkTrainer: workers ended the round at different steps (" + step + " and " + o.step + ")");
        }
        if (sums == null) {
            sums = widen(single);
            single = null;
        }
        for (int i = 0; i < sums.length; i++) {
            double[] d = sums[i];
            if (o.sums != null) {
                double[] s = o.sums[i];
                for (int j = 0; j < d.length; j++) {
                    d[j] += s[j];
                }
            } else {
                float[] s = o.single[i];
                for (int j = 0; j < d.length; j++) {
                    d[j] += s[j];
                }
            }
        }
    }

    /** The mean state: the sum divided by the number of workers, rounded to float32. */
    float[][] mean() {
        if (workers == 0) {
            throw new IllegalStateException("SparkTrainer: no worker returned a state");
        }
        if (sums == null) {
            return single;
        }
        float[][] out = new float[sums.length][];
        for (int i = 0; i < sums.length; i++) {
            out[i] = new float[sums[i].length];
            for (int j = 0; j < out[i].length; j++) {
                out[i][j] = (float) (sums[i][j] / workers);
            }
        }
        return out;
    }

    private static double[][] widen(float[][] s) {
        double[][] d = new double[s.length][];
        for (int i = 0; i < s.length; i++) {
            d[i] = new double[s[i].length];
            for (int j = 0; j < d[i].length; j++) {
                d[i][j] = s[i][j];
            }
        }
        return d;
    }
}
