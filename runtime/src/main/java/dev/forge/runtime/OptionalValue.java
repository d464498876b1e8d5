package dev.forge.runtime;

import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;

/**
 * An ONNX {@code optional(tensor)} or {@code optional(sequence(tensor))}: a {@link Tensor} or {@link
 * TensorSequence}, or nothing. Its {@link #kind()} says which it may hold even when it is empty. Immutable.
 */
public final class OptionalValue implements Value {
    private final ValueKind kind;
    private final Value value;

    private OptionalValue(ValueKind kind, Value value) {
        this.kind = kind;
        this.value = value;
    }

    /**
     * An optional holding a tensor or a sequence.
     *
     * @param value the tensor or sequence
     * @return the optional, {@link ValueKind#OPTIONAL_TENSOR} or {@link ValueKind#OPTIONAL_SEQUENCE}
     * @throws IllegalArgumentException if {@code value} is itself an optional (ONNX has no optional of one)
     */
    public static OptionalValue of(Value value) {
        Objects.requireNonNull(value, "value");
        if (value instanceof OptionalValue) {
            throw new IllegalArgumentException("an optional cannot hold an optional");
        }
        return new OptionalValue(
                value instanceof TensorSequence ? ValueKind.OPTIONAL_SEQUENCE : ValueKind.OPTIONAL_TENSOR, value);
    }

    /**
     * An empty optional.
     *
     * @param kind {@link ValueKind#OPTIONAL_TENSOR} or {@link ValueKind#OPTIONAL_SEQUENCE}
     * @return the empty optional
     * @throws IllegalArgumentException if {@code kind} is not an optional kind
     */
    public static OptionalValue empty(ValueKind kind) {
        Objects.requireNonNull(kind, "kind");
        if (!kind.isOptional()) {
            throw new IllegalArgumentException("an empty optional needs an optional kind, got " + kind);
        }
        return new OptionalValue(kind, null);
    }

    /**
     * {@link ValueKind#OPTIONAL_TENSOR} or {@link ValueKind#OPTIONAL_SEQUENCE}, as declared.
     *
     * @return the kind
     */
    @Override
    public ValueKind kind() {
        return kind;
    }

    /**
     * Whether the optional holds a value.
     *
     * @return true when present
     */
    public boolean isPresent() {
        return value != null;
    }

    /**
     * The value held, if any.
     *
     * @return the tensor or sequence, or empty
     */
    public Optional<Value> value() {
        return Optional.ofNullable(value);
    }

    /**
     * The value held.
     *
     * @return the tensor or sequence
     * @throws NoSuchElementException if the optional is empty
     */
    public Value get() {
        if (value == null) {
            throw new NoSuchElementException("the optional is empty");
        }
        return value;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OptionalValue v && kind == v.kind && Objects.equals(value, v.value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, value);
    }

    /** {@code optional(float32[5])}, {@code optional(empty)}. */
    @Override
    public String toString() {
        return "optional(" + (value == null ? "empty" : value.toString()) + ")";
    }
}
