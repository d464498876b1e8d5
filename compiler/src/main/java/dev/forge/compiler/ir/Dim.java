package dev.forge.compiler.ir;

import java.util.Objects;

/**
 * One dimension of a {@link Shape}: a fixed size, a named symbolic size (such as the batch {@code N}),
 * or unknown.
 */
public final class Dim {
    private static final Dim UNKNOWN = new Dim(-1, null);

    private final long value;
    private final String symbol;

    private Dim(long value, String symbol) {
        this.value = value;
        this.symbol = symbol;
    }

    /** A fixed dimension. */
    public static Dim of(long value) {
        if (value < 0) {
            throw new IllegalArgumentException("dimension must be >= 0, got " + value);
        }
        return new Dim(value, null);
    }

    /** A symbolic dimension with the given name, e.g. {@code "N"} for the batch. */
    public static Dim symbol(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("symbolic dimension needs a non-empty name");
        }
        return new Dim(-1, name);
    }

    /** A dimension nothing is known about. */
    public static Dim unknown() {
        return UNKNOWN;
    }

    /** True when the size is a known number. */
    public boolean isFixed() {
        return symbol == null && value >= 0;
    }

    /** True when the dimension is a named symbol. */
    public boolean isSymbolic() {
        return symbol != null;
    }

    /** The fixed size; fails for symbolic or unknown dimensions. */
    public long value() {
        if (!isFixed()) {
            throw new IllegalStateException("dimension " + this + " is not a fixed number");
        }
        return value;
    }

    /** The symbol's name, or null when the dimension is fixed or unknown. */
    public String symbol() {
        return symbol;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Dim d && d.value == value && Objects.equals(d.symbol, symbol);
    }

    @Override
    public int hashCode() {
        return Objects.hash(value, symbol);
    }

    @Override
    public String toString() {
        if (symbol != null) {
            return symbol;
        }
        return value >= 0 ? Long.toString(value) : "?";
    }
}
