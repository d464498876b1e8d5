package dev.forge.compiler.ir;

import dev.forge.runtime.DType;
import java.util.Objects;

/**
 * The type of a tensor value: element type and shape (the tensor case of {@link IrType}). A null shape means the rank is unknown (only for
 * values produced by operators Forge has no shape rule for).
 *
 * @param dtype element type
 * @param shape shape, or null when unknown
 */
public record ValueType(DType dtype, Shape shape) implements IrType {
    /** Creates a type; the element type is required. */
    public ValueType {
        Objects.requireNonNull(dtype, "dtype");
    }

    /** Shorthand for a float32 tensor of the given shape. */
    public static ValueType float32(Shape shape) {
        return new ValueType(DType.FLOAT32, shape);
    }

    @Override
    public boolean isFullyKnown() {
        return shape != null && shape.isFixed();
    }

    @Override
    public String toString() {
        return dtype.name().toLowerCase(java.util.Locale.ROOT) + (shape == null ? "[?]" : shape.toString());
    }
}
