package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.train.TrainingGraph;

/**
 * Declares the outputs of a gradient graph (no optimizer): {@code loss}, the prediction, the gradient of
 * every differentiated value ({@code conv1/W.grad}) and the running statistics' next values.
 */
public final class GradientOutputs implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        g.addOutput(new ValueInfo(TrainingGraph.LOSS, g.type(TrainingGraph.LOSS)));
        g.addOutput(new ValueInfo(context.prediction(), g.type(context.prediction())));
        for (String w : context.differentiated()) {
            String grad = context.gradients().get(w);
            g.addOutput(new ValueInfo(grad, g.type(grad)));
        }
        for (String s : context.statisticOutputs()) {
            g.addOutput(new ValueInfo(s, g.type(s)));
        }
        return g;
    }
}
