package dev.forge.runtime;

/**
 * The field numbers of onnx.proto that {@link ModelValidator} reads, named as in onnx.proto (message
 * {@code ModelProto}, field {@code graph = 7} is {@code ModelProto.GRAPH}), and the element types of
 * {@code TensorProto.DataType}. The runtime has no protobuf dependency, so these are written out here
 * once instead of appearing as bare numbers in the reader.
 */
final class OnnxProto {
    private OnnxProto() {}

    static final class ModelProto {
        static final int IR_VERSION = 1;
        static final int PRODUCER_NAME = 2;
        static final int PRODUCER_VERSION = 3;
        static final int DOMAIN = 4;
        static final int MODEL_VERSION = 5;
        static final int DOC_STRING = 6;
        static final int GRAPH = 7;
        static final int OPSET_IMPORT = 8;
        static final int METADATA_PROPS = 14;
        static final int TRAINING_INFO = 20;
        static final int FUNCTIONS = 25;
        static final int CONFIGURATION = 26;

        private ModelProto() {}
    }

    static final class OperatorSetIdProto {
        static final int DOMAIN = 1;
        static final int VERSION = 2;

        private OperatorSetIdProto() {}
    }

    static final class TrainingInfoProto {
        static final int INITIALIZATION = 1;
        static final int ALGORITHM = 2;

        private TrainingInfoProto() {}
    }

    static final class GraphProto {
        static final int NODE = 1;
        static final int NAME = 2;
        static final int INITIALIZER = 5;
        static final int DOC_STRING = 10;
        static final int INPUT = 11;
        static final int OUTPUT = 12;
        static final int VALUE_INFO = 13;
        static final int QUANTIZATION_ANNOTATION = 14;
        static final int SPARSE_INITIALIZER = 15;
        static final int METADATA_PROPS = 16;

        private GraphProto() {}
    }

    static final class NodeProto {
        static final int INPUT = 1;
        static final int OUTPUT = 2;
        static final int NAME = 3;
        static final int OP_TYPE = 4;
        static final int ATTRIBUTE = 5;
        static final int DOC_STRING = 6;
        static final int DOMAIN = 7;
        static final int OVERLOAD = 8;
        static final int METADATA_PROPS = 9;
        static final int DEVICE_CONFIGURATIONS = 10;

        private NodeProto() {}
    }

    static final class AttributeProto {
        static final int NAME = 1;
        static final int F = 2;
        static final int I = 3;
        static final int S = 4;
        static final int T = 5;
        static final int G = 6;
        static final int FLOATS = 7;
        static final int INTS = 8;
        static final int STRINGS = 9;
        static final int TENSORS = 10;
        static final int GRAPHS = 11;
        static final int DOC_STRING = 13;
        static final int TP = 14;
        static final int TYPE_PROTOS = 15;
        static final int TYPE = 20;
        static final int REF_ATTR_NAME = 21;
        static final int SPARSE_TENSOR = 22;
        static final int SPARSE_TENSORS = 23;

        private AttributeProto() {}

        /** {@code AttributeProto.AttributeType}: which field holds the value. */
        static final class AttributeType {
            static final long FLOAT = 1;
            static final long INT = 2;
            static final long STRING = 3;
            static final long TENSOR = 4;
            static final long GRAPH = 5;
            static final long FLOATS = 6;
            static final long INTS = 7;

            private AttributeType() {}
        }
    }

    static final class TensorProto {
        static final int DIMS = 1;
        static final int DATA_TYPE = 2;
        static final int SEGMENT = 3;
        static final int FLOAT_DATA = 4;
        static final int INT32_DATA = 5;
        static final int STRING_DATA = 6;
        static final int INT64_DATA = 7;
        static final int NAME = 8;
        static final int RAW_DATA = 9;
        static final int DOUBLE_DATA = 10;
        static final int UINT64_DATA = 11;
        static final int DOC_STRING = 12;
        static final int EXTERNAL_DATA = 13;
        static final int DATA_LOCATION = 14;
        static final int METADATA_PROPS = 16;

        /** {@code TensorProto.DataLocation}. */
        static final int LOCATION_DEFAULT = 0;

        static final int LOCATION_EXTERNAL = 1;

        private TensorProto() {}
    }

    static final class StringStringEntryProto {
        static final int KEY = 1;
        static final int VALUE = 2;

        private StringStringEntryProto() {}
    }

    static final class ValueInfoProto {
        static final int NAME = 1;
        static final int TYPE = 2;
        static final int DOC_STRING = 3;
        static final int METADATA_PROPS = 4;

        private ValueInfoProto() {}
    }

    static final class TypeProto {
        static final int TENSOR_TYPE = 1;
        static final int SEQUENCE_TYPE = 4;
        static final int MAP_TYPE = 5;
        static final int SPARSE_TENSOR_TYPE = 8;
        static final int OPTIONAL_TYPE = 9;

        private TypeProto() {}

        /** {@code TypeProto.Tensor} (and {@code TypeProto.SparseTensor}, numbered alike). */
        static final class Tensor {
            static final int ELEM_TYPE = 1;
            static final int SHAPE = 2;

            private Tensor() {}
        }

        /** {@code TypeProto.Sequence} and {@code TypeProto.Optional}. */
        static final class Sequence {
            static final int ELEM_TYPE = 1;

            private Sequence() {}
        }

        static final class Map {
            static final int KEY_TYPE = 1;
            static final int VALUE_TYPE = 2;

            private Map() {}
        }
    }

    static final class TensorShapeProto {
        static final int DIM = 1;

        private TensorShapeProto() {}

        static final class Dimension {
            static final int DIM_VALUE = 1;
            static final int DIM_PARAM = 2;

            private Dimension() {}
        }
    }

    static final class FunctionProto {
        static final int NAME = 1;
        static final int INPUT = 4;
        static final int OUTPUT = 5;
        static final int ATTRIBUTE = 6;
        static final int NODE = 7;
        static final int DOC_STRING = 8;
        static final int OPSET_IMPORT = 9;
        static final int DOMAIN = 10;
        static final int ATTRIBUTE_PROTO = 11;
        static final int VALUE_INFO = 12;
        static final int OVERLOAD = 13;
        static final int METADATA_PROPS = 14;

        private FunctionProto() {}
    }

    /** {@code TensorProto.DataType}: the element types, their names and sizes. */
    static final class DataType {
        static final int UNDEFINED = 0;
        static final int FLOAT = 1;
        static final int UINT8 = 2;
        static final int INT8 = 3;
        static final int UINT16 = 4;
        static final int INT16 = 5;
        static final int INT32 = 6;
        static final int INT64 = 7;
        static final int STRING = 8;
        static final int BOOL = 9;
        static final int FLOAT16 = 10;
        static final int DOUBLE = 11;
        static final int UINT32 = 12;
        static final int UINT64 = 13;
        static final int COMPLEX64 = 14;
        static final int COMPLEX128 = 15;
        static final int BFLOAT16 = 16;

        /** Bits per element by type number, 0 = unknown; STRING has no fixed size. Past 16: float8/4, int4/2. */
        private static final int[] BITS = {
            0, 32, 8, 8, 16, 16, 32, 64, 0, 8, 16, 64, 32, 64, 64, 128, 16, 8, 8, 8, 8, 4, 4, 4, 8, 2, 2
        };

        private static final String[] NAMES = {
            "undefined",
            "float",
            "uint8",
            "int8",
            "uint16",
            "int16",
            "int32",
            "int64",
            "string",
            "bool",
            "float16",
            "double",
            "uint32",
            "uint64",
            "complex64",
            "complex128",
            "bfloat16",
            "float8e4m3fn",
            "float8e4m3fnuz",
            "float8e5m2",
            "float8e5m2fnuz",
            "uint4",
            "int4",
            "float4e2m1",
            "float8e8m0",
            "uint2",
            "int2"
        };

        private static final DType[] DTYPES = DType.values();

        private DataType() {}

        static boolean known(long t) {
            return t == STRING || (t > 0 && t < BITS.length && BITS[(int) t] > 0);
        }

        static String name(long t) {
            return t >= 0 && t < NAMES.length ? NAMES[(int) t] : "type " + t;
        }

        /** Bits per element of a known type (a string counts 8, its least). */
        static int bits(int t) {
            return t == STRING ? 8 : BITS[t];
        }

        /** Bytes for {@code count} elements (sub-byte types are packed), or -1 on overflow. */
        static long bytesFor(long count, int type) {
            int bits = bits(type);
            if (count > Long.MAX_VALUE / bits) {
                return -1;
            }
            return (count * bits + 7) / 8;
        }

        /** The TensorProto field that holds typed values of this type (float_data, int64_data, ...). */
        static int typedField(int type) {
            switch (type) {
                case FLOAT:
                case COMPLEX64:
                    return TensorProto.FLOAT_DATA;
                case INT64:
                    return TensorProto.INT64_DATA;
                case STRING:
                    return TensorProto.STRING_DATA;
                case DOUBLE:
                case COMPLEX128:
                    return TensorProto.DOUBLE_DATA;
                case UINT32:
                case UINT64:
                    return TensorProto.UINT64_DATA;
                default:
                    return TensorProto
                            .INT32_DATA; // every other type, packed as int32 (sub-byte ones two or more per value)
            }
        }

        /** How many typed values hold {@code count} elements (complex types take two; sub-byte types pack). */
        static long typedValuesFor(long count, int type) {
            if (type == COMPLEX64 || type == COMPLEX128) {
                return count > Long.MAX_VALUE / 2 ? -1 : 2 * count;
            }
            if (type != STRING && BITS[type] < 8) {
                return bytesFor(count, type);
            }
            return count;
        }

        /** The runtime's {@link DType} of an element type, or null when it has none. */
        static DType dtype(long t) {
            for (DType d : DTYPES) {
                if (d.onnxElementType() == t) {
                    return d;
                }
            }
            return null;
        }
    }
}
