package dev.forge.compiler.onnx;

import dev.forge.runtime.DType;

/** Maps between ONNX {@code TensorProto.DataType} codes and Forge element types. */
public final class OnnxTypes {
    private OnnxTypes() {}

    /** The ONNX data type code of an element type. */
    public static int toOnnx(DType t) {
        return t.onnxElementType();
    }

    /** The element type of an ONNX data type code, or null if Forge does not support it. */
    public static DType fromOnnx(int code) {
        for (DType d : DType.values()) {
            if (d.onnxElementType() == code) {
                return d;
            }
        }
        return null;
    }

    /** The supported ONNX type names, for error messages: {@code float, double, ..., bfloat16, int16}. */
    public static String supportedNames() {
        StringBuilder sb = new StringBuilder();
        for (DType d : DType.values()) {
            sb.append(sb.length() == 0 ? "" : ", ")
                    .append(name(d.onnxElementType()).toLowerCase(java.util.Locale.ROOT));
        }
        return sb.toString();
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
