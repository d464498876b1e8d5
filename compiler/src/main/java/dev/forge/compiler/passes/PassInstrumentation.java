package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;

/**
 * Called by a {@link Pipeline} after each pass (MLIR's {@code PassInstrumentation::runAfterPass}): to dump
 * the graph as ONNX, count its nodes, or verify it between passes in tests. It must not change the graph.
 */
@FunctionalInterface
public interface PassInstrumentation {
    /** Instrumentation that does nothing. */
    PassInstrumentation NONE = (index, pass, graph) -> {};

    /**
     * Called after pass number {@code index} (1 for the first pass) returned {@code graph}.
     *
     * @param index the pass's position in the pipeline, from 1
     * @param pass the pass that just ran
     * @param graph the graph it returned (read only)
     */
    void afterPass(int index, Pass pass, Graph graph);

    /** This instrumentation, then {@code next}. */
    default PassInstrumentation andThen(PassInstrumentation next) {
        return (index, pass, graph) -> {
            afterPass(index, pass, graph);
            next.afterPass(index, pass, graph);
        };
    }
}
