package dev.forge.testdata;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxSequence;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.forge.compiler.onnx.OnnxTypes;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.DType;
import dev.forge.runtime.OptionalValue;
import dev.forge.runtime.Tensor;
import dev.forge.runtime.TensorSequence;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * ONNX Runtime used the plain way, without any Forge code between the files and the session: the
 * witness that a model Forge refuses is one ONNX Runtime refuses too, and the engine that runs original
 * and rewritten models for the round-trip comparison.
 *
 * <p>Inputs are fed from the suite's {@code .pb} files with {@code OnnxTensor.createTensor}; outputs
 * come back as {@link Value}s that compare bit for bit.
 */
final class PlainOrt {
    /** ONNX's UINT16 and BFLOAT16 element type numbers. */
    static final int BFLOAT16_AS_UINT16 = 4;

    static final int BFLOAT16 = 16;

    private PlainOrt() {}

    /** One output as ONNX Runtime returned it: element type, shape and bytes (or strings), or a sequence. */
    record Value(String type, long[] shape, byte[] bytes, String[] strings, List<Value> elements) {
        boolean sameBits(Value o) {
            if (!type.equals(o.type) || !Arrays.equals(shape, o.shape)) {
                return false;
            }
            if (elements != null || o.elements != null) {
                if (elements == null || o.elements == null || elements.size() != o.elements.size()) {
                    return false;
                }
                for (int i = 0; i < elements.size(); i++) {
                    if (!elements.get(i).sameBits(o.elements.get(i))) {
                        return false;
                    }
                }
                return true;
            }
            return Arrays.equals(bytes, o.bytes) && Arrays.equals(strings, o.strings);
        }

        /**
         * A Forge value in the same form, to compare with what plain ONNX Runtime returned: a tensor, a
         * sequence, or for a present optional its content (plain ONNX Runtime returns the content itself).
         */
        static Value of(dev.forge.runtime.Value v) {
            if (v instanceof Tensor t) {
                return of(t);
            }
            if (v instanceof TensorSequence s) {
                List<Value> elements = new ArrayList<>();
                for (Tensor t : s.tensors()) {
                    elements.add(of(t));
                }
                return new Value("sequence", new long[0], null, null, elements);
            }
            OptionalValue o = v.asOptional();
            // an empty optional is what plain ONNX Runtime's Java API cannot return (the JVM crashes)
            return o.isPresent() ? of(o.get()) : new Value("empty optional", new long[0], null, null, null);
        }

        /** A Forge tensor in the same form, to compare with what plain ONNX Runtime returned. */
        static Value of(Tensor t) {
            if (t.dtype() == DType.STRING) {
                return new Value(t.dtype().toOnnxTensorType().name(), t.shape(), null, t.toStringArray(), null);
            }
            ByteBuffer b = t.buffer();
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return new Value(t.dtype().toOnnxTensorType().name(), t.shape(), bytes, null, null);
        }

        @Override
        public String toString() {
            return elements != null ? "sequence of " + elements.size() : type + Arrays.toString(shape);
        }
    }

    /** What a plain session did with a case: its outputs, or where and why it stopped. */
    record Outcome(List<Value> outputs, String stage, String message) {
        boolean ran() {
            return outputs != null;
        }

        static Outcome refused(String stage, String message) {
            return new Outcome(null, stage, message);
        }
    }

    /**
     * Runs {@code model} on the inputs in {@code dataSet} ({@code input_<j>.pb}) with a default session
     * (optimization level {@code optLevel}, one intra-op thread).
     */
    static Outcome run(byte[] model, Onnx.ModelProto proto, Path dataSet, OrtSession.SessionOptions.OptLevel optLevel) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setIntraOpNumThreads(1);
            so.setOptimizationLevel(optLevel);
            // refusals are expected and kept from the exception; ONNX Runtime need not also print them
            so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            OrtSession session;
            try {
                session = env.createSession(model, so);
            } catch (OrtException e) {
                return Outcome.refused("session", e.getMessage());
            }
            try (session) {
                List<String> inputNames = graphInputs(proto);
                for (int j = 0; j < inputNames.size(); j++) {
                    Onnx.ValueInfoProto vi = input(proto, inputNames.get(j));
                    String why = cannotFeed(vi);
                    if (why != null) {
                        return Outcome.refused("input", why);
                    }
                    Onnx.TensorProto t = parse(dataSet.resolve("input_" + j + ".pb"));
                    feeds.put(
                            vi.getName(),
                            tensor(env, t, vi.getType().getTensorType().getElemType()));
                }
                try (OrtSession.Result r = session.run(feeds)) {
                    List<Value> outs = new ArrayList<>();
                    for (Map.Entry<String, OnnxValue> e : r) {
                        outs.add(value(e.getValue()));
                    }
                    return new Outcome(outs, null, null);
                } catch (OrtException e) {
                    return Outcome.refused("run", e.getMessage());
                }
            }
        } catch (OrtException e) {
            throw new AssertionError("plain ONNX Runtime: " + e.getMessage(), e);
        } finally {
            feeds.values().forEach(OnnxTensor::close);
        }
    }

    /** Graph inputs that are not initializers (IR < 4 lists initializers as inputs too). */
    static List<String> graphInputs(Onnx.ModelProto proto) {
        List<String> inits = new ArrayList<>();
        proto.getGraph().getInitializerList().forEach(t -> inits.add(t.getName()));
        List<String> names = new ArrayList<>();
        for (Onnx.ValueInfoProto vi : proto.getGraph().getInputList()) {
            if (!inits.contains(vi.getName())) {
                names.add(vi.getName());
            }
        }
        return names;
    }

    private static Onnx.ValueInfoProto input(Onnx.ModelProto proto, String name) {
        return proto.getGraph().getInputList().stream()
                .filter(v -> v.getName().equals(name))
                .findFirst()
                .orElseThrow();
    }

    /** Why ONNX Runtime's Java API cannot build this input at all, or null when it can try. */
    static String cannotFeed(Onnx.ValueInfoProto vi) {
        if (!vi.getType().hasTensorType()) {
            return "input '" + vi.getName() + "' has type "
                    + vi.getType().getValueCase().name().toLowerCase(java.util.Locale.ROOT)
                    + "; ONNX Runtime's Java API (1.29) feeds only OnnxTensorLike values (OnnxTensor, OnnxSparseTensor)"
                    + " and has no factory for sequences, maps or optionals";
        }
        return null;
    }

    /**
     * ONNX Runtime's Java enum of an ONNX element type number. (Not {@code OnnxTensorType.mapFromInt}: that
     * takes ONNX Runtime's own numbering, in which 1 is UINT8.)
     */
    static TensorInfo.OnnxTensorType ortType(int onnxType) {
        String name = OnnxTypes.name(onnxType); // "type N" for numbers onnx.proto does not name
        name = name.startsWith("type ") ? "UNDEFINED" : name;
        return TensorInfo.OnnxTensorType.valueOf("ONNX_TENSOR_ELEMENT_DATA_TYPE_" + name);
    }

    static Onnx.TensorProto parse(Path pb) {
        try {
            return Onnx.TensorProto.parseFrom(Files.readAllBytes(pb));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * An OnnxTensor of the input's bytes. The onnx 1.12 generators store bfloat16 inputs as uint16 arrays of
     * the same bits (NumPy has no bfloat16), so a uint16 file for a bfloat16 input is fed as bfloat16. Every
     * other type is the file's: where ONNX Runtime's Java API has no type of its own (uint16, uint32,
     * uint64 map to the signed OnnxJavaType of the same width) the session says what it makes of that.
     */
    static OnnxTensor tensor(OrtEnvironment env, Onnx.TensorProto t, int declaredType) throws OrtException {
        long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        int fileType = t.getDataType();
        if (fileType == BFLOAT16_AS_UINT16 && declaredType == BFLOAT16) {
            fileType = BFLOAT16;
        }
        TensorInfo.OnnxTensorType type = ortType(fileType);
        OnnxJavaType jt = OnnxJavaType.mapFromOnnxTensorType(type);
        if (jt == OnnxJavaType.UNKNOWN) {
            throw new AssertionError("input " + t.getName() + " has element type " + type);
        }
        if (jt == OnnxJavaType.STRING) {
            String[] s = new String[t.getStringDataCount()];
            for (int i = 0; i < s.length; i++) {
                s[i] = t.getStringData(i).toString(StandardCharsets.UTF_8);
            }
            return OnnxTensor.createTensor(env, s, shape);
        }
        if (!t.hasRawData()) {
            // numpy_helper.from_array stores every numeric type as raw_data
            throw new AssertionError("input " + t.getName() + " of " + type + " has no raw_data");
        }
        ByteBuffer b = ByteBuffer.allocateDirect(t.getRawData().size()).order(ByteOrder.nativeOrder());
        t.getRawData().copyTo(b);
        b.rewind();
        switch (jt) {
            case FLOAT:
                return OnnxTensor.createTensor(env, b.asFloatBuffer(), shape);
            case DOUBLE:
                return OnnxTensor.createTensor(env, b.asDoubleBuffer(), shape);
            case INT32:
                return OnnxTensor.createTensor(env, b.asIntBuffer(), shape);
            case INT64:
                return OnnxTensor.createTensor(env, b.asLongBuffer(), shape);
            case INT16:
            case FLOAT16:
            case BFLOAT16:
                return OnnxTensor.createTensor(env, b.asShortBuffer(), shape, jt);
            default:
                return OnnxTensor.createTensor(env, b, shape, jt);
        }
    }

    private static Value value(OnnxValue v) throws OrtException {
        if (v instanceof OnnxTensor) {
            OnnxTensor t = (OnnxTensor) v;
            TensorInfo info = t.getInfo();
            if (info.type == OnnxJavaType.STRING) {
                String[] flat = flatStrings(t.getValue(), (int) info.getNumElements());
                return new Value(info.onnxType.name(), info.getShape(), null, flat, null);
            }
            ByteBuffer b = t.getByteBuffer();
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return new Value(info.onnxType.name(), info.getShape(), bytes, null, null);
        }
        if (v instanceof OnnxSequence) {
            List<Value> elements = new ArrayList<>();
            for (OnnxValue e : ((OnnxSequence) v).getValue()) {
                elements.add(value(e));
            }
            return new Value("sequence", new long[0], null, null, elements);
        }
        throw new AssertionError(
                "plain ONNX Runtime returned a " + v.getType() + ", which this harness cannot compare");
    }

    private static String[] flatStrings(Object value, int count) {
        List<String> out = new ArrayList<>(count);
        flatten(value, out);
        return out.toArray(new String[0]);
    }

    private static void flatten(Object o, List<String> out) {
        if (o instanceof String) {
            out.add((String) o);
        } else if (o instanceof Object[]) {
            for (Object e : (Object[]) o) {
                flatten(e, out);
            }
        }
    }
}
