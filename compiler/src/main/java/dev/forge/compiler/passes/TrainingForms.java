package dev.forge.compiler.passes;

import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ops.Ops;
import dev.forge.compiler.train.TrainingGraph;

/**
 * Replaces every node whose operator has a training-mode form ({@link dev.forge.compiler.ops.OpDef#trainingForm()}; today
 * BatchNormalization: batch statistics, running-statistic updates {@code bn1/mean.next}, and a closed-form
 * backward for the block, which {@link Differentiate} uses) by that form. Nodes that {@link StateAsInputs}
 * keeps in inference mode (a BatchNormalization whose scale and bias are frozen) keep their inference form.
 */
public final class TrainingForms implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        Emitter e = context.emitter(g);
        Splice.replaceAll(
                g,
                n -> Ops.definition(n) != null
                        && Ops.definition(n).trainingForm() != null
                        && !context.inferenceModeNodes().contains(n.name()),
                n -> context.statisticOutputs()
                        .addAll(Ops.definition(n)
                                .trainingForm()
                                .emit(e, n, s -> s + TrainingGraph.NEXT, context.blockRules())));
        return g;
    }
}
