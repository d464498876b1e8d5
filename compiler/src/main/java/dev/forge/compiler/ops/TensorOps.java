package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Shape rules of operators that move, reshape, reduce or create tensors. */
final class TensorOps {
    private TensorOps() {
    }

    static void register(Ops.Registry r) {
        r.add("Reshape", TensorOps::reshape);
        r.add("Flatten", TensorOps::flatten);
        r.add("Concat", TensorOps::concat);
        r.add("Transpose", TensorOps::transpose);
        r.add("Shape", TensorOps::shape);
        r.add("Size", ctx -> InferenceContext.one(DType.INT64, Shape.fixed()));
        r.add("Gather", TensorOps::gather);
        r.add("Unsqueeze", TensorOps::unsqueeze);
        r.add("Squeeze", TensorOps::squeeze);
        r.add("Constant", TensorOps::constant);
        r.add("ConstantOfShape", TensorOps::constantOfShape);
        r.add("Expand", TensorOps::expand);
        r.add("OneHot", TensorOps::oneHot);
        for (String op : List.of("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
                "ReduceLogSumExp", "ReduceSumSquare")) {
            r.add(op, TensorOps::reduce);
        }
        r.add("Pad", TensorOps::pad);
        r.add("Slice", TensorOps::slice);
        r.add("Resize", TensorOps::resize);
        r.add("Split", TensorOps::split);
        r.add("ScatterElements", ctx -> List.of(ctx.input(0)));
        r.add("ScatterND", ctx -> List.of(ctx.input(0)));
        r.add("ArgMax", TensorOps::argReduce);
        r.add("ArgMin", TensorOps::argReduce);
    }

    static List<ValueType> reshape(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        Tensor target = ctx.constant(1);
        if (target == null && ctx.shapeTensor(1) != null) {
            Shape like = ctx.shapeTensor(1);
            if (x.isFixed() && like.isFixed() && x.elementCount() != like.elementCount()) {
                throw ctx.error("cannot reshape " + x + " to " + like, "make the element counts equal");
            }
            return InferenceContext.one(ctx.dtype(0), like);
        }
        if (target == null) {
            Shape s = ctx.shape(1);
            return InferenceContext.one(ctx.dtype(0), s.dim(0).isFixed() ? PoolOps.unknownOfRank((int) s.dim(0).value()) : null);
        }
        long[] t = target.toLongArray();
        boolean allowZero = ctx.node().attrInt("allowzero", 0) != 0;
        List<Dim> out = new ArrayList<>();
        int inferred = -1;
        long knownProduct = 1;
        for (int i = 0; i < t.length; i++) {
            if (t[i] == -1) {
                if (inferred >= 0) {
                    throw ctx.error("shape " + Arrays.toString(t) + " has more than one -1", "leave at most one dimension to infer");
                }
                inferred = i;
                out.add(Dim.unknown());
            } else if (t[i] == 0 && !allowZero) {
                if (i >= x.rank()) {
                    throw ctx.error("shape " + Arrays.toString(t) + " copies dimension " + i + " (0) but the input " + x
                            + " has rank " + x.rank(), "fix the target shape");
                }
                out.add(x.dim(i));
                if (x.dim(i).isFixed()) {
                    knownProduct *= x.dim(i).value();
                } else {
                    knownProduct = -knownProduct - 1; // marks a symbolic copied dim
                }
            } else if (t[i] < 0) {
                throw ctx.error("shape " + Arrays.toString(t) + " has an invalid size " + t[i], "use sizes >= -1");
            } else {
                out.add(Dim.of(t[i]));
                knownProduct *= t[i];
            }
        }
        if (inferred >= 0) {
            out.set(inferred, inferDim(ctx, x, out, inferred, t));
        } else if (x.isFixed() && Shape.of(out).isFixed() && x.elementCount() != Shape.of(out).elementCount()) {
            throw ctx.error("cannot reshape " + x + " (" + x.elementCount() + " elements) to " + Shape.of(out) + " ("
                    + Shape.of(out).elementCount() + " elements)", "make the element counts equal");
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    /** The size of a -1 dimension: input elements / other target sizes, keeping a symbolic batch. */
    private static Dim inferDim(InferenceContext ctx, Shape x, List<Dim> out, int inferred, long[] t) {
        long inFixed = 1;
        List<Dim> inSymbols = new ArrayList<>();
        for (Dim d : x.dims()) {
            if (d.isFixed()) {
                inFixed *= d.value();
            } else {
                inSymbols.add(d);
            }
        }
        long outFixed = 1;
        List<Dim> outSymbols = new ArrayList<>();
        for (int i = 0; i < out.size(); i++) {
            if (i == inferred) {
                continue;
            }
            Dim d = out.get(i);
            if (d.isFixed()) {
                outFixed *= d.value();
            } else {
                outSymbols.add(d);
            }
        }
        List<Dim> remaining = new ArrayList<>(inSymbols);
        for (Dim d : outSymbols) {
            if (!d.isSymbolic() || !remaining.remove(d)) {
                return Dim.unknown();
            }
        }
        if (outFixed == 0 || inFixed % outFixed != 0) {
            throw ctx.error("cannot reshape " + x + " to " + Arrays.toString(t) + ": " + inFixed
                    + " elements are not divisible by " + outFixed, "fix the target shape");
        }
        long q = inFixed / outFixed;
        if (remaining.isEmpty()) {
            return Dim.of(q);
        }
        if (remaining.size() == 1 && q == 1) {
            return remaining.get(0);
        }
        return Dim.unknown();
    }

    static List<ValueType> flatten(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long axis = ctx.node().attrInt("axis", 1);
        if (axis < 0) {
            axis += x.rank();
        }
        if (axis < 0 || axis > x.rank()) {
            throw ctx.error("axis " + ctx.node().attrInt("axis", 1) + " is out of range for input " + x, "use an axis in [0, " + x.rank() + "]");
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(product(x, 0, (int) axis), product(x, (int) axis, x.rank())));
    }

    private static Dim product(Shape x, int from, int to) {
        if (to - from == 1) {
            return x.dim(from);
        }
        long p = x.product(from, to);
        return p < 0 ? Dim.unknown() : Dim.of(p);
    }

    static List<ValueType> concat(InferenceContext ctx) {
        Shape first = ctx.shape(0);
        long axisAttr = ctx.node().attrInt("axis", Long.MIN_VALUE);
        if (axisAttr == Long.MIN_VALUE) {
            throw ctx.error("attribute axis is required", "set axis");
        }
        int axis = (int) (axisAttr < 0 ? axisAttr + first.rank() : axisAttr);
        if (axis < 0 || axis >= first.rank()) {
            throw ctx.error("axis " + axisAttr + " is out of range for rank " + first.rank(), "fix axis");
        }
        long total = 0;
        List<Dim> out = new ArrayList<>(first.dims());
        for (int i = 0; i < ctx.inputCount(); i++) {
            Shape s = ctx.shape(i);
            if (s.rank() != first.rank()) {
                throw ctx.error("input " + i + " " + s + " has rank " + s.rank() + " but input 0 " + first + " has " + first.rank(),
                        "concatenate tensors of equal rank");
            }
            if (ctx.dtype(i) != ctx.dtype(0)) {
                throw ctx.error("input " + i + " is " + ctx.input(i) + " but input 0 is " + ctx.input(0), "Cast to one element type");
            }
            for (int d = 0; d < s.rank(); d++) {
                if (d == axis) {
                    continue;
                }
                if (s.dim(d).isFixed() && out.get(d).isFixed() && s.dim(d).value() != out.get(d).value()) {
                    throw ctx.error("input " + i + " " + s + " differs from input 0 " + first + " on axis " + d
                            + " (only axis " + axis + " may differ)", "make the other dimensions equal");
                }
                if (!out.get(d).isFixed() && s.dim(d).isFixed()) {
                    out.set(d, s.dim(d));
                }
            }
            total = total < 0 || !s.dim(axis).isFixed() ? -1 : total + s.dim(axis).value();
        }
        out.set(axis, total < 0 ? Dim.unknown() : Dim.of(total));
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    static List<ValueType> transpose(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long[] perm = ctx.node().attrInts("perm", null);
        List<Dim> out = new ArrayList<>();
        if (perm == null) {
            for (int i = x.rank() - 1; i >= 0; i--) {
                out.add(x.dim(i));
            }
        } else {
            long[] sorted = perm.clone();
            Arrays.sort(sorted);
            for (int i = 0; i < sorted.length; i++) {
                if (sorted[i] != i || perm.length != x.rank()) {
                    throw ctx.error("perm " + Arrays.toString(perm) + " is not a permutation of the " + x.rank() + " axes of " + x, "fix perm");
                }
            }
            for (long p : perm) {
                out.add(x.dim((int) p));
            }
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
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

    private static long[] axes(InferenceContext ctx, String what) {
        if (ctx.opset() >= 13) {
            if (!ctx.hasInput(1)) {
                return null;
            }
            Tensor t = ctx.constant(1);
            if (t == null) {
                throw new InferenceContext.UnknownShape();
            }
            return t.toLongArray();
        }
        return ctx.node().attrInts("axes", null);
    }

    static List<ValueType> unsqueeze(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long[] axes = axes(ctx, "Unsqueeze");
        if (axes == null) {
            throw ctx.error("axes are required", "give axes");
        }
        int rank = x.rank() + axes.length;
        boolean[] inserted = new boolean[rank];
        for (long ax : axes) {
            int a = (int) (ax < 0 ? ax + rank : ax);
            if (a < 0 || a >= rank || inserted[a]) {
                throw ctx.error("axes " + Arrays.toString(axes) + " are invalid for output rank " + rank, "fix axes");
            }
            inserted[a] = true;
        }
        List<Dim> out = new ArrayList<>();
        int j = 0;
        for (int i = 0; i < rank; i++) {
            out.add(inserted[i] ? Dim.of(1) : x.dim(j++));
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    static List<ValueType> squeeze(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long[] axes = axes(ctx, "Squeeze");
        boolean[] drop = new boolean[x.rank()];
        if (axes == null) {
            for (int i = 0; i < x.rank(); i++) {
                if (!x.dim(i).isFixed()) {
                    throw new InferenceContext.UnknownShape();
                }
                drop[i] = x.dim(i).value() == 1;
            }
        } else {
            for (long ax : axes) {
                int a = (int) (ax < 0 ? ax + x.rank() : ax);
                if (a < 0 || a >= x.rank() || (x.dim(a).isFixed() && x.dim(a).value() != 1)) {
                    throw ctx.error("cannot squeeze axis " + ax + " of " + x, "squeeze only axes of size 1");
                }
                drop[a] = true;
            }
        }
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            if (!drop[i]) {
                out.add(x.dim(i));
            }
        }
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
            return InferenceContext.one(dtype, s.dim(0).isFixed() ? PoolOps.unknownOfRank((int) s.dim(0).value()) : null);
        }
        return InferenceContext.one(dtype, Shape.fixed(shape.toLongArray()));
    }

    static List<ValueType> expand(InferenceContext ctx) {
        Shape target = ctx.shapeTensor(1);
        if (target == null) {
            Shape s = ctx.shape(1);
            return InferenceContext.one(ctx.dtype(0), s.dim(0).isFixed() ? PoolOps.unknownOfRank((int) s.dim(0).value()) : null);
        }
        return InferenceContext.one(ctx.dtype(0), ElementwiseOps.broadcastShapes(ctx, ctx.shape(0), target));
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

    static List<ValueType> reduce(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        boolean axesAsInput = ctx.node().opType().equals("ReduceSum") ? ctx.opset() >= 13 : ctx.opset() >= 18;
        long[] axes;
        if (axesAsInput) {
            if (ctx.hasInput(1)) {
                Tensor t = ctx.constant(1);
                if (t == null) {
                    return InferenceContext.one(ctx.dtype(0), null);
                }
                axes = t.toLongArray();
            } else {
                axes = null;
            }
        } else {
            if (ctx.hasInput(1)) {
                throw ctx.error("axes as an input needs opset " + (ctx.node().opType().equals("ReduceSum") ? 13 : 18)
                        + " but the graph uses opset " + ctx.opset(), "give axes as an attribute");
            }
            axes = ctx.node().attrInts("axes", null);
        }
        boolean keep = ctx.node().attrInt("keepdims", 1) != 0;
        boolean noop = ctx.node().attrInt("noop_with_empty_axes", 0) != 0;
        if ((axes == null || axes.length == 0) && noop) {
            return List.of(ctx.input(0));
        }
        boolean[] reduced = new boolean[x.rank()];
        if (axes == null || axes.length == 0) {
            Arrays.fill(reduced, true);
        } else {
            for (long ax : axes) {
                int a = (int) (ax < 0 ? ax + x.rank() : ax);
                if (a < 0 || a >= x.rank()) {
                    throw ctx.error("axis " + ax + " is out of range for " + x, "use axes in [" + -x.rank() + ", " + (x.rank() - 1) + "]");
                }
                reduced[a] = true;
            }
        }
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            if (!reduced[i]) {
                out.add(x.dim(i));
            } else if (keep) {
                out.add(Dim.of(1));
            }
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    static List<ValueType> argReduce(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long axis = ctx.node().attrInt("axis", 0);
        int a = (int) (axis < 0 ? axis + x.rank() : axis);
        if (a < 0 || a >= x.rank()) {
            throw ctx.error("axis " + axis + " is out of range for " + x, "fix axis");
        }
        boolean keep = ctx.node().attrInt("keepdims", 1) != 0;
        List<Dim> out = new ArrayList<>(x.dims());
        if (keep) {
            out.set(a, Dim.of(1));
        } else {
            out.remove(a);
        }
        return InferenceContext.one(DType.INT64, Shape.of(out));
    }

    /** Pad: output = input + begin + end pads per axis (pads as an input from opset 11). */
    static List<ValueType> pad(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long[] pads;
        if (ctx.opset() >= 11) {
            Tensor t = ctx.constant(1);
            if (t == null) {
                return InferenceContext.one(ctx.dtype(0), PoolOps.unknownOfRank(x.rank()));
            }
            pads = t.toLongArray();
        } else {
            pads = ctx.node().attrInts("pads", null);
        }
        if (ctx.hasInput(3)) {
            return InferenceContext.one(ctx.dtype(0), PoolOps.unknownOfRank(x.rank()));
        }
        if (pads == null || pads.length != 2 * x.rank()) {
            throw ctx.error("pads must have " + 2 * x.rank() + " values for input " + x + ", got "
                    + (pads == null ? "none" : Arrays.toString(pads)), "give begin and end pads for every axis");
        }
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            Dim d = x.dim(i);
            long extra = pads[i] + pads[i + x.rank()];
            if (d.isFixed()) {
                long size = d.value() + extra;
                if (size < 0) {
                    throw ctx.error("pads " + Arrays.toString(pads) + " remove more than axis " + i + " of " + x + " holds", "reduce the negative pads");
                }
                out.add(Dim.of(size));
            } else {
                out.add(extra == 0 ? d : Dim.unknown());
            }
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    /** Slice with constant starts/ends (and optional axes, steps), clamped as ONNX says. */
    static List<ValueType> slice(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        Tensor startsT = ctx.constant(1);
        Tensor endsT = ctx.constant(2);
        if (startsT == null || endsT == null || (ctx.hasInput(3) && ctx.constant(3) == null)
                || (ctx.hasInput(4) && ctx.constant(4) == null)) {
            return InferenceContext.one(ctx.dtype(0), PoolOps.unknownOfRank(x.rank()));
        }
        long[] starts = startsT.toLongArray();
        long[] ends = endsT.toLongArray();
        long[] axes = ctx.hasInput(3) ? ctx.constant(3).toLongArray() : null;
        long[] steps = ctx.hasInput(4) ? ctx.constant(4).toLongArray() : null;
        List<Dim> out = new ArrayList<>(x.dims());
        for (int i = 0; i < starts.length; i++) {
            int a = (int) (axes == null ? i : axes[i] < 0 ? axes[i] + x.rank() : axes[i]);
            long step = steps == null ? 1 : steps[i];
            if (step == 0) {
                throw ctx.error("step 0 on axis " + a, "use a non-zero step");
            }
            Dim d = x.dim(a);
            if (!d.isFixed()) {
                boolean whole = starts[i] == 0 && ends[i] >= Integer.MAX_VALUE && step == 1;
                out.set(a, whole ? d : Dim.unknown());
                continue;
            }
            long n = d.value();
            long s = starts[i] < 0 ? starts[i] + n : starts[i];
            long e = ends[i] < 0 ? ends[i] + n : ends[i];
            long size;
            if (step > 0) {
                s = Math.max(0, Math.min(n, s));
                e = Math.max(0, Math.min(n, e));
                size = e > s ? (e - s + step - 1) / step : 0;
            } else {
                s = Math.max(-1, Math.min(n - 1, s));
                e = Math.max(-1, Math.min(n - 1, e));
                size = s > e ? (s - e + (-step) - 1) / (-step) : 0;
            }
            out.set(a, Dim.of(size));
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    /** Split along an axis by constant sizes (opset 13+: sizes as an input) or into equal parts. */
    static List<ValueType> split(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        long axisAttr = ctx.node().attrInt("axis", 0);
        int axis = (int) (axisAttr < 0 ? axisAttr + x.rank() : axisAttr);
        int parts = ctx.node().outputs().size();
        long[] sizes = null;
        if (ctx.opset() >= 13 && ctx.hasInput(1)) {
            Tensor t = ctx.constant(1);
            if (t == null) {
                throw new InferenceContext.UnknownShape();
            }
            sizes = t.toLongArray();
        } else if (ctx.opset() < 13) {
            sizes = ctx.node().attrInts("split", null);
        }
        if (sizes == null) {
            long n = ctx.fixed(x.dim(axis), "the split axis");
            if (n % parts != 0) {
                throw ctx.error("axis " + axis + " of size " + n + " does not split into " + parts + " equal parts", "give split sizes");
            }
            sizes = new long[parts];
            java.util.Arrays.fill(sizes, n / parts);
        }
        if (sizes.length != parts) {
            throw ctx.error(sizes.length + " split sizes for " + parts + " outputs", "give one size per output");
        }
        List<ValueType> out = new ArrayList<>();
        for (long s : sizes) {
            out.add(new ValueType(ctx.dtype(0), x.with(axis, Dim.of(s))));
        }
        return out;
    }

    /** Resize with constant scales (input 2) or sizes (input 3): out = floor(in * scale). */
    static List<ValueType> resize(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        Tensor scales = ctx.hasInput(2) ? ctx.constant(2) : null;
        Tensor sizes = ctx.hasInput(3) ? ctx.constant(3) : null;
        if (sizes != null) {
            return InferenceContext.one(ctx.dtype(0), Shape.fixed(sizes.toLongArray()));
        }
        if (scales == null || scales.size() == 0) {
            return InferenceContext.one(ctx.dtype(0), PoolOps.unknownOfRank(x.rank()));
        }
        if (scales.size() != x.rank()) {
            throw ctx.error("scales has " + scales.size() + " values for input " + x, "give one scale per axis");
        }
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            double s = scales.getDouble(i);
            Dim d = x.dim(i);
            out.add(s == 1.0 ? d : d.isFixed() ? Dim.of((long) Math.floor(d.value() * s)) : Dim.unknown());
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }
}
