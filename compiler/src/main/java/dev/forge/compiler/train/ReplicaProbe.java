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
 * {@link Replicas#auto()}: opens a trainer for each candidate count (1, 2 and all cores, at most the batch
 * size), times a few steps of each on a real batch, alternating so a change of machine load hits all alike,
 * and keeps the fastest trainer with its state reset. The measured steps change nothing the run keeps.
 */
final class ReplicaProbe {
    /** Steps per candidate per round; the first round is a warm-up and is not counted. */
    private static final int STEPS = 3;

    private static final int ROUNDS = 4;

    private ReplicaProbe() {}

    static StepTrainer open(TrainingGraph tg, int replicas, ModelOptions runtime, long seed) {
        return replicas == 1 ? new Trainer(tg, runtime, seed) : new ReplicatedTrainer(tg, replicas, runtime, seed);
    }

    /** The candidate counts for a batch size on this machine's cores (only 1 off the CPU). */
    static List<Integer> candidates(ModelOptions runtime, int batchSize) {
        Set<Integer> c = new LinkedHashSet<>();
        c.add(1);
        if (runtime.device().kind() == Device.Kind.CPU) {
            int cores = runtime.effectiveIntraOpThreads();
            for (int n : new int[] {2, cores}) {
                if (n >= 2 && n <= cores && n <= batchSize) {
                    c.add(n);
                }
            }
        }
        return new ArrayList<>(c);
    }

    /**
     * Measures every candidate on batch ({@code x}, {@code y}) and returns the fastest trainer, reset to the
     * graph's initial state, step 0 and the optimizer's rate, with what was measured.
     */
    static Map.Entry<StepTrainer, Replicas.Choice> choose(
            TrainingGraph tg, ModelOptions runtime, long seed, Tensor x, Tensor y) {
        List<Integer> counts = candidates(runtime, (int) x.shape()[0]);
        Map<Integer, StepTrainer> trainers = new LinkedHashMap<>();
        try {
            for (int n : counts) {
                trainers.put(n, open(tg, n, runtime, seed));
            }
            Map<Integer, List<Double>> times = new LinkedHashMap<>();
            counts.forEach(n -> times.put(n, new ArrayList<>()));
            for (int round = 0; round < ROUNDS; round++) {
                for (int n : counts) {
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
            Map<Integer, Double> medians = new LinkedHashMap<>();
            int best = counts.get(0);
            for (int n : counts) {
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
