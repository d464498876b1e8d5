package dev.forge.compiler.train;

import dev.forge.runtime.Device;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@link Replicas#auto()}: opens a trainer for each candidate {@link Replicas.Layout} (1, 2 and all cores
 * replicas, at most the batch size, each whole or in micro-batches of 32 and 16 rows unless the run fixes the
 * micro-batch), times a few steps of each on a real batch, alternating so a change of machine load hits all
 * alike, and keeps the fastest trainer with its state reset. The measured steps change nothing the run keeps.
 */
final class ReplicaProbe {
    /** Steps per candidate per round; the first round is a warm-up and is not counted. */
    private static final int STEPS = 3;

    private static final int ROUNDS = 4;

    private ReplicaProbe() {}

    /** Micro-batch sizes {@code auto} tries when the run does not fix one: activations of a small CNN fit the caches. */
    private static final int[] MICRO_BATCH_ROWS = {32, 16};

    static StepTrainer open(TrainingGraph tg, Replicas.Layout layout, ModelOptions runtime, long seed) {
        return layout.replicas() == 1 && layout.microBatches() == 1
                ? new Trainer(tg, runtime, seed)
                : new ReplicatedTrainer(tg, layout.replicas(), layout.microBatches(), runtime, seed);
    }

    /**
     * The candidate layouts for a batch size on this machine's cores (only one session, whole batches, off the
     * CPU): 1, 2 and all-cores replicas, each whole and, unless {@code microBatchRows} fixes it (0: not fixed),
     * in micro-batches of 32 and 16 rows where that splits the replica's share.
     */
    static List<Replicas.Layout> candidates(ModelOptions runtime, int batchSize, int microBatchRows) {
        Set<Replicas.Layout> c = new LinkedHashSet<>();
        if (runtime.device().kind() != Device.Kind.CPU) {
            c.add(new Replicas.Layout(1, 1));
            return new ArrayList<>(c);
        }
        Set<Integer> counts = new LinkedHashSet<>(List.of(1));
        int cores = runtime.effectiveIntraOpThreads();
        for (int n : new int[] {2, cores}) {
            if (n >= 2 && n <= cores && n <= batchSize) {
                counts.add(n);
            }
        }
        for (int n : counts) {
            if (microBatchRows > 0) {
                c.add(Replicas.Layout.of(n, batchSize, microBatchRows));
                continue;
            }
            c.add(new Replicas.Layout(n, 1));
            for (int rows : MICRO_BATCH_ROWS) {
                c.add(Replicas.Layout.of(n, batchSize, rows));
            }
        }
        return new ArrayList<>(c);
    }

    /**
     * Measures every candidate on batch ({@code x}, {@code y}) and returns the fastest trainer, reset to the
     * graph's initial state, step 0 and the optimizer's rate, with what was measured.
     */
    static Map.Entry<StepTrainer, Replicas.Choice> choose(
            TrainingGraph tg, ModelOptions runtime, long seed, Tensor x, Tensor y, int microBatchRows) {
        List<Replicas.Layout> counts = candidates(runtime, (int) x.shape()[0], microBatchRows);
        Map<Replicas.Layout, StepTrainer> trainers = new LinkedHashMap<>();
        try {
            for (Replicas.Layout n : counts) {
                trainers.put(n, open(tg, n, runtime, seed));
            }
            Map<Replicas.Layout, List<Double>> times = new LinkedHashMap<>();
            counts.forEach(n -> times.put(n, new ArrayList<>()));
            for (int round = 0; round < ROUNDS; round++) {
                for (Replicas.Layout n : counts) {
                    StepTrainer t = trainers.get(n);
                    long t0 = System.nanoTime();
                    for (int i = 0; i < STEPS; i++) {
                        t.step(x, y);
                    }
                    if (round > 0) {
                        times.get(n).add((System.nanoTime() - t0) / 1e6 / STEPS);
                    }
                }
            }
            Map<Replicas.Layout, Double> medians = new LinkedHashMap<>();
            Replicas.Layout best = counts.get(0);
            for (Replicas.Layout n : counts) {
                List<Double> v = times.get(n);
                v.sort(null);
                medians.put(n, v.get(v.size() / 2));
                if (medians.get(n) < medians.get(best)) {
                    best = n;
                }
            }
            StepTrainer chosen = trainers.remove(best);
            chosen.setState(tg.initialState());
            chosen.setSteps(0);
            chosen.setLearningRate(tg.optimizer().lr());
            return Map.entry(chosen, new Replicas.Choice(medians, best));
        } finally {
            trainers.values().forEach(StepTrainer::close);
        }
    }
}
