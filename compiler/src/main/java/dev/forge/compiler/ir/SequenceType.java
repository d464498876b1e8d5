package dev.forge.compiler.ir;

import java.util.Objects;

/**
 * An ONNX {@code sequence_type}: an ordered list of values that all have the element type (in practice
 * tensors of one element type; their shapes may differ, so a sequence's element shape is usually unknown).
 *
 * @param element the type of every element
 */
public record SequenceType(IrType element) implements IrType {
    /** Creates a sequence type; the element type is required. */
    public SequenceType {
        Objects.requireNonNull(element, "element");
    }

    @Override
    public boolean isFullyKnown() {
        return element.isFullyKnown();
    }

    @Override
    public String toString() {
        return "sequence(" + element + ")";
    }
}
