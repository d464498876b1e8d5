package dev.forge.runtime;

/**
 * One value a model returns ({@link Model#runValues}): a {@link Tensor}, a {@link TensorSequence} (ONNX
 * {@code sequence(tensor)}) or an {@link OptionalValue} ({@code optional(tensor)} or {@code
 * optional(sequence(tensor))}). Values are immutable.
 *
 * <pre>{@code
 * Map<String, Value> out = model.runValues(Map.of("x", x));
 * List<Tensor> parts = out.get("parts").asSequence().tensors();
 * Optional<Value> maybe = out.get("maybe").asOptional().value();
 * }</pre>
 */
public sealed interface Value permits Tensor, TensorSequence, OptionalValue {
    /**
     * What this value is.
     *
     * @return the kind
     */
    ValueKind kind();

    /**
     * This value as a tensor.
     *
     * @return this tensor
     * @throws IllegalStateException if it is not a tensor
     */
    default Tensor asTensor() {
        if (this instanceof Tensor t) {
            return t;
        }
        throw new IllegalStateException("the value is a " + kind() + ", not a tensor: " + this);
    }

    /**
     * This value as a sequence of tensors.
     *
     * @return this sequence
     * @throws IllegalStateException if it is not a sequence
     */
    default TensorSequence asSequence() {
        if (this instanceof TensorSequence s) {
            return s;
        }
        throw new IllegalStateException("the value is a " + kind() + ", not a sequence: " + this);
    }

    /**
     * This value as an optional.
     *
     * @return this optional
     * @throws IllegalStateException if it is not an optional
     */
    default OptionalValue asOptional() {
        if (this instanceof OptionalValue o) {
            return o;
        }
        throw new IllegalStateException("the value is a " + kind() + ", not an optional: " + this);
    }
}
