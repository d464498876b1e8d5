package dev.forge.compiler.train;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * How many data-parallel replicas train in this JVM ({@link Training#replicas(Replicas)}): a fixed count,
 * or {@link #auto()}, which times a few steps of the actual net at 1, 2 (and all cores) replicas at the
 * start of the run and keeps the fastest. One replica is the single-session {@link Trainer}; more are a
 * {@link ReplicatedTrainer}.
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
     * What {@link #auto()} measured and chose.
     *
     * @param millisPerStep median milliseconds per training step by replica count, in the order measured
     * @param chosen the count kept (the fastest)
     */
    public record Choice(Map<Integer, Double> millisPerStep, int chosen) {
        /** Copies the map. */
        public Choice {
            millisPerStep = new LinkedHashMap<>(millisPerStep);
        }

        /** One line, e.g. {@code replicas auto: 1 -> 10.4 ms/step, 2 -> 6.9 ms/step; chose 2}. */
        public String describe() {
            return "replicas auto: "
                    + millisPerStep.entrySet().stream()
                            .map(e -> String.format(Locale.ROOT, "%d -> %.2f ms/step", e.getKey(), e.getValue()))
                            .collect(Collectors.joining(", "))
                    + "; chose " + chosen;
        }
    }
}
