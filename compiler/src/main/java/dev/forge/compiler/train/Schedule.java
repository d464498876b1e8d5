package dev.forge.compiler.train;

import java.util.Locale;

/**
 * A learning-rate schedule by epoch, with PyTorch's closed forms ({@code StepLR},
 * {@code CosineAnnealingLR}). The trainer feeds the rate to the step graph as an input, so changing it
 * never rebuilds anything.
 */
public sealed interface Schedule {
    /** The learning rate in epoch {@code epoch} (0-based) for base rate {@code base}. */
    double lr(double base, int epoch);

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
