package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.autodiff.Emitter.attrInts;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Matrix products: {@code Gemm} (the linear layer) and {@code MatMul}. */
final class MatrixOps {
    private MatrixOps() {}

    static void register(Ops.Registry r) {
        r.add(op("Gemm")
                .attrFloat("alpha", 1f)
                .attrFloat("beta", 1f)
                .attrInt("transA", 0)
                .attrInt("transB", 0)
                .shape(MatrixOps::gemm)
                .gradient(MatrixOps::gemmGrad));
        r.add(op("MatMul").shape(MatrixOps::matMul).gradient(MatrixOps::matMulGrad));
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
            throw ctx.error(
                    "inner dimensions differ: A" + (ta ? "^T" : "") + " is [" + m + "," + ka + "] and B"
                            + (tb ? "^T" : "") + " is [" + kb + "," + n + "]",
                    "the layer expects " + kb + " input features; the input has " + ka);
        }
        Shape y = Shape.of(m, n);
        if (ctx.hasInput(2)) {
            // C broadcasts one way, to [M, N]
            Shape c = ctx.shape(2);
            Shape b2 = ElementwiseOps.broadcastShapes(ctx, y, c);
            if (c.rank() > 2 || !b2.equals(y) && b2.isFixed() && y.isFixed()) {
                throw ctx.error(
                        "C " + c + " does not broadcast to the output " + y,
                        "give C as [" + n + "] or [" + m + ", " + n + "]");
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
            throw ctx.error(
                    "inner dimensions differ: " + a + " x " + b + " (" + k1 + " vs " + k2 + ")",
                    "the second operand must have " + k1 + " rows");
        }
        Shape batchA = Shape.of(a2.dims().subList(0, a2.rank() - 2));
        Shape batchB = Shape.of(b2.dims().subList(0, b2.rank() - 2));
        List<Dim> out = new ArrayList<>(
                ElementwiseOps.broadcastShapes(ctx, batchA, batchB).dims());
        if (a.rank() != 1) {
            out.add(a2.dim(-2));
        }
        if (b.rank() != 1) {
            out.add(b2.dim(-1));
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    /** MatMul of rank >= 2 operands: dA = dY B^T, dB = A^T dY, each summed over broadcast batch axes. */
    private static List<String> matMulGrad(GradContext c) {
        int ra = c.shape(c.x(0)).rank();
        int rb = c.shape(c.x(1)).rank();
        if (ra < 2 || rb < 2) {
            throw new UnsupportedOperationException(
                    c.node().label() + ": the MatMul gradient needs operands of rank >= 2, got " + c.shape(c.x(0))
                            + " and " + c.shape(c.x(1)) + "; use Gemm or Unsqueeze to a matrix");
        }
        String da = c.needs(0) ? c.unbroadcast(c.op("MatMul", c.dy(), swapLast(c, c.x(1))), c.x(0)) : null;
        String db = c.needs(1) ? c.unbroadcast(c.op("MatMul", swapLast(c, c.x(0)), c.dy()), c.x(1)) : null;
        return c.grads(da, db);
    }

    private static String swapLast(GradContext c, String v) {
        int r = c.shape(v).rank();
        long[] perm = new long[r];
        for (int i = 0; i < r; i++) {
            perm[i] = i;
        }
        perm[r - 2] = r - 1;
        perm[r - 1] = r - 2;
        return c.op("Transpose", List.of(v), Map.of("perm", attrInts(perm)));
    }

    /**
     * Gemm: Y = alpha op(A) op(B) + beta C. With op(A) [M,K], op(B) [K,N]: d op(A) = alpha dY op(B)^T and
     * d op(B) = alpha op(A)^T dY; a transposed operand takes the transpose of that, which Gemm's own
     * transA/transB flags express without a Transpose node. dC = beta dY summed to C's shape.
     */
    private static List<String> gemmGrad(GradContext c) {
        boolean ta = c.node().attrInt("transA", 0) != 0;
        boolean tb = c.node().attrInt("transB", 0) != 0;
        float alpha = c.node().attrFloat("alpha", 1f);
        float beta = c.node().attrFloat("beta", 1f);
        String a = c.x(0);
        String b = c.x(1);
        String dy = c.dy();
        String da = null;
        String db = null;
        if (c.needs(0)) {
            da = ta ? gemm(c, b, dy, tb, true, alpha) : gemm(c, dy, b, false, !tb, alpha);
        }
        if (c.needs(1)) {
            db = tb ? gemm(c, dy, a, true, ta, alpha) : gemm(c, a, dy, !ta, false, alpha);
        }
        String dc = null;
        if (c.needs(2)) {
            String scaled = beta == 1f ? dy : c.mul(dy, c.scalar(beta));
            dc = c.unbroadcast(scaled, c.x(2));
        }
        return c.grads(da, db, dc);
    }

    private static String gemm(GradContext c, String a, String b, boolean transA, boolean transB, float alpha) {
        Map<String, Attribute> attrs = new LinkedHashMap<>();
        if (transA) {
            attrs.put("transA", attrInt(1));
        }
        if (transB) {
            attrs.put("transB", attrInt(1));
        }
        if (alpha != 1f) {
            attrs.put("alpha", new Attribute.Float(alpha));
        }
        return c.op("Gemm", List.of(a, b), attrs);
    }
}
