package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.ops.Grad.unb;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Elementwise arithmetic with numpy-style multidirectional broadcasting, comparisons and logic, unary
 * math, {@code Cast}, {@code Identity} and inference-form {@code Dropout}. Every gradient of a
 * broadcast operand is summed back to that operand's shape ({@link GradContext#unbroadcast}).
 */
final class ElementwiseOps {
    /** The output is like input 0 (unary elementwise operators). */
    static final ShapeRule SAME = ctx -> List.of(ctx.input(0));

    private ElementwiseOps() {}

    static void register(Ops.Registry r) {
        // ---- unary math: dX = dY * f'(X) ----
        // exp' = exp = Y
        r.add(op("Exp").shape(SAME).gradient(c -> c.grads(c.mul(c.dy(), c.y(0)))));
        // log' = 1 / x
        r.add(op("Log").shape(SAME).gradient(c -> c.grads(c.div(c.dy(), c.x(0)))));
        r.add(op("Neg").shape(SAME).gradient(c -> c.grads(c.op("Neg", c.dy()))));
        // |x|' = sign(x)
        r.add(op("Abs").shape(SAME).gradient(c -> c.grads(c.mul(c.dy(), c.op("Sign", c.x(0))))));
        // d sqrt(x) = 1 / (2 sqrt(x)) = 0.5 / Y
        r.add(op("Sqrt").shape(SAME).gradient(c -> c.grads(c.div(c.mul(c.dy(), c.scalar(0.5f)), c.y(0)))));
        // d (1/x) = -1/x^2 = -Y^2
        r.add(op("Reciprocal").shape(SAME).gradient(c -> c.grads(c.op("Neg", c.mul(c.dy(), c.mul(c.y(0), c.y(0)))))));
        r.add(op("Identity").shape(SAME).gradient(c -> c.grads(c.dy())));
        // the inference form is the identity; training graphs replace Dropout with a mask Mul
        r.add(op("Dropout")
                .attrFloat("ratio", 0.5f)
                .attr("seed", AttributeSpec.Kind.INT)
                .shape(ElementwiseOps::dropout)
                .gradient(c -> c.grads(c.dy())));
        // a float-to-float cast passes the gradient back cast to the input's type; other casts stop it
        r.add(op("Cast")
                .required("to", AttributeSpec.Kind.INT)
                .attrInt("saturate", 1)
                .attrString("round_mode", "up")
                .shape(ElementwiseOps::cast)
                .gradient(ElementwiseOps::castGrad));
        // erf'(x) = 2 / sqrt(pi) * exp(-x^2)
        r.add(op("Erf").shape(SAME).gradient(c -> {
            String gauss = c.op("Exp", c.op("Neg", c.mul(c.x(0), c.x(0))));
            return c.grads(c.mul(c.dy(), c.mul(gauss, c.scalar((float) (2 / Math.sqrt(Math.PI))))));
        }));
        // piecewise constant: the gradient is zero almost everywhere
        for (String op : List.of("Sign", "Floor", "Ceil", "Round")) {
            r.add(op(op).shape(SAME).notDifferentiable());
        }

        // ---- broadcasting arithmetic ----
        r.add(op("Add").shape(ElementwiseOps::arithmetic).gradient(c -> c.grads(unb(c, c.dy(), 0), unb(c, c.dy(), 1))));
        r.add(op("Sub")
                .shape(ElementwiseOps::arithmetic)
                .gradient(c ->
                        c.grads(unb(c, c.dy(), 0), c.needs(1) ? c.unbroadcast(c.op("Neg", c.dy()), c.x(1)) : null)));
        // d(ab)/da = b, d(ab)/db = a
        r.add(op("Mul")
                .shape(ElementwiseOps::arithmetic)
                .gradient(c -> c.grads(
                        c.needs(0) ? c.unbroadcast(c.mul(c.dy(), c.x(1)), c.x(0)) : null,
                        c.needs(1) ? c.unbroadcast(c.mul(c.dy(), c.x(0)), c.x(1)) : null)));
        // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -Y/b
        r.add(op("Div")
                .shape(ElementwiseOps::arithmetic)
                .gradient(c -> c.grads(
                        c.needs(0) ? c.unbroadcast(c.div(c.dy(), c.x(1)), c.x(0)) : null,
                        c.needs(1) ? c.unbroadcast(c.op("Neg", c.div(c.mul(c.dy(), c.y(0)), c.x(1))), c.x(1)) : null)));
        r.add(op("Mod").attrInt("fmod", 0).shape(ElementwiseOps::arithmetic));
        // Pow allows an exponent of another element type
        r.add(op("Pow")
                .shape(ctx -> InferenceContext.one(ctx.dtype(0), broadcastShapes(ctx, ctx.shape(0), ctx.shape(1))))
                .gradient(ElementwiseOps::powGrad));
        // d sum(x_i) / dx_i = 1 for every operand
        r.add(op("Sum").shape(ElementwiseOps::variadic).gradient(c -> {
            List<String> out = c.none();
            for (int i = 0; i < out.size(); i++) {
                out.set(i, unb(c, c.dy(), i));
            }
            return out;
        }));
        r.add(op("Max").shape(ElementwiseOps::variadic).gradient(ElementwiseOps::extremumGrad));
        r.add(op("Min").shape(ElementwiseOps::variadic).gradient(ElementwiseOps::extremumGrad));
        // y = (x_1 + ... + x_n) / n: each operand gets dY / n
        r.add(op("Mean").shape(ElementwiseOps::variadic).gradient(c -> {
            List<String> out = c.none();
            String share = c.mul(c.dy(), c.scalar(1f / out.size()));
            for (int i = 0; i < out.size(); i++) {
                out.set(i, unb(c, share, i));
            }
            return out;
        }));
        // Where(cond, a, b): dY flows to a where cond holds and to b elsewhere; cond is boolean
        r.add(op("Where")
                .shape(ctx -> {
                    Shape s = broadcastShapes(ctx, broadcastShapes(ctx, ctx.shape(0), ctx.shape(1)), ctx.shape(2));
                    return InferenceContext.one(ctx.dtype(1), s);
                })
                .gradient(c -> {
                    String zero = c.scalar(0f);
                    return c.grads(
                            null,
                            c.needs(1) ? c.unbroadcast(c.op("Where", c.x(0), c.dy(), zero), c.x(1)) : null,
                            c.needs(2) ? c.unbroadcast(c.op("Where", c.x(0), zero, c.dy()), c.x(2)) : null);
                }));

        // ---- comparisons and logic: boolean results carry no gradient ----
        for (String op : List.of("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor")) {
            r.add(op(op).shape(ctx -> InferenceContext.one(DType.BOOL, broadcast(ctx, 0, 1)))
                    .notDifferentiable());
        }
        r.add(op("Not").shape(SAME).notDifferentiable());
    }

    /*
     * Max/Min: y is the operand that attains the extremum, so dY goes to it. Where k operands tie, each
     * gets dY / k, which for two operands is PyTorch's convention for maximum/minimum (a tie splits the
     * gradient evenly): dX_i = unbroadcast(dY * [x_i == y] / sum_j [x_j == y]).
     */
    private static List<String> extremumGrad(GradContext c) {
        List<String> out = c.none();
        List<String> hits = new ArrayList<>();
        String count = null;
        for (int i = 0; i < out.size(); i++) {
            String hit = c.op("Cast", List.of(c.op("Equal", c.x(i), c.y(0))), Map.of("to", attrInt(1)));
            hits.add(hit);
            count = count == null ? hit : c.add(count, hit);
        }
        String share = out.size() == 1 ? c.dy() : c.div(c.dy(), count);
        for (int i = 0; i < out.size(); i++) {
            out.set(i, unb(c, out.size() == 1 ? share : c.mul(share, hits.get(i)), i));
        }
        return out;
    }

    /*
     * Pow: y = a^b, so dA = dY * b a^(b - 1) and dB = dY * y ln(a), each summed back over broadcasting.
     * As PyTorch's pow_backward: dA is 0 where b = 0 (not 0 * a^-1, NaN at a = 0), and dB is 0 where
     * a = 0 (not y * ln 0). An exponent of another type (an int64 2) is cast to the base's type first.
     */
    private static List<String> powGrad(GradContext c) {
        String a = c.x(0);
        String b = c.x(1);
        DType base = c.type(a).dtype();
        if (c.type(b).dtype() != base) {
            if (c.needs(1)) {
                throw new UnsupportedOperationException(c.node().label() + ": the Pow gradient of an exponent of type "
                        + c.type(b).dtype() + " is undefined; make the exponent " + base + " like the base");
            }
            b = c.op("Cast", List.of(b), Map.of("to", attrInt(base == DType.FLOAT64 ? 11 : 1)));
        }
        String zero = c.scalar(0f);
        String da = null;
        if (c.needs(0)) {
            String slope = c.mul(b, c.op("Pow", a, c.sub(b, c.scalar(1f))));
            slope = c.op("Where", c.op("Equal", b, zero), zero, slope);
            da = c.unbroadcast(c.mul(c.dy(), slope), a);
        }
        String db = null;
        if (c.needs(1)) {
            String rate = c.op("Where", c.op("Equal", a, zero), zero, c.mul(c.y(0), c.op("Log", a)));
            db = c.unbroadcast(c.mul(c.dy(), rate), b);
        }
        return c.grads(da, db);
    }

    static List<ValueType> arithmetic(InferenceContext ctx) {
        return InferenceContext.one(ctx.dtype(0), broadcast(ctx, 0, 1));
    }

    static List<ValueType> dropout(InferenceContext ctx) {
        List<ValueType> out = new ArrayList<>();
        out.add(ctx.input(0));
        if (ctx.node().outputs().size() > 1) {
            out.add(new ValueType(DType.BOOL, ctx.shape(0)));
        }
        return out;
    }

    static List<ValueType> cast(InferenceContext ctx) {
        long to = ctx.node().attrInt("to", -1);
        DType t = dev.forge.compiler.onnx.OnnxTypes.fromOnnx((int) to);
        if (t == null) {
            throw ctx.error(
                    "cast to ONNX element type " + to + " is not supported",
                    "cast to one of: " + dev.forge.compiler.onnx.OnnxTypes.supportedNames());
        }
        return InferenceContext.one(t, ctx.shape(0));
    }

    private static List<String> castGrad(GradContext c) {
        DType from = c.type(c.x(0)).dtype();
        if (from != DType.FLOAT32 && from != DType.FLOAT64) {
            return c.none();
        }
        return c.grads(c.op("Cast", List.of(c.dy()), Map.of("to", attrInt(from == DType.FLOAT32 ? 1 : 11))));
    }

    static List<ValueType> variadic(InferenceContext ctx) {
        Shape s = ctx.shape(0);
        for (int i = 1; i < ctx.inputCount(); i++) {
            s = broadcastShapes(ctx, s, ctx.shape(i));
        }
        return InferenceContext.one(ctx.dtype(0), s);
    }

    static Shape broadcast(InferenceContext ctx, int a, int b) {
        if (ctx.dtype(a) != ctx.dtype(b)) {
            throw ctx.error(
                    "inputs have different element types " + ctx.input(a) + " and " + ctx.input(b), "Cast one of them");
        }
        return broadcastShapes(ctx, ctx.shape(a), ctx.shape(b));
    }

    /** Numpy-style multidirectional broadcasting of two shapes. */
    static Shape broadcastShapes(InferenceContext ctx, Shape a, Shape b) {
        int rank = Math.max(a.rank(), b.rank());
        List<Dim> out = new ArrayList<>(rank);
        for (int i = 0; i < rank; i++) {
            int ia = i - (rank - a.rank());
            int ib = i - (rank - b.rank());
            Dim da = ia < 0 ? Dim.of(1) : a.dim(ia);
            Dim db = ib < 0 ? Dim.of(1) : b.dim(ib);
            out.add(broadcastDim(ctx, da, db, a, b));
        }
        return Shape.of(out);
    }

    private static Dim broadcastDim(InferenceContext ctx, Dim da, Dim db, Shape a, Shape b) {
        if (da.equals(db)) {
            return da;
        }
        if (da.isFixed() && da.value() == 1) {
            return db;
        }
        if (db.isFixed() && db.value() == 1) {
            return da;
        }
        if (da.isFixed() && db.isFixed()) {
            throw ctx.error(
                    "shapes " + a + " and " + b + " cannot be broadcast (" + da + " vs " + db + ")",
                    "make the sizes equal or 1 on each axis");
        }
        if (da.isFixed()) {
            return da;
        }
        if (db.isFixed()) {
            return db;
        }
        return Dim.unknown();
    }
}
