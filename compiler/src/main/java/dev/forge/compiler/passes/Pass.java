package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;

/**
 * One named step of a {@link Pipeline}: a single job over the graph, such as folding BatchNormalization
 * into the convolution before it.
 *
 * <p>A pass usually changes {@code graph} in place and returns it; a pass that builds a different model
 * (the training step from the forward graph) returns the new graph. What a pass learns that later passes
 * need (the gradient of each parameter, the Dropout mask inputs) goes into the {@link PassContext};
 * its settings (the loss, the optimizer) are constructor arguments.
 */
public interface Pass {
    /** The pass's name as pipelines, dumps and {@code forge compile --dump-after} show it, e.g. {@code FoldBatchNorm}. */
    default String name() {
        return getClass().getSimpleName();
    }

    /**
     * Runs the pass.
     *
     * @param graph the graph after the previous pass (a copy of the pipeline's input for the first)
     * @param context what the pipeline's passes share
     * @return the graph for the next pass: {@code graph} itself or a new graph
     */
    Graph run(Graph graph, PassContext context);
}
