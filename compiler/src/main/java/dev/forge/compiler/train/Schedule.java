package dev.forge.compiler.train;

import java.util.Locale;

/**
 * A learning-rate schedule by epoch, with PyTorch's closed forms ({@code StepLR},
 * {@code CosineAnnealingLR}), or by step ({@link WarmupCosine}, how fine-tuning is usually scheduled). The
 * trainer feeds the rate to the step graph as an input, so changing it never rebuilds anything.
 */
public sealed interface Schedule {
    /** The learning rate in epoch {@code epoch} (0-based) for base rate {@code base}. */
    double lr(double base, int epoch);

    /** True if the rate changes from step to step ({@link #lrAtStep}); false if only per epoch ({@link #lr}). */
    default boolean perStep() {
        return false;
    }

    /**
     * The learning rate of step {@code step} (1-based, counted over the whole run) in epoch {@code epoch} of
     * a run of {@code totalSteps} steps; per-epoch schedules give {@link #lr(double, int)}.
     */
    default double lrAtStep(double base, int epoch, long step, long totalSteps) {
        return lr(base, epoch);
    }

    /** The constant rate. */
    record Constant() implements Schedule {
        @Override
        public double lr(double base, int epoch) {
            return base;
        }

        @Override
        public String toString() {
            return "constant";
        }
    }

    /**
     * lr = base * gamma^(epoch / stepSize) (integer division), as {@code torch.optim.lr_scheduler.StepLR}.
     *
     * @param stepSize epochs between decays
     * @param gamma decay factor
     */
    record Step(int stepSize, double gamma) implements Schedule {
        /** Checks the values. */
        public Step {
            if (stepSize < 1 || !(gamma >= 0) || Double.isInfinite(gamma)) {
                throw new IllegalArgumentException("step schedule needs step size >= 1 and a finite gamma >= 0, got "
                        + stepSize + " and " + gamma);
            }
        }

        @Override
        public double lr(double base, int epoch) {
            return base * Math.pow(gamma, Math.floorDiv(epoch, stepSize));
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "step(step_size=%d, gamma=%s)", stepSize, gamma);
        }
    }

    /**
     * lr = etaMin + (base - etaMin) (1 + cos(pi epoch / tMax)) / 2, as
     * {@code torch.optim.lr_scheduler.CosineAnnealingLR}.
     *
     * @param tMax half period in epochs
     * @param etaMin minimum rate
     */
    record Cosine(int tMax, double etaMin) implements Schedule {
        /** Checks the values. */
        public Cosine {
            if (tMax < 1 || !(etaMin >= 0) || Double.isInfinite(etaMin)) {
                throw new IllegalArgumentException(
                        "cosine schedule needs t_max >= 1 and a finite eta_min >= 0, got " + tMax + " and " + etaMin);
            }
        }

        @Override
        public double lr(double base, int epoch) {
            return etaMin + (base - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "cosine(t_max=%d, eta_min=%s)", tMax, etaMin);
        }
    }

    /**
     * Linear warm-up for {@code warmupSteps} steps, then cosine decay to {@code etaMin} at the run's last step,
     * per step. Step {@code s} (1-based) of {@code T}: {@code lr = base * s / W} while {@code s <= W}, then
     * {@code etaMin + (base - etaMin) (1 + cos(pi (s - W) / (T - W))) / 2}. This is Hugging Face's
     * {@code get_cosine_schedule_with_warmup} (with {@code etaMin} 0) read one step later, so that the first
     * step trains at {@code base / W} instead of 0; the peak {@code base} is reached at step {@code W}, and the
     * last step {@code T} runs at {@code etaMin}.
     *
     * @param warmupSteps W, 0 for none
     * @param etaMin the final rate
     */
    record WarmupCosine(long warmupSteps, double etaMin) implements Schedule {
        /** Checks the values. */
        public WarmupCosine {
            if (warmupSteps < 0 || !(etaMin >= 0) || Double.isInfinite(etaMin)) {
                throw new IllegalArgumentException("warm-up cosine schedule needs warm-up steps >= 0 and a finite"
                        + " eta_min >= 0, got " + warmupSteps + " and " + etaMin);
            }
        }

        @Override
        public boolean perStep() {
            return true;
        }

        /** The rate at an epoch is not defined without the step: the trainer asks {@link #lrAtStep}. */
        @Override
        public double lr(double base, int epoch) {
            throw new UnsupportedOperationException("warmup-cosine is a per-step schedule; use lrAtStep");
        }

        @Override
        public double lrAtStep(double base, int epoch, long step, long totalSteps) {
            if (step <= warmupSteps) {
                return base * step / warmupSteps;
            }
            long decay = totalSteps - warmupSteps;
            double progress = decay <= 0 ? 1 : Math.min(1.0, (double) (step - warmupSteps) / decay);
            return etaMin + (base - etaMin) * (1 + Math.cos(Math.PI * progress)) / 2;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "warmup-cosine(warmup_steps=%d, eta_min=%s)", warmupSteps, etaMin);
        }
    }

    /**
     * Linear warm-up for {@code warmupSteps} steps, then cosine decay to 0 over the rest of the run
     * ({@link WarmupCosine}).
     */
    static Schedule warmupCosine(long warmupSteps) {
        return new WarmupCosine(warmupSteps, 0);
    }

    /** The base rate in every epoch. */
    static Schedule constant() {
        return new Constant();
    }

    /**
     * The rate multiplied by {@code gamma} every {@code stepSize} epochs ({@code StepLR}).
     *
     * @param stepSize epochs between decays, at least 1
     * @param gamma decay factor
     */
    static Schedule step(int stepSize, double gamma) {
        return new Step(stepSize, gamma);
    }

    /**
     * Cosine annealing from the base rate down to 0 over {@code tMax} epochs ({@code CosineAnnealingLR}).
     *
     * @param tMax half period in epochs, at least 1
     */
    static Schedule cosine(int tMax) {
        return new Cosine(tMax, 0);
    }

    /**
     * Cosine annealing from the base rate down to {@code etaMin} over {@code tMax} epochs.
     *
     * @param tMax half period in epochs, at least 1
     * @param etaMin minimum rate
     */
    static Schedule cosine(int tMax, double etaMin) {
        return new Cosine(tMax, etaMin);
    }
}
