package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sequence and optional outputs ({@link TestModels#sequencesAndOptionals()}): declared kinds in {@link
 * Model#outputs()}, values from {@link Model#runValues}, including the empty sequence and empty optionals
 * ONNX Runtime's Java API cannot return by itself, and the refusal of sequence and optional inputs.
 */
class SequenceOptionalTest {
    private static final float[] A = {1, -2, 3};
    private static final float[] B = {10, 20};

    private static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(TestModels.sequencesAndOptionals(), "seqopt", ModelOptions.defaults());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static Map<String, Tensor> feeds() {
        return Map.of("a", Tensor.of(A, 3), "b", Tensor.of(B, 2));
    }

    @Test
    void outputs_carry_their_onnx_kind_and_print_their_onnx_type() {
        List<TensorSpec> outs = model.outputs();
        assertEquals(
                List.of("y", "parts", "nothing", "some", "none", "someSeq", "noneSeq"),
                outs.stream().map(TensorSpec::name).toList());
        assertEquals(
                List.of(
                        ValueKind.TENSOR,
                        ValueKind.SEQUENCE,
                        ValueKind.SEQUENCE,
                        ValueKind.OPTIONAL_TENSOR,
                        ValueKind.OPTIONAL_TENSOR,
                        ValueKind.OPTIONAL_SEQUENCE,
                        ValueKind.OPTIONAL_SEQUENCE),
                outs.stream().map(TensorSpec::kind).toList());
        assertEquals("y: float32[N]", outs.get(0).toString());
        assertEquals("parts: sequence(float32[])", outs.get(1).toString());
        assertEquals("some: optional(float32[N])", outs.get(3).toString());
        assertEquals("someSeq: optional(sequence(float32[]))", outs.get(5).toString());
        assertTrue(outs.get(0).isTensor());
        assertFalse(outs.get(1).isTensor());
    }

    @Test
    void run_values_returns_sequences_and_optionals_including_empty_ones() {
        Map<String, Value> out = model.runValues(feeds());
        assertArrayEquals(new float[] {2, -4, 6}, out.get("y").asTensor().toFloatArray());

        TensorSequence parts = out.get("parts").asSequence();
        assertEquals(2, parts.size());
        assertEquals(DType.FLOAT32, parts.elementType());
        assertArrayEquals(A, parts.get(0).toFloatArray());
        assertArrayEquals(B, parts.get(1).toFloatArray());
        assertArrayEquals(new long[] {2}, parts.get(1).shape());

        TensorSequence nothing = out.get("nothing").asSequence();
        assertTrue(nothing.isEmpty(), nothing.toString());
        assertEquals(DType.FLOAT32, nothing.elementType());

        OptionalValue some = out.get("some").asOptional();
        assertTrue(some.isPresent());
        assertArrayEquals(A, some.get().asTensor().toFloatArray());

        OptionalValue none = out.get("none").asOptional();
        assertFalse(none.isPresent());
        assertEquals(ValueKind.OPTIONAL_TENSOR, none.kind());

        OptionalValue someSeq = out.get("someSeq").asOptional();
        assertEquals(parts, someSeq.get().asSequence());

        OptionalValue noneSeq = out.get("noneSeq").asOptional();
        assertFalse(noneSeq.isPresent());
        assertEquals(ValueKind.OPTIONAL_SEQUENCE, noneSeq.kind());
    }

    @Test
    void requested_outputs_come_back_in_the_requested_order() {
        Map<String, Value> out = model.runValues(feeds(), List.of("noneSeq", "parts", "y"));
        assertEquals(List.of("noneSeq", "parts", "y"), List.copyOf(out.keySet()));
        assertEquals(OptionalValue.empty(ValueKind.OPTIONAL_SEQUENCE), out.get("noneSeq"));
        assertEquals(2, out.get("parts").asSequence().size());
    }

    @Test
    void run_returns_the_tensor_outputs_and_points_to_run_values_for_the_others() {
        Map<String, Tensor> y = model.run(feeds(), List.of("y"));
        assertArrayEquals(new float[] {2, -4, 6}, y.get("y").toFloatArray());
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.run(feeds()));
        assertTrue(e.getMessage().contains("'parts'") && e.getMessage().contains("runValues"), e.getMessage());
    }

    @Test
    void repeated_runs_leave_no_native_object_open() {
        long before = Model.openNativeObjects();
        for (int i = 0; i < 50; i++) {
            model.runValues(feeds());
        }
        assertEquals(before, Model.openNativeObjects());
    }

    @Test
    void the_optimized_model_cache_keeps_the_carried_outputs(@TempDir Path dir) {
        Path cache = dir.resolve("seqopt.ort.onnx");
        ModelOptions o = ModelOptions.builder().optimizedModelCache(cache).build();
        Map<String, Value> first;
        try (Model m = Model.load(TestModels.sequencesAndOptionals(), "seqopt", o)) {
            assertFalse(m.loadedFromCache());
            first = m.runValues(feeds());
        }
        assertTrue(Files.isRegularFile(cache));
        try (Model m = Model.load(TestModels.sequencesAndOptionals(), "seqopt", o)) {
            assertTrue(m.loadedFromCache());
            assertEquals(model.outputs(), m.outputs());
            assertEquals(first, m.runValues(feeds()));
        }
    }

    @Test
    void a_sequence_input_is_refused_at_load_saying_why_and_what_to_do() {
        ModelLoadException e = assertThrows(
                ModelLoadException.class,
                () -> Model.load(TestModels.sequenceInput(), "seqin", ModelOptions.defaults()));
        assertTrue(e.getMessage().contains("input 's' has type sequence(tensor(float))"), e.getMessage());
        assertTrue(e.getMessage().contains("SequenceConstruct"), e.getMessage());
    }

    @Test
    void an_optional_input_is_refused_at_load_saying_why_and_what_to_do() {
        ModelLoadException e = assertThrows(
                ModelLoadException.class,
                () -> Model.load(TestModels.optionalInput(), "optin", ModelOptions.defaults()));
        assertTrue(e.getMessage().contains("input 'o' has type optional(tensor(float))"), e.getMessage());
        assertTrue(e.getMessage().contains("Optional node"), e.getMessage());
    }

    @Test
    void the_validator_does_not_take_a_sequence_inputs_element_shape_for_a_tensor_shape() {
        // s: sequence(float[100000, 100000]) and t = Identity(s): a sequence passed on, not a 40 GB tensor
        TestModels.ModelSpec m = new TestModels.ModelSpec();
        TestModels.Msg seq = TestModels.sequenceType(TestModels.tensorType(TestModels.FLOAT, 100_000L, 100_000L));
        m.nodes.add(TestModels.node("Identity", "id", List.of("s"), List.of("t")));
        m.inputs.add(TestModels.typed("s", seq));
        m.outputs.add(TestModels.typed("t", seq));
        ModelValidator.validate(m.build(), "sequence identity", null, ModelLimits.defaults());
    }

    @Test
    void sequences_and_optionals_of_other_element_types_come_back_as_they_went_in() {
        // ONNX Runtime's Java API reads sequences of float, double, int64 and string only; the others are
        // widened inside the model and narrowed back (exactly)
        List<Tensor> inputs = List.of(
                Tensor.ofStrings(new String[] {"h\u00e9llo", ""}, 2),
                Tensor.of(new long[] {-1, 1L << 40}, 2),
                Tensor.of(new double[] {0.1, -1e300}, 2),
                Tensor.of(new int[] {-1, Integer.MAX_VALUE}, 2),
                Tensor.ofInt16(new short[] {-1, Short.MIN_VALUE}, 2),
                Tensor.ofInt8(new byte[] {-1, 127}, 2),
                Tensor.ofUint8(new byte[] {-1, 7}, 2),
                Tensor.ofFloat16(new float[] {0.5f, 65504f}, 2),
                Tensor.ofBool(new boolean[] {true, false}, 2));
        for (Tensor s : inputs) {
            try (Model m =
                    Model.load(TestModels.sequenceOf(s.dtype().onnxElementType()), "seq", ModelOptions.defaults())) {
                Map<String, Value> out = m.runValues(Map.of("s", s));
                assertEquals(
                        TensorSequence.of(s.dtype(), List.of(s, s)),
                        out.get("parts"),
                        s.dtype().typeName());
                assertEquals(OptionalValue.of(s), out.get("some"), s.dtype().typeName());
                assertEquals(
                        OptionalValue.of(out.get("parts")),
                        out.get("someSeq"),
                        s.dtype().typeName());
                assertEquals(
                        "parts: sequence(" + s.dtype().typeName() + "[N])",
                        m.outputs().get(0).toString());
            }
        }
    }

    @Test
    void sequences_of_unsigned_types_java_cannot_feed_come_back_with_their_bits() {
        long[] x = {-1, 7};
        List<Tensor> expected = List.of(
                Tensor.ofUint16(new short[] {-1, 7}, 2),
                Tensor.ofUint32(new int[] {-1, 7}, 2),
                Tensor.ofUint64(new long[] {-1, 7}, 2));
        for (Tensor e : expected) {
            try (Model m = Model.load(
                    TestModels.sequenceOfCast(e.dtype().onnxElementType()), "cast", ModelOptions.defaults())) {
                Map<String, Value> out = m.runValues(Map.of("x", Tensor.of(x, 2)));
                assertEquals(
                        TensorSequence.of(e.dtype(), List.of(e, e)),
                        out.get("parts"),
                        e.dtype().typeName());
                assertEquals(OptionalValue.of(e), out.get("some"), e.dtype().typeName());
                assertEquals(
                        OptionalValue.of(out.get("parts")),
                        out.get("someSeq"),
                        e.dtype().typeName());
            }
        }
    }

    @Test
    void values_compare_by_content_and_print_their_shape() {
        TensorSequence s = TensorSequence.of(DType.FLOAT32, List.of(Tensor.of(A, 3), Tensor.of(B, 2)));
        assertEquals("sequence(float32)[[3], [2]]", s.toString());
        assertEquals(s, TensorSequence.of(DType.FLOAT32, List.of(Tensor.of(A, 3), Tensor.of(B, 2))));
        assertEquals(
                "optional(empty)",
                OptionalValue.empty(ValueKind.OPTIONAL_TENSOR).toString());
        assertThrows(IllegalArgumentException.class, () -> TensorSequence.of(DType.INT64, List.of(Tensor.of(A, 3))));
        assertThrows(IllegalArgumentException.class, () -> OptionalValue.empty(ValueKind.SEQUENCE));
        assertThrows(IllegalStateException.class, () -> s.asTensor());
    }
}
