package dev.forge.compiler.ir;

import java.util.Objects;

/**
 * A handle to a tensor value of a graph under construction: its name and type. Handles are created by
 * a graph builder and refuse to be used with another builder.
 */
public final class Value {
    private final String name;
    private final ValueType type;
    private final Object owner;

    /**
     * Creates a handle. Only builders create handles; {@code owner} is the builder that made it.
     *
     * @param name value name in the graph
     * @param type element type and shape
     * @param owner the creating builder
     */
    public Value(String name, ValueType type, Object owner) {
        this.name = Objects.requireNonNull(name, "name");
        this.type = Objects.requireNonNull(type, "type");
        this.owner = owner;
    }

    public String name() {
        return name;
    }

    public ValueType type() {
        return type;
    }

    /** The shape; never null for values made by the builder. */
    public Shape shape() {
        return type.shape();
    }

    /** The builder that created this handle. */
    public Object owner() {
        return owner;
    }

    @Override
    public String toString() {
        return name + ": " + type;
    }
}
