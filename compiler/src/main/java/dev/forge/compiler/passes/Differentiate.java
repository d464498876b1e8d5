package dev.forge.compiler.passes;

import dev.forge.compiler.autodiff.Autodiff;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.train.TrainingGraph;
import java.util.ArrayList;
import java.util.List;

/**
 * Appends the backward pass of {@code loss} with respect to every parameter (and the data input when
 * asked): {@link Autodiff#gradients} with the block rules earlier passes registered. The gradient names
 * ({@code conv1/W.grad}) go to {@link PassContext#gradients()}.
 */
public final class Differentiate implements Pass {
    private final boolean withInputGradient;

    /** Differentiates with respect to the parameters, and the data input too if {@code withInputGradient}. */
    public Differentiate(boolean withInputGradient) {
        this.withInputGradient = withInputGradient;
    }

    @Override
    public Graph run(Graph g, PassContext context) {
        List<String> wrt = new ArrayList<>(context.parameters());
        if (withInputGradient) {
            wrt.add(context.dataInput());
        }
        context.differentiated().addAll(wrt);
        context.gradients().putAll(Autodiff.gradients(g, TrainingGraph.LOSS, wrt, context.blockRules()));
        return g;
    }
}
