package dev.forge.compiler.ops;

import dev.forge.compiler.autodiff.Autodiff;
import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Node;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * An operator's training-mode form: what a node computes while it is trained when that differs from
 * its inference form (BatchNormalization normalizes with the batch's statistics and updates its running
 * ones), written as standard ONNX operators in place of the node.
 */
@FunctionalInterface
public interface TrainingForm {
    /**
     * Emits the training form of {@code node} with {@code e}, whose graph holds the nodes before it; the
     * node's outputs keep their names.
     *
     * @param e emitter appending to the training graph
     * @param node the forward node
     * @param next the name of the value carrying a state input's next value ({@code bn1/mean} to
     *     {@code bn1/mean.next})
     * @param blocks where a closed-form backward of the emitted block is registered, keyed by the name of
     *     the node that ends the block (see {@link Autodiff.BlockRule})
     * @return the state outputs emitted (the next values of state inputs)
     */
    List<String> emit(Emitter e, Node node, UnaryOperator<String> next, Map<String, Autodiff.BlockRule> blocks);
}
