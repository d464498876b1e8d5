package dev.forge.compiler.onnx;

import dev.forge.runtime.DType;

/** Maps between ONNX {@code TensorProto.DataType} codes and Forge element types. */
public final class OnnxTypes {
    private OnnxTypes() {}

    /** The ONNX data type code of an element type. */
    public static int toOnnx(DType t) {
        return switch (t) {
            case FLOAT32 -> 1;
            case UINT8 -> 2;
            case INT8 -> 3;
            case INT32 -> 6;
            case INT64 -> 7;
            case BOOL -> 9;
            case FLOAT64 -> 11;
        };
    }

    /** The element type of an ONNX data type code, or null if Forge does not support it. */
    public static DType fromOnnx(int code) {
        return switch (code) {
            case 1 -> DType.FLOAT32;
            case 2 -> DType.UINT8;
            case 3 -> DType.INT8;
            case 6 -> DType.INT32;
            case 7 -> DType.INT64;
            case 9 -> DType.BOOL;
            case 11 -> DType.FLOAT64;
            default -> null;
        };
    }

    /** A readable name of an ONNX data type code, for error messages. */
    public static String name(int code) {
        String[] names = {
            "UNDEFINED",
            "FLOAT",
            "UINT8",
            "INT8",
            "UINT16",
            "INT16",
            "INT32",
            "INT64",
            "STRING",
            "BOOL",
            "FLOAT16",
            "DOUBLE",
            "UINT32",
            "UINT64",
            "COMPLEX64",
            "COMPLEX128",
            "BFLOAT16"
        };
        return code >= 0 && code < names.length ? names[code] : "type " + code;
    }
}
