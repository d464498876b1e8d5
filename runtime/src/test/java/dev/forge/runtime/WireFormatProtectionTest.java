package dev.forge.runtime;

import static dev.forge.runtime.HostileModelTest.assertMessage;
import static dev.forge.runtime.HostileModelTest.model;
import static dev.forge.runtime.HostileModelTest.refusedBytes;
import static dev.forge.runtime.HostileModelTest.reluGraph;
import static dev.forge.runtime.TestModels.FLOAT;
import static dev.forge.runtime.TestModels.INT64;
import static dev.forge.runtime.TestModels.node;
import static dev.forge.runtime.TestModels.valueInfo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.forge.runtime.OnnxProto.AttributeProto;
import dev.forge.runtime.OnnxProto.GraphProto;
import dev.forge.runtime.OnnxProto.ModelProto;
import dev.forge.runtime.OnnxProto.NodeProto;
import dev.forge.runtime.OnnxProto.TensorProto;
import dev.forge.runtime.TestModels.Msg;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The wire-format protections of docs/SECURITY.md, one hand-built hostile encoding each: wire types 3, 4
 * (groups), 6 and 7; bad tags; numbers over 10 bytes or 64 bits; lengths that run past their message;
 * packed fields cut inside a number; fields with the wrong wire type; optional messages given twice
 * (protobuf would merge them into something the validator never saw). Each asserts the validator's own
 * words, so it fails if that check is removed even where ONNX Runtime would refuse the model later.
 */
class WireFormatProtectionTest {
    // ------------------------------------------------------------------ raw protobuf pieces

    /** A varint, minimal. */
    static byte[] varint(long v) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
        return out.toByteArray();
    }

    /** A tag with any wire type, including those ONNX never uses. */
    static byte[] tag(int field, int wireType) {
        return varint(((long) field << 3) | wireType);
    }

    /** A length-delimited field. */
    static byte[] len(int field, byte[] payload) {
        return cat(tag(field, 2), varint(payload.length), payload);
    }

    static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    /** {@code n} bytes with the continuation bit, then {@code last}: a varint of n + 1 bytes. */
    static byte[] longVarint(int n, int last) {
        byte[] b = new byte[n + 1];
        Arrays.fill(b, (byte) 0x80);
        b[0] = (byte) 0x81;
        b[n] = (byte) last;
        return b;
    }

    /** ir_version 8, a producer, the given graph bytes and opset 17, then {@code tail}. */
    static byte[] modelAround(byte[] graph, byte[]... tail) {
        byte[] head = cat(
                tag(ModelProto.IR_VERSION, 0),
                varint(8),
                len(ModelProto.PRODUCER_NAME, "hostile".getBytes(StandardCharsets.UTF_8)),
                len(ModelProto.GRAPH, graph),
                len(ModelProto.OPSET_IMPORT, new Msg().str(1, "").i64(2, 17).toBytes()));
        return cat(head, cat(tail));
    }

    /** reluGraph() with {@code extra} bytes appended to its Relu node. */
    static byte[] reluNodeWith(byte[] extra) {
        byte[] relu = cat(node("Relu", "relu", List.of("x"), List.of("y")).toBytes(), extra);
        return cat(
                len(GraphProto.NODE, relu),
                new Msg()
                        .msg(11, valueInfo("x", FLOAT, "N", 4L))
                        .msg(12, valueInfo("y", FLOAT, "N", 4L))
                        .toBytes());
    }

    /** reluGraph() plus one unused initializer made of the given TensorProto bytes. */
    static byte[] reluGraphWithInitializer(byte[] tensor) {
        return cat(reluGraph().toBytes(), len(GraphProto.INITIALIZER, tensor));
    }

    static String refusal(byte[] model) {
        return refusedBytes(model).getMessage();
    }

    static final String PREFIX = "Cannot load model hostile: not a valid ONNX model: ";

    // ------------------------------------------------------------------ wire types

    @Test
    void group_and_reserved_wire_types_are_refused_in_every_message() {
        for (int wt : new int[] {3, 4, 6, 7}) {
            // an unknown field 100 with that wire type: at the top level, in a node, in a tensor, in an attribute
            byte[] base = model(reluGraph());
            assertEquals(
                    PREFIX + "corrupt: wire type " + wt + " of field 100 at byte " + (base.length + 2)
                            + " is not used by ONNX",
                    refusal(cat(base, tag(100, wt))));
            assertMessage(
                    refusedBytes(modelAround(reluNodeWith(tag(100, wt)))),
                    "corrupt: wire type " + wt + " of field 100",
                    "is not used by ONNX (in graph > node #0)");
            byte[] tensor = cat(new Msg().i64(1, 1).i64(2, FLOAT).str(8, "c").toBytes(), tag(100, wt));
            assertMessage(
                    refusedBytes(modelAround(reluGraphWithInitializer(tensor))),
                    "wire type " + wt + " of field 100",
                    "(in graph > initializer #0)");
            byte[] attr = cat(new Msg().str(1, "alpha").toBytes(), tag(100, wt));
            assertMessage(
                    refusedBytes(modelAround(reluNodeWith(len(NodeProto.ATTRIBUTE, attr)))),
                    "wire type " + wt + " of field 100",
                    "(in graph > node #0 > attribute #0)");
            // a known field given with that wire type
            assertEquals(
                    PREFIX + "corrupt: ModelProto field 7 (graph) has wire type " + wt + ", expected 2",
                    refusal(cat(new Msg().i64(1, 8).toBytes(), tag(ModelProto.GRAPH, wt))));
        }
    }

    @Test
    void fields_with_the_wrong_wire_type_are_refused() {
        // ir_version (varint) as fixed32, after a valid first field
        byte[] irAsFixed =
                cat(len(ModelProto.PRODUCER_NAME, bytes('p')), tag(ModelProto.IR_VERSION, 5), bytes(8, 0, 0, 0));
        assertEquals(
                PREFIX + "corrupt: ModelProto field 1 (ir_version) has wire type 5, expected 0", refusal(irAsFixed));
        // the graph as a varint
        assertEquals(
                PREFIX + "corrupt: ModelProto field 7 (graph) has wire type 0, expected 2",
                refusal(cat(new Msg().i64(1, 8).toBytes(), tag(ModelProto.GRAPH, 0), varint(1))));
        // a node's op_type as a varint
        assertEquals(
                PREFIX + "corrupt: NodeProto field 4 (op_type) has wire type 0, expected 2 (in graph > node #0)",
                refusal(modelAround(reluNodeWith(cat(tag(NodeProto.OP_TYPE, 0), varint(1))))));
        // an attribute's float as a varint
        byte[] attr = cat(new Msg().str(1, "alpha").toBytes(), tag(AttributeProto.F, 0), varint(1));
        assertEquals(
                PREFIX + "corrupt: AttributeProto field 2 (f) has wire type 0, expected 5 (in graph > node #0 >"
                        + " attribute #0)",
                refusal(modelAround(reluNodeWith(len(NodeProto.ATTRIBUTE, attr)))));
        // a repeated number (dims) as fixed32: neither its own wire type nor packed
        byte[] dims = cat(
                tag(TensorProto.DIMS, 5),
                bytes(1, 0, 0, 0),
                new Msg().i64(2, FLOAT).toBytes());
        assertEquals(
                PREFIX + "corrupt: repeated field 1 has wire type 5, expected 0 or 2 (in graph > initializer #0)",
                refusal(modelAround(reluGraphWithInitializer(dims))));
    }

    // ------------------------------------------------------------------ tags

    @Test
    void tags_with_field_number_zero_or_beyond_the_protobuf_range_are_refused() {
        byte[] base = model(reluGraph());
        assertEquals(
                PREFIX + "corrupt: invalid field number 0 at byte " + base.length, refusal(cat(base, bytes(0, 0))));
        assertEquals(
                PREFIX + "corrupt: invalid field number 536870912 at byte " + base.length,
                refusal(cat(base, varint((1L << 29) << 3), varint(1))));
        // the largest field number protobuf allows is only an unknown field: skipped
        try (Model m =
                Model.load(cat(base, varint(((1L << 29) - 1) << 3), varint(1)), "hostile", ModelOptions.defaults())) {
            assertEquals(1, m.outputs().size());
        }
        assertMessage(
                refusedBytes(modelAround(reluNodeWith(bytes(0, 0)))),
                "corrupt: invalid field number 0 at byte",
                "(in graph > node #0)");
    }

    // ------------------------------------------------------------------ varints

    @Test
    void numbers_over_ten_bytes_are_refused_wherever_they_are() {
        // a value: ir_version in 11 bytes
        assertEquals(
                PREFIX + "corrupt: a number longer than 10 bytes at byte 1",
                refusal(cat(bytes(0x08), longVarint(10, 0), model(reluGraph()))));
        // a tag in 11 bytes
        byte[] base = model(reluGraph());
        assertEquals(
                PREFIX + "corrupt: a number longer than 10 bytes at byte " + base.length,
                refusal(cat(base, longVarint(10, 0))));
        // a length in 11 bytes
        assertEquals(
                PREFIX + "corrupt: a number longer than 10 bytes at byte " + (base.length + 1),
                refusal(cat(base, tag(ModelProto.DOC_STRING, 2), longVarint(10, 0))));
        // inside packed fields: dims, an int64 tensor too large to be decoded, an ints attribute
        byte[] dims = cat(
                len(TensorProto.DIMS, longVarint(10, 1)),
                new Msg().i64(2, FLOAT).toBytes());
        assertMessage(
                refusedBytes(modelAround(reluGraphWithInitializer(dims))),
                "corrupt: a number longer than 10 bytes at byte",
                "in packed field 1 (in graph > initializer #0)");
        assertMessage(
                refusedBytes(modelAround(reluGraphWithInitializer(int64Tensor(TensorProto.INT64_DATA, INT64, 40, 10)))),
                "corrupt: a number longer than 10 bytes at byte",
                "in packed field 7 (in graph > initializer #0)");
        byte[] ints = cat(
                new Msg().str(1, "foo").toBytes(), len(AttributeProto.INTS, cat(bytes(1, 2, 3), longVarint(10, 1))));
        assertMessage(
                refusedBytes(modelAround(reluNodeWith(len(NodeProto.ATTRIBUTE, ints)))),
                "a number longer than 10 bytes",
                "in packed field 8 (in graph > node #0 > attribute #0)");
    }

    @Test
    void a_tenth_byte_holding_more_than_bit_63_is_refused() {
        byte[] base = model(reluGraph());
        for (int last : new int[] {0x02, 0x40, 0x7f}) {
            // model_version as 10 bytes whose last holds bits 64 and up
            assertEquals(
                    PREFIX + "corrupt: a number over 64 bits at byte " + (base.length + 1),
                    refusal(cat(base, tag(ModelProto.MODEL_VERSION, 0), longVarint(9, last))));
            assertMessage(
                    refusedBytes(modelAround(
                            reluGraphWithInitializer(int64Tensor(TensorProto.INT64_DATA, INT64, 40, 9, last)))),
                    "corrupt: a number over 64 bits at byte",
                    "in packed field 7 (in graph > initializer #0)");
        }
        // 0x01 in the 10th byte is bit 63: model_version -1 is ten bytes ending in 0x01, and loads
        byte[] minusOne = cat(base, tag(ModelProto.MODEL_VERSION, 0), varint(-1L));
        assertEquals(10, varint(-1L).length);
        try (Model m = Model.load(minusOne, "hostile", ModelOptions.defaults())) {
            assertEquals(-1, m.version());
        }
    }

    /**
     * An int64-like tensor of {@code count} elements (more than the validator decodes) in packed {@code
     * field}: count - 1 small numbers and one of {@code extra + 1} bytes ending in {@code last}.
     */
    static byte[] int64Tensor(int field, int dataType, int count, int extra, int... last) {
        byte[] numbers = new byte[count - 1];
        Arrays.fill(numbers, (byte) 1);
        return cat(
                new Msg().i64(1, count).i64(2, dataType).str(8, "c").toBytes(),
                len(field, cat(numbers, longVarint(extra, last.length == 0 ? 1 : last[0]))));
    }

    // ------------------------------------------------------------------ lengths

    @Test
    void a_length_that_runs_past_its_message_is_refused_even_with_bytes_left_in_the_file() {
        // the node declares 100 bytes inside a graph of 7 bytes; the doc_string after the graph has 200 more
        byte[] graph = cat(tag(GraphProto.NODE, 2), varint(100), new byte[5]);
        byte[] m = modelAround(graph, len(ModelProto.DOC_STRING, new byte[200]));
        assertEquals(
                PREFIX + "truncated: field 1 at byte " + (indexOf(m, graph) + 1)
                        + " declares 100 bytes but only 5 remain in its message (in graph)",
                refusal(m));
        // a tensor's raw_data longer than the tensor, inside a model with plenty of bytes after it
        byte[] tensor = cat(new Msg().i64(1, 1).i64(2, FLOAT).str(8, "c").toBytes(), tag(9, 2), varint(4));
        assertMessage(
                refusedBytes(modelAround(reluGraphWithInitializer(tensor), len(ModelProto.DOC_STRING, new byte[64]))),
                "truncated: field 9 at byte",
                "declares 4 bytes but only 0 remain in its message (in graph > initializer #0)");
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    // ------------------------------------------------------------------ packed fields cut in a number

    @Test
    void packed_numbers_cut_in_the_middle_are_refused() {
        // dims [2, 2, <cut>] of a float tensor
        byte[] dims = cat(
                len(TensorProto.DIMS, bytes(2, 2, 0x82)),
                new Msg().i64(2, FLOAT).toBytes());
        assertEquals(
                PREFIX + "truncated: packed field 1 ends inside a number (in graph > initializer #0)",
                refusal(modelAround(reluGraphWithInitializer(dims))));
        // 40 int64/int32/uint64 values, all whole, then the first byte of a 41st: the count would match without
        // the check
        for (int[] f : new int[][] {
            {TensorProto.INT64_DATA, INT64}, {TensorProto.INT32_DATA, TestModels.INT32}, {TensorProto.UINT64_DATA, 13}
        }) {
            byte[] t = cat(
                    new Msg().i64(1, 40).i64(2, f[1]).str(8, "c").toBytes(),
                    len(f[0], cat(filled(40, 1), bytes(0x81))));
            assertEquals(
                    PREFIX + "truncated: packed field " + f[0] + " ends inside a number (in graph > initializer #0)",
                    refusal(modelAround(reluGraphWithInitializer(t))));
        }
        // 40 floats and 2 bytes of a 41st; 40 doubles and 4 bytes of a 41st
        byte[] floats = cat(
                new Msg().i64(1, 40).i64(2, FLOAT).str(8, "c").toBytes(),
                len(TensorProto.FLOAT_DATA, new byte[4 * 40 + 2]));
        assertEquals(
                PREFIX + "corrupt: packed field 4 has 162 bytes, not a multiple of 4 (in graph > initializer #0)",
                refusal(modelAround(reluGraphWithInitializer(floats))));
        byte[] doubles = cat(
                new Msg().i64(1, 40).i64(2, TestModels.DOUBLE).str(8, "c").toBytes(),
                len(TensorProto.DOUBLE_DATA, new byte[8 * 40 + 4]));
        assertEquals(
                PREFIX + "corrupt: packed field 10 has 324 bytes, not a multiple of 8 (in graph > initializer #0)",
                refusal(modelAround(reluGraphWithInitializer(doubles))));
        // an attribute's ints and floats
        byte[] ints = cat(new Msg().str(1, "foo").toBytes(), len(AttributeProto.INTS, bytes(1, 0x81)));
        assertEquals(
                PREFIX + "truncated: packed field 8 ends inside a number (in graph > node #0 > attribute #0)",
                refusal(modelAround(reluNodeWith(len(NodeProto.ATTRIBUTE, ints)))));
        byte[] floatsAttr = cat(new Msg().str(1, "foo").toBytes(), len(AttributeProto.FLOATS, new byte[6]));
        assertEquals(
                PREFIX + "corrupt: packed field 7 has 6 bytes, not a multiple of 4 (in graph > node #0 > attribute #0)",
                refusal(modelAround(reluNodeWith(len(NodeProto.ATTRIBUTE, floatsAttr)))));
        // the same values whole load (packed float_data and int64_data, unused initializers)
        byte[] ok = cat(
                reluGraph().toBytes(),
                len(
                        GraphProto.INITIALIZER,
                        cat(
                                new Msg().i64(1, 40).i64(2, FLOAT).str(8, "f").toBytes(),
                                len(TensorProto.FLOAT_DATA, new byte[160]))),
                len(
                        GraphProto.INITIALIZER,
                        cat(
                                new Msg().i64(1, 40).i64(2, INT64).str(8, "i").toBytes(),
                                len(TensorProto.INT64_DATA, filled(40, 1)))));
        try (Model m = Model.load(modelAround(ok), "ok", ModelOptions.defaults())) {
            assertArrayEquals(new float[] {0, 1, 0, 2}, HostileModelTest.run(m, -1, 1, -2, 2));
        }
    }

    static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    // ------------------------------------------------------------------ optional messages given twice

    @Test
    void optional_messages_given_twice_are_refused_where_protobuf_would_merge_them() {
        // protobuf merges a second occurrence of a non-repeated message into the first: two graphs would become
        // one graph holding both node lists, which the validator never checked as a whole
        byte[] twoGraphs = new Msg()
                .i64(1, 8)
                .msg(7, reluGraph())
                .msg(7, reluGraph())
                .msg(8, new Msg().str(1, "").i64(2, 17))
                .toBytes();
        assertEquals(PREFIX + "the model has two graph fields", refusal(twoGraphs));
        // an attribute's tensor t twice
        Msg value = new Msg().i64(1, 1).i64(1, 4).i64(2, FLOAT).bytes(9, new byte[16]);
        Msg twoT = new Msg().str(1, "value").msg(5, value).msg(5, value).i64(20, 4);
        Msg constant = node("Constant", "k", List.of(), List.of("c"), twoT);
        assertEquals(
                PREFIX + "attribute has two t fields (in graph > node #0 > attribute #0)",
                refusal(model(HostileModelTest.addConstant(List.of(constant), List.of()))));
        // a value's type twice (merged, the two shapes' dims would be appended into one shape)
        Msg type = new Msg().msg(1, new Msg().i64(1, FLOAT).msg(2, new Msg().msg(1, new Msg().i64(1, 4))));
        Msg x = new Msg().str(1, "x").msg(2, type).msg(2, type);
        Msg g = new Msg()
                .msg(1, node("Relu", "relu", List.of("x"), List.of("y")))
                .msg(11, x)
                .msg(12, valueInfo("y", FLOAT, "N", 4L));
        assertEquals(PREFIX + "value 'x' has two type fields (in graph > input #0)", refusal(model(g)));
        // a tensor type's shape twice
        Msg shape = new Msg().msg(1, new Msg().i64(1, 4));
        Msg x2 = new Msg()
                .str(1, "x")
                .msg(2, new Msg().msg(1, new Msg().i64(1, FLOAT).msg(2, shape).msg(2, shape)));
        Msg g2 = new Msg()
                .msg(1, node("Relu", "relu", List.of("x"), List.of("y")))
                .msg(11, x2)
                .msg(12, valueInfo("y", FLOAT, "N", 4L));
        assertEquals(PREFIX + "value 'x' has two shape fields (in graph > input #0)", refusal(model(g2)));
        // a subgraph attribute's g twice
        Msg branch = new Msg()
                .msg(1, node("Relu", "t", List.of("x"), List.of("t_out")))
                .msg(12, valueInfo("t_out", FLOAT, "N", 4L));
        Msg then = new Msg().str(1, "then_branch").msg(6, branch).msg(6, branch).i64(20, 5);
        Msg otherwise = new Msg().str(1, "else_branch").msg(6, branch).i64(20, 5);
        Msg gIf = new Msg()
                .msg(1, node("If", "if", List.of("cond"), List.of("y"), then, otherwise))
                .msg(11, valueInfo("x", FLOAT, "N", 4L))
                .msg(11, valueInfo("cond", TestModels.BOOL))
                .msg(12, valueInfo("y", FLOAT, "N", 4L));
        assertEquals(PREFIX + "attribute has two g fields (in graph > node #0 > attribute #0)", refusal(model(gIf)));
    }
}
