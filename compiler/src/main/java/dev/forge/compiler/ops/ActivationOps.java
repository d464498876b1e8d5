package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.ops.Grad.between;
import static dev.forge.compiler.ops.Grad.positive;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import java.util.List;
import java.util.Map;

/**
 * Activations: elementwise nonlinearities (output like the input) and the softmax normalizers. A
 * gradient is {@code dX = dY * f'(X)}, with f' written from X or from the output Y, whichever is
 * cheaper.
 */
final class ActivationOps {
    private ActivationOps() {}

    static void register(Ops.Registry r) {
        // Y > 0 exactly where X > 0; reading Y leaves X to the Relu alone, so ONNX Runtime can fuse Conv+Relu
        r.add(op("Relu").shape(ElementwiseOps.SAME).gradient(c -> c.grads(c.mul(c.dy(), positive(c, c.y(0))))));
        // f' = 1 where x > 0, alpha elsewhere: [x > 0] * (1 - alpha) + alpha
        r.add(op("LeakyRelu")
                .attrFloat("alpha", 0.01f)
                .shape(ElementwiseOps.SAME)
                .gradient(c -> {
                    float alpha = c.node().attrFloat("alpha", 0.01f);
                    String slope = c.add(c.mul(positive(c, c.x(0)), c.scalar(1f - alpha)), c.scalar(alpha));
                    return c.grads(c.mul(c.dy(), slope));
                }));
        // sigma' = sigma (1 - sigma) = Y (1 - Y)
        r.add(op("Sigmoid")
                .shape(ElementwiseOps.SAME)
                .gradient(c -> c.grads(c.mul(c.dy(), c.mul(c.y(0), c.sub(c.scalar(1f), c.y(0)))))));
        // tanh' = 1 - tanh^2 = 1 - Y^2
        r.add(op("Tanh")
                .shape(ElementwiseOps.SAME)
                .gradient(c -> c.grads(c.mul(c.dy(), c.sub(c.scalar(1f), c.mul(c.y(0), c.y(0)))))));
        // d ln(1 + e^x) = e^x / (1 + e^x) = sigmoid(x)
        r.add(op("Softplus").shape(ElementwiseOps.SAME).gradient(c -> c.grads(c.mul(c.dy(), c.op("Sigmoid", c.x(0))))));
        /*
         * HardSigmoid: y = max(0, min(1, alpha x + beta)) is linear with slope alpha where it does not
         * saturate and flat where it does; 0 < Y < 1 exactly where it does not, so
         * dX = dY * alpha * [0 < Y < 1].
         */
        r.add(op("HardSigmoid")
                .attrFloat("alpha", 0.2f)
                .attrFloat("beta", 0.5f)
                .shape(ElementwiseOps.SAME)
                .gradient(c -> {
                    float alpha = c.node().attrFloat("alpha", 0.2f);
                    String inside = between(c, c.y(0), c.scalar(0f), c.scalar(1f));
                    return c.grads(c.mul(c.dy(), c.mul(inside, c.scalar(alpha))));
                }));
        /*
         * HardSwish: y = x * h(x) with h(x) = max(0, min(1, x/6 + 1/2)). For x <= -3, y = 0; for x >= 3,
         * y = x; between, y = x^2/6 + x/2, so y' = x/3 + 1/2. Hence
         * dX = dY * ([-3 < x < 3] * (x/3 + 1/2) + [x >= 3]).
         */
        r.add(op("HardSwish").shape(ElementwiseOps.SAME).gradient(c -> {
            String x = c.x(0);
            String inside = between(c, x, c.scalar(-3f), c.scalar(3f));
            String ramp = c.mul(inside, c.add(c.mul(x, c.scalar(1f / 3f)), c.scalar(0.5f)));
            String above = c.op("Cast", List.of(c.op("GreaterOrEqual", x, c.scalar(3f))), Map.of("to", attrInt(1)));
            return c.grads(c.mul(c.dy(), c.add(ramp, above)));
        }));
        // Clip's bounds are inputs from opset 11 and attributes before
        r.add(op("Clip")
                .attrFloat("min", -Float.MAX_VALUE)
                .attrFloat("max", Float.MAX_VALUE)
                .shape(ElementwiseOps.SAME)
                .gradient(ActivationOps::clip));
        /*
         * Elu: y = x for x > 0, alpha (e^x - 1) otherwise, so y' = 1 for x > 0 and alpha e^x = Y + alpha
         * otherwise: dX = dY * ([x > 0] + [x <= 0] (Y + alpha)). At x = 0 this takes alpha, as PyTorch's
         * elu_backward does.
         */
        r.add(op("Elu")
                .attrFloat("alpha", 1f)
                .shape(ElementwiseOps.SAME)
                .gradient(c ->
                        c.grads(c.mul(c.dy(), exponentialSlope(c, 1f, c.node().attrFloat("alpha", 1f))))));
        /*
         * Selu: y = gamma x for x > 0, gamma alpha (e^x - 1) otherwise, so y' = gamma for x > 0 and
         * gamma alpha e^x = Y + gamma alpha otherwise (alpha at x = 0, as PyTorch).
         */
        r.add(op("Selu")
                .attrFloat("alpha", 1.67326319217681884765625f)
                .attrFloat("gamma", 1.05070102214813232421875f)
                .shape(ElementwiseOps.SAME)
                .gradient(c -> {
                    float alpha = c.node().attrFloat("alpha", 1.67326319217681884765625f);
                    float gamma = c.node().attrFloat("gamma", 1.05070102214813232421875f);
                    return c.grads(c.mul(c.dy(), exponentialSlope(c, gamma, gamma * alpha)));
                }));
        // Softsign: y = x / (1 + |x|), y' = ((1 + |x|) - x sign(x)) / (1 + |x|)^2 = 1 / (1 + |x|)^2
        r.add(op("Softsign").shape(ElementwiseOps.SAME).gradient(c -> {
            String d = c.add(c.scalar(1f), c.op("Abs", c.x(0)));
            return c.grads(c.div(c.dy(), c.mul(d, d)));
        }));
        r.add(op("Gelu")
                .attrString("approximate", "none")
                .shape(ElementwiseOps.SAME)
                .gradient(ActivationOps::gelu));
        /*
         * Mish: y = x tanh(s) with s = softplus(x), s' = sigmoid(x), so
         * y' = tanh(s) + x sigmoid(x) (1 - tanh(s)^2).
         */
        r.add(op("Mish").shape(ElementwiseOps.SAME).gradient(c -> {
            String x = c.x(0);
            String t = c.op("Tanh", c.op("Softplus", x));
            String inner = c.mul(c.mul(x, c.op("Sigmoid", x)), c.sub(c.scalar(1f), c.mul(t, t)));
            return c.grads(c.mul(c.dy(), c.add(t, inner)));
        }));
        /*
         * PRelu: y = x for x > 0, slope * x otherwise, the slope broadcast to x (unidirectionally). So
         * dX = dY * ([x > 0] + [x <= 0] slope) and dSlope = dY * [x <= 0] x, summed over the axes the
         * slope was broadcast along (PyTorch's prelu backward, which also takes the slope at x = 0).
         */
        r.add(op("PRelu").shape(ElementwiseOps.SAME).gradient(c -> {
            String x = c.x(0);
            String off = c.op("Cast", List.of(c.op("LessOrEqual", x, c.scalar(0f))), Map.of("to", attrInt(1)));
            String dx = c.needs(0) ? c.mul(c.dy(), c.add(positive(c, x), c.mul(off, c.x(1)))) : null;
            String dSlope = c.needs(1) ? c.unbroadcast(c.mul(c.dy(), c.mul(off, x)), c.x(1)) : null;
            return c.grads(dx, dSlope);
        }));

        // the default axis is 1 before opset 13 and -1 from opset 13
        // softmax: dX = Y * (dY - sum(dY * Y)) along the axis
        r.add(op("Softmax")
                .attr("axis", AttributeSpec.Kind.INT)
                .shape(ActivationOps::softmax)
                .gradient(c -> {
                    long axis = c.node().attrInt("axis", -1);
                    String dot = c.reduceSum(c.mul(c.dy(), c.y(0)), new long[] {axis}, true);
                    return c.grads(c.mul(c.y(0), c.sub(c.dy(), dot)));
                }));
        // log-softmax: dX = dY - exp(Y) * sum(dY) along the axis
        r.add(op("LogSoftmax")
                .attr("axis", AttributeSpec.Kind.INT)
                .shape(ActivationOps::softmax)
                .gradient(c -> {
                    long axis = c.node().attrInt("axis", -1);
                    String total = c.reduceSum(c.dy(), new long[] {axis}, true);
                    return c.grads(c.sub(c.dy(), c.mul(c.op("Exp", c.y(0)), total)));
                }));
    }

    /*
     * Gelu (opset 20; PyTorch exports it before as x * 0.5 * (1 + Erf(x / sqrt 2)), which the Erf, Mul
     * and Add rules differentiate). Exact: y = x Phi(x), so y' = Phi(x) + x phi(x) with
     * Phi(x) = (1 + erf(x / sqrt 2)) / 2 and phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
     * approximate="tanh": y = x (1 + t) / 2 with t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3), so
     * y' = (1 + t) / 2 + x (1 - t^2) / 2 * sqrt(2/pi) (1 + 3 * 0.044715 x^2).
     */
    private static List<String> gelu(GradContext c) {
        String x = c.x(0);
        String approximate = c.node().attrString("approximate", "none");
        String slope;
        if (approximate.equals("tanh")) {
            float k = (float) Math.sqrt(2 / Math.PI);
            String x2 = c.mul(x, x);
            String u = c.mul(c.scalar(k), c.add(x, c.mul(c.scalar(0.044715f), c.mul(x2, x))));
            String t = c.op("Tanh", u);
            String du = c.mul(c.scalar(k), c.add(c.scalar(1f), c.mul(c.scalar(3 * 0.044715f), x2)));
            String half = c.scalar(0.5f);
            slope = c.add(
                    c.mul(half, c.add(c.scalar(1f), t)),
                    c.mul(c.mul(half, x), c.mul(c.sub(c.scalar(1f), c.mul(t, t)), du)));
        } else if (approximate.equals("none")) {
            String cdf = c.mul(c.scalar(0.5f), c.add(c.scalar(1f), c.op("Erf", c.mul(x, c.scalar((float)
                    (1 / Math.sqrt(2)))))));
            String pdf = c.mul(
                    c.op("Exp", c.mul(c.mul(x, x), c.scalar(-0.5f))), c.scalar((float) (1 / Math.sqrt(2 * Math.PI))));
            slope = c.add(cdf, c.mul(x, pdf));
        } else {
            throw new UnsupportedOperationException(c.node().label() + ": Gelu approximate='" + approximate
                    + "' has no gradient rule; use 'none' or 'tanh'");
        }
        return c.grads(c.mul(c.dy(), slope));
    }

    /** Elu's and Selu's slope: {@code scale} where x > 0, {@code Y + negScale} elsewhere. */
    private static String exponentialSlope(GradContext c, float scale, float negScale) {
        String pos = positive(c, c.x(0));
        String neg = c.sub(c.scalar(1f), pos);
        return c.add(c.mul(pos, c.scalar(scale)), c.mul(neg, c.add(c.y(0), c.scalar(negScale))));
    }

    static List<ValueType> softmax(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long axis = ctx.node().attrInt("axis", ctx.opset() >= 13 ? -1 : 1);
        if (axis < -x.rank() || axis >= x.rank()) {
            throw ctx.error(
                    "axis " + axis + " is out of range for input " + x,
                    "use an axis in [" + -x.rank() + ", " + (x.rank() - 1) + "]");
        }
        return List.of(ctx.input(0));
    }

    /*
     * Clip (ReLU6 is Clip(x, 0, 6)): y = x where min < x < max and a bound elsewhere, so the gradient
     * passes where min < x < max: dX = dY * [min < x < max]. The bounds get no gradient; they must be
     * constants (a bound computed from a trained value would need one).
     */
    private static List<String> clip(GradContext c) {
        if (c.needs(1) || c.needs(2)) {
            throw new UnsupportedOperationException(c.node().label() + ": the Clip gradient needs constant min and max;"
                    + " a bound that depends on a trained value has no gradient rule");
        }
        String lo = c.node().hasInput(1) ? c.x(1) : boundAttribute(c, "min");
        String hi = c.node().hasInput(2) ? c.x(2) : boundAttribute(c, "max");
        String inside = between(c, c.x(0), lo, hi);
        return c.grads(inside == null ? c.dy() : c.mul(c.dy(), inside));
    }

    /** A bound given as an attribute (opsets before 11), as a scalar of the input's type, or null. */
    private static String boundAttribute(GradContext c, String name) {
        Attribute a = c.node().attr(name);
        if (a == null) {
            return null;
        }
        if (c.type(c.x(0)).dtype() != DType.FLOAT32) {
            throw new UnsupportedOperationException(
                    c.node().label() + ": the Clip gradient with attribute bounds needs float32 input");
        }
        return c.scalar(((Attribute.Float) a).value());
    }
}
