package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.ops.AttributeSpec.Kind.INTS;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Reductions over axes ({@code ReduceSum}, {@code ReduceMean}, ...) and {@code ArgMax}/{@code ArgMin}.
 * Axes are an attribute before opset 13 (ReduceSum) or 18 (the others) and an input from then on.
 */
final class ReductionOps {
    private ReductionOps() {}

    static void register(Ops.Registry r) {
        // dX = dY broadcast back over the reduced axes
        r.add(reduction("ReduceSum").gradient(c -> c.grads(expandReduced(c, reducedAxes(c, true)))));
        // dX = dY broadcast back over the reduced axes, divided by the number of elements each mean averaged
        r.add(reduction("ReduceMean").gradient(c -> {
            long[] axes = reducedAxes(c, false);
            String expanded = expandReduced(c, axes);
            return c.grads(c.mul(expanded, meanScale(c, axes)));
        }));
        r.add(reduction("ReduceMax").gradient(ReductionOps::extremumGrad));
        r.add(reduction("ReduceMin").gradient(ReductionOps::extremumGrad));
        /*
         * ReduceL2: y = sqrt(sum x^2), so dX = dY * x / y (y kept as size-1 axes); where y = 0 the
         * gradient is 0, as PyTorch's norm backward takes it (the subgradient of smallest norm).
         */
        r.add(reduction("ReduceL2").gradient(c -> {
            long[] axes = reducedAxes(c, false);
            if (axes.length == 0) {
                return c.grads(c.dy()); // noop_with_empty_axes: y = x
            }
            String y = keptDims(c, c.y(0), axes);
            String zero = c.scalar(0f);
            String safe = c.op("Where", c.op("Equal", y, zero), c.scalar(1f), y);
            String ratio = c.op("Where", c.op("Equal", y, zero), zero, c.div(c.x(0), safe));
            return c.grads(c.mul(keptDims(c, c.dy(), axes), ratio));
        }));
        for (String op : List.of("ReduceProd", "ReduceLogSumExp", "ReduceSumSquare")) {
            r.add(reduction(op));
        }
        // integer results: no gradient; select_last_index from opset 12
        for (String op : List.of("ArgMax", "ArgMin")) {
            r.add(op(op).attrInt("axis", 0)
                    .attrInt("keepdims", 1)
                    .attrInt("select_last_index", 0)
                    .shape(ReductionOps::argReduce)
                    .notDifferentiable());
        }
    }

    /** A reduction's definition without its gradient: axes, keepdims and noop_with_empty_axes (opset 13/18 on). */
    private static OpDef.Builder reduction(String name) {
        return op(name).attr("axes", INTS)
                .attrInt("keepdims", 1)
                .attrInt("noop_with_empty_axes", 0)
                .shape(ReductionOps::reduce);
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
                throw ctx.error(
                        "axes as an input needs opset " + (ctx.node().opType().equals("ReduceSum") ? 13 : 18)
                                + " but the graph uses opset " + ctx.opset(),
                        "give axes as an attribute");
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
                    throw ctx.error(
                            "axis " + ax + " is out of range for " + x,
                            "use axes in [" + -x.rank() + ", " + (x.rank() - 1) + "]");
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

    /** The axes a reduction removed (all of them when none are given). */
    private static long[] reducedAxes(GradContext c, boolean axesAsInput) {
        int rank = c.shape(c.x(0)).rank();
        long[] axes;
        if (axesAsInput || c.emit().graph().opset() >= 18) {
            Tensor t = c.node().hasInput(1) ? ShapeInference.constantOf(c.emit().graph(), c.x(1)) : null;
            if (c.node().hasInput(1) && t == null) {
                throw new UnsupportedOperationException(c.node().label() + ": the gradient needs constant axes");
            }
            axes = t == null ? null : t.toLongArray();
        } else {
            axes = c.node().attrInts("axes", null);
        }
        if (axes == null || axes.length == 0) {
            if (c.node().attrInt("noop_with_empty_axes", 0) != 0) {
                return new long[0];
            }
            axes = new long[rank];
            for (int i = 0; i < rank; i++) {
                axes[i] = i;
            }
        }
        long[] norm = new long[axes.length];
        for (int i = 0; i < axes.length; i++) {
            norm[i] = axes[i] < 0 ? axes[i] + rank : axes[i];
        }
        Arrays.sort(norm);
        return norm;
    }

    /*
     * ReduceMax/ReduceMin: dY goes to the element that attains the extremum; where k elements of one
     * reduction tie, each gets dY / k, as PyTorch's amax/amin backward (which ONNX's ReduceMax and
     * ReduceMin export): mask = [x == y], dX = dY * mask / sum(mask) over the reduced axes.
     */
    private static List<String> extremumGrad(GradContext c) {
        long[] axes = reducedAxes(c, false);
        if (axes.length == 0) {
            return c.grads(c.dy());
        }
        String mask = c.op("Cast", List.of(c.op("Equal", c.x(0), keptDims(c, c.y(0), axes))), Map.of("to", attrInt(1)));
        String count = c.reduceSum(mask, axes, true);
        return c.grads(c.mul(c.div(keptDims(c, c.dy(), axes), count), mask));
    }

    /** A reduction's output (or its gradient) with the reduced axes as size-1 axes, for broadcasting. */
    private static String keptDims(GradContext c, String v, long[] axes) {
        if (axes.length == 0 || c.node().attrInt("keepdims", 1) != 0) {
            return v;
        }
        return c.op("Unsqueeze", v, c.emit().ints(axes));
    }

    /** Broadcasts a reduction's output gradient back over the reduced axes. */
    private static String expandReduced(GradContext c, long[] axes) {
        String dy = c.dy();
        if (axes.length == 0) {
            return dy;
        }
        if (c.node().attrInt("keepdims", 1) == 0) {
            dy = c.op("Unsqueeze", dy, c.emit().ints(axes));
        }
        return c.op("Expand", dy, c.shapeOf(c.x(0)));
    }

    /** 1 / (number of elements each mean averaged), static when the reduced sizes are fixed. */
    private static String meanScale(GradContext c, long[] axes) {
        Shape x = c.shape(c.x(0));
        long count = 1;
        boolean fixed = true;
        for (long a : axes) {
            if (x.dim((int) a).isFixed()) {
                count *= x.dim((int) a).value();
            } else {
                fixed = false;
            }
        }
        if (fixed) {
            return c.scalar((float) (1.0 / count));
        }
        Map<String, Attribute> toFloat = Map.of("to", attrInt(1));
        String sizeY = c.op("Cast", List.of(c.op("Size", c.y(0))), toFloat);
        String sizeX = c.op("Cast", List.of(c.op("Size", c.x(0))), toFloat);
        return c.div(sizeY, sizeX);
    }
}
