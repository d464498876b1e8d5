package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.autodiff.Emitter.attrInts;
import static dev.forge.compiler.ops.AttributeSpec.Kind.INT;
import static dev.forge.compiler.ops.AttributeSpec.Kind.INTS;
import static dev.forge.compiler.ops.Grad.reshapeTo;
import static dev.forge.compiler.ops.Grad.reversed;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.autodiff.GradientRule;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Shape movement: operators that rearrange, cut, join or pad elements without computing new values. Their
 * gradients move dY back: a reshape reshapes it back, a transpose transposes it back, a concatenation
 * splits it, a pad slices the padding off.
 */
final class ShapeOps {
    private ShapeOps() {}

    static void register(Ops.Registry r) {
        // the elements are unchanged, only the shape: dX = dY reshaped to X's shape
        GradientRule reshapeBack = c -> c.grads(reshapeTo(c, c.dy(), c.x(0)));
        // allowzero from opset 14
        r.add(op("Reshape").attrInt("allowzero", 0).shape(ShapeOps::reshape).gradient(reshapeBack));
        r.add(op("Flatten").attrInt("axis", 1).shape(ShapeOps::flatten).gradient(reshapeBack));
        // axes: an attribute before opset 13, an input from then on
        r.add(op("Squeeze").attr("axes", INTS).shape(ShapeOps::squeeze).gradient(reshapeBack));
        r.add(op("Unsqueeze").attr("axes", INTS).shape(ShapeOps::unsqueeze).gradient(reshapeBack));
        // Y = X permuted by perm, so dX = dY permuted by the inverse permutation
        r.add(op("Transpose").attr("perm", INTS).shape(ShapeOps::transpose).gradient(c -> {
            long[] perm = c.attrInts("perm", reversed(c.shape(c.x(0)).rank()));
            long[] inverse = new long[perm.length];
            for (int i = 0; i < perm.length; i++) {
                inverse[(int) perm[i]] = i;
            }
            return c.grads(c.op("Transpose", List.of(c.dy()), Map.of("perm", attrInts(inverse))));
        }));
        // each input's gradient is its slice of dY along the axis
        r.add(op("Concat").required("axis", INT).shape(ShapeOps::concat).gradient(ShapeOps::concatGrad));
        // pads and value: attributes before opset 11, inputs from then on
        r.add(op("Pad")
                .attrString("mode", "constant")
                .attr("pads", INTS)
                .attrFloat("value", 0f)
                .shape(ShapeOps::pad)
                .gradient(ShapeOps::padGrad));
        // starts, ends and axes: attributes before opset 10
        r.add(op("Slice")
                .attr("axes", INTS)
                .attr("ends", INTS)
                .attr("starts", INTS)
                .shape(ShapeOps::slice)
                .gradient(ShapeOps::sliceGrad));
        // split: an attribute before opset 13; num_outputs from opset 18
        r.add(op("Split")
                .attrInt("axis", 0)
                .attr("num_outputs", INT)
                .attr("split", INTS)
                .shape(ShapeOps::split)
                .gradient(ShapeOps::splitGrad));
        // Y = X broadcast to the shape: dX = dY summed over the broadcast axes
        r.add(op("Expand").shape(ShapeOps::expand).gradient(c -> c.grads(c.unbroadcast(c.dy(), c.x(0)))));
        r.add(op("Tile").shape(ShapeOps::tile).gradient(ShapeOps::tileGrad));
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
            return InferenceContext.one(
                    ctx.dtype(0),
                    s.dim(0).isFixed() ? PoolOps.unknownOfRank((int) s.dim(0).value()) : null);
        }
        long[] t = target.toLongArray();
        boolean allowZero = ctx.node().attrInt("allowzero", 0) != 0;
        List<Dim> out = new ArrayList<>();
        int inferred = -1;
        long knownProduct = 1;
        for (int i = 0; i < t.length; i++) {
            if (t[i] == -1) {
                if (inferred >= 0) {
                    throw ctx.error(
                            "shape " + Arrays.toString(t) + " has more than one -1",
                            "leave at most one dimension to infer");
                }
                inferred = i;
                out.add(Dim.unknown());
            } else if (t[i] == 0 && !allowZero) {
                if (i >= x.rank()) {
                    throw ctx.error(
                            "shape " + Arrays.toString(t) + " copies dimension " + i + " (0) but the input " + x
                                    + " has rank " + x.rank(),
                            "fix the target shape");
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
        } else if (x.isFixed()
                && Shape.of(out).isFixed()
                && x.elementCount() != Shape.of(out).elementCount()) {
            throw ctx.error(
                    "cannot reshape " + x + " (" + x.elementCount() + " elements) to " + Shape.of(out) + " ("
                            + Shape.of(out).elementCount() + " elements)",
                    "make the element counts equal");
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
            throw ctx.error(
                    "cannot reshape " + x + " to " + Arrays.toString(t) + ": " + inFixed
                            + " elements are not divisible by " + outFixed,
                    "fix the target shape");
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
            throw ctx.error(
                    "axis " + ctx.node().attrInt("axis", 1) + " is out of range for input " + x,
                    "use an axis in [0, " + x.rank() + "]");
        }
        return InferenceContext.one(
                ctx.dtype(0), Shape.of(product(x, 0, (int) axis), product(x, (int) axis, x.rank())));
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
                throw ctx.error(
                        "input " + i + " " + s + " has rank " + s.rank() + " but input 0 " + first + " has "
                                + first.rank(),
                        "concatenate tensors of equal rank");
            }
            if (ctx.dtype(i) != ctx.dtype(0)) {
                throw ctx.error(
                        "input " + i + " is " + ctx.input(i) + " but input 0 is " + ctx.input(0),
                        "Cast to one element type");
            }
            for (int d = 0; d < s.rank(); d++) {
                if (d == axis) {
                    continue;
                }
                if (s.dim(d).isFixed()
                        && out.get(d).isFixed()
                        && s.dim(d).value() != out.get(d).value()) {
                    throw ctx.error(
                            "input " + i + " " + s + " differs from input 0 " + first + " on axis " + d + " (only axis "
                                    + axis + " may differ)",
                            "make the other dimensions equal");
                }
                if (!out.get(d).isFixed() && s.dim(d).isFixed()) {
                    out.set(d, s.dim(d));
                }
            }
            total = total < 0 || !s.dim(axis).isFixed()
                    ? -1
                    : total + s.dim(axis).value();
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
                    throw ctx.error(
                            "perm " + Arrays.toString(perm) + " is not a permutation of the " + x.rank() + " axes of "
                                    + x,
                            "fix perm");
                }
            }
            for (long p : perm) {
                out.add(x.dim((int) p));
            }
        }
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

    static List<ValueType> expand(InferenceContext ctx) {
        Shape target = ctx.shapeTensor(1);
        if (target == null) {
            Shape s = ctx.shape(1);
            return InferenceContext.one(
                    ctx.dtype(0),
                    s.dim(0).isFixed() ? PoolOps.unknownOfRank((int) s.dim(0).value()) : null);
        }
        return InferenceContext.one(ctx.dtype(0), ElementwiseOps.broadcastShapes(ctx, ctx.shape(0), target));
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
            throw ctx.error(
                    "pads must have " + 2 * x.rank() + " values for input " + x + ", got "
                            + (pads == null ? "none" : Arrays.toString(pads)),
                    "give begin and end pads for every axis");
        }
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            Dim d = x.dim(i);
            long extra = pads[i] + pads[i + x.rank()];
            if (d.isFixed()) {
                long size = d.value() + extra;
                if (size < 0) {
                    throw ctx.error(
                            "pads " + Arrays.toString(pads) + " remove more than axis " + i + " of " + x + " holds",
                            "reduce the negative pads");
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
        if (startsT == null
                || endsT == null
                || (ctx.hasInput(3) && ctx.constant(3) == null)
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
                throw ctx.error(
                        "axis " + axis + " of size " + n + " does not split into " + parts + " equal parts",
                        "give split sizes");
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

    private static List<String> concatGrad(GradContext c) {
        long axis = c.node().attrInt("axis", 0);
        int rank = c.shape(c.y(0)).rank();
        int a = (int) (axis < 0 ? axis + rank : axis);
        long[] sizes = new long[c.node().inputs().size()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = c.shape(c.x(i)).dim(a).value();
        }
        List<String> parts =
                c.emit().ops("Split", List.of(c.dy(), c.emit().ints(sizes)), Map.of("axis", attrInt(a)), sizes.length);
        List<String> out = c.none();
        for (int i = 0; i < sizes.length; i++) {
            out.set(i, c.needs(i) ? parts.get(i) : null);
        }
        return out;
    }

    /** Constant-mode Pad with non-negative pads: the gradient is the un-padded window of dY. */
    private static List<String> padGrad(GradContext c) {
        String mode = c.node().attrString("mode", "constant");
        if (!mode.equals("constant")) {
            throw new UnsupportedOperationException(
                    c.node().label() + ": only constant-mode Pad is differentiable, got " + mode);
        }
        Tensor padsT = ShapeInference.constantOf(c.emit().graph(), c.x(1));
        if (padsT == null) {
            throw new UnsupportedOperationException(c.node().label() + ": the Pad gradient needs constant pads");
        }
        long[] pads = padsT.toLongArray();
        int rank = pads.length / 2;
        if (Arrays.stream(pads).allMatch(p -> p == 0)) {
            return c.grads(c.dy());
        }
        long[] starts = new long[rank];
        long[] ends = new long[rank];
        long[] axes = new long[rank];
        for (int i = 0; i < rank; i++) {
            if (pads[i] < 0 || pads[i + rank] < 0) {
                throw new UnsupportedOperationException(c.node().label() + ": the Pad gradient needs pads >= 0");
            }
            starts[i] = pads[i];
            ends[i] = pads[i + rank] == 0 ? Long.MAX_VALUE : -pads[i + rank];
            axes[i] = i;
        }
        return c.grads(c.op(
                "Slice",
                c.dy(),
                c.emit().ints(starts),
                c.emit().ints(ends),
                c.emit().ints(axes)));
    }

    /*
     * Slice: Y[j] = X[b + j * s] on each sliced axis (b the clamped start, s the step, j < m = Y's size),
     * so dX is zero except dX[b + j * s] = dY[j]. Per axis, a negative step is first turned positive by
     * reversing dY (its elements then sit at b' = b + (m - 1) s, b' + |s|, ...); a step |s| > 1 spaces
     * them out by interleaving |s| - 1 zeros after each (Unsqueeze, Pad, Reshape), cut to what fits
     * before the end; finally one Pad puts every axis's block at its offset b' within X's size.
     * Starts, ends, axes and steps must be constants; the sliced axes need fixed sizes.
     */
    private static List<String> sliceGrad(GradContext c) {
        String label = c.node().label();
        Shape x = c.shape(c.x(0));
        int rank = x.rank();
        long[] starts;
        long[] ends;
        long[] axes;
        long[] steps;
        if (c.node().hasInput(1)) {
            starts = sliceInput(c, 1, "starts");
            ends = sliceInput(c, 2, "ends");
            axes = c.node().hasInput(3) ? sliceInput(c, 3, "axes") : null;
            steps = c.node().hasInput(4) ? sliceInput(c, 4, "steps") : null;
        } else {
            starts = c.attrInts("starts");
            ends = c.attrInts("ends");
            axes = c.node().attrInts("axes", null);
            steps = null;
        }
        String g = c.dy();
        long[] pads = new long[2 * rank];
        for (int k = 0; k < starts.length; k++) {
            long ax = axes == null ? k : axes[k];
            int a = (int) (ax < 0 ? ax + rank : ax);
            if (!x.dim(a).isFixed()) {
                throw new UnsupportedOperationException(
                        label + ": the Slice gradient needs a fixed size on sliced axis " + a + " of " + x
                                + "; give the input a fixed shape there");
            }
            long n = x.dim(a).value();
            long step = steps == null ? 1 : steps[k];
            long b = starts[k] < 0 ? starts[k] + n : starts[k];
            long e = ends[k] < 0 ? ends[k] + n : ends[k];
            long m;
            if (step > 0) {
                b = Math.max(0, Math.min(n, b));
                e = Math.max(0, Math.min(n, e));
                m = Math.max(0, (e - b + step - 1) / step);
            } else {
                b = Math.max(0, Math.min(n - 1, b));
                e = Math.max(-1, Math.min(n - 1, e));
                m = Math.max(0, (b - e - step - 1) / -step);
            }
            if (m == 0) {
                // nothing selected on this axis: dX is zero everywhere
                return c.grads(c.op("ConstantOfShape", c.shapeOf(c.x(0))));
            }
            if (step < 0) {
                g = c.op(
                        "Slice",
                        g,
                        c.emit().ints(-1),
                        c.emit().ints(Long.MIN_VALUE),
                        c.emit().ints(a),
                        c.emit().ints(-1));
                b += (m - 1) * step;
                step = -step;
            }
            long length = m;
            if (step > 1) {
                g = interleaveZeros(c, g, a, step);
                length = Math.min(m * step, n - b);
                if (length < m * step) {
                    g = Grad.slice(c, g, a, 0, length);
                }
            }
            pads[a] = b;
            pads[a + rank] = n - b - length;
        }
        if (Arrays.stream(pads).anyMatch(p -> p != 0)) {
            g = c.op("Pad", g, c.emit().ints(pads));
        }
        return c.grads(g);
    }

    private static long[] sliceInput(GradContext c, int i, String what) {
        Tensor t = ShapeInference.constantOf(c.emit().graph(), c.x(i));
        if (t == null) {
            throw new UnsupportedOperationException(c.node().label() + ": the Slice gradient needs constant " + what
                    + ", got the computed value '" + c.x(i) + "'; make " + what + " an initializer or a Constant");
        }
        return t.toLongArray();
    }

    /** {@code g} with {@code step - 1} zeros after each element along axis {@code a} (size m to m * step). */
    private static String interleaveZeros(GradContext c, String g, int a, long step) {
        Shape s = c.shape(g);
        int rank = s.rank();
        String u = c.op("Unsqueeze", g, c.emit().ints(a + 1));
        long[] pads = new long[2 * (rank + 1)];
        pads[a + 1 + rank + 1] = step - 1;
        String padded = c.op("Pad", u, c.emit().ints(pads));
        for (int i = a + 1; i < rank; i++) {
            if (!s.dim(i).isFixed()) {
                throw new UnsupportedOperationException(c.node().label() + ": the gradient of a Slice step on axis " + a
                        + " needs fixed sizes after that axis, got " + s + "; give the input a fixed shape");
            }
        }
        long[] target = new long[rank];
        for (int i = 0; i < rank; i++) {
            // 0 copies a leading (maybe symbolic) dimension
            target[i] = i < a ? 0 : i == a ? s.dim(a).value() * step : s.dim(i).value();
        }
        return c.op("Reshape", padded, c.emit().ints(target));
    }

    /** Tile: output axis i is input axis i times repeats[i] (a constant input). */
    static List<ValueType> tile(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        Tensor t = ctx.constant(1);
        if (t == null) {
            return InferenceContext.one(ctx.dtype(0), PoolOps.unknownOfRank(x.rank()));
        }
        long[] repeats = t.toLongArray();
        if (repeats.length != x.rank()) {
            throw ctx.error(
                    "repeats " + Arrays.toString(repeats) + " has " + repeats.length + " values for input " + x,
                    "give one repeat count per axis");
        }
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            if (repeats[i] < 0) {
                throw ctx.error("repeats " + Arrays.toString(repeats) + " has a negative count", "use counts >= 0");
            }
            Dim d = x.dim(i);
            out.add(repeats[i] == 1 ? d : d.isFixed() ? Dim.of(d.value() * repeats[i]) : Dim.unknown());
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    /*
     * Split: the outputs are consecutive pieces of X along the axis, so dX is their gradients
     * concatenated back in order; an output that does not reach the loss contributes zeros of its shape.
     */
    private static List<String> splitGrad(GradContext c) {
        int rank = c.shape(c.x(0)).rank();
        long axis = c.node().attrInt("axis", 0);
        List<String> pieces = new ArrayList<>();
        for (int i = 0; i < c.node().outputs().size(); i++) {
            pieces.add(c.dy(i) != null ? c.dy(i) : c.op("ConstantOfShape", c.shapeOf(c.y(i))));
        }
        String dx = pieces.size() == 1
                ? pieces.get(0)
                : c.op("Concat", pieces, Map.of("axis", attrInt(axis < 0 ? axis + rank : axis)));
        return c.grads(dx);
    }

    /*
     * Tile: Y is r_i copies of X along each axis i, so dX sums dY's copies: reshape dY from
     * [r_0 d_0, r_1 d_1, ...] to [r_0, d_0, r_1, d_1, ...] (an axis split only where r_i != 1) and sum
     * over the r axes. The repeats must be constant.
     */
    private static List<String> tileGrad(GradContext c) {
        String label = c.node().label();
        Tensor t = ShapeInference.constantOf(c.emit().graph(), c.x(1));
        if (t == null) {
            throw new UnsupportedOperationException(label + ": the Tile gradient needs constant repeats, got the"
                    + " computed value '" + c.x(1) + "'; make repeats an initializer or a Constant");
        }
        long[] repeats = t.toLongArray();
        Shape x = c.shape(c.x(0));
        List<Long> target = new ArrayList<>();
        List<Long> sumAxes = new ArrayList<>();
        boolean leading = true;
        for (int i = 0; i < repeats.length; i++) {
            if (repeats[i] == 1 && leading) {
                target.add(0L); // copies a leading, maybe symbolic, dimension
                continue;
            }
            leading = false;
            if (!x.dim(i).isFixed()) {
                throw new UnsupportedOperationException(label + ": the Tile gradient needs fixed sizes from the first"
                        + " repeated axis on, got " + x + " with repeats " + Arrays.toString(repeats));
            }
            if (repeats[i] != 1) {
                sumAxes.add((long) target.size());
                target.add(repeats[i]);
            }
            target.add(x.dim(i).value());
        }
        if (sumAxes.isEmpty()) {
            return c.grads(c.dy());
        }
        String split = c.op(
                "Reshape",
                c.dy(),
                c.emit().ints(target.stream().mapToLong(Long::longValue).toArray()));
        return c.grads(
                c.reduceSum(split, sumAxes.stream().mapToLong(Long::longValue).toArray(), false));
    }
}
