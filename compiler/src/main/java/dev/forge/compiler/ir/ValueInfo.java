package dev.forge.compiler.ir;

import java.util.Objects;

/**
 * A named, typed graph input or output.
 *
 * @param name value name
 * @param irType its type: a tensor type for everything the builder and training make, a sequence or an
 *     optional only in imported models
 */
public record ValueInfo(String name, IrType irType) {
    /** Creates a value info; both parts are required. */
    public ValueInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(irType, "type");
    }

    /** True if the value is a tensor. */
    public boolean isTensor() {
        return irType instanceof ValueType;
    }

    /**
     * The tensor type (element type and shape).
     *
     * @throws IllegalStateException if the value is a sequence or an optional: code that works on tensors
     *     (training, quantization, the builder's passes) cannot use it
     */
    public ValueType type() {
        if (irType instanceof ValueType t) {
            return t;
        }
        throw new IllegalStateException("value '" + name + "' is a " + irType
                + ", not a tensor; only tensor inputs and outputs can be used here (sequences and optionals are"
                + " read and written back, and run in the runtime's Model.runValues)");
    }

    @Override
    public String toString() {
        return name + ": " + irType;
    }
}
