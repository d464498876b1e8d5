package dev.forge.compiler.train;

import dev.forge.compiler.autodiff.Emitter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * An optimizer as an update subgraph: for each parameter, ONNX nodes that read the parameter, its
 * gradient and its state tensors and produce their next values. Formulas and defaults are PyTorch's
 * ({@code torch.optim}), written one line per formula line. Values that change from step to step (the
 * learning rate of a schedule, Adam's bias corrections) are scalar graph inputs computed in Java by
 * {@link #scalars(long, double)}, so one graph serves every step.
 *
 * <p>Made by typed factories with PyTorch's defaults, refined by {@code with...} methods:
 * {@code Optimizer.adam(0.01).withBetas(0.9, 0.98)}, {@code Optimizer.momentum(0.1, 0.9).withWeightDecay(5e-4)}.
 */
public sealed interface Optimizer {
    /** Scalar input holding the learning rate of the current step. */
    String LR = "optimizer/lr";

    /** The short name, e.g. {@code adam} (the command line's spelling). */
    String name();

    /** The base learning rate. */
    double lr();

    /** Names of the state tensors kept per parameter (same shape as the parameter, zero at start). */
    List<String> stateNames();

    /**
     * The scalar inputs of step {@code step} (1-based) at learning rate {@code lr}.
     *
     * @return input name to value
     */
    Map<String, Float> scalars(long step, double lr);

    /**
     * Emits the update of one parameter.
     *
     * @param e emitter
     * @param p the parameter value
     * @param g its gradient
     * @param state current state values by {@link #stateNames()} name
     * @return the next parameter (key {@code ""}) and next states (keys from {@link #stateNames()})
     */
    default Map<String, String> emit(Emitter e, String p, String g, Map<String, String> state) {
        return emit(e, p, g, state, UnaryOperator.identity());
    }

    /**
     * Emits the update of one parameter that belongs to a parameter group with scalar inputs of its own
     * (discriminative learning rates: each group's scalars are {@link #scalars} at its own rate).
     *
     * @param scalar maps a scalar input name of {@link #scalars} to the name of the group's input
     * @see #emit(Emitter, String, String, Map)
     */
    Map<String, String> emit(Emitter e, String p, String g, Map<String, String> state, UnaryOperator<String> scalar);

    /** A copy with another base learning rate. */
    Optimizer withLr(double lr);

    /** The configuration as text, e.g. {@code adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0)}. */
    String describe();

    /**
     * Plain SGD ({@code torch.optim.SGD(lr)}: no momentum, no weight decay).
     *
     * @param lr learning rate
     */
    static Sgd sgd(double lr) {
        return new Sgd(lr, 0, false, 0);
    }

    /**
     * SGD with momentum ({@code torch.optim.SGD(lr, momentum)}, dampening 0).
     *
     * @param lr learning rate
     * @param momentum momentum factor, e.g. 0.9
     */
    static Sgd momentum(double lr, double momentum) {
        return new Sgd(lr, momentum, false, 0);
    }

    /**
     * SGD with Nesterov momentum ({@code torch.optim.SGD(lr, momentum, nesterov=True)}).
     *
     * @param lr learning rate
     * @param momentum momentum factor, e.g. 0.9
     */
    static Sgd nesterov(double lr, double momentum) {
        return new Sgd(lr, momentum, true, 0);
    }

    /**
     * RMSProp with PyTorch's defaults (alpha 0.99, eps 1e-8).
     *
     * @param lr learning rate
     */
    static RmsProp rmsprop(double lr) {
        return new RmsProp(lr, 0.99, 1e-8, 0);
    }

    /**
     * Adagrad with PyTorch's defaults (eps 1e-10).
     *
     * @param lr learning rate
     */
    static Adagrad adagrad(double lr) {
        return new Adagrad(lr, 1e-10, 0);
    }

    /**
     * Adam with PyTorch's defaults (betas (0.9, 0.999), eps 1e-8, no weight decay).
     *
     * @param lr learning rate
     */
    static Adam adam(double lr) {
        return new Adam(lr, 0.9, 0.999, 1e-8, 0, false);
    }

    /**
     * AdamW with PyTorch's defaults (betas (0.9, 0.999), eps 1e-8, decoupled weight decay 0.01).
     *
     * @param lr learning rate
     */
    static Adam adamw(double lr) {
        return new Adam(lr, 0.9, 0.999, 1e-8, 0.01, true);
    }

    /**
     * A copy with another weight decay: an L2 penalty added to the gradient, or for AdamW the decoupled
     * decay of the weights.
     *
     * @param weightDecay 0 or more
     */
    Optimizer withWeightDecay(double weightDecay);

    private static double checkWeightDecay(double weightDecay) {
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight decay must be a finite number >= 0, got " + weightDecay);
        }
        return weightDecay;
    }

    private static void checkLr(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be a finite number >= 0, got " + lr);
        }
    }

    private static void checkEps(double eps) {
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            throw new IllegalArgumentException("eps must be a finite number >= 0, got " + eps);
        }
    }

    /** g + weight_decay * p (L2 regularization folded into the gradient, as torch.optim does). */
    private static String decayed(Emitter e, String p, String g, double weightDecay) {
        return weightDecay == 0 ? g : e.op("Add", g, e.op("Mul", p, e.scalar((float) weightDecay)));
    }

    /**
     * SGD, with momentum and Nesterov momentum ({@code torch.optim.SGD}, dampening 0).
     *
     * @param lr learning rate
     * @param momentum momentum factor (0 for plain SGD)
     * @param nesterov use Nesterov momentum
     * @param weightDecay L2 penalty
     */
    record Sgd(double lr, double momentum, boolean nesterov, double weightDecay) implements Optimizer {
        /** Checks the values. */
        public Sgd {
            checkLr(lr);
            checkWeightDecay(weightDecay);
            if (!(momentum >= 0) || Double.isInfinite(momentum)) {
                throw new IllegalArgumentException("momentum must be a finite number >= 0, got " + momentum);
            }
            if (nesterov && momentum == 0) {
                throw new IllegalArgumentException("Nesterov momentum needs a momentum above 0");
            }
        }

        /** A copy with another momentum factor. */
        public Sgd withMomentum(double newMomentum) {
            return new Sgd(lr, newMomentum, nesterov, weightDecay);
        }

        @Override
        public Sgd withWeightDecay(double newWeightDecay) {
            return new Sgd(lr, momentum, nesterov, newWeightDecay);
        }

        @Override
        public String name() {
            return momentum == 0 ? "sgd" : nesterov ? "nesterov" : "momentum";
        }

        @Override
        public List<String> stateNames() {
            return momentum == 0 ? List.of() : List.of("momentum_buffer");
        }

        @Override
        public Map<String, Float> scalars(long step, double lr) {
            return Map.of(LR, (float) lr);
        }

        @Override
        public Map<String, String> emit(
                Emitter e, String p, String g, Map<String, String> state, UnaryOperator<String> scalar) {
            Map<String, String> out = new LinkedHashMap<>();
            String d = decayed(e, p, g, weightDecay); // g = g + wd * p
            if (momentum != 0) {
                String mu = e.scalar((float) momentum);
                String b = e.op("Add", e.op("Mul", state.get("momentum_buffer"), mu), d); // b = mu * b + g
                out.put("momentum_buffer", b);
                d = nesterov ? e.op("Add", d, e.op("Mul", b, mu)) : b; // d = g + mu * b  |  b
            }
            out.put("", e.op("Sub", p, e.op("Mul", d, scalar.apply(LR)))); // p = p - lr * d
            return out;
        }

        @Override
        public Optimizer withLr(double newLr) {
            return new Sgd(newLr, momentum, nesterov, weightDecay);
        }

        @Override
        public String describe() {
            return String.format(
                    Locale.ROOT,
                    "%s(lr=%s, momentum=%s, nesterov=%s, weight_decay=%s)",
                    name(),
                    lr,
                    momentum,
                    nesterov,
                    weightDecay);
        }
    }

    /**
     * RMSProp ({@code torch.optim.RMSprop}: alpha 0.99, eps 1e-8, not centered, no momentum).
     *
     * @param lr learning rate
     * @param alpha smoothing constant of the squared-gradient average
     * @param eps added to the root mean square
     * @param weightDecay L2 penalty
     */
    record RmsProp(double lr, double alpha, double eps, double weightDecay) implements Optimizer {
        /** Checks the values. */
        public RmsProp {
            checkLr(lr);
            checkWeightDecay(weightDecay);
            checkEps(eps);
            if (!(alpha >= 0 && alpha <= 1)) {
                throw new IllegalArgumentException("RMSProp alpha must be in [0, 1], got " + alpha);
            }
        }

        /** A copy with another smoothing constant. */
        public RmsProp withAlpha(double newAlpha) {
            return new RmsProp(lr, newAlpha, eps, weightDecay);
        }

        /** A copy with another epsilon. */
        public RmsProp withEps(double newEps) {
            return new RmsProp(lr, alpha, newEps, weightDecay);
        }

        @Override
        public RmsProp withWeightDecay(double newWeightDecay) {
            return new RmsProp(lr, alpha, eps, newWeightDecay);
        }

        @Override
        public String name() {
            return "rmsprop";
        }

        @Override
        public List<String> stateNames() {
            return List.of("square_avg");
        }

        @Override
        public Map<String, Float> scalars(long step, double lr) {
            return Map.of(LR, (float) lr);
        }

        @Override
        public Map<String, String> emit(
                Emitter e, String p, String g, Map<String, String> state, UnaryOperator<String> scalar) {
            String d = decayed(e, p, g, weightDecay); // g = g + wd * p
            String v = e.op(
                    "Add",
                    e.op("Mul", state.get("square_avg"), e.scalar((float) alpha)),
                    e.op("Mul", e.op("Mul", d, d), e.scalar((float) (1 - alpha)))); // v = a v + (1 - a) g^2
            String avg = e.op("Add", e.op("Sqrt", v), e.scalar((float) eps)); // avg = sqrt(v) + eps
            String next = e.op("Sub", p, e.op("Mul", e.op("Div", d, avg), scalar.apply(LR))); // p = p - lr * g / avg
            return Map.of("", next, "square_avg", v);
        }

        @Override
        public Optimizer withLr(double newLr) {
            return new RmsProp(newLr, alpha, eps, weightDecay);
        }

        @Override
        public String describe() {
            return String.format(
                    Locale.ROOT, "rmsprop(lr=%s, alpha=%s, eps=%s, weight_decay=%s)", lr, alpha, eps, weightDecay);
        }
    }

    /**
     * Adagrad ({@code torch.optim.Adagrad}: eps 1e-10, initial accumulator 0, no learning-rate decay).
     *
     * @param lr learning rate
     * @param eps added to the root of the accumulated squares
     * @param weightDecay L2 penalty
     */
    record Adagrad(double lr, double eps, double weightDecay) implements Optimizer {
        /** Checks the values. */
        public Adagrad {
            checkLr(lr);
            checkWeightDecay(weightDecay);
            checkEps(eps);
        }

        /** A copy with another epsilon. */
        public Adagrad withEps(double newEps) {
            return new Adagrad(lr, newEps, weightDecay);
        }

        @Override
        public Adagrad withWeightDecay(double newWeightDecay) {
            return new Adagrad(lr, eps, newWeightDecay);
        }

        @Override
        public String name() {
            return "adagrad";
        }

        @Override
        public List<String> stateNames() {
            return List.of("sum");
        }

        @Override
        public Map<String, Float> scalars(long step, double lr) {
            return Map.of(LR, (float) lr);
        }

        @Override
        public Map<String, String> emit(
                Emitter e, String p, String g, Map<String, String> state, UnaryOperator<String> scalar) {
            String d = decayed(e, p, g, weightDecay); // g = g + wd * p
            String sum = e.op("Add", state.get("sum"), e.op("Mul", d, d)); // s = s + g^2
            String std = e.op("Add", e.op("Sqrt", sum), e.scalar((float) eps)); // std = sqrt(s) + eps
            String next = e.op("Sub", p, e.op("Mul", e.op("Div", d, std), scalar.apply(LR))); // p = p - lr * g / std
            return Map.of("", next, "sum", sum);
        }

        @Override
        public Optimizer withLr(double newLr) {
            return new Adagrad(newLr, eps, weightDecay);
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "adagrad(lr=%s, eps=%s, weight_decay=%s)", lr, eps, weightDecay);
        }
    }

    /**
     * Adam and AdamW ({@code torch.optim.Adam}, {@code torch.optim.AdamW}). The bias corrections enter as
     * scalars: step_size = lr / (1 - beta1^t) and sqrt(1 - beta2^t).
     *
     * @param lr learning rate
     * @param beta1 decay of the first moment
     * @param beta2 decay of the second moment
     * @param eps added to the denominator
     * @param weightDecay L2 penalty (Adam) or decoupled decay (AdamW)
     * @param decoupled true for AdamW
     */
    record Adam(double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled)
            implements Optimizer {
        static final String STEP_SIZE = "optimizer/step_size";
        static final String BC2_SQRT = "optimizer/bias_correction2_sqrt";
        static final String DECAY = "optimizer/decay";

        /** Checks the values. */
        public Adam {
            checkLr(lr);
            checkWeightDecay(weightDecay);
            checkEps(eps);
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("Adam betas must be in [0, 1), got (" + beta1 + ", " + beta2 + ")");
            }
        }

        /** A copy with other moment decays, e.g. {@code withBetas(0.9, 0.98)}. */
        public Adam withBetas(double newBeta1, double newBeta2) {
            return new Adam(lr, newBeta1, newBeta2, eps, weightDecay, decoupled);
        }

        /** A copy with another epsilon. */
        public Adam withEps(double newEps) {
            return new Adam(lr, beta1, beta2, newEps, weightDecay, decoupled);
        }

        @Override
        public Adam withWeightDecay(double newWeightDecay) {
            return new Adam(lr, beta1, beta2, eps, newWeightDecay, decoupled);
        }

        @Override
        public String name() {
            return decoupled ? "adamw" : "adam";
        }

        @Override
        public List<String> stateNames() {
            return List.of("exp_avg", "exp_avg_sq");
        }

        @Override
        public Map<String, Float> scalars(long step, double lr) {
            Map<String, Float> s = new LinkedHashMap<>();
            s.put(LR, (float) lr);
            s.put(STEP_SIZE, (float) (lr / (1 - Math.pow(beta1, step))));
            s.put(BC2_SQRT, (float) Math.sqrt(1 - Math.pow(beta2, step)));
            if (decoupled) {
                s.put(DECAY, (float) (1 - lr * weightDecay));
            }
            return s;
        }

        @Override
        public Map<String, String> emit(
                Emitter e, String p, String g, Map<String, String> state, UnaryOperator<String> scalar) {
            String param = p;
            String d = g;
            if (decoupled) {
                param = weightDecay == 0 ? p : e.op("Mul", p, scalar.apply(DECAY)); // p = p (1 - lr wd)
            } else {
                d = decayed(e, p, g, weightDecay); // g = g + wd * p
            }
            String m = e.op(
                    "Add", e.op("Mul", state.get("exp_avg"), e.scalar((float) beta1)), e.op("Mul", d, e.scalar((float)
                            (1 - beta1)))); // m = b1 m + (1 - b1) g
            String v = e.op(
                    "Add",
                    e.op("Mul", state.get("exp_avg_sq"), e.scalar((float) beta2)),
                    e.op("Mul", e.op("Mul", d, d), e.scalar((float) (1 - beta2)))); // v = b2 v + (1 - b2) g^2
            String denom = e.op("Add", e.op("Div", e.op("Sqrt", v), scalar.apply(BC2_SQRT)), e.scalar((float)
                    eps)); // sqrt(v)/sqrt(bc2) + eps
            String next = e.op(
                    "Sub",
                    param,
                    e.op("Mul", e.op("Div", m, denom), scalar.apply(STEP_SIZE))); // p = p - step_size m / denom
            return Map.of("", next, "exp_avg", m, "exp_avg_sq", v);
        }

        @Override
        public Optimizer withLr(double newLr) {
            return new Adam(newLr, beta1, beta2, eps, weightDecay, decoupled);
        }

        @Override
        public String describe() {
            return String.format(
                    Locale.ROOT,
                    "%s(lr=%s, betas=(%s, %s), eps=%s, weight_decay=%s)",
                    name(),
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weightDecay);
        }
    }
}
