package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import java.util.ArrayList;
import java.util.List;

/** Shape rules of {@code Gemm}, {@code MatMul} and {@code BatchNormalization}. */
final class MathOps {
    private MathOps() {
    }

    static void register(Ops.Registry r) {
        r.add("Gemm", MathOps::gemm);
        r.add("MatMul", MathOps::matMul);
        r.add("BatchNormalization", MathOps::batchNorm);
    }

    /** Gemm: Y = alpha * op(A) op(B) + beta * C with A [M,K], B [K,N] (each optionally transposed). */
    static List<ValueType> gemm(InferenceContext ctx) {
        Node node = ctx.node();
        Shape a = ctx.shape(0);
        Shape b = ctx.shape(1);
        if (a.rank() != 2 || b.rank() != 2) {
            throw ctx.error("A " + a + " and B " + b + " must be matrices (rank 2)", "Flatten the input first");
        }
        boolean ta = node.attrInt("transA", 0) != 0;
        boolean tb = node.attrInt("transB", 0) != 0;
        Dim m = ta ? a.dim(1) : a.dim(0);
        Dim ka = ta ? a.dim(0) : a.dim(1);
        Dim kb = tb ? b.dim(1) : b.dim(0);
        Dim n = tb ? b.dim(0) : b.dim(1);
        if (ka.isFixed() && kb.isFixed() && ka.value() != kb.value()) {
            throw ctx.error("inner dimensions differ: A" + (ta ? "^T" : "") + " is [" + m + "," + ka + "] and B"
                    + (tb ? "^T" : "") + " is [" + kb + "," + n + "]",
                    "the layer expects " + kb + " input features; the input has " + ka);
        }
        Shape y = Shape.of(m, n);
        if (ctx.hasInput(2)) {
            // C broadcasts one way, to [M, N]
            Shape c = ctx.shape(2);
            Shape b2 = ElementwiseOps.broadcastShapes(ctx, y, c);
            if (c.rank() > 2 || !b2.equals(y) && b2.isFixed() && y.isFixed()) {
                throw ctx.error("C " + c + " does not broadcast to the output " + y, "give C as [" + n + "] or [" + m + ", " + n + "]");
            }
        }
        return InferenceContext.one(ctx.dtype(0), y);
    }

    /** MatMul: numpy matmul semantics (1-D operands promoted, leading dimensions broadcast). */
    static List<ValueType> matMul(InferenceContext ctx) {
        Shape a = ctx.shape(0);
        Shape b = ctx.shape(1);
        if (a.rank() == 0 || b.rank() == 0) {
            throw ctx.error("MatMul operands must have rank >= 1, got " + a + " and " + b, "use Mul for scalars");
        }
        Shape a2 = a.rank() == 1 ? Shape.of(List.of(Dim.of(1), a.dim(0))) : a;
        Shape b2 = b.rank() == 1 ? Shape.of(List.of(b.dim(0), Dim.of(1))) : b;
        Dim k1 = a2.dim(-1);
        Dim k2 = b2.dim(-2);
        if (k1.isFixed() && k2.isFixed() && k1.value() != k2.value()) {
            throw ctx.error("inner dimensions differ: " + a + " x " + b + " (" + k1 + " vs " + k2 + ")",
                    "the second operand must have " + k1 + " rows");
        }
        Shape batchA = Shape.of(a2.dims().subList(0, a2.rank() - 2));
        Shape batchB = Shape.of(b2.dims().subList(0, b2.rank() - 2));
        List<Dim> out = new ArrayList<>(ElementwiseOps.broadcastShapes(ctx, batchA, batchB).dims());
        if (a.rank() != 1) {
            out.add(a2.dim(-2));
        }
        if (b.rank() != 1) {
            out.add(b2.dim(-1));
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    /** BatchNormalization: X [N, C, ...], scale/B/mean/var [C]; Y like X (+ running stats in training mode). */
    static List<ValueType> batchNorm(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        if (x.rank() < 1) {
            throw ctx.error("input X must be [N, C, ...] or [N], got " + x, "feed at least rank 1");
        }
        Dim c = x.rank() == 1 ? Dim.of(1) : x.dim(1);
        String[] names = {"scale", "B", "mean", "var"};
        for (int i = 1; i <= 4; i++) {
            Shape s = ctx.shape(i);
            if (s.rank() != 1 || (c.isFixed() && s.dim(0).isFixed() && s.dim(0).value() != c.value())) {
                throw ctx.error(names[i - 1] + " must be [" + c + "] (one value per channel), got " + s,
                        "create the layer with " + c + " channels");
            }
        }
        List<ValueType> out = new ArrayList<>();
        out.add(ctx.input(0));
        // training outputs: running mean and variance (opset 14+), plus saved mean and variance before opset 14
        for (int i = 1; i < ctx.node().outputs().size(); i++) {
            out.add(ctx.input(Math.min(i + 2, 4)));
        }
        return out;
    }
}
