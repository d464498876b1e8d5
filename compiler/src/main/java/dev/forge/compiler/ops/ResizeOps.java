package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInts;
import static dev.forge.compiler.ops.AttributeSpec.Kind.FLOATS;
import static dev.forge.compiler.ops.AttributeSpec.Kind.INTS;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Resampling: Resize and its predecessor Upsample, nearest and linear. Their gradients are the transposed
 * interpolation, built as one constant matrix per resized axis.
 */
final class ResizeOps {
    private ResizeOps() {}

    static void register(Ops.Registry r) {
        // opset 10: mode; opset 11: the coordinate and cubic attributes; opset 18: antialias, axes,
        // keep_aspect_ratio_policy
        r.add(op("Resize")
                .attrInt("antialias", 0)
                .attr("axes", INTS)
                .attrString("coordinate_transformation_mode", "half_pixel")
                .attrFloat("cubic_coeff_a", -0.75f)
                .attrInt("exclude_outside", 0)
                .attrFloat("extrapolation_value", 0f)
                .attrString("keep_aspect_ratio_policy", "stretch")
                .attrString("mode", "nearest")
                .attrString("nearest_mode", "round_prefer_floor")
                .shape(ResizeOps::resize)
                .gradient(ResizeOps::resizeGrad));
        // opsets 7 to 9 (deprecated at 10 for Resize): scales an attribute before opset 9, an input from 9
        r.add(op("Upsample")
                .attrString("mode", "nearest")
                .attr("scales", FLOATS)
                .shape(ResizeOps::upsample)
                .gradient(ResizeOps::upsampleGrad));
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

    /** Upsample with scales as an attribute (opsets 7, 8) or a constant input (opset 9): out = floor(in * scale). */
    static List<ValueType> upsample(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        double[] scales = upsampleScales(ctx.node(), ctx.hasInput(1) ? ctx.constant(1) : null);
        if (scales == null) {
            if (ctx.hasInput(1) || ctx.node().attr("scales") != null) {
                return InferenceContext.one(ctx.dtype(0), PoolOps.unknownOfRank(x.rank()));
            }
            throw ctx.error("no scales", "give scales as an attribute (opsets 7, 8) or an input (opset 9)");
        }
        if (scales.length != x.rank()) {
            throw ctx.error("scales has " + scales.length + " values for input " + x, "give one scale per axis");
        }
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            Dim d = x.dim(i);
            out.add(
                    scales[i] == 1.0
                            ? d
                            : d.isFixed() ? Dim.of((long) Math.floor(d.value() * scales[i])) : Dim.unknown());
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    /** An Upsample's scales: the attribute, else the constant input (null when that is not constant). */
    private static double[] upsampleScales(dev.forge.compiler.ir.Node node, Tensor input) {
        if (node.attr("scales") instanceof dev.forge.compiler.ir.Attribute.Floats f) {
            double[] v = new double[f.values().length];
            for (int i = 0; i < v.length; i++) {
                v[i] = f.values()[i];
            }
            return v;
        }
        if (input == null) {
            return null;
        }
        double[] v = new double[(int) input.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = input.getDouble(i);
        }
        return v;
    }

    /*
     * Resize and Upsample with static shapes are separable: on each axis a, output index o reads the input
     * through a constant matrix A_a [out, in], so Y = X x_a A_a over the resized axes and
     * dX = dY x_a A_a^T: per axis one MatMul with the constant A_a (the axis moved last by a Transpose when it
     * is not). A_a comes from the ONNX coordinate formula, x(o) =
     *   half_pixel (o + 1/2)/s - 1/2;  pytorch_half_pixel the same, 0 when out = 1;
     *   align_corners o (in - 1)/(out - 1), 0 when out = 1;  asymmetric o/s
     * with s the given scale (out/in when sizes are given), and
     *   nearest: A[o, i] = [round(x(o)) = i], rounded by nearest_mode and clamped to the input;
     *   linear:  x clamped to [0, in - 1], i0 = floor(x), A[o, i0] += 1 - (x - i0), A[o, min(i0 + 1, in - 1)]
     *            += x - i0 (ONNX Runtime's clamping at the borders).
     * Upsampling by k in nearest mode sums each k x k block of dY.
     */
    private static List<String> resizeGrad(GradContext c) {
        String label = c.node().label();
        String mode = c.node().attrString("mode", "nearest");
        String ctm = c.node().attrString("coordinate_transformation_mode", "half_pixel");
        String nm = c.node().attrString("nearest_mode", "round_prefer_floor");
        if (!(mode.equals("nearest") || mode.equals("linear"))
                || !List.of("asymmetric", "half_pixel", "pytorch_half_pixel", "align_corners")
                        .contains(ctm)) {
            throw new UnsupportedOperationException(label + ": the Resize gradient supports modes nearest and linear"
                    + " with coordinate_transformation_mode half_pixel, pytorch_half_pixel, align_corners or"
                    + " asymmetric, got mode " + mode + " and " + ctm);
        }
        if (c.node().attr("axes") != null) {
            throw new UnsupportedOperationException(label + ": the Resize gradient needs scales or sizes for every"
                    + " axis; drop the axes attribute and give one value per axis");
        }
        Tensor scalesT =
                c.node().hasInput(2) ? ShapeInference.constantOf(c.emit().graph(), c.x(2)) : null;
        Tensor sizesT =
                c.node().hasInput(3) ? ShapeInference.constantOf(c.emit().graph(), c.x(3)) : null;
        boolean bySizes = sizesT != null && sizesT.size() > 0;
        if (!bySizes && (scalesT == null || scalesT.size() == 0)) {
            throw new UnsupportedOperationException(label
                    + ": the Resize gradient needs constant scales or sizes; make them initializers or Constants");
        }
        double[] scales = null;
        if (!bySizes) {
            scales = new double[(int) scalesT.size()];
            for (int i = 0; i < scales.length; i++) {
                scales[i] = scalesT.getDouble(i);
            }
        }
        return c.grads(separableGrad(c, mode, ctm, nm, scales));
    }

    /*
     * Upsample (opsets 7-9) is Resize with coordinate_transformation_mode asymmetric; nearest rounds as ONNX
     * Runtime does for it (down when upsampling, up when downsampling); see resizeGrad.
     */
    private static List<String> upsampleGrad(GradContext c) {
        String mode = c.node().attrString("mode", "nearest");
        if (!(mode.equals("nearest") || mode.equals("linear"))) {
            throw new UnsupportedOperationException(
                    c.node().label() + ": the Upsample gradient supports modes nearest and linear, got " + mode);
        }
        double[] scales = upsampleScales(
                c.node(),
                c.node().hasInput(1) ? ShapeInference.constantOf(c.emit().graph(), c.x(1)) : null);
        if (scales == null) {
            throw new UnsupportedOperationException(c.node().label()
                    + ": the Upsample gradient needs constant scales; make them an initializer or a Constant");
        }
        return c.grads(separableGrad(c, mode, "asymmetric", "simple", scales));
    }

    /** dX = dY x_a A_a^T over the resized axes (scales null: out/in per axis, as for Resize's sizes). */
    private static String separableGrad(GradContext c, String mode, String ctm, String nm, double[] scales) {
        String label = c.node().label();
        Shape x = c.shape(c.x(0));
        Shape y = c.shape(c.y(0));
        int rank = x.rank();
        String g = c.dy();
        for (int a = 0; a < rank; a++) {
            if (!x.dim(a).isFixed() || !y.dim(a).isFixed()) {
                if (scales != null && scales[a] == 1.0) {
                    continue; // an unscaled (e.g. batch) axis maps o to o
                }
                throw new UnsupportedOperationException(label + ": the gradient of "
                        + c.node().opType() + " needs fixed sizes on resized axis " + a + ", got " + x + " to " + y);
            }
            long in = x.dim(a).value();
            long out = y.dim(a).value();
            double scale = scales == null ? (double) out / in : scales[a];
            double[] m = interpolation(label, mode, ctm, nm, in, out, scale);
            boolean identity = in == out;
            for (int o = 0; identity && o < out; o++) {
                identity = m[(int) (o * in + o)] == 1.0;
            }
            if (identity) {
                continue;
            }
            float[] mf = new float[m.length];
            for (int k = 0; k < m.length; k++) {
                mf[k] = (float) m[k];
            }
            String select = c.emit().tensor("const/resize_grad", Tensor.of(mf, out, in));
            long[] swap = new long[rank];
            for (int i = 0; i < rank; i++) {
                swap[i] = i == a ? rank - 1 : i == rank - 1 ? a : i;
            }
            Map<String, dev.forge.compiler.ir.Attribute> perm = Map.of("perm", attrInts(swap));
            String last = a == rank - 1 ? g : c.op("Transpose", List.of(g), perm);
            String summed = c.op("MatMul", last, select);
            g = a == rank - 1 ? summed : c.op("Transpose", List.of(summed), perm);
        }
        return g;
    }

    /** The interpolation matrix A [out, in] (row-major) of one axis; see resizeGrad. */
    static double[] interpolation(String label, String mode, String ctm, String nm, long in, long out, double scale) {
        double[] m = new double[(int) (out * in)];
        for (long o = 0; o < out; o++) {
            double coord = switch (ctm) {
                case "asymmetric" -> o / scale;
                case "half_pixel" -> (o + 0.5) / scale - 0.5;
                case "pytorch_half_pixel" -> out > 1 ? (o + 0.5) / scale - 0.5 : 0;
                case "align_corners" -> out > 1 ? o * (in - 1) / (double) (out - 1) : 0;
                default ->
                    throw new UnsupportedOperationException(
                            label + ": unsupported coordinate_transformation_mode " + ctm);
            };
            if (mode.equals("linear")) {
                double xc = Math.max(0, Math.min(in - 1, coord));
                long i0 = (long) Math.floor(xc);
                long i1 = Math.min(i0 + 1, in - 1);
                double w = xc - i0;
                m[(int) (o * in + i0)] += 1 - w;
                m[(int) (o * in + i1)] += w;
                continue;
            }
            long k = switch (nm) {
                case "floor" -> (long) Math.floor(coord);
                case "ceil" -> (long) Math.ceil(coord);
                case "round_prefer_floor" ->
                    coord - Math.floor(coord) == 0.5 ? (long) Math.floor(coord) : Math.round(coord);
                case "round_prefer_ceil" -> (long) Math.floor(coord + 0.5);
                // Upsample in ONNX Runtime: down when upsampling, up when downsampling
                case "simple" -> scale < 1 ? (long) Math.ceil(coord) : (long) Math.floor(coord);
                default -> throw new UnsupportedOperationException(label + ": unknown nearest_mode " + nm);
            };
            k = Math.max(0, Math.min(in - 1, k));
            m[(int) (o * in + k)] = 1;
        }
        return m;
    }
}
