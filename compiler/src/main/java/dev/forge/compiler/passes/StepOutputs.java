package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.train.TrainingGraph;

/**
 * Declares the training step's outputs: {@code loss}, the prediction, the next value of every optimized
 * state ({@code conv1/W.next}, ...) and of every running statistic ({@code bn1/mean.next}), which a
 * trainer writes into its second set of state tensors.
 */
public final class StepOutputs implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        g.addOutput(new ValueInfo(TrainingGraph.LOSS, g.type(TrainingGraph.LOSS)));
        g.addOutput(new ValueInfo(context.prediction(), g.type(context.prediction())));
        for (String s : context.nextOutputs()) {
            g.addOutput(new ValueInfo(s, g.type(s)));
        }
        for (String s : context.statisticOutputs()) {
            g.addOutput(new ValueInfo(s, g.type(s)));
        }
        return g;
    }
}
