package dev.forge.runtime;

import java.util.Arrays;
import java.util.Objects;

/**
 * The declared name, element type and shape of a model input or output.
 *
 * <p>A dynamic dimension is {@code -1} in {@link #shape()}; its symbolic name (such as {@code N} for
 * the batch) is at the same position in {@link #dimNames()}, which holds {@code null} for fixed
 * dimensions and for dynamic dimensions that have no name. The accessors return copies.
 *
 * @param name the input or output name
 * @param dtype the element type
 * @param shape the dimensions, -1 where dynamic
 * @param dimNames the symbolic names of dynamic dimensions, null elsewhere; same length as shape
 */
public record TensorSpec(String name, DType dtype, long[] shape, String[] dimNames) {

    /**
     * Validates and copies the arrays.
     *
     * @param name the input or output name
     * @param dtype the element type
     * @param shape the dimensions, -1 where dynamic
     * @param dimNames the symbolic names of dynamic dimensions, null elsewhere; null for none
     * @throws IllegalArgumentException if the arrays differ in length or a dimension is below -1
     */
    public TensorSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
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
     * The number of dimensions.
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
                && Arrays.equals(dimNames, t.dimNames);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), Arrays.hashCode(dimNames));
    }

    /** {@code input: float32[N,1,28,28]}. */
    @Override
    public String toString() {
        return name + ": " + dtype.typeName() + shapeString();
    }
}
