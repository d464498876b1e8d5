package dev.forge.compiler.ops;

import static dev.forge.compiler.ops.AttributeSpec.Kind.FLOAT;
import static dev.forge.compiler.ops.AttributeSpec.Kind.FLOATS;
import static dev.forge.compiler.ops.AttributeSpec.Kind.INT;
import static dev.forge.compiler.ops.AttributeSpec.Kind.INTS;
import static dev.forge.compiler.ops.AttributeSpec.Kind.SPARSE_TENSOR;
import static dev.forge.compiler.ops.AttributeSpec.Kind.STRING;
import static dev.forge.compiler.ops.AttributeSpec.Kind.STRINGS;
import static dev.forge.compiler.ops.AttributeSpec.Kind.TENSOR;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Tensor creation and indexing: constants, shapes and sizes, {@code Gather}, {@code OneHot} and the
 * scatters. Only {@code Gather} of float data on constant indices is differentiated; the others'
 * outputs are constants, integers or indices (the scatters appear only in backward graphs).
 */
final class TensorOps {
    private TensorOps() {}

    static void register(Ops.Registry r) {
        // start and end from opset 15
        r.add(op("Shape")
                .attr("start", INT)
                .attr("end", INT)
                .shape(TensorOps::shape)
                .notDifferentiable());
        r.add(op("Size")
                .shape(ctx -> InferenceContext.one(DType.INT64, Shape.fixed()))
                .notDifferentiable());
        r.add(op("Gather").attrInt("axis", 0).shape(TensorOps::gather).gradient(TensorOps::gatherGrad));
        // exactly one value attribute; sparse_value from opset 11, the others but value from opset 12
        r.add(op("Constant")
                .attr("value", TENSOR)
                .attr("sparse_value", SPARSE_TENSOR)
                .attr("value_float", FLOAT)
                .attr("value_floats", FLOATS)
                .attr("value_int", INT)
                .attr("value_ints", INTS)
                .attr("value_string", STRING)
                .attr("value_strings", STRINGS)
                .shape(TensorOps::constant)
                .notDifferentiable());
        r.add(op("ConstantOfShape")
                .attr("value", TENSOR)
                .shape(TensorOps::constantOfShape)
                .notDifferentiable());
        r.add(op("OneHot").attrInt("axis", -1).shape(TensorOps::oneHot).notDifferentiable());
        // reduction from opset 16
        r.add(op("ScatterElements")
                .attrInt("axis", 0)
                .attrString("reduction", "none")
                .shape(ElementwiseOps.SAME));
        r.add(op("ScatterND").attrString("reduction", "none").shape(ElementwiseOps.SAME));
    }

    static List<ValueType> shape(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long start = ctx.node().attrInt("start", 0);
        long end = ctx.node().attrInt("end", x.rank());
        start = Math.max(0, Math.min(x.rank(), start < 0 ? start + x.rank() : start));
        end = Math.max(0, Math.min(x.rank(), end < 0 ? end + x.rank() : end));
        return InferenceContext.one(DType.INT64, Shape.fixed(Math.max(0, end - start)));
    }

    static List<ValueType> gather(InferenceContext ctx) {
        Shape data = ctx.shape(0);
        Shape idx = ctx.shape(1);
        long axis = ctx.node().attrInt("axis", 0);
        int a = (int) (axis < 0 ? axis + data.rank() : axis);
        if (a < 0 || a >= data.rank()) {
            throw ctx.error("axis " + axis + " out of range for " + data, "fix axis");
        }
        List<Dim> out = new ArrayList<>(data.dims().subList(0, a));
        out.addAll(idx.dims());
        out.addAll(data.dims().subList(a + 1, data.rank()));
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    static List<ValueType> constant(InferenceContext ctx) {
        Tensor t = constantValue(ctx.node());
        if (t == null) {
            throw ctx.error("Constant has no supported value attribute", "use value, value_float(s) or value_int(s)");
        }
        return InferenceContext.one(t.dtype(), Shape.fixed(t.shape()));
    }

    /** The tensor a {@code Constant} node produces, or null if its attribute kind is not supported. */
    public static Tensor constantValue(Node node) {
        for (var e : node.attributes().entrySet()) {
            Attribute a = e.getValue();
            switch (e.getKey()) {
                case "value":
                    if (a instanceof Attribute.TensorValue tv) {
                        return tv.value();
                    }
                    break;
                case "value_float":
                    if (a instanceof Attribute.Float f) {
                        return Tensor.of(new float[] {f.value()});
                    }
                    break;
                case "value_floats":
                    if (a instanceof Attribute.Floats f) {
                        return Tensor.of(f.values(), f.values().length);
                    }
                    break;
                case "value_int":
                    if (a instanceof Attribute.Int i) {
                        return Tensor.of(new long[] {i.value()});
                    }
                    break;
                case "value_ints":
                    if (a instanceof Attribute.Ints i) {
                        return Tensor.of(i.values(), i.values().length);
                    }
                    break;
                default:
                    break;
            }
        }
        return null;
    }

    static List<ValueType> constantOfShape(InferenceContext ctx) {
        Attribute v = ctx.node().attr("value");
        DType dtype = v instanceof Attribute.TensorValue tv ? tv.value().dtype() : DType.FLOAT32;
        if (ctx.shapeTensor(0) != null) {
            return InferenceContext.one(dtype, ctx.shapeTensor(0));
        }
        Tensor shape = ctx.constant(0);
        if (shape == null) {
            Shape s = ctx.shape(0);
            return InferenceContext.one(
                    dtype,
                    s.dim(0).isFixed() ? PoolOps.unknownOfRank((int) s.dim(0).value()) : null);
        }
        return InferenceContext.one(dtype, Shape.fixed(shape.toLongArray()));
    }

    static List<ValueType> oneHot(InferenceContext ctx) {
        Shape idx = ctx.shape(0);
        Tensor depth = ctx.constant(1);
        Dim d = depth == null ? Dim.unknown() : Dim.of((long) depth.getDouble(0));
        long axis = ctx.node().attrInt("axis", -1);
        int rank = idx.rank() + 1;
        int a = (int) (axis < 0 ? axis + rank : axis);
        List<Dim> out = new ArrayList<>(idx.dims());
        out.add(a, d);
        return InferenceContext.one(ctx.dtype(2), Shape.of(out));
    }

    /*
     * Gather on axis a with constant indices I (K of them, flattened): Y[p, k, q] = X[p, I_k, q] with p
     * the axes before a and q those after. So dX[p, j, q] = sum_k [I_k = j] dY[p, k, q]: with the
     * constant 0/1 matrix M[j, k] = [I_k = j] (n x K), dX = M @ dY viewed as [P, K, Q], a MatMul that
     * sums repeated indices' contributions. Negative indices count from the end.
     */
    private static List<String> gatherGrad(GradContext c) {
        DType dtype = c.type(c.x(0)).dtype();
        if (dtype != DType.FLOAT32) {
            return c.none();
        }
        String label = c.node().label();
        Tensor idxT = ShapeInference.constantOf(c.emit().graph(), c.x(1));
        if (idxT == null) {
            throw new UnsupportedOperationException(label + ": the Gather gradient needs constant indices, got the"
                    + " computed value '" + c.x(1) + "'; make the indices an initializer or a Constant");
        }
        Shape x = c.shape(c.x(0));
        long axis = c.node().attrInt("axis", 0);
        int a = (int) (axis < 0 ? axis + x.rank() : axis);
        long post = x.product(a + 1, x.rank());
        if (!x.dim(a).isFixed() || post < 0) {
            throw new UnsupportedOperationException(label + ": the Gather gradient needs fixed sizes from the gathered"
                    + " axis " + a + " on, got " + x + "; give the input a fixed shape there");
        }
        long n = x.dim(a).value();
        long[] idx = idxT.toLongArray();
        float[] m = new float[(int) (n * idx.length)];
        for (int k = 0; k < idx.length; k++) {
            long j = idx[k] < 0 ? idx[k] + n : idx[k];
            if (j < 0 || j >= n) {
                throw new UnsupportedOperationException(label + ": index " + idx[k] + " is out of range for axis " + a
                        + " of " + x + " (size " + n + "); use indices in [" + -n + ", " + (n - 1) + "]");
            }
            m[(int) (j * idx.length + k)] += 1f;
        }
        String onehot = c.emit().tensor("const/gather_onehot", Tensor.of(m, n, idx.length));
        String viewed = c.op("Reshape", c.dy(), c.emit().ints(-1, idx.length, post));
        return c.grads(Grad.reshapeTo(c, c.op("MatMul", onehot, viewed), c.x(0)));
    }
}
