package dev.forge.runtime;

import java.util.Arrays;
import java.util.Objects;

/**
 * The declared name, element type and shape of a model input or output, and its {@link ValueKind}: a
 * tensor, or a sequence or optional of tensors (an output only; ONNX Runtime's Java API cannot feed them).
 * For a container, {@link #dtype()} and {@link #shape()} describe the tensors it holds, as the model
 * declares them (a sequence's elements may differ in shape at run time); a tensor type that declares no
 * shape has rank 0 here.
 *
 * <p>A dynamic dimension is {@code -1} in {@link #shape()}; its symbolic name (such as {@code N} for
 * the batch) is at the same position in {@link #dimNames()}, which holds {@code null} for fixed
 * dimensions and for dynamic dimensions that have no name. The accessors return copies.
 *
 * @param name the input or output name
 * @param dtype the element type
 * @param shape the dimensions, -1 where dynamic
 * @param dimNames the symbolic names of dynamic dimensions, null elsewhere; same length as shape
 * @param kind a tensor, or the container the tensors are in
 */
public record TensorSpec(String name, DType dtype, long[] shape, String[] dimNames, ValueKind kind) {

    /**
     * The spec of a tensor ({@link ValueKind#TENSOR}).
     *
     * @param name the input or output name
     * @param dtype the element type
     * @param shape the dimensions, -1 where dynamic
     * @param dimNames the symbolic names of dynamic dimensions, null elsewhere; null for none
     * @throws IllegalArgumentException if the arrays differ in length or a dimension is below -1
     */
    public TensorSpec(String name, DType dtype, long[] shape, String[] dimNames) {
        this(name, dtype, shape, dimNames, ValueKind.TENSOR);
    }

    /**
     * Validates and copies the arrays.
     *
     * @param name the input or output name
     * @param dtype the element type
     * @param shape the dimensions, -1 where dynamic
     * @param dimNames the symbolic names of dynamic dimensions, null elsewhere; null for none
     * @param kind a tensor, or the container the tensors are in
     * @throws IllegalArgumentException if the arrays differ in length or a dimension is below -1
     */
    public TensorSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(kind, "kind");
        shape = Objects.requireNonNull(shape, "shape").clone();
        dimNames = dimNames == null ? new String[shape.length] : dimNames.clone();
        if (dimNames.length != shape.length) {
            throw new IllegalArgumentException("TensorSpec " + name + ": shape has " + shape.length
                    + " dimensions but dimNames has " + dimNames.length);
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < -1) {
                throw new IllegalArgumentException(
                        "TensorSpec " + name + ": dimension " + i + " is " + shape[i] + ", expected >= -1");
            }
            if (shape[i] >= 0) {
                dimNames[i] = null;
            } else if (dimNames[i] != null && dimNames[i].isEmpty()) {
                dimNames[i] = null;
            }
        }
    }

    /**
     * The dimensions, -1 where dynamic (a copy).
     *
     * @return the shape
     */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * The symbolic names of dynamic dimensions, null elsewhere (a copy).
     *
     * @return the dimension names
     */
    @Override
    public String[] dimNames() {
        return dimNames.clone();
    }

    /**
     * Whether this is a plain tensor, not a sequence or optional.
     *
     * @return true for {@link ValueKind#TENSOR}
     */
    public boolean isTensor() {
        return kind == ValueKind.TENSOR;
    }

    /**
     * The ONNX type as text: {@code float32[N,10]}, {@code sequence(float32[5])}, {@code
     * optional(sequence(float32[5]))}.
     *
     * @return the type
     */
    public String typeString() {
        return kind.describe(dtype.typeName() + shapeString());
    }

    /**
     * The number of dimensions (of the tensors inside, for a container).
     *
     * @return the rank
     */
    public int rank() {
        return shape.length;
    }

    /**
     * Whether every dimension is fixed.
     *
     * @return true when no dimension is -1
     */
    public boolean isFullyDefined() {
        return Arrays.stream(shape).allMatch(d -> d >= 0);
    }

    /**
     * The shape as it is printed in messages: {@code [N,1,28,28]}, with {@code ?} for an unnamed
     * dynamic dimension.
     *
     * @return the shape text
     */
    public String shapeString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            if (shape[i] >= 0) {
                sb.append(shape[i]);
            } else {
                sb.append(dimNames[i] != null ? dimNames[i] : "?");
            }
        }
        return sb.append(']').toString();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TensorSpec)) {
            return false;
        }
        TensorSpec t = (TensorSpec) o;
        return name.equals(t.name)
                && dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && Arrays.equals(dimNames, t.dimNames)
                && kind == t.kind;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), Arrays.hashCode(dimNames), kind);
    }

    /** {@code input: float32[N,1,28,28]}, {@code res: sequence(float32[5])}. */
    @Override
    public String toString() {
        return name + ": " + typeString();
    }
}
