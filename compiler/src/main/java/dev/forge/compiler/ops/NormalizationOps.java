package dev.forge.compiler.ops;

import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Normalization: {@code BatchNormalization}. The inference form (running statistics as constants) is
 * differentiated here; the training form, which normalizes with the batch's own statistics, is written
 * by the training graph with a block rule of its own.
 */
final class NormalizationOps {
    private NormalizationOps() {
    }

    static void register(Ops.Registry r) {
        // spatial: opsets 7 and 8 only; training_mode: opset 14 on
        r.add(op("BatchNormalization").attrFloat("epsilon", 1e-5f).attrFloat("momentum", 0.9f).attrInt("spatial", 1)
                .attrInt("training_mode", 0).shape(NormalizationOps::batchNorm).gradient(NormalizationOps::batchNormInference));
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

    /*
     * Inference-form BatchNormalization, Y = scale * (X - mean) / sqrt(var + eps) + B with mean and var
     * constants (fine-tuning with frozen statistics): dX = dY * scale / sqrt(var + eps),
     * dscale = sum(dY * xhat), dB = sum(dY), sums over every axis but the channel axis.
     */
    private static List<String> batchNormInference(GradContext c) {
        if (c.node().attrInt("training_mode", 0) != 0) {
            throw new IllegalStateException(c.node().label() + ": training-mode BatchNormalization has no gradient rule here; "
                    + "the training graph writes it with a block rule of its own");
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
}
