package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.autodiff.Emitter.attrInts;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.Autodiff;
import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Normalization: {@code BatchNormalization}, {@code InstanceNormalization}, {@code LayerNormalization}. BatchNormalization's inference
 * form (running statistics as constants) has an ordinary gradient rule; its training form normalizes with
 * the batch's own statistics, updates the running ones, and brings a closed-form backward rule for the
 * whole block. InstanceNormalization (statistics of each sample and channel) and LayerNormalization
 * (statistics of each sample over the trailing axes) have one form each and a shared closed-form gradient
 * ({@link #meanVarianceGrad}).
 */
final class NormalizationOps {
    private NormalizationOps() {}

    static void register(Ops.Registry r) {
        // spatial: opsets 7 and 8 only; training_mode: opset 14 on
        r.add(op("BatchNormalization")
                .attrFloat("epsilon", 1e-5f)
                .attrFloat("momentum", 0.9f)
                .attrInt("spatial", 1)
                .attrInt("training_mode", 0)
                .shape(NormalizationOps::batchNorm)
                .gradient(NormalizationOps::batchNormInference)
                .trainingForm(NormalizationOps::batchNormTraining));
        r.add(op("InstanceNormalization")
                .attrFloat("epsilon", 1e-5f)
                .shape(NormalizationOps::instanceNorm)
                .gradient(NormalizationOps::instanceNormGrad));
        // opset 17; stash_type is the precision of the statistics (1: float32, what Forge computes in)
        r.add(op("LayerNormalization")
                .attrInt("axis", -1)
                .attrFloat("epsilon", 1e-5f)
                .attrInt("stash_type", 1)
                .shape(NormalizationOps::layerNorm)
                .gradient(NormalizationOps::layerNormGrad));
    }

    /**
     * LayerNormalization: X [d0, ..., d(r-1)] normalized over the axes from {@code axis} on; Scale and the
     * optional B broadcast to X[axis:]; Y like X, Mean and InvStdDev [d0, ..., d(axis-1), 1, ..., 1].
     */
    static List<ValueType> layerNorm(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        int rank = x.rank();
        long axisAttr = ctx.node().attrInt("axis", -1);
        if (rank < 1 || axisAttr < -rank || axisAttr >= rank) {
            throw ctx.error(
                    "axis " + axisAttr + " is out of range for X " + x,
                    "give an axis in [" + -rank + ", " + (rank - 1) + "]");
        }
        int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
        String[] names = {"Scale", "B"};
        for (int i = 1; i <= 2; i++) {
            if (!ctx.hasInput(i)) {
                continue;
            }
            Shape s = ctx.shape(i);
            boolean fits = s.rank() <= rank - axis;
            for (int k = 0; fits && k < s.rank(); k++) {
                Dim sd = s.dim(s.rank() - 1 - k);
                Dim xd = x.dim(rank - 1 - k);
                fits = !sd.isFixed() || !xd.isFixed() || sd.value() == 1 || sd.value() == xd.value();
            }
            if (!fits) {
                throw ctx.error(
                        names[i - 1] + " " + s + " does not broadcast to the normalized axes of X " + x + " (from axis "
                                + axis + ")",
                        "give " + names[i - 1] + " the shape of X's axes " + axis + " to " + (rank - 1));
            }
        }
        List<ValueType> out = new ArrayList<>();
        out.add(ctx.input(0));
        List<Dim> stats = new ArrayList<>();
        for (int i = 0; i < rank; i++) {
            stats.add(i < axis ? x.dim(i) : Dim.of(1));
        }
        for (int i = 1; i < ctx.node().outputs().size(); i++) {
            out.add(new ValueType(dev.forge.runtime.DType.FLOAT32, Shape.of(stats)));
        }
        return out;
    }

    /*
     * LayerNormalization over the axes R = axis..r-1: y = xhat * Scale + B with xhat the mean-variance
     * normalization of each x[i0, ..., i(axis-1), :, ...] (meanVarianceGrad, with its Mean and InvStdDev
     * outputs' gradients when those are read); dScale = dy * xhat and dB = dy, each summed back to its
     * input's shape over the axes it was broadcast along.
     */
    private static List<String> layerNormGrad(GradContext c) {
        Shape xs = c.shape(c.x(0));
        int rank = xs.rank();
        long axisAttr = c.node().attrInt("axis", -1);
        int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
        long[] normalized = new long[rank - axis];
        for (int i = axis; i < rank; i++) {
            normalized[i - axis] = i;
        }
        float eps = c.node().attrFloat("epsilon", 1e-5f);
        MeanVarianceGrad g = c.needs(0) || c.needs(1)
                ? meanVarianceGrad(c, c.x(0), normalized, c.x(1), eps, c.dy(), c.dy(1), c.dy(2))
                : new MeanVarianceGrad(null, null);
        String dscale = c.needs(1) && c.dy() != null ? c.unbroadcast(c.mul(c.dy(), g.xhat()), c.x(1)) : null;
        String db = c.node().hasInput(2) && c.needs(2) && c.dy() != null ? c.unbroadcast(c.dy(), c.x(2)) : null;
        return c.grads(g.dx(), dscale, db);
    }

    /** InstanceNormalization: X [N, C, D1, ...], scale and B [C]; Y like X. */
    static List<ValueType> instanceNorm(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        if (x.rank() < 3) {
            throw ctx.error(
                    "input X must be [N, C, D1, ...] with rank >= 3, got " + x,
                    "add a spatial axis (PyTorch's GroupNorm export reshapes to [N, groups, -1])");
        }
        Dim c = x.dim(1);
        String[] names = {"scale", "B"};
        for (int i = 1; i <= 2; i++) {
            Shape s = ctx.shape(i);
            if (s.rank() != 1 || (c.isFixed() && s.dim(0).isFixed() && s.dim(0).value() != c.value())) {
                throw ctx.error(
                        names[i - 1] + " must be [" + c + "] (one value per channel), got " + s,
                        "give one " + names[i - 1] + " value per channel of X");
            }
        }
        return InferenceContext.one(ctx.dtype(0), x);
    }

    /*
     * InstanceNormalization normalizes each (n, c) over its spatial axes:
     *   y[n,c,s] = xhat[n,c,s] * scale[c] + B[c],  xhat = (x - mean_nc) / sqrt(var_nc + eps)
     * so per (n, c) it is the mean-variance normalization of meanVarianceGrad over the spatial axes with
     * s = scale reshaped to [1, C, 1, ...]; dscale[c] = sum over n and s of dy * xhat, dB[c] = sum of dy.
     */
    private static List<String> instanceNormGrad(GradContext c) {
        Shape xs = c.shape(c.x(0));
        int rank = xs.rank();
        long[] spatial = new long[rank - 2];
        long[] others = new long[rank - 1];
        for (int i = 2; i < rank; i++) {
            spatial[i - 2] = i;
            others[i - 1] = i;
        }
        long[] bshape = Grad.ones(rank);
        bshape[1] = c.shape(c.x(1)).dim(0).value();
        String scale = c.op("Reshape", c.x(1), c.emit().ints(bshape));
        float eps = c.node().attrFloat("epsilon", 1e-5f);
        MeanVarianceGrad g = c.needs(0) || c.needs(1)
                ? meanVarianceGrad(c, c.x(0), spatial, scale, eps, c.dy(), null, null)
                : new MeanVarianceGrad(null, null);
        String dscale = c.needs(1) ? c.reduceSum(c.mul(c.dy(), g.xhat()), others, false) : null;
        String db = c.needs(2) ? c.reduceSum(c.dy(), others, false) : null;
        return c.grads(g.dx(), dscale, db);
    }

    /** The results of {@link #meanVarianceGrad}: dX (null when not needed) and the normalized input. */
    record MeanVarianceGrad(String dx, String xhat) {}

    /*
     * Mean-variance normalization over the axes R (M elements per group), with a scale s broadcast to x:
     *   mu = E_R[x], xc = x - mu, v = E_R[xc^2], inv = (v + eps)^(-1/2), xhat = xc inv, y = xhat s (+ b)
     * Backward, with g = dy s: d xhat = g, and since xhat depends on every x of its group,
     *   dx = inv (g - E_R[g] - xhat E_R[g xhat])
     * (the standard normalization backward). The statistics are recomputed in centered form (two passes,
     * E[xc^2] rather than E[x^2] - E[x]^2, which cancels in float32 when the mean dwarfs the spread), and
     * every product in dx is of centered values. Outputs carrying the statistics themselves add
     * d mu / dx = 1/M and d inv / dx = -inv^3 xc / M:
     *   dx += dMean / M - dInv inv^3 xc / M.
     * E_R is ReduceSum divided by the constant M (ReduceSum takes its axes as an input at every opset a
     * training graph uses; ReduceMean only from opset 18). Divided, not multiplied by a float32 1/M: that
     * constant's rounding (3e-8 relative for M = 48) would shift a mean of 1000 by 3e-5, a visible error
     * against a spread of 1.
     */
    static MeanVarianceGrad meanVarianceGrad(
            GradContext c, String x, long[] axes, String scale, float eps, String dy, String dMean, String dInv) {
        Shape xs = c.shape(x);
        long m = 1;
        for (long a : axes) {
            if (!xs.dim((int) a).isFixed()) {
                throw new IllegalStateException(c.node().label() + ": the normalization gradient needs fixed sizes"
                        + " on the normalized axes, got " + xs + "; give those dimensions fixed sizes");
            }
            m *= xs.dim((int) a).value();
        }
        String count = c.scalar((float) m);
        String mu = c.div(c.reduceSum(x, axes, true), count);
        String xc = c.sub(x, mu);
        String v = c.div(c.reduceSum(c.mul(xc, xc), axes, true), count);
        String inv = c.op("Reciprocal", c.op("Sqrt", c.add(v, c.scalar(eps))));
        String xhat = c.mul(xc, inv);
        if (!c.needs(0)) {
            return new MeanVarianceGrad(null, xhat);
        }
        String dx = null;
        if (dy != null) {
            String g = scale == null ? dy : c.mul(dy, scale);
            String meanG = c.div(c.reduceSum(g, axes, true), count);
            String meanGx = c.div(c.reduceSum(c.mul(g, xhat), axes, true), count);
            dx = c.mul(inv, c.sub(c.sub(g, meanG), c.mul(xhat, meanGx)));
        }
        if (dMean != null) {
            String term = c.div(dMean, count);
            dx = dx == null
                    ? c.op("Expand", term, xs.isFixed() ? c.emit().ints(xs.toArray()) : c.shapeOf(x))
                    : c.add(dx, term);
        }
        if (dInv != null) {
            String cube = c.mul(c.mul(inv, inv), inv);
            String term = c.mul(c.div(c.mul(dInv, cube), count), xc);
            dx = dx == null ? c.op("Neg", term) : c.sub(dx, term);
        }
        return new MeanVarianceGrad(dx, xhat);
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
                throw ctx.error(
                        names[i - 1] + " must be [" + c + "] (one value per channel), got " + s,
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

    /*
     * Inference-form BatchNormalization, Y = scale * (X - mean) / sqrt(var + eps) + B with mean and var
     * constants (fine-tuning with frozen statistics): dX = dY * scale / sqrt(var + eps),
     * dscale = sum(dY * xhat), dB = sum(dY), sums over every axis but the channel axis.
     */
    private static List<String> batchNormInference(GradContext c) {
        if (c.node().attrInt("training_mode", 0) != 0) {
            throw new IllegalStateException(
                    c.node().label() + ": training-mode BatchNormalization has no gradient rule here; "
                            + "training graphs use its training form (OpDef.trainingForm), which has a block rule of its own");
        }
        int rank = c.shape(c.x(0)).rank();
        long channels = c.shape(c.x(0)).dim(1).value();
        long[] bcast = new long[rank];
        Arrays.fill(bcast, 1);
        bcast[1] = channels;
        String shape = c.emit().ints(bcast);
        float eps = c.node().attrFloat("epsilon", 1e-5f);
        String invStd = c.op("Reshape", c.op("Reciprocal", c.op("Sqrt", c.add(c.x(4), c.scalar(eps)))), shape);
        long[] axes = new long[rank - 1];
        axes[0] = 0;
        for (int i = 2; i < rank; i++) {
            axes[i - 1] = i;
        }
        String dx = c.needs(0) ? c.mul(c.dy(), c.mul(invStd, c.op("Reshape", c.x(1), shape))) : null;
        String dscale = null;
        if (c.needs(1)) {
            String xhat = c.mul(c.sub(c.x(0), c.op("Reshape", c.x(3), shape)), invStd);
            dscale = c.reduceSum(c.mul(c.dy(), xhat), axes, false);
        }
        String db = c.needs(2) ? c.reduceSum(c.dy(), axes, false) : null;
        return c.grads(dx, dscale, db);
    }

    /*
     * Training-mode batch normalization over axes (0, 2, ...):
     *   mean = E[x]; var = E[(x - mean)^2] (biased); inv = 1/sqrt(var + eps)
     *   y = (x - mean) * inv * scale + B
     *   running_mean' = (1 - m) running_mean + m mean
     *   running_var'  = (1 - m) running_var + m var * n/(n-1)      (m = PyTorch momentum = 1 - ONNX momentum)
     */
    private static List<String> batchNormTraining(
            Emitter e, Node n, UnaryOperator<String> next, Map<String, Autodiff.BlockRule> blocks) {
        if (n.outputs().size() > 1) {
            throw new IllegalArgumentException(
                    n.label() + ": a BatchNormalization with training outputs cannot be trained again");
        }
        e.prefix(n.name() + "/train");
        Shape xs = e.graph().type(n.input(0)).shape();
        int rank = xs.rank();
        long channels = xs.dim(1).value();
        long[] axes = new long[rank - 1];
        long[] bshape = new long[rank];
        Arrays.fill(bshape, 1);
        bshape[1] = channels;
        for (int i = 0, k = 0; i < rank; i++) {
            if (i != 1) {
                axes[k++] = i;
            }
        }
        float eps = n.attrFloat("epsilon", 1e-5f);
        float momentum = 1f - n.attrFloat("momentum", 0.9f);
        Map<String, Attribute> reduce = Map.of("axes", attrInts(axes), "keepdims", attrInt(1));
        Map<String, Attribute> toFloat = Map.of("to", attrInt(1));
        String x = n.input(0);
        String c = e.ints(channels);
        // statistics, centered (the corrected two-pass algorithm): m0 = E[x], xc = x - m0, d = E[xc] (the
        // float32 rounding error of m0), mean = m0 + d and var = E[xc^2] - d^2, clamped at 0 (a constant
        // channel can round below; epsilon may be 0). The textbook E[x^2] - E[x]^2 cancels catastrophically in float32
        // when the
        // mean dwarfs the spread (inputs offset by 1000: a 4e-4 error in the running variance and 3e-3 in
        // the output, against PyTorch's 1e-6 and 7e-5; BatchNormPrecisionTest). E[xc^2] is
        // ReduceMean(xc * xc): ONNX Runtime's ReduceSumSquare has no fast path for these axes (0.96 ms
        // against 0.28 ms for Mul + ReduceMean on the MNIST CNN's 64x32x28x28 activations)
        String invM = e.op("Div", e.scalar((float) channels), e.op("Cast", List.of(e.op("Size", x)), toFloat));
        String m0 = e.op("ReduceMean", List.of(x), reduce);
        String xc = e.op("Sub", x, m0);
        String d = e.op("ReduceMean", List.of(xc), reduce);
        String mean = e.op("Add", m0, d);
        String var =
                e.op("Relu", e.op("Sub", e.op("ReduceMean", List.of(e.op("Mul", xc, xc)), reduce), e.op("Mul", d, d)));
        String meanC = e.op("Reshape", mean, c);
        String varC = e.op("Reshape", var, c);
        float[] zeros = new float[(int) channels];
        float[] ones = new float[(int) channels];
        Arrays.fill(ones, 1f);
        // normalization, scale and shift in one pass: ONNX's BatchNormalization of xc with mean d and the
        // batch variance; fed x and the batch mean it would fold to x * a + (B - mean * a), the same
        // cancellation again
        Map<String, Attribute> bnAttrs = Map.of("epsilon", new Attribute.Float(eps));
        e.opNamed(
                n.output(0),
                "BatchNormalization",
                List.of(xc, n.input(1), n.input(2), e.op("Reshape", d, c), varC),
                bnAttrs);
        String bs = e.ints(bshape);
        String inv = e.op("Reciprocal", e.op("Sqrt", e.op("Add", var, e.scalar(eps))));
        String a = e.op("Mul", inv, e.op("Reshape", n.input(1), bs)); // per-channel factor scale * inv
        String x0 = n.input(0);
        String scale = n.input(1);
        String shift = n.input(2);
        long c0 = channels;
        /*
         * Backward of the whole block in closed form (M = elements per channel, sums over axes 0, 2, ...;
         * x - mean = xc - d with xc and d from the forward pass):
         *   dB = sum(dy);  dscale = inv * sum(dy * (x - mean)),  sum(dy * (x - mean)) = sum(dy * xc) - d sum(dy)
         *   dx = a * (dy - sum(dy)/M - (x - mean) * inv^2 * sum(dy * (x - mean))/M)
         *      = a * dy + xc * p + q      with per-channel p = -a k2, q = -a k1 - d p
         * where k1 = sum(dy)/M and k2 = inv^2 sum(dy * (x - mean))/M. Every product is of centered values:
         * sum(dy * x) - mean * sum(dy) would cancel like E[x^2] - E[x]^2 (d is tiny, so d sum(dy) does not).
         * xc * p + q is one pass of an inference BatchNormalization (mean 0, variance 1, epsilon 0); about
         * six passes in all.
         */
        blocks.put(e.graph().producer(n.output(0)).name(), (em, dy, needs) -> {
            Map<String, String> out = new LinkedHashMap<>();
            Map<String, Attribute> keep = Map.of("keepdims", attrInt(1));
            String sumDy = em.op("ReduceSum", List.of(dy, em.ints(axes)), keep);
            String sumDyXc = em.op(
                    "Sub",
                    em.op("ReduceSum", List.of(em.op("Mul", dy, xc), em.ints(axes)), keep),
                    em.op("Mul", d, sumDy));
            String cs = em.ints(c0);
            if (needs.test(shift)) {
                out.put(shift, em.op("Reshape", sumDy, cs));
            }
            if (needs.test(scale)) {
                out.put(scale, em.op("Reshape", em.op("Mul", sumDyXc, inv), cs));
            }
            if (needs.test(x0)) {
                String k1 = em.op("Mul", sumDy, invM);
                String k2 = em.op("Mul", em.op("Mul", em.op("Mul", inv, inv), sumDyXc), invM);
                String p = em.op("Neg", em.op("Mul", a, k2));
                String q = em.op("Neg", em.op("Add", em.op("Mul", a, k1), em.op("Mul", d, p)));
                String affine = em.op(
                        "BatchNormalization",
                        List.of(
                                xc,
                                em.op("Reshape", p, cs),
                                em.op("Reshape", q, cs),
                                em.tensor(n.name() + "/grad/zeros", Tensor.of(zeros, c0)),
                                em.tensor(n.name() + "/grad/ones", Tensor.of(ones, c0))),
                        Map.of("epsilon", new Attribute.Float(0f)));
                out.put(x0, em.op("Add", em.op("Mul", dy, a), affine));
            }
            return out;
        });

        String m = e.scalar(momentum);
        String keep = e.scalar(1f - momentum);
        String meanNext = next.apply(n.input(3));
        e.opNamed(meanNext, "Add", List.of(e.op("Mul", n.input(3), keep), e.op("Mul", meanC, m)), Map.of());
        // unbiased: var * count / (count - 1), count = elements per channel = Size(x) / C
        String count = e.op("Div", e.op("Cast", List.of(e.op("Size", x)), toFloat), e.scalar((float) channels));
        String unbias = e.op("Div", count, e.op("Sub", count, e.scalar(1f)));
        String varUnbiased = e.op("Mul", varC, unbias);
        String varNext = next.apply(n.input(4));
        e.opNamed(varNext, "Add", List.of(e.op("Mul", n.input(4), keep), e.op("Mul", varUnbiased, m)), Map.of());
        return List.of(meanNext, varNext);
    }
}
