package dev.forge.compiler.reference;

import dev.forge.compiler.ir.Attribute;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Operators that create, move, reshape or reduce tensors: Flatten, Reshape, Concat, Transpose, Shape,
 * Size, Gather, Slice, Split, ScatterElements, Unsqueeze, Squeeze, Pad, Constant, ConstantOfShape,
 * Expand, OneHot, ReduceSum, ReduceMean, ReduceMax.
 */
final class TensorRules {
    private TensorRules() {}

    static void register(Map<String, Rule> r) {
        r.put("Flatten", TensorRules::flatten);
        r.put("Reshape", TensorRules::reshape);
        r.put("Concat", TensorRules::concat);
        r.put("Transpose", TensorRules::transpose);
        r.put("Shape", TensorRules::shape);
        r.put("Gather", TensorRules::gather);
        r.put("Unsqueeze", TensorRules::unsqueeze);
        r.put("Squeeze", TensorRules::squeeze);
        r.put("Pad", TensorRules::pad);
        r.put("Constant", TensorRules::constant);
        r.put("ConstantOfShape", TensorRules::constantOfShape);
        r.put("Expand", TensorRules::expand);
        r.put("Resize", TensorRules::resize);
        r.put("Upsample", TensorRules::upsample);
        r.put("OneHot", TensorRules::oneHot);
        r.put("Size", c -> List.of(DoubleTensor.ofLongs(new long[] {c.in(0).size()})));
        r.put("Slice", TensorRules::slice);
        r.put("Split", TensorRules::split);
        r.put("Tile", TensorRules::tile);
        r.put("ScatterElements", TensorRules::scatterElements);
        r.put("ReduceSum", c -> reduce(c, Reduction.SUM));
        r.put("ReduceMean", c -> reduce(c, Reduction.MEAN));
        r.put("ReduceMax", c -> reduce(c, Reduction.MAX));
        r.put("ReduceMin", c -> reduce(c, Reduction.MIN));
        r.put("ReduceSumSquare", c -> reduce(c, Reduction.SUM_SQUARE));
        // sqrt of the sum of squares
        r.put("ReduceL2", c -> reduce(c, Reduction.L2));
    }

    private static String str(long[] s) {
        return Arrays.toString(s);
    }

    /** Flatten: [d0, ..., dn-1] to [d0 * ... * d(axis-1), d(axis) * ... * dn-1]; axis in [-r, r], default 1. */
    private static List<DoubleTensor> flatten(Call c) {
        DoubleTensor x = c.in(0);
        long axis = c.attrInt("axis", 1);
        int r = x.rank();
        if (axis < -r || axis > r) {
            throw c.error("axis " + axis + " is out of range [" + -r + ", " + r + "] for shape " + str(x.rawShape()));
        }
        int a = (int) (axis < 0 ? axis + r : axis);
        long outer = 1;
        long inner = 1;
        for (int i = 0; i < r; i++) {
            if (i < a) {
                outer *= x.dim(i);
            } else {
                inner *= x.dim(i);
            }
        }
        return List.of(x.reshape(outer, inner));
    }

    /**
     * Reshape to the int64 shape input: 0 copies the input's dimension at that position (unless
     * allowzero=1, where 0 is a real zero), one -1 takes whatever size keeps the element count.
     */
    private static List<DoubleTensor> reshape(Call c) {
        DoubleTensor x = c.in(0);
        long[] target = c.in(1).toLongArray();
        boolean allowZero = c.attrInt("allowzero", 0) != 0;
        long[] shape = target.clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == -1) {
                if (inferred >= 0) {
                    throw c.error("shape " + str(target) + " has more than one -1");
                }
                inferred = i;
                continue;
            }
            if (shape[i] == 0 && !allowZero) {
                if (i >= x.rank()) {
                    throw c.error("shape " + str(target) + " copies dimension " + i + " of input " + str(x.rawShape())
                            + ", which has no such axis");
                }
                shape[i] = x.dim(i);
            } else if (shape[i] < 0) {
                throw c.error("shape " + str(target) + " has an invalid size " + shape[i]);
            }
            known *= shape[i];
        }
        if (inferred >= 0) {
            if (known == 0 || x.size() % known != 0) {
                throw c.error("cannot infer -1 in " + str(target) + " for input " + str(x.rawShape()));
            }
            shape[inferred] = x.size() / known;
        }
        if (DoubleTensor.checkedCount(shape) != x.size()) {
            throw c.error("cannot reshape " + str(x.rawShape()) + " (" + x.size() + " elements) to " + str(shape));
        }
        return List.of(x.reshape(shape));
    }

    /** Concat along axis (required, negative counts from the end): every other dimension must agree. */
    private static List<DoubleTensor> concat(Call c) {
        if (c.node.attr("axis") == null) {
            throw c.error("attribute axis is required");
        }
        DoubleTensor first = c.in(0);
        int axis = c.axis(c.attrInt("axis", 0), first.rank());
        long[] shape = first.shape();
        shape[axis] = 0;
        for (int i = 0; i < c.inputs.size(); i++) {
            DoubleTensor t = c.in(i);
            for (int d = 0; d < first.rank(); d++) {
                if (t.rank() != first.rank() || (d != axis && t.dim(d) != first.dim(d))) {
                    throw c.error("input " + i + " " + str(t.rawShape()) + " does not match input 0 "
                            + str(first.rawShape()) + " outside axis " + axis);
                }
            }
            shape[axis] += t.dim(axis);
        }
        long outer = 1;
        for (int d = 0; d < axis; d++) {
            outer *= shape[d];
        }
        double[] out = new double[(int) DoubleTensor.checkedCount(shape)];
        int at = 0;
        for (long o = 0; o < outer; o++) {
            for (DoubleTensor t : c.inputs) {
                int chunk = (int) (t.size() / Math.max(outer, 1));
                System.arraycopy(t.raw(), (int) (o * chunk), out, at, chunk);
                at += chunk;
            }
        }
        return List.of(new DoubleTensor(first.dtype(), shape, out));
    }

    /** Transpose: Y[i_0, ..., i_n-1] = X[j] with j[perm[k]] = i_k; perm defaults to reversing the axes. */
    private static List<DoubleTensor> transpose(Call c) {
        DoubleTensor x = c.in(0);
        int r = x.rank();
        long[] perm = c.attrInts("perm", null);
        if (perm == null) {
            perm = new long[r];
            for (int i = 0; i < r; i++) {
                perm[i] = r - 1 - i;
            }
        }
        long[] sorted = perm.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < sorted.length; i++) {
            if (sorted.length != r || sorted[i] != i) {
                throw c.error("perm " + str(perm) + " is not a permutation of the " + r + " axes");
            }
        }
        long[] shape = new long[r];
        for (int i = 0; i < r; i++) {
            shape[i] = x.dim((int) perm[i]);
        }
        double[] out = new double[x.size()];
        long[] source = new long[r];
        for (int flat = 0; flat < out.length; flat++) {
            long[] idx = DoubleTensor.unravel(flat, shape);
            for (int k = 0; k < r; k++) {
                source[(int) perm[k]] = idx[k];
            }
            out[flat] = x.get(source);
        }
        return List.of(new DoubleTensor(x.dtype(), shape, out));
    }

    /** Shape: the int64 dimensions of the input, sliced [start, end) (opset 15; negatives count from the end, clamped). */
    private static List<DoubleTensor> shape(Call c) {
        long[] s = c.in(0).shape();
        int r = s.length;
        long start = c.attrInt("start", 0);
        long end = c.attrInt("end", r);
        start = Math.max(0, Math.min(r, start < 0 ? start + r : start));
        end = Math.max(0, Math.min(r, end < 0 ? end + r : end));
        long[] slice = start < end ? Arrays.copyOfRange(s, (int) start, (int) end) : new long[0];
        return List.of(DoubleTensor.ofLongs(slice, slice.length));
    }

    /**
     * Gather along axis (default 0): Y[a..., j..., b...] = data[a..., indices[j...], b...]; Y's shape is
     * data[:axis] + indices.shape + data[axis+1:]; negative indices count from the end.
     */
    private static List<DoubleTensor> gather(Call c) {
        DoubleTensor data = c.in(0);
        DoubleTensor indices = c.in(1);
        int axis = c.axis(c.attrInt("axis", 0), data.rank());
        long[] ds = data.rawShape();
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= ds[i];
        }
        long inner = 1;
        for (int i = axis + 1; i < ds.length; i++) {
            inner *= ds[i];
        }
        long axisSize = ds[axis];
        long[] shape = new long[ds.length - 1 + indices.rank()];
        System.arraycopy(ds, 0, shape, 0, axis);
        System.arraycopy(indices.rawShape(), 0, shape, axis, indices.rank());
        System.arraycopy(ds, axis + 1, shape, axis + indices.rank(), ds.length - axis - 1);
        double[] out = new double[(int) DoubleTensor.checkedCount(shape)];
        int at = 0;
        for (long o = 0; o < outer; o++) {
            for (int j = 0; j < indices.size(); j++) {
                long index = (long) indices.raw()[j];
                if (index < -axisSize || index >= axisSize) {
                    throw c.error("index " + index + " is out of range for axis " + axis + " of size " + axisSize);
                }
                long row = index < 0 ? index + axisSize : index;
                for (long i = 0; i < inner; i++) {
                    out[at++] = data.raw()[(int) ((o * axisSize + row) * inner + i)];
                }
            }
        }
        return List.of(new DoubleTensor(data.dtype(), shape, out));
    }

    /**
     * Slice (opset 10+): int64 inputs starts, ends, optional axes (default 0..n-1) and steps (default 1).
     * Per sliced axis of size d: a negative start or end gets d added; then for step > 0 start and end
     * are clamped to [0, d], for step < 0 start to [0, d-1] and end to [-1, d-1]; the kept positions are
     * start, start+step, ... while before end.
     */
    private static List<DoubleTensor> slice(Call c) {
        DoubleTensor x = c.in(0);
        int r = x.rank();
        long[] starts = c.in(1).toLongArray();
        long[] ends = c.in(2).toLongArray();
        long[] axes = c.has(3) ? c.in(3).toLongArray() : null;
        long[] steps = c.has(4) ? c.in(4).toLongArray() : null;
        if (ends.length != starts.length
                || (axes != null && axes.length != starts.length)
                || (steps != null && steps.length != starts.length)) {
            throw c.error("starts, ends, axes and steps must have equal lengths");
        }
        long[] first = new long[r];
        long[] step = new long[r];
        long[] shape = x.shape();
        Arrays.fill(step, 1);
        boolean[] seen = new boolean[r];
        for (int k = 0; k < starts.length; k++) {
            int axis = c.axis(axes == null ? k : axes[k], r);
            if (seen[axis]) {
                throw c.error("axis " + axis + " is sliced twice");
            }
            seen[axis] = true;
            long d = x.dim(axis);
            long st = steps == null ? 1 : steps[k];
            if (st == 0) {
                throw c.error("step 0 on axis " + axis);
            }
            long b = starts[k] < 0 ? starts[k] + d : starts[k];
            long e = ends[k] < 0 ? ends[k] + d : ends[k];
            if (st > 0) {
                b = Math.max(0, Math.min(d, b));
                e = Math.max(0, Math.min(d, e));
                shape[axis] = Math.max(0, (e - b + st - 1) / st);
            } else {
                b = Math.max(0, Math.min(d - 1, b));
                e = Math.max(-1, Math.min(d - 1, e));
                shape[axis] = Math.max(0, (b - e - st - 1) / -st);
            }
            first[axis] = b;
            step[axis] = st;
        }
        double[] out = new double[(int) DoubleTensor.checkedCount(shape)];
        long[] source = new long[r];
        for (int flat = 0; flat < out.length; flat++) {
            long[] idx = DoubleTensor.unravel(flat, shape);
            for (int i = 0; i < r; i++) {
                source[i] = first[i] + idx[i] * step[i];
            }
            out[flat] = x.get(source);
        }
        return List.of(new DoubleTensor(x.dtype(), shape, out));
    }

    /** Tile(x, repeats): repeats[i] copies of x along each axis i, so Y[j] = X[j mod shape(X)]. */
    private static List<DoubleTensor> tile(Call c) {
        DoubleTensor x = c.in(0);
        long[] repeats = c.in(1).toLongArray();
        int r = x.rank();
        if (repeats.length != r) {
            throw c.error("repeats has " + repeats.length + " values for input of rank " + r);
        }
        long[] xs = x.shape();
        long[] shape = new long[r];
        for (int i = 0; i < r; i++) {
            if (repeats[i] < 0) {
                throw c.error("repeats " + str(repeats) + " has a negative value");
            }
            shape[i] = xs[i] * repeats[i];
        }
        double[] out = new double[(int) DoubleTensor.checkedCount(shape)];
        long[] source = new long[r];
        for (int flat = 0; flat < out.length; flat++) {
            long[] idx = DoubleTensor.unravel(flat, shape);
            for (int i = 0; i < r; i++) {
                source[i] = idx[i] % xs[i];
            }
            out[flat] = x.get(source);
        }
        return List.of(new DoubleTensor(x.dtype(), shape, out));
    }

    /**
     * Split along axis (default 0) into the sizes of the optional int64 input split; without it into as
     * many equal parts as there are outputs (opset 18: num_outputs parts of ceil(d / num_outputs), the last
     * one smaller).
     */
    private static List<DoubleTensor> split(Call c) {
        DoubleTensor x = c.in(0);
        int axis = c.axis(c.attrInt("axis", 0), x.rank());
        long d = x.dim(axis);
        long[] sizes;
        if (c.has(1)) {
            sizes = c.in(1).toLongArray();
        } else {
            int parts = c.opset >= 18 && c.node.attr("num_outputs") != null
                    ? (int) c.attrInt("num_outputs", 0)
                    : c.node.outputs().size();
            long chunk = c.opset >= 18 ? (d + parts - 1) / parts : d / parts;
            if (c.opset < 18 && d % parts != 0) {
                throw c.error("axis " + axis + " of size " + d + " does not split into " + parts + " equal parts");
            }
            sizes = new long[parts];
            for (int k = 0; k < parts; k++) {
                sizes[k] = Math.max(0, Math.min(chunk, d - k * chunk));
            }
        }
        if (Arrays.stream(sizes).sum() != d) {
            throw c.error("split sizes " + str(sizes) + " do not add up to axis " + axis + "'s size " + d);
        }
        List<DoubleTensor> out = new ArrayList<>();
        long offset = 0;
        for (long size : sizes) {
            DoubleTensor part = slice(x, axis, offset, size);
            out.add(part);
            offset += size;
        }
        return out;
    }

    /** Positions [offset, offset + size) of one axis. */
    private static DoubleTensor slice(DoubleTensor x, int axis, long offset, long size) {
        long[] shape = x.shape();
        shape[axis] = size;
        double[] out = new double[(int) DoubleTensor.checkedCount(shape)];
        for (int flat = 0; flat < out.length; flat++) {
            long[] idx = DoubleTensor.unravel(flat, shape);
            idx[axis] += offset;
            out[flat] = x.get(idx);
        }
        return new DoubleTensor(x.dtype(), shape, out);
    }

    /**
     * ScatterElements(data, indices, updates), axis default 0: the output is data with, for every position
     * j of indices (and updates, same shape), the element at j with its axis coordinate replaced by
     * indices[j] (negative counts from the end) set to updates[j], or combined with it by reduction
     * add / mul / max / min (applied in row-major order of j).
     */
    private static List<DoubleTensor> scatterElements(Call c) {
        DoubleTensor data = c.in(0);
        DoubleTensor indices = c.in(1);
        DoubleTensor updates = c.in(2);
        int axis = c.axis(c.attrInt("axis", 0), data.rank());
        String reduction = c.attrString("reduction", "none");
        if (!Arrays.equals(indices.rawShape(), updates.rawShape()) || indices.rank() != data.rank()) {
            throw c.error("indices " + str(indices.rawShape()) + " and updates " + str(updates.rawShape())
                    + " must have one shape of data's rank " + data.rank());
        }
        double[] out = data.toDoubleArray();
        long d = data.dim(axis);
        for (int j = 0; j < indices.size(); j++) {
            long[] idx = indices.unravel(j);
            long target = (long) indices.raw()[j];
            if (target < -d || target >= d) {
                throw c.error("index " + target + " is out of range for axis " + axis + " of size " + d);
            }
            idx[axis] = target < 0 ? target + d : target;
            int at = data.flatIndex(idx);
            double u = updates.raw()[j];
            out[at] = switch (reduction) {
                case "none" -> u;
                case "add" -> out[at] + u;
                case "mul" -> out[at] * u;
                case "max" -> Math.max(out[at], u);
                case "min" -> Math.min(out[at], u);
                default -> throw c.error("unknown reduction '" + reduction + "'; expected none, add, mul, max or min");
            };
        }
        return List.of(new DoubleTensor(data.dtype(), data.shape(), out));
    }

    /** The axes of Squeeze/Unsqueeze: an int64 input from opset 13, the {@code axes} attribute before. */
    private static long[] axesOperand(Call c) {
        if (c.opset >= 13) {
            return c.has(1) ? c.in(1).toLongArray() : null;
        }
        return c.attrInts("axes", null);
    }

    /** Unsqueeze: insert size-1 axes at the given positions of the output (negative: from the output's end). */
    private static List<DoubleTensor> unsqueeze(Call c) {
        DoubleTensor x = c.in(0);
        long[] axes = axesOperand(c);
        if (axes == null) {
            throw c.error("axes are required");
        }
        int rank = x.rank() + axes.length;
        boolean[] inserted = new boolean[rank];
        for (long a : axes) {
            int ax = c.axis(a, rank);
            if (inserted[ax]) {
                throw c.error("axes " + str(axes) + " name axis " + ax + " twice");
            }
            inserted[ax] = true;
        }
        long[] shape = new long[rank];
        int j = 0;
        for (int i = 0; i < rank; i++) {
            shape[i] = inserted[i] ? 1 : x.dim(j++);
        }
        return List.of(x.reshape(shape));
    }

    /** Squeeze: remove the given size-1 axes, or every size-1 axis when none are given. */
    private static List<DoubleTensor> squeeze(Call c) {
        DoubleTensor x = c.in(0);
        long[] axes = axesOperand(c);
        boolean[] drop = new boolean[x.rank()];
        if (axes == null) {
            for (int i = 0; i < x.rank(); i++) {
                drop[i] = x.dim(i) == 1;
            }
        } else {
            for (long a : axes) {
                int ax = c.axis(a, x.rank());
                if (x.dim(ax) != 1) {
                    throw c.error(
                            "cannot squeeze axis " + a + " of shape " + str(x.rawShape()) + ": its size is not 1");
                }
                drop[ax] = true;
            }
        }
        List<Long> shape = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            if (!drop[i]) {
                shape.add(x.dim(i));
            }
        }
        return List.of(x.reshape(shape.stream().mapToLong(Long::longValue).toArray()));
    }

    /**
     * Pad (opset 11+: pads as an int64 input [x1_begin, x2_begin, ..., x1_end, x2_end, ...], optional
     * scalar constant_value, and from opset 18 optional axes naming which axes the pads cover).
     * Output position {@code o} reads input position {@code o - begin}; outside the input, mode
     * {@code constant} (default) gives constant_value (default 0), {@code edge} repeats the nearest edge
     * element, {@code reflect} mirrors without repeating the edge, {@code wrap} wraps around. Negative pads
     * crop.
     */
    private static List<DoubleTensor> pad(Call c) {
        DoubleTensor x = c.in(0);
        int r = x.rank();
        long[] given = c.opset >= 11 ? c.in(1).toLongArray() : c.attrInts("pads", null);
        if (given == null) {
            throw c.error("pads are required");
        }
        double value = c.opset >= 11
                ? (c.has(2) ? ElementwiseRules.scalar(c, 2, "constant_value") : 0)
                : c.attrFloat("value", 0f);
        long[] begin = new long[r];
        long[] end = new long[r];
        if (c.opset >= 18 && c.has(3)) {
            long[] axes = c.in(3).toLongArray();
            if (given.length != 2 * axes.length) {
                throw c.error("pads " + str(given) + " must have 2 values per axis in " + str(axes));
            }
            for (int i = 0; i < axes.length; i++) {
                int ax = c.axis(axes[i], r);
                begin[ax] = given[i];
                end[ax] = given[i + axes.length];
            }
        } else {
            if (given.length != 2 * r) {
                throw c.error("pads " + str(given) + " must have " + 2 * r + " values for input " + str(x.rawShape()));
            }
            begin = Arrays.copyOfRange(given, 0, r);
            end = Arrays.copyOfRange(given, r, 2 * r);
        }
        String mode = c.attrString("mode", "constant");
        if (!List.of("constant", "edge", "reflect", "wrap").contains(mode)) {
            throw c.error("unknown mode '" + mode + "'; expected constant, edge, reflect or wrap");
        }
        long[] shape = new long[r];
        for (int i = 0; i < r; i++) {
            shape[i] = x.dim(i) + begin[i] + end[i];
            if (shape[i] < 0) {
                throw c.error(
                        "pads " + str(given) + " remove more than axis " + i + " of " + str(x.rawShape()) + " holds");
            }
        }
        double[] out = new double[(int) DoubleTensor.checkedCount(shape)];
        long[] source = new long[r];
        for (int flat = 0; flat < out.length; flat++) {
            long[] idx = DoubleTensor.unravel(flat, shape);
            boolean inside = true;
            for (int i = 0; i < r; i++) {
                long p = idx[i] - begin[i];
                long n = x.dim(i);
                if (p < 0 || p >= n) {
                    inside = false;
                    p = switch (mode) {
                        case "edge" -> Math.min(Math.max(p, 0), n - 1);
                        case "reflect" -> reflect(p, n);
                        case "wrap" -> Math.floorMod(p, n);
                        default -> p;
                    };
                }
                source[i] = p;
            }
            out[flat] = inside || !mode.equals("constant") ? x.get(source) : value;
        }
        return List.of(new DoubleTensor(x.dtype(), shape, out));
    }

    /** Mirror position p into [0, n) without repeating the edge: -1 -> 1, n -> n - 2. */
    private static long reflect(long p, long n) {
        if (n == 1) {
            return 0;
        }
        long period = 2 * (n - 1);
        long q = Math.floorMod(p, period);
        return q < n ? q : period - q;
    }

    /** Constant: the tensor of attribute value, or value_float (scalar), value_floats (1-D), value_int, value_ints. */
    private static List<DoubleTensor> constant(Call c) {
        for (Map.Entry<String, Attribute> e : c.node.attributes().entrySet()) {
            Attribute a = e.getValue();
            switch (e.getKey()) {
                case "value":
                    if (a instanceof Attribute.TensorValue tv) {
                        return List.of(DoubleTensor.of(tv.value()));
                    }
                    break;
                case "value_float":
                    if (a instanceof Attribute.Float f) {
                        return List.of(DoubleTensor.scalar(f.value()));
                    }
                    break;
                case "value_floats":
                    if (a instanceof Attribute.Floats f) {
                        return List.of(DoubleTensor.ofFloats(f.values(), f.values().length));
                    }
                    break;
                case "value_int":
                    if (a instanceof Attribute.Int i) {
                        return List.of(DoubleTensor.ofLongs(new long[] {i.value()}));
                    }
                    break;
                case "value_ints":
                    if (a instanceof Attribute.Ints i) {
                        return List.of(DoubleTensor.ofLongs(i.values(), i.values().length));
                    }
                    break;
                default:
                    break;
            }
        }
        throw c.error("no supported value attribute (value, value_float, value_floats, value_int, value_ints) in "
                + c.node.attributes().keySet());
    }

    /** ConstantOfShape: a tensor of the int64 shape input filled with attribute value's one element (default float32 0). */
    private static List<DoubleTensor> constantOfShape(Call c) {
        long[] shape = c.in(0).toLongArray();
        DType dtype = DType.FLOAT32;
        double fill = 0;
        Attribute a = c.node.attr("value");
        if (a instanceof Attribute.TensorValue tv) {
            Tensor t = tv.value();
            if (t.size() != 1) {
                throw c.error("value must hold one element, got " + t);
            }
            dtype = t.dtype();
            fill = t.getDouble(0);
        }
        double[] out = new double[(int) DoubleTensor.checkedCount(shape)];
        Arrays.fill(out, fill);
        return List.of(new DoubleTensor(dtype, shape, out));
    }

    /** Expand: broadcast the input together with the int64 shape input (bidirectionally, like numpy). */
    /**
     * Resize, modes nearest and linear, with scales (input 2) or sizes (input 3; the scale is then
     * size / in). Output index o maps to the input coordinate x(o) by coordinate_transformation_mode:
     * half_pixel (o + 0.5) / scale - 0.5; pytorch_half_pixel the same but 0 when the output size is 1;
     * align_corners o * (in - 1) / (out - 1) (0 when out is 1); asymmetric o / scale. nearest rounds x by
     * nearest_mode (floor, ceil, round_prefer_floor, round_prefer_ceil) and clamps it to the input; linear
     * clamps x to [0, in - 1] and interpolates between floor(x) and the next index (n-linear: axis by axis).
     */
    private static List<DoubleTensor> resize(Call c) {
        DoubleTensor x = c.in(0);
        long[] in = x.rawShape();
        int r = in.length;
        double[] scale = new double[r];
        long[] out = new long[r];
        if (c.has(3) && c.in(3).size() > 0) {
            long[] sizes = c.in(3).toLongArray();
            for (int i = 0; i < r; i++) {
                out[i] = sizes[i];
                scale[i] = (double) sizes[i] / in[i];
            }
        } else {
            double[] sc = c.in(2).raw();
            for (int i = 0; i < r; i++) {
                scale[i] = sc[i];
                out[i] = (long) Math.floor(in[i] * sc[i]);
            }
        }
        return List.of(resample(
                c,
                x,
                out,
                scale,
                c.attrString("mode", "nearest"),
                c.attrString("coordinate_transformation_mode", "half_pixel"),
                c.attrString("nearest_mode", "round_prefer_floor")));
    }

    /**
     * Upsample (opsets 7-9): scales as an attribute (7, 8) or input 1 (9), out = floor(in * scale),
     * asymmetric coordinates o / scale; nearest takes floor(x) when upsampling and ceil(x) when
     * downsampling (ONNX Runtime's reading), linear as Resize's.
     */
    private static List<DoubleTensor> upsample(Call c) {
        DoubleTensor x = c.in(0);
        long[] in = x.rawShape();
        double[] scale;
        if (c.node.attr("scales") instanceof dev.forge.compiler.ir.Attribute.Floats f) {
            scale = new double[f.values().length];
            for (int i = 0; i < scale.length; i++) {
                scale[i] = f.values()[i];
            }
        } else {
            scale = c.in(1).raw();
        }
        if (scale.length != in.length) {
            throw c.error("scales has " + scale.length + " values for rank " + in.length);
        }
        long[] out = new long[in.length];
        for (int i = 0; i < in.length; i++) {
            out[i] = (long) Math.floor(in[i] * scale[i]);
        }
        return List.of(resample(c, x, out, scale, c.attrString("mode", "nearest"), "asymmetric", "simple"));
    }

    private static DoubleTensor resample(
            Call c, DoubleTensor x, long[] out, double[] scale, String mode, String ctm, String nm) {
        long[] in = x.rawShape();
        int r = in.length;
        if (mode.equals("linear")) {
            DoubleTensor y = x;
            for (int a = 0; a < r; a++) {
                if (out[a] != in[a] || scale[a] != 1.0) {
                    y = linearAxis(c, y, a, out[a], scale[a], ctm);
                }
            }
            return y;
        }
        if (!mode.equals("nearest")) {
            throw c.error("mode " + mode + " is not supported (nearest, linear)");
        }
        DoubleTensor y = DoubleTensor.zeros(x.dtype(), out);
        double[] dst = y.raw();
        double[] src = x.raw();
        long[] idx = new long[r];
        for (int flat = 0; flat < dst.length; flat++) {
            long rem = flat;
            for (int i = r - 1; i >= 0; i--) {
                idx[i] = rem % out[i];
                rem /= out[i];
            }
            long srcFlat = 0;
            for (int i = 0; i < r; i++) {
                double coord = coordinate(c, ctm, idx[i], in[i], out[i], scale[i]);
                long k = switch (nm) {
                    case "floor" -> (long) Math.floor(coord);
                    case "ceil" -> (long) Math.ceil(coord);
                    case "round_prefer_floor" ->
                        coord - Math.floor(coord) == 0.5 ? (long) Math.floor(coord) : Math.round(coord);
                    case "round_prefer_ceil" -> (long) Math.floor(coord + 0.5);
                    case "simple" -> scale[i] < 1 ? (long) Math.ceil(coord) : (long) Math.floor(coord);
                    default -> throw c.error("nearest_mode " + nm + " is not supported");
                };
                k = Math.max(0, Math.min(in[i] - 1, k));
                srcFlat = srcFlat * in[i] + k;
            }
            dst[flat] = src[(int) srcFlat];
        }
        return y;
    }

    /** The input coordinate of output index o on one axis. */
    private static double coordinate(Call c, String ctm, long o, long in, long out, double scale) {
        return switch (ctm) {
            case "asymmetric" -> o / scale;
            case "half_pixel" -> (o + 0.5) / scale - 0.5;
            case "pytorch_half_pixel" -> out > 1 ? (o + 0.5) / scale - 0.5 : 0;
            case "align_corners" -> out > 1 ? o * (in - 1) / (double) (out - 1) : 0;
            default -> throw c.error("coordinate_transformation_mode " + ctm + " is not supported");
        };
    }

    /** Linear interpolation along one axis to {@code out} elements. */
    private static DoubleTensor linearAxis(Call c, DoubleTensor x, int axis, long out, double scale, String ctm) {
        long[] in = x.rawShape();
        long[] shape = in.clone();
        shape[axis] = out;
        long outer = 1;
        long inner = 1;
        for (int i = 0; i < in.length; i++) {
            if (i < axis) {
                outer *= in[i];
            } else if (i > axis) {
                inner *= in[i];
            }
        }
        long n = in[axis];
        double[] src = x.raw();
        double[] dst = new double[(int) (outer * out * inner)];
        for (long o = 0; o < out; o++) {
            double coord = Math.max(0, Math.min(n - 1, coordinate(c, ctm, o, n, out, scale)));
            long i0 = (long) Math.floor(coord);
            long i1 = Math.min(i0 + 1, n - 1);
            double w = coord - i0;
            for (long p = 0; p < outer; p++) {
                for (long q = 0; q < inner; q++) {
                    dst[(int) ((p * out + o) * inner + q)] =
                            (1 - w) * src[(int) ((p * n + i0) * inner + q)] + w * src[(int) ((p * n + i1) * inner + q)];
                }
            }
        }
        return new DoubleTensor(x.dtype(), shape, dst);
    }

    private static List<DoubleTensor> expand(Call c) {
        DoubleTensor x = c.in(0);
        long[] shape = Broadcasting.shape(x.rawShape(), c.in(1).toLongArray());
        return List.of(Broadcasting.to(x, shape));
    }

    /**
     * OneHot(indices, depth, values=[off, on]), axis default -1: the output has a new axis of size depth
     * inserted at axis; the element whose position on it equals the index (negative indices count from
     * depth) is on_value, every other off_value. An index outside [-depth, depth-1] gives an all-off row.
     * Non-integer indices and depth are truncated to int64.
     */
    private static List<DoubleTensor> oneHot(Call c) {
        DoubleTensor indices = c.in(0);
        long depth = (long) ElementwiseRules.scalar(c, 1, "depth");
        DoubleTensor values = c.in(2);
        if (values.size() != 2) {
            throw c.error("values must be [off_value, on_value], got shape " + str(values.rawShape()));
        }
        double off = values.raw()[0];
        double on = values.raw()[1];
        int rank = indices.rank() + 1;
        int axis = c.axis(c.attrInt("axis", -1), rank);
        long[] is = indices.rawShape();
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= is[i];
        }
        long inner = indices.size() / Math.max(outer, 1);
        long[] shape = new long[rank];
        System.arraycopy(is, 0, shape, 0, axis);
        shape[axis] = depth;
        System.arraycopy(is, axis, shape, axis + 1, is.length - axis);
        double[] out = new double[(int) DoubleTensor.checkedCount(shape)];
        for (long o = 0; o < outer; o++) {
            for (long d = 0; d < depth; d++) {
                for (long i = 0; i < inner; i++) {
                    long index = (long) indices.raw()[(int) (o * inner + i)];
                    long position = index < 0 ? index + depth : index;
                    out[(int) ((o * depth + d) * inner + i)] = position == d ? on : off;
                }
            }
        }
        return List.of(new DoubleTensor(values.dtype(), shape, out));
    }

    enum Reduction {
        SUM,
        MEAN,
        MAX,
        MIN,
        SUM_SQUARE,
        L2
    }

    /**
     * ReduceSum / ReduceMean / ReduceMax / ReduceMin / ReduceSumSquare / ReduceL2 over the given axes, keeping them as size 1 when keepdims (default
     * 1). The axes are an optional int64 input for ReduceSum from opset 13 and for the others from opset
     * 18, the {@code axes} attribute before. No axes (or empty) reduces every axis, unless
     * noop_with_empty_axes=1, which returns the input unchanged. ReduceMean of an integer type truncates.
     */
    private static List<DoubleTensor> reduce(Call c, Reduction kind) {
        DoubleTensor x = c.in(0);
        boolean axesAsInput = c.opset >= (kind == Reduction.SUM ? 13 : 18);
        long[] axes;
        if (axesAsInput) {
            axes = c.has(1) ? c.in(1).toLongArray() : null;
        } else {
            if (c.has(1)) {
                throw c.error("axes as an input need opset " + (kind == Reduction.SUM ? 13 : 18)
                        + "; this graph is opset " + c.opset);
            }
            axes = c.attrInts("axes", null);
        }
        boolean keep = c.attrInt("keepdims", 1) != 0;
        if ((axes == null || axes.length == 0) && c.attrInt("noop_with_empty_axes", 0) != 0) {
            return List.of(x);
        }
        int r = x.rank();
        boolean[] reduced = new boolean[r];
        if (axes == null || axes.length == 0) {
            Arrays.fill(reduced, true);
        } else {
            for (long a : axes) {
                reduced[c.axis(a, r)] = true;
            }
        }
        // the output index of an input element: its coordinates with reduced axes set to 0
        long[] keptShape = x.shape();
        long count = 1;
        for (int i = 0; i < r; i++) {
            if (reduced[i]) {
                count *= keptShape[i];
                keptShape[i] = 1;
            }
        }
        double[] acc = new double[(int) DoubleTensor.checkedCount(keptShape)];
        Arrays.fill(
                acc,
                kind == Reduction.MAX
                        ? Double.NEGATIVE_INFINITY
                        : kind == Reduction.MIN ? Double.POSITIVE_INFINITY : 0);
        for (int flat = 0; flat < x.size(); flat++) {
            long[] idx = x.unravel(flat);
            long target = 0;
            for (int i = 0; i < r; i++) {
                target = target * keptShape[i] + (reduced[i] ? 0 : idx[i]);
            }
            boolean squared = kind == Reduction.SUM_SQUARE || kind == Reduction.L2;
            double v = squared ? x.raw()[flat] * x.raw()[flat] : x.raw()[flat];
            acc[(int) target] = switch (kind) {
                case MAX -> Math.max(acc[(int) target], v);
                case MIN -> Math.min(acc[(int) target], v);
                default -> acc[(int) target] + v;
            };
        }
        if (kind == Reduction.L2) {
            for (int i = 0; i < acc.length; i++) {
                acc[i] = Math.sqrt(acc[i]);
            }
        }
        if (kind == Reduction.MEAN) {
            boolean integral = ElementwiseRules.isIntegral(x.dtype());
            for (int i = 0; i < acc.length; i++) {
                double m = acc[i] / count;
                acc[i] = integral ? (double) (long) m : m;
            }
        }
        long[] shape = keptShape;
        if (!keep) {
            List<Long> dims = new ArrayList<>();
            for (int i = 0; i < r; i++) {
                if (!reduced[i]) {
                    dims.add(keptShape[i]);
                }
            }
            shape = dims.stream().mapToLong(Long::longValue).toArray();
        }
        return List.of(new DoubleTensor(x.dtype(), shape, acc));
    }
}
