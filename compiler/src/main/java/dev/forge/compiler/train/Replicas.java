package dev.forge.compiler.train;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * How many data-parallel replicas train in this JVM ({@link Training#replicas(Replicas)}): a fixed count,
 * or {@link #auto()}, which times a few steps of the actual net at 1, 2 (and all cores) replicas, each with
 * and without micro-batches, at the start of the run and keeps the fastest {@link Layout}. One replica with
 * one run per step is the single-session {@link Trainer}; anything else is a {@link ReplicatedTrainer}.
 */
public final class Replicas {
    private static final Replicas AUTO = new Replicas(0);
    private final int count;

    private Replicas(int count) {
        this.count = count;
    }

    /**
     * A fixed number of replicas.
     *
     * @param count 1 or more (at most the batch size, checked when the run starts)
     * @throws IllegalArgumentException if {@code count} is below 1
     */
    public static Replicas of(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("replicas must be at least 1 (or auto), got " + count);
        }
        return new Replicas(count);
    }

    /** Measure 1, 2 and (when more) all-cores replicas on the net at the start of the run; keep the fastest. */
    public static Replicas auto() {
        return AUTO;
    }

    /**
     * Parses the command line's spelling: {@code auto} or a count.
     *
     * @throws IllegalArgumentException for anything else, or a count below 1
     */
    public static Replicas parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("auto")) {
            return AUTO;
        }
        int n;
        try {
            n = Integer.parseInt(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("replicas must be a count of at least 1 or auto, got '" + text + "'");
        }
        return of(n);
    }

    /** Whether the count is measured at the start of the run. */
    public boolean isAuto() {
        return count == 0;
    }

    /**
     * The fixed count.
     *
     * @throws IllegalStateException for {@link #auto()}
     */
    public int count() {
        if (count == 0) {
            throw new IllegalStateException("Replicas.auto() has no fixed count; it is measured when the run starts");
        }
        return count;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Replicas r && r.count == count;
    }

    @Override
    public int hashCode() {
        return count;
    }

    @Override
    public String toString() {
        return count == 0 ? "auto" : Integer.toString(count);
    }

    /**
     * How a step is laid out on the cores: {@code replicas} sessions run concurrently, each running its share
     * of the batch as {@code microBatches} gradient runs one after the other.
     *
     * @param replicas sessions, 1 or more
     * @param microBatches gradient runs per replica and step, 1 or more
     */
    public record Layout(int replicas, int microBatches) {
        /** Checks both counts. */
        public Layout {
            if (replicas < 1 || microBatches < 1) {
                throw new IllegalArgumentException(
                        "a layout needs at least 1 replica and 1 micro-batch, got " + replicas + " x " + microBatches);
            }
        }

        /** The layout for a batch: {@code replicas}, and micro-batches of at most {@code microBatchRows} rows (0: none). */
        public static Layout of(int replicas, int batchSize, int microBatchRows) {
            int share = (batchSize + replicas - 1) / replicas;
            return new Layout(
                    replicas, microBatchRows <= 0 ? 1 : Math.max(1, (share + microBatchRows - 1) / microBatchRows));
        }

        /** {@code 2}, or {@code 2x4} with micro-batches. */
        @Override
        public String toString() {
            return microBatches == 1 ? Integer.toString(replicas) : replicas + "x" + microBatches;
        }
    }

    /**
     * What {@link #auto()} measured and chose.
     *
     * @param millisPerStep median milliseconds per training step by layout, in the order measured
     * @param chosen the layout kept (the fastest)
     */
    public record Choice(Map<Layout, Double> millisPerStep, Layout chosen) {
        /** Copies the map. */
        public Choice {
            millisPerStep = new LinkedHashMap<>(millisPerStep);
        }

        /**
         * One line, e.g. {@code replicas auto: 1 -> 10.40 ms/step, 1x4 -> 8.10 ms/step, 2 -> 6.90 ms/step; chose 2
         * (replicas x micro-batches)}.
         */
        public String describe() {
            return "replicas auto: "
                    + millisPerStep.entrySet().stream()
                            .map(e -> String.format(Locale.ROOT, "%s -> %.2f ms/step", e.getKey(), e.getValue()))
                            .collect(Collectors.joining(", "))
                    + "; chose " + chosen + " (replicas x micro-batches)";
        }
    }
}
