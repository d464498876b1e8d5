package dev.forge.compiler.reference;

import java.util.List;

/** The reference semantics of one ONNX operator: evaluated inputs in, one tensor per output out. */
@FunctionalInterface
interface Rule {
    /**
     * Evaluates the node.
     *
     * @param call the node, its inputs and the opset
     * @return the outputs, in order; a rule may return fewer than the node lists only if those are not
     *     requested
     */
    List<DoubleTensor> apply(Call call);
}
