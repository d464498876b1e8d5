package dev.forge.compiler.passes;

import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Rewrites every Dropout as a multiplication by a mask input {@code <node>/mask} (0 or 1/(1-p), shaped like
 * the data) that the trainer draws from its generator seeded by (seed, step), which keeps runs exactly
 * reproducible. A Dropout with ratio 0 becomes an Identity. The masks and ratios go to
 * {@link PassContext#dropoutMasks()} and {@link PassContext#dropoutRatios()}.
 */
public final class DropoutMasks implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        Emitter e = context.emitter(g);
        for (Node n : g.nodes()) {
            if (n.opType().equals("Dropout")
                    && n.outputs().size() > 1
                    && !n.output(1).isEmpty()
                    && !g.consumers(n.output(1)).isEmpty()) {
                throw new IllegalArgumentException(
                        n.label() + ": Dropout's mask output is used by another node; cannot train it");
            }
        }
        Splice.replaceAll(g, n -> n.opType().equals("Dropout"), n -> emit(e, g, n, context));
        return g;
    }

    private static void emit(Emitter e, Graph g, Node n, PassContext context) {
        float ratio = 0.5f;
        if (n.hasInput(1)) {
            Tensor r = ShapeInference.constantOf(g, n.input(1));
            if (r == null) {
                throw new IllegalArgumentException(n.label() + ": the dropout ratio must be a constant");
            }
            ratio = (float) r.getDouble(0);
        }
        ValueType xt = g.type(n.input(0));
        e.prefix(n.name() + "/train");
        if (ratio == 0f) {
            e.opNamed(n.output(0), "Identity", List.of(n.input(0)), Map.of());
            return;
        }
        String mask = n.name() + "/mask";
        g.addInput(new ValueInfo(mask, xt));
        context.dropoutMasks().put(mask, xt.shape());
        context.dropoutRatios().put(mask, ratio);
        e.opNamed(n.output(0), "Mul", List.of(n.input(0), mask), Map.of());
    }
}
