package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Attribute;

/**
 * One entry of an operator's attribute schema: the ONNX attribute name, its type, whether it is
 * required, and its default (null when the ONNX specification gives none or the default depends on the
 * inputs, e.g. Conv's kernel_shape).
 *
 * @param name the attribute name, e.g. {@code strides}
 * @param kind the attribute's ONNX type
 * @param required whether the node must give it
 * @param defaultValue the value an absent attribute means, or null
 */
public record AttributeSpec(String name, Kind kind, boolean required, Attribute defaultValue) {
    /** The ONNX attribute types, with the {@link Attribute} variant that holds each. */
    public enum Kind {
        INT("an int"),
        FLOAT("a float"),
        STRING("a string"),
        INTS("a list of ints"),
        FLOATS("a list of floats"),
        STRINGS("a list of strings"),
        TENSOR("a tensor"),
        SPARSE_TENSOR("a sparse tensor");

        private final String description;

        Kind(String description) {
            this.description = description;
        }

        /** How errors name the type, e.g. "a list of ints". */
        public String description() {
            return description;
        }

        /**
         * True if {@code a} holds a value of this type. A tensor whose element type Forge does not read is
         * kept {@link Attribute.Opaque} by the reader, so opaque values pass as tensors and sparse tensors.
         */
        public boolean accepts(Attribute a) {
            return switch (this) {
                case INT -> a instanceof Attribute.Int;
                case FLOAT -> a instanceof Attribute.Float;
                case STRING -> a instanceof Attribute.Str;
                case INTS -> a instanceof Attribute.Ints;
                case FLOATS -> a instanceof Attribute.Floats;
                case STRINGS -> a instanceof Attribute.Strs;
                case TENSOR -> a instanceof Attribute.TensorValue || a instanceof Attribute.Opaque;
                case SPARSE_TENSOR -> a instanceof Attribute.Opaque;
            };
        }

        /** The type of an attribute value, for messages ("an int 1"). */
        static String describe(Attribute a) {
            String kind;
            if (a instanceof Attribute.Int) {
                kind = INT.description;
            } else if (a instanceof Attribute.Float) {
                kind = FLOAT.description;
            } else if (a instanceof Attribute.Str) {
                kind = STRING.description;
            } else if (a instanceof Attribute.Ints) {
                kind = INTS.description;
            } else if (a instanceof Attribute.Floats) {
                kind = FLOATS.description;
            } else if (a instanceof Attribute.Strs) {
                kind = STRINGS.description;
            } else if (a instanceof Attribute.TensorValue) {
                kind = TENSOR.description;
            } else {
                kind = "an uninterpreted value (graph, sparse tensor or type)";
            }
            return a instanceof Attribute.TensorValue || a instanceof Attribute.Opaque ? kind : kind + " " + a;
        }
    }
}
