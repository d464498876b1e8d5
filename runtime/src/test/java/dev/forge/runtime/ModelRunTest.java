package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ModelRunTest {
    private static Model relu;
    private static Model classifier;
    private static Model add;
    private static Model addBatched;
    private static Model twoOutputs;

    @BeforeAll
    static void load() {
        ModelOptions o = ModelOptions.defaults();
        relu = Model.load(TestModels.relu(), "relu", o);
        classifier = Model.load(TestModels.classifier(false), "classifier", o);
        add = Model.load(TestModels.add(), "add", o);
        addBatched = Model.load(TestModels.addBatched(), "addBatched", o);
        twoOutputs = Model.load(TestModels.twoOutputs(), "twoOutputs", o);
    }

    @AfterAll
    static void close() {
        for (Model m : List.of(relu, classifier, add, addBatched, twoOutputs)) {
            m.close();
        }
    }

    @Test
    void reluIsComputed() {
        Tensor y = relu.run(Tensor.of(new float[] {-1, 2, -3, 4, 0.5f, -0.5f, 7, -8}, 2, 4));
        assertArrayEquals(new long[] {2, 4}, y.shape());
        assertArrayEquals(new float[] {0, 2, 0, 4, 0.5f, 0, 7, 0}, y.toFloatArray());
    }

    @Test
    void gemmWithInitializersMatchesAJavaReference() {
        float[] x = {1, 2, 3, 4, -1, 0.5f, 2, -3};
        Tensor logits = classifier.run(Tensor.of(x, 2, 4));
        assertArrayEquals(new long[] {2, 3}, logits.shape());
        float[] expected = new float[6];
        for (int n = 0; n < 2; n++) {
            for (int c = 0; c < 3; c++) {
                float acc = TestModels.B[c];
                for (int k = 0; k < 4; k++) {
                    acc += x[n * 4 + k] * TestModels.W[c * 4 + k];
                }
                expected[n * 3 + c] = acc;
            }
        }
        assertArrayEquals(expected, logits.toFloatArray(), 1e-6f);
    }

    @Test
    void twoInputsAreAdded() {
        Map<String, Tensor> out = add.run(Map.of(
                "a", Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3),
                "b", Tensor.of(new float[] {10, 20, 30, 40, 50, 60}, 2, 3)));
        assertEquals(List.of("c"), List.copyOf(out.keySet()));
        assertArrayEquals(new float[] {11, 22, 33, 44, 55, 66}, out.get("c").toFloatArray());
    }

    @Test
    void directBufferInputsGiveTheSameResult() {
        ByteBuffer buf = ByteBuffer.allocateDirect(8 * 4).order(ByteOrder.LITTLE_ENDIAN);
        float[] x = {-1, 2, -3, 4, 5, -6, 7, -8};
        buf.asFloatBuffer().put(x);
        Tensor direct = Tensor.wrap(DType.FLOAT32, buf, 2, 4);
        assertTrue(direct.isDirect());
        assertEquals(relu.run(Tensor.of(x, 2, 4)), relu.run(direct));
        // The input is read in place: change the buffer, run again, see the change.
        buf.putFloat(0, 9f);
        assertEquals(9f, relu.run(direct).getFloat(0));
        assertEquals(0, buf.position());
    }

    @Test
    void directBuffersAreHandedToOnnxRuntimeWithoutACopy() throws Exception {
        ByteBuffer buf = ByteBuffer.allocateDirect(4 * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(new float[] {1, 2, 3, 4});
        Tensor direct = Tensor.wrap(DType.FLOAT32, buf, 4);
        Tensor heap = Tensor.of(new float[] {1, 2, 3, 4}, 4);
        try (OnnxTensor shared = ModelInputs.toOrt(Model.environment(), direct);
                OnnxTensor copied = ModelInputs.toOrt(Model.environment(), heap)) {
            buf.putFloat(4, 20f); // write to the caller's buffer after the OnnxTensor exists
            assertEquals(
                    20f,
                    shared.getByteBuffer().order(ByteOrder.nativeOrder()).getFloat(4),
                    "native tensor sees the write");
            assertFalse(shared.ownsBuffer());
            assertEquals(
                    2f, copied.getByteBuffer().order(ByteOrder.nativeOrder()).getFloat(4));
        }
    }

    @Test
    void everyDtypeCrossesTheNativeBoundary() {
        Map<Integer, Tensor> cases = new HashMap<>();
        cases.put(TestModels.FLOAT, Tensor.of(new float[] {1.5f, -2}, 2));
        cases.put(TestModels.DOUBLE, Tensor.of(new double[] {Math.PI, -1e300}, 2));
        cases.put(TestModels.INT64, Tensor.of(new long[] {Long.MIN_VALUE, 42}, 2));
        cases.put(TestModels.INT32, Tensor.of(new int[] {Integer.MAX_VALUE, -7}, 2));
        cases.put(TestModels.UINT8, Tensor.ofUint8(new byte[] {0, (byte) 255}, 2));
        cases.put(TestModels.INT8, Tensor.ofInt8(new byte[] {-128, 127}, 2));
        cases.put(TestModels.BOOL, Tensor.ofBool(new boolean[] {true, false}, 2));
        cases.put(TestModels.FLOAT16, Tensor.ofFloat16Bits(new short[] {(short) 0x3c00, (short) 0xfbff}, 2));
        cases.put(TestModels.BFLOAT16, Tensor.ofBFloat16Bits(new short[] {(short) 0x3f80, (short) 0xff7f}, 2));
        cases.put(TestModels.INT16, Tensor.ofInt16(new short[] {Short.MIN_VALUE, 7}, 2));
        for (Map.Entry<Integer, Tensor> e : cases.entrySet()) {
            try (Model id = Model.load(TestModels.identity(e.getKey()), "id" + e.getKey(), ModelOptions.defaults())) {
                assertEquals(e.getValue().dtype(), id.inputs().get(0).dtype());
                Tensor out = id.run(e.getValue());
                assertEquals(e.getValue(), out, "identity of " + e.getValue().dtype());
                // and from a direct buffer
                ByteBuffer d =
                        ByteBuffer.allocateDirect((int) e.getValue().byteSize()).order(ByteOrder.LITTLE_ENDIAN);
                d.put(e.getValue().buffer()).flip();
                assertEquals(e.getValue(), id.run(Tensor.wrap(e.getValue().dtype(), d, 2)));
            }
        }
    }

    @Test
    void stringTensorsCrossTheNativeBoundary() {
        try (Model id = Model.load(TestModels.identity(8), "id-string", ModelOptions.defaults())) {
            assertEquals(DType.STRING, id.inputs().get(0).dtype());
            Tensor in = Tensor.ofStrings(new String[] {"a", "h\u00e9llo", "", "\ud83d\ude00"}, 4);
            assertEquals(in, id.run(in));
        }
    }

    @Test
    void unsignedOutputsAreReadAndUnsignedInputsAreRefusedAtLoadNamingWhy() {
        // Cast int64 -> uint16/32/64: ONNX Runtime wraps to the width, Forge reads the unsigned bits
        long[] values = {-1, 7};
        Tensor in = Tensor.of(values, 2);
        try (Model m = Model.load(TestModels.cast(TestModels.INT64, 4), "to-u16", ModelOptions.defaults())) {
            assertEquals(Tensor.ofUint16(new short[] {-1, 7}, 2), m.run(in));
        }
        try (Model m =
                Model.load(TestModels.cast(TestModels.INT64, TestModels.UINT32), "to-u32", ModelOptions.defaults())) {
            assertEquals(Tensor.ofUint32(new int[] {-1, 7}, 2), m.run(in));
            assertArrayEquals(new long[] {4294967295L, 7}, m.run(in).toLongArray());
        }
        try (Model m = Model.load(TestModels.cast(TestModels.INT64, 13), "to-u64", ModelOptions.defaults())) {
            assertEquals(Tensor.ofUint64(new long[] {-1, 7}, 2), m.run(in));
        }
        for (int type : new int[] {4, TestModels.UINT32, 13}) {
            ModelLoadException e = assertThrows(
                    ModelLoadException.class,
                    () -> Model.load(TestModels.identity(type), "u" + type, ModelOptions.defaults()));
            String name = DType.fromOnnxElementType(type).typeName();
            assertTrue(
                    e.getMessage().contains("input 'x' is " + name)
                            && e.getMessage().contains("Java API")
                            && e.getMessage().contains("Cast"),
                    e.getMessage());
        }
    }

    @Test
    void outputsComeInDeclaredOrderOrInTheRequestedOrder() {
        Tensor x = Tensor.of(new float[] {-1, 2}, 1, 2);
        Map<String, Tensor> all = twoOutputs.run(Map.of("x", x));
        assertEquals(List.of("pos", "neg"), List.copyOf(all.keySet()));
        assertArrayEquals(new float[] {0, 2}, all.get("pos").toFloatArray());
        assertArrayEquals(new float[] {1, -2}, all.get("neg").toFloatArray());
        Map<String, Tensor> some = twoOutputs.run(Map.of("x", x), List.of("neg"));
        assertEquals(List.of("neg"), List.copyOf(some.keySet()));
        Map<String, Tensor> reversed = twoOutputs.run(Map.of("x", x), List.of("neg", "pos"));
        assertEquals(List.of("neg", "pos"), List.copyOf(reversed.keySet()));
    }

    // ---------------------------------------------------------------- bad input

    private static String invalid(Runnable r) {
        InvalidInputException e = assertThrows(InvalidInputException.class, r::run);
        return e.getMessage();
    }

    @Test
    void unknownInputNameListsTheExpectedOnes() {
        assertEquals(
                "Unknown input name 'input', expected one of [x]",
                invalid(() -> relu.run(Map.of("input", Tensor.of(new float[4], 1, 4)))));
    }

    @Test
    void missingInputIsNamed() {
        String m = invalid(() -> add.run(Map.of("a", Tensor.of(new float[6], 2, 3))));
        assertTrue(m.contains("Missing input 'b'") && m.contains("[a, b]"), m);
    }

    @Test
    void wrongDtypeIsNamed() {
        assertEquals(
                "input 'x': expected float32, got float64", invalid(() -> relu.run(Tensor.of(new double[4], 1, 4))));
    }

    @Test
    void wrongRankIsNamed() {
        assertEquals(
                "input 'x': expected shape [N,4], got [1,2,2]",
                invalid(() -> relu.run(Tensor.of(new float[4], 1, 2, 2))));
    }

    @Test
    void wrongFixedDimensionIsNamed() {
        assertEquals(
                "input 'x': expected shape [N,4], got [2,3]", invalid(() -> relu.run(Tensor.of(new float[6], 2, 3))));
        String m =
                invalid(() -> add.run(Map.of("a", Tensor.of(new float[6], 2, 3), "b", Tensor.of(new float[6], 3, 2))));
        assertEquals("input 'b': expected shape [2,3], got [3,2]", m);
    }

    @Test
    void aSymbolicDimensionMustAgreeAcrossInputs() {
        String m = invalid(
                () -> addBatched.run(Map.of("a", Tensor.of(new float[6], 2, 3), "b", Tensor.of(new float[9], 3, 3))));
        assertTrue(m.contains("dimension N is 3") && m.contains("input 'a' has N = 2"), m);
        Map<String, Tensor> ok =
                addBatched.run(Map.of("a", Tensor.of(new float[9], 3, 3), "b", Tensor.of(new float[9], 3, 3)));
        assertArrayEquals(new long[] {3, 3}, ok.get("c").shape());
    }

    @Test
    void nullInputsAndUnknownOutputsAreRefused() {
        Map<String, Tensor> withNull = new HashMap<>();
        withNull.put("x", null);
        assertTrue(invalid(() -> relu.run(withNull)).contains("'x' is null"));
        assertEquals(
                "Unknown output name 'z', expected one of [y]",
                invalid(() -> relu.run(Map.of("x", Tensor.of(new float[4], 1, 4)), List.of("z"))));
        assertTrue(invalid(() -> relu.run(Map.of("x", Tensor.of(new float[4], 1, 4)), List.of()))
                .contains("at least one"));
        assertTrue(invalid(() -> twoOutputs.run(Map.of("x", Tensor.of(new float[2], 1, 2)), List.of("pos", "pos")))
                .contains("twice"));
    }

    @Test
    void runOfOneTensorNeedsOneInputAndOneOutput() {
        String m = invalid(() -> add.run(Tensor.of(new float[6], 2, 3)));
        assertTrue(m.contains("one input and one output") && m.contains("[a, b]"), m);
        assertTrue(invalid(() -> twoOutputs.run(Tensor.of(new float[2], 1, 2))).contains("[pos, neg]"));
    }

    @Test
    void failuresInsideOnnxRuntimeBecomeForgeRuntimeExceptions() {
        try (Model reshape = Model.load(TestModels.reshapeTo2x2(), "reshape", ModelOptions.defaults())) {
            assertArrayEquals(
                    new float[] {1, 2, 3, 4},
                    reshape.run(Tensor.of(new float[] {1, 2, 3, 4}, 4)).toFloatArray());
            ForgeRuntimeException e =
                    assertThrows(ForgeRuntimeException.class, () -> reshape.run(Tensor.of(new float[] {1, 2, 3}, 3)));
            assertFalse(e instanceof InvalidInputException);
            assertTrue(e.getMessage().startsWith("ONNX Runtime failed to run reshape: "), e.getMessage());
            // and the session still works afterwards
            assertEquals(4, reshape.run(Tensor.of(new float[4], 4)).size());
        }
    }

    @Test
    void emptyBatchesRun() {
        Tensor y = relu.run(Tensor.zeros(DType.FLOAT32, 0, 4));
        assertArrayEquals(new long[] {0, 4}, y.shape());
    }
}
