package dev.forge.testdata;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxTypes;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.DType;
import dev.forge.runtime.OptionalValue;
import dev.forge.runtime.Tensor;
import dev.forge.runtime.TensorSequence;
import dev.forge.runtime.Value;
import dev.forge.runtime.ValueKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The expected outputs of the ONNX node suite as Forge values. A tensor output is a {@code TensorProto}
 * file ({@link OnnxReader#readTensor}); a sequence is a {@code SequenceProto} and an optional an {@code
 * OptionalProto} (onnx-ml.proto), which the compiler's generated classes do not include, so they are read
 * here field by field, with the field numbers of onnx-ml.proto.
 */
final class ExpectedValues {
    /** {@code SequenceProto} and {@code OptionalProto} fields (numbered alike). */
    static final int ELEM_TYPE = 2;

    static final int TENSOR_VALUES = 3;
    static final int SEQUENCE_VALUE = 5;

    /** {@code SequenceProto.DataType} / {@code OptionalProto.DataType}. */
    static final int TENSOR = 1;

    static final int SEQUENCE = 3;

    private ExpectedValues() {}

    /** The value in {@code pb}, read as the output's declared kind says. */
    static Value read(Path pb, ValueKind kind) {
        if (kind == ValueKind.TENSOR) {
            return OnnxReader.readTensor(pb);
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(pb);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return kind.isOptional() ? optional(bytes, kind) : sequence(bytes);
    }

    /** A {@code SequenceProto} of tensors. */
    static TensorSequence sequence(byte[] bytes) {
        int elemType = -1;
        List<Tensor> tensors = new ArrayList<>();
        try {
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                switch (WireFormat.getTagFieldNumber(tag)) {
                    case ELEM_TYPE -> elemType = in.readInt32();
                    case TENSOR_VALUES -> tensors.add(tensor(Onnx.TensorProto.parseFrom(in.readBytes())));
                    default -> in.skipField(tag);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("not a SequenceProto: " + e.getMessage(), e);
        }
        if (elemType != TENSOR && !(elemType == -1 && tensors.isEmpty())) {
            throw new IllegalArgumentException("a SequenceProto of elem_type " + elemType + ", not of tensors");
        }
        if (tensors.isEmpty()) {
            // an empty SequenceProto does not say its element type; compare() checks only the length then
            return TensorSequence.of(DType.FLOAT32, List.of());
        }
        return TensorSequence.of(tensors.get(0).dtype(), tensors);
    }

    /** An {@code OptionalProto} of a tensor or a sequence of tensors. */
    static OptionalValue optional(byte[] bytes, ValueKind kind) {
        Value content = null;
        try {
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                switch (WireFormat.getTagFieldNumber(tag)) {
                    case TENSOR_VALUES -> content = tensor(Onnx.TensorProto.parseFrom(in.readBytes()));
                    case SEQUENCE_VALUE -> content = sequence(in.readBytes().toByteArray());
                    default -> in.skipField(tag);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("not an OptionalProto: " + e.getMessage(), e);
        }
        return content == null ? OptionalValue.empty(kind) : OptionalValue.of(content);
    }

    /**
     * A TensorProto as numpy_helper.from_array writes it: raw little-endian data, or string_data for
     * strings.
     */
    static Tensor tensor(Onnx.TensorProto t) {
        long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        DType dtype = OnnxTypes.fromOnnx(t.getDataType());
        if (dtype == null) {
            throw new IllegalArgumentException("element type " + OnnxTypes.name(t.getDataType()));
        }
        if (dtype == DType.STRING) {
            String[] s = new String[t.getStringDataCount()];
            for (int i = 0; i < s.length; i++) {
                s[i] = t.getStringData(i).toString(StandardCharsets.UTF_8);
            }
            return Tensor.ofStrings(s, shape);
        }
        if (!t.hasRawData() && t.getFloatDataCount() == 0) {
            ByteBuffer empty = ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
            return Tensor.wrap(dtype, empty, shape);
        }
        if (!t.hasRawData()) {
            float[] f = new float[t.getFloatDataCount()];
            for (int i = 0; i < f.length; i++) {
                f[i] = t.getFloatData(i);
            }
            return Tensor.of(f, shape);
        }
        ByteBuffer b = ByteBuffer.wrap(t.getRawData().toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        return Tensor.wrap(dtype, b, shape);
    }
}
