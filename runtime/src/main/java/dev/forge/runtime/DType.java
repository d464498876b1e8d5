package dev.forge.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.TensorInfo.OnnxTensorType;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The element types a {@link Tensor} can hold, and their ONNX, ONNX Runtime and NumPy names.
 *
 * <p>This is the closed set of element types a tensor can hold in Forge: a model whose inputs or outputs
 * use another type (complex, float8, ...) is refused at load time with a message listing these.
 *
 * <p>ONNX Runtime's Java API (1.29) has no tensor type for the unsigned 16-, 32- and 64-bit integers
 * ({@code OnnxJavaType} lacks them, and {@code OnnxTensor.createTensor} has no overload that makes one):
 * {@link #toOnnxJavaType()} is null for them, so the runtime refuses a model <em>input</em> of those types
 * with a message saying so, while outputs of those types are read as the raw bytes ONNX Runtime returns.
 * Tensors of those types are still made, read and written by {@link Tensor}, {@link Npy} and the
 * compiler's ONNX reader and writer.
 *
 * <p>{@link #STRING} holds variable-length UTF-8 text; its {@link #byteSize()} is 0 and its values live
 * in a {@code String[]} ({@link Tensor#ofStrings}), not in the byte buffer.
 *
 * <p>The 16-bit floats are held as raw bits: {@link HalfFloats} converts them. bfloat16 has no NumPy
 * dtype, so {@link #npyDescr()} is null for it and {@link Npy#write} stores it widened to {@code <f4},
 * which is exact.
 */
public enum DType {
    /** IEEE 754 single precision; ONNX {@code FLOAT} (1), NumPy {@code <f4}. */
    FLOAT32(4, "<f4", 1, OnnxJavaType.FLOAT, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT),
    /** IEEE 754 double precision; ONNX {@code DOUBLE} (11), NumPy {@code <f8}. */
    FLOAT64(8, "<f8", 11, OnnxJavaType.DOUBLE, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE),
    /** Signed 64-bit integer; ONNX {@code INT64} (7), NumPy {@code <i8}. */
    INT64(8, "<i8", 7, OnnxJavaType.INT64, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64),
    /** Signed 32-bit integer; ONNX {@code INT32} (6), NumPy {@code <i4}. */
    INT32(4, "<i4", 6, OnnxJavaType.INT32, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32),
    /** Unsigned 8-bit integer; ONNX {@code UINT8} (2), NumPy {@code |u1}. */
    UINT8(1, "|u1", 2, OnnxJavaType.UINT8, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8),
    /** Signed 8-bit integer; ONNX {@code INT8} (3), NumPy {@code |i1}. */
    INT8(1, "|i1", 3, OnnxJavaType.INT8, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8),
    /** Boolean stored as one byte, 0 or 1; ONNX {@code BOOL} (9), NumPy {@code |b1}. */
    BOOL(1, "|b1", 9, OnnxJavaType.BOOL, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL),
    /** IEEE 754 half precision (binary16); ONNX {@code FLOAT16} (10), NumPy {@code <f2}. */
    FLOAT16(2, "<f2", 10, OnnxJavaType.FLOAT16, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16),
    /** bfloat16 (the upper 16 bits of a float32); ONNX {@code BFLOAT16} (16), no NumPy dtype. */
    BFLOAT16(2, null, 16, OnnxJavaType.BFLOAT16, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16),
    /** Signed 16-bit integer; ONNX {@code INT16} (5), NumPy {@code <i2}. */
    INT16(2, "<i2", 5, OnnxJavaType.INT16, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16),
    /** Unsigned 16-bit integer; ONNX {@code UINT16} (4), NumPy {@code <u2}; no ONNX Runtime Java type. */
    UINT16(2, "<u2", 4, null, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16),
    /** Unsigned 32-bit integer; ONNX {@code UINT32} (12), NumPy {@code <u4}; no ONNX Runtime Java type. */
    UINT32(4, "<u4", 12, null, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32),
    /** Unsigned 64-bit integer; ONNX {@code UINT64} (13), NumPy {@code <u8}; no ONNX Runtime Java type. */
    UINT64(8, "<u8", 13, null, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64),
    /**
     * Text, one UTF-8 string per element; ONNX {@code STRING} (8). NumPy's fixed-width {@code <U<n>}
     * (UTF-32) is how {@link Npy} stores it; {@link #npyDescr()} gives the prefix {@code <U}.
     */
    STRING(0, "<U", 8, OnnxJavaType.STRING, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING);

    private final int byteSize;
    private final String npyDescr;
    private final int onnxElemType;
    private final OnnxJavaType javaType;
    private final OnnxTensorType tensorType;

    DType(int byteSize, String npyDescr, int onnxElemType, OnnxJavaType javaType, OnnxTensorType tensorType) {
        this.byteSize = byteSize;
        this.npyDescr = npyDescr;
        this.onnxElemType = onnxElemType;
        this.javaType = javaType;
        this.tensorType = tensorType;
    }

    /**
     * Size of one element in bytes.
     *
     * @return 1, 2, 4 or 8; 0 for {@link #STRING}, whose elements have no fixed size
     */
    public int byteSize() {
        return byteSize;
    }

    /**
     * The NumPy dtype descriptor that {@link Npy#write} puts in a {@code .npy} header, e.g. {@code
     * "<f4"} for float32 and {@code "|u1"} for uint8.
     *
     * @return the little-endian (or byte-order-free) descriptor, or null for bfloat16, which NumPy has no
     *     dtype for (it is written as {@code <f4}); for {@link #STRING} the prefix {@code <U}, to which a
     *     file adds its width in characters
     */
    public String npyDescr() {
        return npyDescr;
    }

    /**
     * The lower-case name used in messages and in {@link TensorSpec#toString()}: {@code float32},
     * {@code int64}, {@code bool}, ...
     *
     * @return the type name
     */
    public String typeName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The ONNX {@code TensorProto.DataType} number of this type (FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4,
     * INT16 = 5, INT32 = 6, INT64 = 7, STRING = 8, BOOL = 9, FLOAT16 = 10, DOUBLE = 11, UINT32 = 12, UINT64 =
     * 13, BFLOAT16 = 16).
     *
     * @return the ONNX element type
     */
    public int onnxElementType() {
        return onnxElemType;
    }

    /**
     * The ONNX Runtime Java type used to build an {@code OnnxTensor} of this type.
     *
     * @return the ORT Java type, or null for uint16, uint32 and uint64, which ONNX Runtime's Java API has
     *     no type for (see the class comment)
     */
    public OnnxJavaType toOnnxJavaType() {
        return javaType;
    }

    /**
     * True for the integer types, signed and unsigned (bool, float and string are not).
     *
     * @return whether this is an integer type
     */
    public boolean isInteger() {
        return !isFloatingPoint() && this != BOOL && this != STRING;
    }

    /**
     * True for uint16, uint32 and uint64: types ONNX Runtime runs but its Java API cannot feed.
     *
     * @return whether ONNX Runtime's Java API lacks this type
     */
    public boolean lacksOnnxJavaType() {
        return javaType == null;
    }

    /**
     * The ONNX Runtime tensor element type of this type.
     *
     * @return the ORT tensor type
     */
    public OnnxTensorType toOnnxTensorType() {
        return tensorType;
    }

    /**
     * True for FLOAT32, FLOAT64, FLOAT16 and BFLOAT16.
     *
     * @return whether this is a floating-point type
     */
    public boolean isFloatingPoint() {
        return this == FLOAT32 || this == FLOAT64 || this == FLOAT16 || this == BFLOAT16;
    }

    /**
     * The DType of an ONNX Runtime tensor element type.
     *
     * @param type the ORT element type
     * @return the matching DType
     * @throws IllegalArgumentException if the type has no DType (complex, float8, ...), listing the
     *     supported ones
     */
    public static DType fromOnnxTensorType(OnnxTensorType type) {
        for (DType d : values()) {
            if (d.tensorType == type) {
                return d;
            }
        }
        throw new IllegalArgumentException(
                "Unsupported tensor element type " + ortTypeName(type) + ", expected one of " + supportedNames());
    }

    /**
     * The DType of an ONNX Runtime Java type.
     *
     * @param type the ORT Java type
     * @return the matching DType
     * @throws IllegalArgumentException if the type has no DType, listing the supported ones
     */
    public static DType fromOnnxJavaType(OnnxJavaType type) {
        for (DType d : values()) {
            if (d.javaType == type && type != null) {
                return d;
            }
        }
        throw new IllegalArgumentException(
                "Unsupported ONNX Runtime Java type " + type + ", expected one of " + supportedNames());
    }

    /**
     * The DType of an ONNX {@code TensorProto.DataType} number.
     *
     * @param elemType the ONNX element type number
     * @return the matching DType
     * @throws IllegalArgumentException if the number has no DType, listing the supported ones
     */
    public static DType fromOnnxElementType(int elemType) {
        for (DType d : values()) {
            if (d.onnxElemType == elemType) {
                return d;
            }
        }
        throw new IllegalArgumentException(
                "Unsupported ONNX element type " + elemType + ", expected one of " + supportedNames());
    }

    /**
     * The lower-case names of every DType, for messages: {@code [float32, float64, int64, ...]}.
     *
     * @return the names in declaration order
     */
    public static List<String> supportedNames() {
        return Arrays.stream(values()).map(DType::typeName).collect(Collectors.toList());
    }

    /** "ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16" reads better as "float16". */
    static String ortTypeName(OnnxTensorType type) {
        if (type == null) {
            return "null";
        }
        String n = type.name();
        String prefix = "ONNX_TENSOR_ELEMENT_DATA_TYPE_";
        return (n.startsWith(prefix) ? n.substring(prefix.length()) : n).toLowerCase(Locale.ROOT);
    }
}
