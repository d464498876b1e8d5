package dev.forge.compiler.passes;

import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ops.OpDef;
import dev.forge.compiler.ops.Ops;
import dev.forge.compiler.train.TrainingGraph;
import java.util.ArrayList;

/**
 * Replaces every node whose operator has a training-mode form ({@link OpDef#trainingForm()}; today
 * BatchNormalization: batch statistics, running-statistic updates {@code bn1/mean.next}, and a closed-form
 * backward for the block, which {@link Differentiate} uses) by that form.
 */
public final class TrainingForms implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        Emitter e = context.emitter(g);
        for (Node n : new ArrayList<>(g.nodes())) {
            OpDef def = Ops.definition(n);
            if (def != null && def.trainingForm() != null) {
                Splice.replace(
                        g,
                        n,
                        () -> context.statisticOutputs()
                                .addAll(def.trainingForm()
                                        .emit(e, n, s -> s + TrainingGraph.NEXT, context.blockRules())));
            }
        }
        return g;
    }
}
