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
        @Override
        public double lr(double base, int epoch) {
            return etaMin + (base - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "cosine(t_max=%d, eta_min=%s)", tMax, etaMin);
        }
    }

    /** Parses {@code constant}, {@code step:SIZE:GAMMA} or {@code cosine:TMAX[:ETA_MIN]}. */
    static Schedule parse(String text) {
        String[] p = text.toLowerCase(Locale.ROOT).split(":");
        try {
            return switch (p[0]) {
                case "constant", "none" -> new Constant();
                case "step" -> new Step(Integer.parseInt(p[1]), p.length > 2 ? Double.parseDouble(p[2]) : 0.1);
                case "cosine" -> new Cosine(Integer.parseInt(p[1]), p.length > 2 ? Double.parseDouble(p[2]) : 0);
                default -> throw new IllegalArgumentException();
            };
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("bad schedule '" + text + "'; use constant, step:SIZE[:GAMMA] or cosine:T_MAX[:ETA_MIN]");
        }
    }
}
