package dev.forge.compiler.ir;

import java.util.Objects;

/**
 * An ONNX {@code optional_type}: either no value or one value of the element type (a tensor or a
 * sequence).
 *
 * @param element the type of the value when there is one
 */
public record OptionalType(IrType element) implements IrType {
    /** Creates an optional type; the element type is required. */
    public OptionalType {
        Objects.requireNonNull(element, "element");
    }

    @Override
    public boolean isFullyKnown() {
        return element.isFullyKnown();
    }

    @Override
    public String toString() {
        return "optional(" + element + ")";
    }
}
