package dev.forge.compiler.ir;

import java.util.Objects;

/**
 * A named, typed graph input or output.
 *
 * @param name value name
 * @param type element type and shape
 */
public record ValueInfo(String name, ValueType type) {
    /** Creates a value info; both parts are required. */
    public ValueInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
    }

    @Override
    public String toString() {
        return name + ": " + type;
    }
}
