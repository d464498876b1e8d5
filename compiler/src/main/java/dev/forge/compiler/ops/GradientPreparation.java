package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;

/**
 * An operator's preparation for differentiation: before the backward pass is emitted, the autodiff
 * driver gives every node of the forward graph whose definition has one the chance to change itself,
 * e.g. a MaxPool adds its Indices output, which its gradient scatters through.
 */
@FunctionalInterface
public interface GradientPreparation {
    /**
     * Returns the node to differentiate in place of {@code node}: the node itself when nothing changes,
     * or a replacement with the same inputs (new outputs get their types recorded in {@code graph}).
     */
    Node prepare(Graph graph, Node node);
}
