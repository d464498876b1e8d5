package dev.forge.compiler.onnx;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.IrType;
import dev.forge.compiler.ir.OptionalType;
import dev.forge.compiler.ir.SequenceType;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * Maps between ONNX {@code TensorProto.DataType} codes and Forge element types, and between ONNX's
 * {@code TypeProto} and the IR's {@link IrType}.
 */
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

    /**
     * The IR type of a serialized ONNX {@code TypeProto}: a tensor, or a sequence or optional of one
     * (nested).
     *
     * @param typeProto the type's bytes
     * @param what names the value in errors, e.g. {@code model.onnx: value 'x'}
     * @throws OnnxFormatException for a map, a sparse tensor or an unset type (naming it and what is
     *     supported), an element type Forge does not carry, or a negative dimension
     */
    public static IrType irType(byte[] typeProto, String what) {
        try {
            return fromProto(Onnx.TypeProto.parseFrom(typeProto), what);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new OnnxFormatException(what + ": not a valid TypeProto (" + e.getMessage() + ")", e);
        }
    }

    /** Like {@link #irType(byte[], String)}, on a parsed {@code TypeProto}. */
    static IrType fromProto(Onnx.TypeProto tp, String what) {
        return switch (tp.getValueCase()) {
            case TENSOR_TYPE -> tensorType(tp.getTensorType(), what);
            case SEQUENCE_TYPE -> {
                if (!tp.getSequenceType().hasElemType()) {
                    throw new OnnxFormatException(what + " is a sequence_type without an elem_type");
                }
                yield new SequenceType(fromProto(tp.getSequenceType().getElemType(), what));
            }
            case OPTIONAL_TYPE -> {
                if (!tp.getOptionalType().hasElemType()) {
                    throw new OnnxFormatException(what + " is an optional_type without an elem_type");
                }
                yield new OptionalType(fromProto(tp.getOptionalType().getElemType(), what));
            }
            case MAP_TYPE ->
                throw new OnnxFormatException(what + " is a map_type (map from "
                        + name(tp.getMapType().getKeyType()).toLowerCase(java.util.Locale.ROOT)
                        + "); the compiler carries tensor, sequence_type and"
                        + " optional_type values, not maps");
            case SPARSE_TENSOR_TYPE ->
                throw new OnnxFormatException(what + " is a sparse_tensor_type; the compiler carries tensor,"
                        + " sequence_type and optional_type values, not sparse tensors");
            default -> throw new OnnxFormatException(what + " has no type (TypeProto " + tp.getValueCase() + ")");
        };
    }

    private static ValueType tensorType(Onnx.TypeProto.Tensor tt, String what) {
        DType dtype = fromOnnx(tt.getElemType());
        if (dtype == null) {
            throw new OnnxFormatException(what + " has element type " + name(tt.getElemType())
                    + ", which Forge does not support (supported: " + supportedNames() + ")");
        }
        if (!tt.hasShape()) {
            return new ValueType(dtype, null);
        }
        List<Dim> dims = new ArrayList<>();
        for (Onnx.TensorShapeProto.Dimension d : tt.getShape().getDimList()) {
            if (d.hasDimValue()) {
                if (d.getDimValue() < 0) {
                    throw new OnnxFormatException(what + " has a negative dimension " + d.getDimValue());
                }
                dims.add(Dim.of(d.getDimValue()));
            } else if (d.hasDimParam() && !d.getDimParam().isEmpty()) {
                dims.add(Dim.symbol(d.getDimParam()));
            } else {
                dims.add(Dim.unknown());
            }
        }
        return new ValueType(dtype, Shape.of(dims));
    }

    /** The ONNX {@code TypeProto} of an IR type (the inverse of {@link #fromProto}). */
    static Onnx.TypeProto toProto(IrType type) {
        Onnx.TypeProto.Builder b = Onnx.TypeProto.newBuilder();
        if (type instanceof SequenceType s) {
            return b.setSequenceType(Onnx.TypeProto.Sequence.newBuilder().setElemType(toProto(s.element())))
                    .build();
        }
        if (type instanceof OptionalType o) {
            return b.setOptionalType(Onnx.TypeProto.Optional.newBuilder().setElemType(toProto(o.element())))
                    .build();
        }
        ValueType t = (ValueType) type;
        Onnx.TypeProto.Tensor.Builder tt = Onnx.TypeProto.Tensor.newBuilder().setElemType(toOnnx(t.dtype()));
        if (t.shape() != null) {
            Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
            for (Dim d : t.shape().dims()) {
                Onnx.TensorShapeProto.Dimension.Builder dim = Onnx.TensorShapeProto.Dimension.newBuilder();
                if (d.isFixed()) {
                    dim.setDimValue(d.value());
                } else if (d.isSymbolic()) {
                    dim.setDimParam(d.symbol());
                }
                shape.addDim(dim);
            }
            tt.setShape(shape);
        }
        return b.setTensorType(tt).build();
    }
}
