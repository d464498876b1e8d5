package dev.forge.runtime;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * An ONNX {@code sequence(tensor)}: tensors of one element type, in order, each with its own shape; it may
 * be empty. Immutable.
 */
public final class TensorSequence implements Value {
    private final DType elementType;
    private final List<Tensor> tensors;

    private TensorSequence(DType elementType, List<Tensor> tensors) {
        this.elementType = elementType;
        this.tensors = tensors;
    }

    /**
     * A sequence of the given tensors.
     *
     * @param elementType the element type every tensor has (needed for an empty sequence)
     * @param tensors the tensors, in order
     * @return the sequence
     * @throws IllegalArgumentException if a tensor has another element type
     */
    public static TensorSequence of(DType elementType, List<Tensor> tensors) {
        Objects.requireNonNull(elementType, "elementType");
        List<Tensor> copy = new ArrayList<>(tensors.size());
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = Objects.requireNonNull(tensors.get(i), "tensor " + i);
            if (t.dtype() != elementType) {
                throw new IllegalArgumentException("a sequence of " + elementType.typeName() + " cannot hold tensor "
                        + i + " of " + t.dtype().typeName());
            }
            copy.add(t);
        }
        return new TensorSequence(elementType, Collections.unmodifiableList(copy));
    }

    /**
     * The kind of a sequence.
     *
     * @return {@link ValueKind#SEQUENCE}
     */
    @Override
    public ValueKind kind() {
        return ValueKind.SEQUENCE;
    }

    /**
     * The element type of every tensor in the sequence.
     *
     * @return the element type
     */
    public DType elementType() {
        return elementType;
    }

    /**
     * The tensors, in order.
     *
     * @return an unmodifiable list
     */
    public List<Tensor> tensors() {
        return tensors;
    }

    /**
     * How many tensors the sequence holds.
     *
     * @return the length
     */
    public int size() {
        return tensors.size();
    }

    /**
     * Whether the sequence holds no tensor.
     *
     * @return true when empty
     */
    public boolean isEmpty() {
        return tensors.isEmpty();
    }

    /**
     * One tensor.
     *
     * @param index its position
     * @return the tensor
     * @throws IndexOutOfBoundsException if {@code index} is not in [0, size)
     */
    public Tensor get(int index) {
        return tensors.get(index);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSequence s && elementType == s.elementType && tensors.equals(s.tensors);
    }

    @Override
    public int hashCode() {
        return Objects.hash(elementType, tensors);
    }

    /** {@code sequence(float32)[[5], [2,3]]}: the element type and each tensor's shape. */
    @Override
    public String toString() {
        StringBuilder sb =
                new StringBuilder("sequence(").append(elementType.typeName()).append(")[");
        for (int i = 0; i < tensors.size(); i++) {
            sb.append(i == 0 ? "" : ", ")
                    .append(Tensor.shapeString(tensors.get(i).shape()));
        }
        return sb.append(']').toString();
    }
}
