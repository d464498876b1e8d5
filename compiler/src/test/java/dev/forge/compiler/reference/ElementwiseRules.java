package dev.forge.compiler.reference;

import dev.forge.runtime.DType;
import dev.forge.runtime.HalfFloats;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;

/**
 * Elementwise operators: activations and unary math, binary arithmetic, comparisons and logic with numpy
 * broadcasting, the variadic Sum/Mean/Max/Min, {@code Where}, {@code Cast}, {@code Clip}, {@code Dropout}
 * (inference form).
 */
final class ElementwiseRules {
    private ElementwiseRules() {}

    static void register(Map<String, Rule> r) {
        // y = max(0, x)
        r.put("Relu", c -> unary(c, x -> Math.max(0, x)));
        // y = 1 / (1 + exp(-x)), evaluated without overflow for large |x|
        r.put("Sigmoid", c -> unary(c, ElementwiseRules::sigmoid));
        // y = tanh(x)
        r.put("Tanh", c -> unary(c, Math::tanh));
        // y = x for x >= 0, alpha * x for x < 0; alpha defaults to 0.01
        r.put("LeakyRelu", c -> {
            double alpha = c.attrFloat("alpha", 0.01f);
            return unary(c, x -> x >= 0 ? x : alpha * x);
        });
        // y = x for x >= 0, alpha * (exp(x) - 1) for x < 0; alpha defaults to 1
        r.put("Elu", c -> {
            double alpha = c.attrFloat("alpha", 1.0f);
            return unary(c, x -> x >= 0 ? x : alpha * (Math.exp(x) - 1));
        });
        // y = ln(exp(x) + 1), written max(x, 0) + ln(1 + exp(-|x|)) so it cannot overflow
        r.put("Softplus", c -> unary(c, x -> Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))));
        // y = gamma * x for x > 0, gamma * alpha * (exp(x) - 1) otherwise
        r.put("Selu", c -> {
            double alpha = c.attrFloat("alpha", 1.67326319217681884765625f);
            double gamma = c.attrFloat("gamma", 1.05070102214813232421875f);
            return unary(c, x -> x > 0 ? gamma * x : gamma * alpha * (Math.exp(x) - 1));
        });
        // y = x / (1 + |x|)
        r.put("Softsign", c -> unary(c, x -> x / (1 + Math.abs(x))));
        r.put("Erf", c -> unary(c, ElementwiseRules::erf));
        // y = x * Phi(x) = x (1 + erf(x / sqrt 2)) / 2; approximate="tanh":
        // y = x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2
        r.put("Gelu", c -> {
            String approximate = c.attrString("approximate", "none");
            if (approximate.equals("tanh")) {
                double k = Math.sqrt(2 / Math.PI);
                return unary(c, x -> x * (1 + Math.tanh(k * (x + 0.044715 * x * x * x))) / 2);
            }
            if (!approximate.equals("none")) {
                throw c.error("approximate must be 'none' or 'tanh', got '" + approximate + "'");
            }
            return unary(c, x -> x * (1 + erf(x / Math.sqrt(2))) / 2);
        });
        // y = x for x > 0, slope * x otherwise; slope broadcasts to x
        r.put("PRelu", c -> List.of(Broadcasting.zip(c.in(0), c.in(1), c.in(0).dtype(), (x, s) -> x > 0 ? x : s * x)));
        // y = x * tanh(softplus(x))
        r.put("Mish", c -> unary(c, x -> x * Math.tanh(Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))))));
        // y = max(0, min(1, alpha * x + beta)); alpha defaults to 0.2, beta to 0.5
        r.put("HardSigmoid", c -> {
            double alpha = c.attrFloat("alpha", 0.2f);
            double beta = c.attrFloat("beta", 0.5f);
            return unary(c, x -> Math.max(0, Math.min(1, alpha * x + beta)));
        });
        // y = x * max(0, min(1, x / 6 + 1/2))
        r.put("HardSwish", c -> unary(c, x -> x * Math.max(0, Math.min(1, x / 6 + 0.5))));
        r.put("Exp", c -> unary(c, Math::exp));
        r.put("Log", c -> unary(c, Math::log));
        r.put("Neg", c -> unary(c, x -> -x));
        r.put("Abs", c -> unary(c, Math::abs));
        r.put("Sqrt", c -> unary(c, Math::sqrt));
        // y = 1 / x
        r.put("Reciprocal", c -> unary(c, x -> 1 / x));
        r.put("Identity", c -> List.of(c.in(0)));
        r.put("Clip", ElementwiseRules::clip);

        r.put("Add", c -> arithmetic(c, (a, b) -> a + b));
        r.put("Sub", c -> arithmetic(c, (a, b) -> a - b));
        r.put("Mul", c -> arithmetic(c, (a, b) -> a * b));
        r.put("Div", ElementwiseRules::div);
        r.put("Pow", ElementwiseRules::pow);
        r.put("Greater", c -> compare(c, (a, b) -> a > b ? 1 : 0));
        r.put("Less", c -> compare(c, (a, b) -> a < b ? 1 : 0));
        r.put("Equal", c -> compare(c, (a, b) -> a == b ? 1 : 0));
        r.put("GreaterOrEqual", c -> compare(c, (a, b) -> a >= b ? 1 : 0));
        r.put("LessOrEqual", c -> compare(c, (a, b) -> a <= b ? 1 : 0));
        r.put("And", c -> logical(c, (a, b) -> a != 0 && b != 0 ? 1 : 0));
        r.put("Or", c -> logical(c, (a, b) -> a != 0 || b != 0 ? 1 : 0));
        r.put("Xor", c -> logical(c, (a, b) -> (a != 0) != (b != 0) ? 1 : 0));
        r.put("Not", c -> {
            requireBool(c, c.in(0), "X");
            return unary(c, x -> x != 0 ? 0 : 1);
        });
        // y = -1, 0 or 1 by the sign of x (NaN stays NaN)
        r.put("Sign", c -> unary(c, Math::signum));
        r.put("Floor", c -> unary(c, Math::floor));
        r.put("Ceil", c -> unary(c, Math::ceil));
        // round half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2
        r.put("Round", c -> unary(c, Math::rint));
        r.put("Sum", c -> variadic(c, (a, b) -> a + b, false));
        r.put("Mean", c -> variadic(c, (a, b) -> a + b, true));
        r.put("Max", c -> variadic(c, Math::max, false));
        r.put("Min", c -> variadic(c, Math::min, false));
        r.put("Where", ElementwiseRules::where);
        r.put("Cast", ElementwiseRules::cast);
        r.put("Dropout", ElementwiseRules::dropout);
    }

    static boolean isIntegral(DType t) {
        return !t.isFloatingPoint() && t != DType.BOOL;
    }

    private static List<DoubleTensor> unary(Call c, DoubleUnaryOperator f) {
        return List.of(c.in(0).map(f));
    }

    private static double sigmoid(double x) {
        if (x >= 0) {
            return 1 / (1 + Math.exp(-x));
        }
        double e = Math.exp(x);
        return e / (1 + e);
    }

    /**
     * Clip (opset 11+): y = min(max(x, min), max) with min and max optional scalar inputs (the lowest and
     * highest value when absent; opset 6-10 took them as attributes). When min > max every y is max.
     */
    private static List<DoubleTensor> clip(Call c) {
        double lo = Double.NEGATIVE_INFINITY;
        double hi = Double.POSITIVE_INFINITY;
        if (c.opset < 11) {
            lo = c.attrFloat("min", lo);
            hi = c.attrFloat("max", hi);
        } else {
            lo = c.has(1) ? scalar(c, 1, "min") : lo;
            hi = c.has(2) ? scalar(c, 2, "max") : hi;
        }
        double min = lo;
        double max = hi;
        return unary(c, x -> Math.min(Math.max(x, min), max));
    }

    /** The single value of a scalar (or one-element) input. */
    static double scalar(Call c, int i, String what) {
        DoubleTensor t = c.in(i);
        if (t.size() != 1) {
            throw c.error(what + " must be a scalar, got shape " + Arrays.toString(t.rawShape()));
        }
        return t.raw()[0];
    }

    /** A binary arithmetic op: both inputs of one element type, numpy broadcasting, same type out. */
    private static List<DoubleTensor> arithmetic(Call c, DoubleBinaryOperator f) {
        DoubleTensor a = c.in(0);
        DoubleTensor b = c.in(1);
        if (a.dtype() != b.dtype()) {
            throw c.error("inputs have different element types " + a.dtype().typeName() + " and "
                    + b.dtype().typeName());
        }
        return List.of(Broadcasting.zip(a, b, a.dtype(), f));
    }

    /**
     * erf(x) = 2 / sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1 * 3 * ... * (2n+1)), a series of
     * positive terms (no cancellation, about 1e-15 relative); beyond |x| = 6, erf is +-1 in double.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax >= 6) {
            return Math.signum(x);
        }
        double term = ax;
        double sum = ax;
        for (int n = 1; term > 1e-17 * sum; n++) {
            term *= 2 * ax * ax / (2 * n + 1);
            sum += term;
        }
        return Math.signum(x) * 2 / Math.sqrt(Math.PI) * Math.exp(-ax * ax) * sum;
    }

    /** Div: a / b; for integer types the quotient is truncated toward zero (C semantics, as ONNX Runtime). */
    private static List<DoubleTensor> div(Call c) {
        if (!isIntegral(c.in(0).dtype())) {
            return arithmetic(c, (a, b) -> a / b);
        }
        return arithmetic(c, (a, b) -> {
            if (b == 0) {
                throw c.error("integer division by zero");
            }
            double q = a / b;
            return q < 0 ? Math.ceil(q) : Math.floor(q);
        });
    }

    /** Pow: a^b with broadcasting; the exponent may have another numeric type; the result has a's type. */
    private static List<DoubleTensor> pow(Call c) {
        DoubleTensor a = c.in(0);
        boolean integral = isIntegral(a.dtype());
        return List.of(Broadcasting.zip(a, c.in(1), a.dtype(), (x, y) -> {
            double p = Math.pow(x, y);
            return integral ? (double) (long) p : p;
        }));
    }

    /** Greater / Less / Equal: bool result (1 or 0) with broadcasting. */
    private static List<DoubleTensor> compare(Call c, DoubleBinaryOperator f) {
        DoubleTensor a = c.in(0);
        DoubleTensor b = c.in(1);
        if (a.dtype() != b.dtype()) {
            throw c.error("inputs have different element types " + a.dtype().typeName() + " and "
                    + b.dtype().typeName());
        }
        return List.of(Broadcasting.zip(a, b, DType.BOOL, f));
    }

    private static void requireBool(Call c, DoubleTensor t, String what) {
        if (t.dtype() != DType.BOOL) {
            throw c.error(what + " must be bool, got " + t.dtype().typeName());
        }
    }

    /** And / Or: bool inputs, bool result, with broadcasting. */
    private static List<DoubleTensor> logical(Call c, DoubleBinaryOperator f) {
        requireBool(c, c.in(0), "A");
        requireBool(c, c.in(1), "B");
        return List.of(Broadcasting.zip(c.in(0), c.in(1), DType.BOOL, f));
    }

    /**
     * Sum / Mean / Max / Min of one or more inputs of one element type, all broadcast together:
     * {@code y = f(...f(f(x0, x1), x2)...)}, divided by the input count for Mean.
     */
    private static List<DoubleTensor> variadic(Call c, DoubleBinaryOperator f, boolean mean) {
        DoubleTensor acc = c.in(0);
        for (int k = 1; k < c.inputs.size(); k++) {
            DoubleTensor next = c.in(k);
            if (next.dtype() != acc.dtype()) {
                throw c.error("input " + k + " is " + next.dtype().typeName() + " but input 0 is "
                        + acc.dtype().typeName());
            }
            acc = Broadcasting.zip(acc, next, acc.dtype(), f);
        }
        int count = c.inputs.size();
        return List.of(mean ? acc.map(v -> v / count) : acc);
    }

    /** Where: y = condition ? x : y, the three inputs broadcast together. */
    private static List<DoubleTensor> where(Call c) {
        DoubleTensor cond = c.in(0);
        DoubleTensor x = c.in(1);
        DoubleTensor y = c.in(2);
        if (cond.dtype() != DType.BOOL) {
            throw c.error("condition must be bool, got " + cond.dtype().typeName());
        }
        if (x.dtype() != y.dtype()) {
            throw c.error("X and Y have different element types " + x.dtype().typeName() + " and "
                    + y.dtype().typeName());
        }
        long[] shape = Broadcasting.shape(Broadcasting.shape(cond.rawShape(), x.rawShape()), y.rawShape());
        double[] k = Broadcasting.to(cond, shape).raw();
        double[] a = Broadcasting.to(x, shape).raw();
        double[] b = Broadcasting.to(y, shape).raw();
        double[] out = new double[k.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = k[i] != 0 ? a[i] : b[i];
        }
        return List.of(new DoubleTensor(x.dtype(), shape, out));
    }

    /**
     * Cast to the ONNX element type {@code to}. To float or double the value is kept (the evaluator computes
     * in double throughout); to float16 or bfloat16 it is rounded to that type (nearest, ties to even); to bool, zero is false and anything else (NaN too) true; to an integer type a
     * float is truncated toward zero and an out-of-range integer wraps to the type's width (two's
     * complement), as the spec says for fixed-point targets.
     */
    private static List<DoubleTensor> cast(Call c) {
        long to = c.attrInt("to", -1);
        DType target;
        try {
            target = DType.fromOnnxElementType((int) to);
        } catch (IllegalArgumentException e) {
            throw c.error("cannot cast to ONNX element type " + to + ": " + e.getMessage());
        }
        DoubleTensor x = c.in(0);
        DoubleUnaryOperator f = switch (target) {
            case FLOAT32, FLOAT64 -> v -> v;
            case FLOAT16 -> v -> HalfFloats.fromFloat16(HalfFloats.toFloat16((float) v));
            case BFLOAT16 -> v -> HalfFloats.fromBFloat16(HalfFloats.toBFloat16((float) v));
            case BOOL -> v -> v != 0 ? 1 : 0;
            case INT64 -> v -> (double) (long) v;
            case INT32 -> v -> (double) (int) (long) v;
            case INT16 -> v -> (double) (short) (long) v;
            case INT8 -> v -> (double) (byte) (long) v;
            case UINT8 -> v -> (double) (((long) v) & 0xff);
            default -> throw c.error("cannot cast to " + target.typeName());
        };
        return List.of(x.map(f).withDtype(target));
    }

    /**
     * Dropout (opset 12+: data, optional ratio, optional training_mode). With training_mode false (the
     * default) or ratio 0 the output is the input and the mask is all true. Training-mode dropout with
     * ratio > 0 is random and has no reference value: it is refused.
     */
    private static List<DoubleTensor> dropout(Call c) {
        DoubleTensor x = c.in(0);
        double ratio = c.opset < 12 ? c.attrFloat("ratio", 0.5f) : c.has(1) ? scalar(c, 1, "ratio") : 0.5;
        boolean training = c.opset >= 12 && c.has(2) && scalar(c, 2, "training_mode") != 0;
        if (training && ratio != 0) {
            throw c.error("training-mode dropout with ratio " + ratio + " is random and has no reference value;"
                    + " evaluate with training_mode false (inference) or ratio 0");
        }
        double[] ones = new double[x.size()];
        Arrays.fill(ones, 1);
        return List.of(x, new DoubleTensor(DType.BOOL, x.shape(), ones));
    }
}
