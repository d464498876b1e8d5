package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import java.util.ArrayList;
import java.util.List;

/** Shape rules of elementwise operators: unary (same shape) and multidirectional broadcasting. */
final class ElementwiseOps {
    private ElementwiseOps() {
    }

    static void register(Ops.Registry r) {
        for (String op : List.of("Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "Softplus", "Softsign",
                "HardSigmoid", "HardSwish", "Exp", "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Sign", "Floor", "Ceil",
                "Round", "Erf", "Identity", "Not", "PRelu", "Gelu", "Mish")) {
            r.add(op, ctx -> List.of(ctx.input(0)));
        }
        r.add("Clip", ctx -> List.of(ctx.input(0)));
        r.add("Softmax", ElementwiseOps::softmax);
        r.add("LogSoftmax", ElementwiseOps::softmax);
        r.add("Dropout", ElementwiseOps::dropout);
        r.add("Cast", ElementwiseOps::cast);
        for (String op : List.of("Add", "Sub", "Mul", "Div", "Mod")) {
            r.add(op, ctx -> InferenceContext.one(ctx.dtype(0), broadcast(ctx, 0, 1)));
        }
        // Pow allows an exponent of another element type
        r.add("Pow", ctx -> InferenceContext.one(ctx.dtype(0), broadcastShapes(ctx, ctx.shape(0), ctx.shape(1))));
        for (String op : List.of("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor")) {
            r.add(op, ctx -> InferenceContext.one(DType.BOOL, broadcast(ctx, 0, 1)));
        }
        for (String op : List.of("Max", "Min", "Sum", "Mean")) {
            r.add(op, ElementwiseOps::variadic);
        }
        r.add("Where", ctx -> {
            Shape s = broadcastShapes(ctx, broadcastShapes(ctx, ctx.shape(0), ctx.shape(1)), ctx.shape(2));
            return InferenceContext.one(ctx.dtype(1), s);
        });
    }

    static List<ValueType> softmax(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long axis = ctx.node().attrInt("axis", ctx.opset() >= 13 ? -1 : 1);
        if (axis < -x.rank() || axis >= x.rank()) {
            throw ctx.error("axis " + axis + " is out of range for input " + x, "use an axis in [" + -x.rank() + ", " + (x.rank() - 1) + "]");
        }
        return List.of(ctx.input(0));
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
            throw ctx.error("cast to ONNX element type " + to + " is not supported", "cast to float, double, int32, int64, uint8, int8 or bool");
        }
        return InferenceContext.one(t, ctx.shape(0));
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
            throw ctx.error("inputs have different element types " + ctx.input(a) + " and " + ctx.input(b),
                    "Cast one of them");
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
            throw ctx.error("shapes " + a + " and " + b + " cannot be broadcast (" + da + " vs " + db + ")",
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
