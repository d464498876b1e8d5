package dev.forge.compiler.ops;

import dev.forge.compiler.ir.ValueType;
import java.util.List;

/** Computes an operator's output types from its inputs and attributes, or fails with a clear message. */
@FunctionalInterface
public interface ShapeRule {
    /**
     * Infers the output types.
     *
     * @param ctx the node, its input types and constant inputs
     * @return one type per output of the node (null where a type cannot be known)
     * @throws ShapeException when the inputs or attributes are inconsistent
     */
    List<ValueType> infer(InferenceContext ctx);
}
