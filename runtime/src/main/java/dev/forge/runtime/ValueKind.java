package dev.forge.runtime;

/**
 * What an ONNX graph value is: a tensor, or one of the containers of tensors that ONNX Runtime runs (ONNX
 * {@code sequence_type} and {@code optional_type}). The {@link TensorSpec} of a container describes the
 * tensors inside it; the {@link Value} of a run is a {@link Tensor}, a {@link TensorSequence} or an {@link
 * OptionalValue}.
 *
 * <p>ONNX Runtime sequences hold tensors only and optionals hold a tensor or a sequence of tensors, so these
 * four kinds are all a model's outputs can be; maps, sparse tensors and deeper nestings are refused at load.
 */
public enum ValueKind {
    /** A tensor: ONNX {@code tensor_type}. */
    TENSOR("tensor"),
    /** A sequence of tensors of one element type, any length and shapes: {@code sequence(tensor)}. */
    SEQUENCE("sequence"),
    /** A tensor or nothing: {@code optional(tensor)}. */
    OPTIONAL_TENSOR("optional"),
    /** A sequence of tensors or nothing: {@code optional(sequence(tensor))}. */
    OPTIONAL_SEQUENCE("optional(sequence");

    private final String prefix;

    ValueKind(String prefix) {
        this.prefix = prefix;
    }

    /**
     * Whether a value of this kind may be absent.
     *
     * @return true for the optional kinds
     */
    public boolean isOptional() {
        return this == OPTIONAL_TENSOR || this == OPTIONAL_SEQUENCE;
    }

    /**
     * Whether a value of this kind holds (when present) a sequence.
     *
     * @return true for {@link #SEQUENCE} and {@link #OPTIONAL_SEQUENCE}
     */
    public boolean isSequence() {
        return this == SEQUENCE || this == OPTIONAL_SEQUENCE;
    }

    /**
     * The ONNX type of a value of this kind around a tensor type: {@code tensor} unchanged, {@code
     * sequence(tensor)}, {@code optional(tensor)}, {@code optional(sequence(tensor))}.
     *
     * @param tensor the tensor type as text, such as {@code float32[5]}
     * @return the type as text
     */
    public String describe(String tensor) {
        switch (this) {
            case TENSOR:
                return tensor;
            case OPTIONAL_SEQUENCE:
                return prefix + "(" + tensor + "))";
            default:
                return prefix + "(" + tensor + ")";
        }
    }
}
