package dev.forge.runtime;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tiny ONNX models for tests, encoded by hand in the protobuf wire format so the runtime needs no
 * protobuf dependency. Field numbers follow onnx.proto (ModelProto, GraphProto, NodeProto, ...).
 */
final class TestModels {
    private TestModels() {}

    // ONNX TensorProto.DataType
    static final int FLOAT = 1;
    static final int UINT8 = 2;
    static final int INT8 = 3;
    static final int INT32 = 6;
    static final int INT64 = 7;
    static final int BOOL = 9;
    static final int DOUBLE = 11;
    static final int INT16 = 5;
    static final int FLOAT16 = 10;
    static final int UINT32 = 12;
    static final int BFLOAT16 = 16;

    // ---------------------------------------------------------------- wire format

    /** A protobuf message under construction. */
    static final class Msg {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        private void varint(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        private void tag(int field, int wireType) {
            varint(((long) field << 3) | wireType);
        }

        Msg i64(int field, long v) {
            tag(field, 0);
            varint(v);
            return this;
        }

        Msg f32(int field, float v) {
            tag(field, 5);
            int bits = Float.floatToIntBits(v);
            for (int i = 0; i < 4; i++) {
                out.write((bits >>> (8 * i)) & 0xff);
            }
            return this;
        }

        Msg bytes(int field, byte[] b) {
            tag(field, 2);
            varint(b.length);
            out.writeBytes(b);
            return this;
        }

        Msg str(int field, String s) {
            return bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Msg msg(int field, Msg m) {
            return bytes(field, m.toBytes());
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }

    // ---------------------------------------------------------------- ONNX messages

    /** A ValueInfoProto of a tensor; a dim is a Long (fixed) or a String (symbolic). */
    static Msg valueInfo(String name, int elemType, Object... dims) {
        Msg shape = new Msg();
        for (Object d : dims) {
            Msg dim = new Msg();
            if (d instanceof String) {
                dim.str(2, (String) d);
            } else {
                dim.i64(1, ((Number) d).longValue());
            }
            shape.msg(1, dim);
        }
        Msg tensorType = new Msg().i64(1, elemType).msg(2, shape);
        Msg type = new Msg().msg(1, tensorType);
        return new Msg().str(1, name).msg(2, type);
    }

    static Msg floatInitializer(String name, float[] values, long... dims) {
        ByteBuffer raw = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(values);
        Msg t = new Msg();
        for (long d : dims) {
            t.i64(1, d);
        }
        return t.i64(2, FLOAT).str(8, name).bytes(9, raw.array());
    }

    static Msg int64Initializer(String name, long[] values, long... dims) {
        ByteBuffer raw = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        raw.asLongBuffer().put(values);
        Msg t = new Msg();
        for (long d : dims) {
            t.i64(1, d);
        }
        return t.i64(2, INT64).str(8, name).bytes(9, raw.array());
    }

    static Msg intAttr(String name, long v) {
        return new Msg().str(1, name).i64(3, v).i64(20, 2);
    }

    static Msg floatAttr(String name, float v) {
        return new Msg().str(1, name).f32(2, v).i64(20, 1);
    }

    static Msg intsAttr(String name, long... vs) {
        Msg a = new Msg().str(1, name);
        for (long v : vs) {
            a.i64(8, v);
        }
        return a.i64(20, 7);
    }

    static Msg node(String opType, String name, List<String> inputs, List<String> outputs, Msg... attrs) {
        Msg n = new Msg();
        for (String i : inputs) {
            n.str(1, i);
        }
        for (String o : outputs) {
            n.str(2, o);
        }
        n.str(3, name).str(4, opType);
        for (Msg a : attrs) {
            n.msg(5, a);
        }
        return n;
    }

    /** Builds a ModelProto (ir_version 8, opset 17). */
    static final class ModelSpec {
        String graphName = "g";
        String producer = "forge-test";
        String doc = "";
        long modelVersion;
        final List<Msg> nodes = new ArrayList<>();
        final List<Msg> initializers = new ArrayList<>();
        final List<Msg> inputs = new ArrayList<>();
        final List<Msg> outputs = new ArrayList<>();
        final Map<String, String> metadata = new LinkedHashMap<>();

        byte[] build() {
            Msg graph = new Msg();
            for (Msg n : nodes) {
                graph.msg(1, n);
            }
            graph.str(2, graphName);
            for (Msg i : initializers) {
                graph.msg(5, i);
            }
            for (Msg i : inputs) {
                graph.msg(11, i);
            }
            for (Msg o : outputs) {
                graph.msg(12, o);
            }
            Msg model = new Msg().i64(1, 8).str(2, producer);
            if (modelVersion != 0) {
                model.i64(5, modelVersion);
            }
            if (!doc.isEmpty()) {
                model.str(6, doc);
            }
            model.msg(7, graph).msg(8, new Msg().str(1, "").i64(2, 17));
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                model.msg(14, new Msg().str(1, e.getKey()).str(2, e.getValue()));
            }
            return model.toBytes();
        }
    }

    // ---------------------------------------------------------------- the test models

    /** y = Relu(x), x: float[N,4]; producer "forge-test", graph "relu_graph", metadata author. */
    static byte[] relu() {
        ModelSpec m = new ModelSpec();
        m.graphName = "relu_graph";
        m.doc = "Relu of a batch of 4-vectors";
        m.modelVersion = 3;
        m.nodes.add(node("Relu", "relu1", List.of("x"), List.of("y")));
        m.inputs.add(valueInfo("x", FLOAT, "N", 4L));
        m.outputs.add(valueInfo("y", FLOAT, "N", 4L));
        m.metadata.put("author", "forge");
        m.metadata.put("license", "MIT");
        return m.build();
    }

    /** The classifier's weights: 3 classes x 4 features. */
    static final float[] W = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1};

    static final float[] B = {0.5f, -0.5f, 0f};

    /**
     * logits = Gemm(x, W, B, transB=1), x: float[N,4], logits: float[N,3]; class_labels
     * "cat,dog,bird". With {@code softmax}, the output is Softmax(logits) named probs.
     */
    static byte[] classifier(boolean softmax) {
        ModelSpec m = new ModelSpec();
        m.graphName = softmax ? "classifier_probs" : "classifier";
        m.initializers.add(floatInitializer("W", W, 3, 4));
        m.initializers.add(floatInitializer("B", B, 3));
        String out = softmax ? "probs" : "logits";
        m.nodes.add(node(
                "Gemm",
                "fc",
                List.of("x", "W", "B"),
                List.of(softmax ? "logits" : out),
                intAttr("transB", 1),
                floatAttr("alpha", 1f)));
        if (softmax) {
            m.nodes.add(node("Softmax", "softmax", List.of("logits"), List.of(out), intAttr("axis", 1)));
        }
        m.inputs.add(valueInfo("x", FLOAT, "N", 4L));
        m.outputs.add(valueInfo(out, FLOAT, "N", 3L));
        m.metadata.put("class_labels", "cat,dog,bird");
        return m.build();
    }

    /** c = Add(a, b), a and b: float[2,3]. */
    static byte[] add() {
        ModelSpec m = new ModelSpec();
        m.graphName = "add";
        m.nodes.add(node("Add", "add", List.of("a", "b"), List.of("c")));
        m.inputs.add(valueInfo("a", FLOAT, 2L, 3L));
        m.inputs.add(valueInfo("b", FLOAT, 2L, 3L));
        m.outputs.add(valueInfo("c", FLOAT, 2L, 3L));
        return m.build();
    }

    /** c = Add(a, b), a and b: float[N,3] sharing the symbolic batch N. */
    static byte[] addBatched() {
        ModelSpec m = new ModelSpec();
        m.graphName = "add_batched";
        m.nodes.add(node("Add", "add", List.of("a", "b"), List.of("c")));
        m.inputs.add(valueInfo("a", FLOAT, "N", 3L));
        m.inputs.add(valueInfo("b", FLOAT, "N", 3L));
        m.outputs.add(valueInfo("c", FLOAT, "N", 3L));
        return m.build();
    }

    /** pos = Relu(x), neg = Neg(x), x: float[N,2]; two outputs in that order. */
    static byte[] twoOutputs() {
        ModelSpec m = new ModelSpec();
        m.graphName = "two_outputs";
        m.nodes.add(node("Relu", "relu", List.of("x"), List.of("pos")));
        m.nodes.add(node("Neg", "neg", List.of("x"), List.of("neg")));
        m.inputs.add(valueInfo("x", FLOAT, "N", 2L));
        m.outputs.add(valueInfo("pos", FLOAT, "N", 2L));
        m.outputs.add(valueInfo("neg", FLOAT, "N", 2L));
        return m.build();
    }

    /** y = Identity(x) for one ONNX element type, x: T[N]. */
    static byte[] identity(int elemType) {
        ModelSpec m = new ModelSpec();
        m.graphName = "identity_" + elemType;
        m.nodes.add(node("Identity", "id", List.of("x"), List.of("y")));
        m.inputs.add(valueInfo("x", elemType, "N"));
        m.outputs.add(valueInfo("y", elemType, "N"));
        return m.build();
    }

    /** y = Reshape(x, [2, 2]), x: float[N]; fails inside ONNX Runtime unless N = 4. */
    static byte[] reshapeTo2x2() {
        ModelSpec m = new ModelSpec();
        m.graphName = "reshape";
        m.initializers.add(int64Initializer("shape", new long[] {2, 2}, 2));
        m.nodes.add(node("Reshape", "reshape", List.of("x", "shape"), List.of("y")));
        m.inputs.add(valueInfo("x", FLOAT, "N"));
        m.outputs.add(valueInfo("y", FLOAT, 2L, 2L));
        return m.build();
    }

    /** y = Identity(x), x: uint32[N] (ONNX element type 12), which ONNX Runtime's Java API cannot feed. */
    static byte[] uint32Identity() {
        return identity(UINT32);
    }

    /** y = Cast(x, to), x: float[N] (or the {@code from} type), y: the {@code to} type. */
    static byte[] cast(int from, int to) {
        ModelSpec m = new ModelSpec();
        m.graphName = "cast_" + from + "_" + to;
        m.nodes.add(node("Cast", "cast", List.of("x"), List.of("y"), intAttr("to", to)));
        m.inputs.add(valueInfo("x", from, "N"));
        m.outputs.add(valueInfo("y", to, "N"));
        return m.build();
    }

    // ---------------------------------------------------------------- sequences and optionals

    /** A TypeProto of a tensor; no dims given: no shape at all (unknown rank). */
    static Msg tensorType(int elemType, Object... dims) {
        Msg tensorType = new Msg().i64(1, elemType);
        if (dims.length > 0) {
            Msg shape = new Msg();
            for (Object d : dims) {
                Msg dim = new Msg();
                if (d instanceof String) {
                    dim.str(2, (String) d);
                } else {
                    dim.i64(1, ((Number) d).longValue());
                }
                shape.msg(1, dim);
            }
            tensorType.msg(2, shape);
        }
        return new Msg().msg(1, tensorType);
    }

    /** TypeProto {@code sequence(elem)} (sequence_type = 4, its elem_type = 1). */
    static Msg sequenceType(Msg elem) {
        return new Msg().msg(4, new Msg().msg(1, elem));
    }

    /** TypeProto {@code optional(elem)} (optional_type = 9, its elem_type = 1). */
    static Msg optionalType(Msg elem) {
        return new Msg().msg(9, new Msg().msg(1, elem));
    }

    /** A ValueInfoProto of any type. */
    static Msg typed(String name, Msg type) {
        return new Msg().str(1, name).msg(2, type);
    }

    /** A TYPE_PROTO attribute (tp = 14, type 13), as the Optional operator's {@code type}. */
    static Msg typeAttr(String name, Msg type) {
        return new Msg().str(1, name).msg(14, type).i64(20, 13);
    }

    /**
     * Every kind of output from a: float[N] and b: float[2]: {@code y = a + a} (a tensor), {@code parts =
     * SequenceConstruct(a, b)}, {@code nothing = SequenceEmpty()}, {@code some = Optional(a)}, {@code none =
     * Optional(type float tensor)}, {@code someSeq = Optional(parts)}, {@code noneSeq = Optional(type
     * sequence)}. The empty sequence and the empty optionals are what ONNX Runtime's Java API cannot return
     * by itself (a failed run and a JVM crash).
     */
    static byte[] sequencesAndOptionals() {
        ModelSpec m = new ModelSpec();
        m.graphName = "sequences_and_optionals";
        m.nodes.add(node("Add", "add", List.of("a", "a"), List.of("y")));
        m.nodes.add(node("SequenceConstruct", "construct", List.of("a", "b"), List.of("parts")));
        m.nodes.add(node("SequenceEmpty", "empty", List.of(), List.of("nothing"), intAttr("dtype", FLOAT)));
        m.nodes.add(node("Optional", "some", List.of("a"), List.of("some")));
        m.nodes.add(node("Optional", "none", List.of(), List.of("none"), typeAttr("type", tensorType(FLOAT, "N"))));
        m.nodes.add(node("Optional", "someSeq", List.of("parts"), List.of("someSeq")));
        m.nodes.add(node(
                "Optional",
                "noneSeq",
                List.of(),
                List.of("noneSeq"),
                typeAttr("type", sequenceType(tensorType(FLOAT)))));
        m.inputs.add(valueInfo("a", FLOAT, "N"));
        m.inputs.add(valueInfo("b", FLOAT, 2L));
        m.outputs.add(valueInfo("y", FLOAT, "N"));
        m.outputs.add(typed("parts", sequenceType(tensorType(FLOAT))));
        m.outputs.add(typed("nothing", sequenceType(tensorType(FLOAT))));
        m.outputs.add(typed("some", optionalType(tensorType(FLOAT, "N"))));
        m.outputs.add(typed("none", optionalType(tensorType(FLOAT, "N"))));
        m.outputs.add(typed("someSeq", optionalType(sequenceType(tensorType(FLOAT)))));
        m.outputs.add(typed("noneSeq", optionalType(sequenceType(tensorType(FLOAT)))));
        return m.build();
    }

    /** parts = SequenceConstruct(s, s), some = Optional(s), someSeq = Optional(parts), s: T[N] for an element type T. */
    static byte[] sequenceOf(int elemType) {
        ModelSpec m = new ModelSpec();
        m.graphName = "sequence_of_" + elemType;
        m.nodes.add(node("SequenceConstruct", "construct", List.of("s", "s"), List.of("parts")));
        m.nodes.add(node("Optional", "some", List.of("s"), List.of("some")));
        m.inputs.add(valueInfo("s", elemType, "N"));
        m.outputs.add(typed("parts", sequenceType(tensorType(elemType, "N"))));
        m.outputs.add(typed("some", optionalType(tensorType(elemType, "N"))));
        m.nodes.add(node("Optional", "someSeq", List.of("parts"), List.of("someSeq")));
        m.outputs.add(typed("someSeq", optionalType(sequenceType(tensorType(elemType, "N")))));
        return m.build();
    }

    /** As {@link #sequenceOf} for s = Cast(x, to), x: int64[N]: for the types Java cannot feed (uint16/32/64). */
    static byte[] sequenceOfCast(int to) {
        ModelSpec m = new ModelSpec();
        m.graphName = "sequence_of_cast_" + to;
        m.nodes.add(node("Cast", "cast", List.of("x"), List.of("s"), intAttr("to", to)));
        m.nodes.add(node("SequenceConstruct", "construct", List.of("s", "s"), List.of("parts")));
        m.nodes.add(node("Optional", "some", List.of("s"), List.of("some")));
        m.inputs.add(valueInfo("x", INT64, "N"));
        m.outputs.add(typed("parts", sequenceType(tensorType(to, "N"))));
        m.outputs.add(typed("some", optionalType(tensorType(to, "N"))));
        m.nodes.add(node("Optional", "someSeq", List.of("parts"), List.of("someSeq")));
        m.outputs.add(typed("someSeq", optionalType(sequenceType(tensorType(to, "N")))));
        return m.build();
    }

    /** n = SequenceLength(s), s: sequence(float[N]) as a graph input. */
    static byte[] sequenceInput() {
        ModelSpec m = new ModelSpec();
        m.graphName = "sequence_input";
        m.nodes.add(node("SequenceLength", "len", List.of("s"), List.of("n")));
        m.inputs.add(typed("s", sequenceType(tensorType(FLOAT, "N"))));
        m.outputs.add(valueInfo("n", INT64));
        return m.build();
    }

    /** h = OptionalHasElement(o), o: optional(float[N]) as a graph input. */
    static byte[] optionalInput() {
        ModelSpec m = new ModelSpec();
        m.graphName = "optional_input";
        m.nodes.add(node("OptionalHasElement", "has", List.of("o"), List.of("h")));
        m.inputs.add(typed("o", optionalType(tensorType(FLOAT, "N"))));
        m.outputs.add(valueInfo("h", BOOL));
        return m.build();
    }

    /** The conv model's 2 filters of 3x3 and biases. */
    static final float[] CONV_W = {
        0, 0, 0, 0, 1, 0, 0, 0, 0, // identity filter
        1, 1, 1, 1, 1, 1, 1, 1, 1 // box sum
    };

    static final float[] CONV_B = {0f, -1f};

    /** y = Relu(Conv(x, W, B, pads 1)), x: float[N,1,8,8], y: float[N,2,8,8]. */
    static byte[] conv() {
        ModelSpec m = new ModelSpec();
        m.graphName = "conv";
        m.initializers.add(floatInitializer("W", CONV_W, 2, 1, 3, 3));
        m.initializers.add(floatInitializer("B", CONV_B, 2));
        m.nodes.add(node(
                "Conv",
                "conv1",
                List.of("x", "W", "B"),
                List.of("h"),
                intsAttr("kernel_shape", 3, 3),
                intsAttr("pads", 1, 1, 1, 1)));
        m.nodes.add(node("Relu", "relu1", List.of("h"), List.of("y")));
        m.inputs.add(valueInfo("x", FLOAT, "N", 1L, 8L, 8L));
        m.outputs.add(valueInfo("y", FLOAT, "N", 2L, 8L, 8L));
        m.metadata.put("class_labels", "a,b");
        return m.build();
    }

    /** Reference for {@link #conv()}: pure Java, float accumulation in the same order is not required. */
    static float[] convReference(float[] x, int n) {
        float[] y = new float[n * 2 * 64];
        for (int b = 0; b < n; b++) {
            for (int c = 0; c < 2; c++) {
                for (int i = 0; i < 8; i++) {
                    for (int j = 0; j < 8; j++) {
                        double acc = CONV_B[c];
                        for (int ki = 0; ki < 3; ki++) {
                            for (int kj = 0; kj < 3; kj++) {
                                int ii = i + ki - 1;
                                int jj = j + kj - 1;
                                if (ii >= 0 && ii < 8 && jj >= 0 && jj < 8) {
                                    acc += CONV_W[c * 9 + ki * 3 + kj] * x[b * 64 + ii * 8 + jj];
                                }
                            }
                        }
                        y[((b * 2 + c) * 8 + i) * 8 + j] = (float) Math.max(0, acc);
                    }
                }
            }
        }
        return y;
    }
}
