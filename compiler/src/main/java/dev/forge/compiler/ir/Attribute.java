package dev.forge.compiler.ir;

import dev.forge.runtime.Tensor;
import java.util.Arrays;
import java.util.List;

/** A typed node attribute, one variant per ONNX attribute type Forge uses. */
public sealed interface Attribute {
    /** A 64-bit integer attribute. */
    record Int(long value) implements Attribute {
        @Override
        public String toString() {
            return Long.toString(value);
        }
    }

    /** A float attribute. */
    record Float(float value) implements Attribute {
        @Override
        public String toString() {
            return java.lang.Float.toString(value);
        }
    }

    /** A string attribute. */
    record Str(String value) implements Attribute {
        @Override
        public String toString() {
            return '"' + value + '"';
        }
    }

    /** A list of integers. */
    record Ints(long[] values) implements Attribute {
        public Ints {
            values = values.clone();
        }

        @Override
        public long[] values() {
            return values.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Ints i && Arrays.equals(i.values, values);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            return Arrays.toString(values);
        }
    }

    /** A list of floats. */
    record Floats(float[] values) implements Attribute {
        public Floats {
            values = values.clone();
        }

        @Override
        public float[] values() {
            return values.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Floats f && Arrays.equals(f.values, values);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            return Arrays.toString(values);
        }
    }

    /** A list of strings. */
    record Strs(List<String> values) implements Attribute {
        public Strs {
            values = List.copyOf(values);
        }
    }

    /** A constant tensor (used by {@code Constant} and {@code ConstantOfShape}). */
    record TensorValue(Tensor value) implements Attribute {}

    /**
     * An attribute Forge does not interpret (a graph, sparse tensor or type), kept as the serialized
     * {@code AttributeProto} so reading and writing a model loses nothing.
     */
    record Opaque(byte[] proto) implements Attribute {
        public Opaque {
            proto = proto.clone();
        }

        @Override
        public byte[] proto() {
            return proto.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Opaque p && Arrays.equals(p.proto, proto);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(proto);
        }
    }
}
