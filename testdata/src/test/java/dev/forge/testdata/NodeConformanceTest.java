package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.DType;
import dev.forge.runtime.OptionalValue;
import dev.forge.runtime.Tensor;
import dev.forge.runtime.TensorSequence;
import dev.forge.runtime.Value;
import dev.forge.runtime.ValueKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ONNX backend node suite through Forge ({@link NodeConformance}), and docs/CONFORMANCE.md kept equal
 * to what it measures. {@code -Dforge.conformance.write=true} (what {@code scripts/conformance.sh} passes)
 * rewrites the page instead of comparing it.
 */
class NodeConformanceTest {
    private static List<NodeConformance.Result> results;

    @BeforeAll
    static void runSuite() {
        results = NodeConformance.runAll(Math.max(1, Runtime.getRuntime().availableProcessors()));
    }

    @Test
    void every_node_case_passes_or_is_refused_by_onnx_runtime_too() {
        List<String> failures = results.stream()
                .filter(NodeConformance.Result::failed)
                .map(NodeConformance.Result::failures)
                .collect(Collectors.toList());
        assertTrue(failures.isEmpty(), failures.size() + " node cases fail:\n" + String.join("\n", failures));
        // the whole suite ran: onnx 1.12 generates 922 cases
        assertTrue(results.size() >= 900, "only " + results.size() + " cases were generated");
    }

    @Test
    void docs_conformance_md_is_what_the_suite_measures() throws IOException {
        String report = NodeConformance.report(results);
        if (Boolean.getBoolean("forge.conformance.write")) {
            Files.writeString(NodeConformance.DOC, report);
            return;
        }
        String committed = Files.readString(NodeConformance.DOC);
        assertEquals(
                committed,
                report,
                "docs/CONFORMANCE.md is not what this run measures; regenerate it with " + NodeConformance.COMMAND);
    }

    @Test
    void an_output_outside_the_tolerance_fails_the_case(@TempDir Path tmp) throws IOException {
        Path dir = copyCase("test_abs", tmp);
        Path pb = dir.resolve("test_data_set_0").resolve("output_0.pb");
        byte[] bytes = Files.readAllBytes(pb);
        // the raw float data is the tail of the TensorProto: nudge the last value by far more than 1e-4 + 1e-3|x|
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int last = bytes.length - 4;
        b.putFloat(last, b.getFloat(last) + 0.01f);
        Files.write(pb, bytes);
        NodeConformance.Result r = NodeConformance.runCase(dir, "test_abs", "Abs", 13);
        assertEquals(NodeConformance.Outcome.FAIL, r.runtime(), r.toString());
        assertTrue(r.runtimeDetail().contains("tolerance"), r.runtimeDetail());
    }

    @Test
    void a_model_both_forge_and_onnx_runtime_refuse_is_listed_with_onnx_runtimes_message(@TempDir Path tmp)
            throws IOException {
        Path dir = copyCase("test_abs", tmp);
        byte[] model = Files.readAllBytes(dir.resolve("model.onnx"));
        var proto = dev.forge.compiler.onnx.proto.Onnx.ModelProto.parseFrom(model);
        var changed = proto.toBuilder()
                .setGraph(proto.getGraph().toBuilder()
                        .setNode(0, proto.getGraph().getNode(0).toBuilder().setOpType("NoSuchOp")))
                .build();
        Files.write(dir.resolve("model.onnx"), changed.toByteArray());
        NodeConformance.Result r = NodeConformance.runCase(dir, "test_abs", "Abs", 13);
        assertEquals(NodeConformance.Outcome.REFUSED_BY_ORT, r.runtime(), r.toString());
        assertEquals("session", r.ortStage());
        assertTrue(r.ortMessage().contains("NoSuchOp"), r.ortMessage());
    }

    @Test
    void floats_compare_within_the_tolerance_and_integers_exactly() {
        assertNull(NodeConformance.compare(Tensor.of(new float[] {100f}, 1), Tensor.of(new float[] {100.1f}, 1)));
        assertNotNull(NodeConformance.compare(Tensor.of(new float[] {100f}, 1), Tensor.of(new float[] {100.2f}, 1)));
        assertNull(
                NodeConformance.compare(Tensor.of(new float[] {Float.NaN}, 1), Tensor.of(new float[] {Float.NaN}, 1)));
        assertNotNull(NodeConformance.compare(Tensor.of(new float[] {Float.NaN}, 1), Tensor.of(new float[] {0f}, 1)));
        assertNotNull(NodeConformance.compare(
                Tensor.of(new long[] {1L << 40}, 1), Tensor.of(new long[] {(1L << 40) + 1}, 1)));
        assertNotNull(NodeConformance.compare(
                Tensor.ofStrings(new String[] {"a"}, 1), Tensor.ofStrings(new String[] {"b"}, 1)));
    }

    @Test
    void sequences_compare_tensor_by_tensor_and_optionals_by_presence_and_content() {
        TensorSequence two = TensorSequence.of(
                DType.FLOAT32, List.of(Tensor.of(new float[] {1, 2}, 2), Tensor.of(new float[] {3}, 1)));
        TensorSequence near = TensorSequence.of(
                DType.FLOAT32, List.of(Tensor.of(new float[] {1, 2.0001f}, 2), Tensor.of(new float[] {3}, 1)));
        TensorSequence one = TensorSequence.of(DType.FLOAT32, List.of(Tensor.of(new float[] {1, 2}, 2)));
        TensorSequence off = TensorSequence.of(
                DType.FLOAT32, List.of(Tensor.of(new float[] {1, 2}, 2), Tensor.of(new float[] {3.1f}, 1)));
        assertNull(NodeConformance.compare((Value) two, near));
        assertNotNull(NodeConformance.compare((Value) two, one));
        assertTrue(NodeConformance.compare((Value) two, off).startsWith("sequence element 1"));
        OptionalValue empty = OptionalValue.empty(ValueKind.OPTIONAL_SEQUENCE);
        assertNull(NodeConformance.compare(empty, OptionalValue.empty(ValueKind.OPTIONAL_SEQUENCE)));
        assertNotNull(NodeConformance.compare(empty, OptionalValue.of(two)));
        assertNull(NodeConformance.compare(OptionalValue.of(two), OptionalValue.of(near)));
        assertNotNull(NodeConformance.compare(OptionalValue.of(two), OptionalValue.of(off)));
        assertNotNull(NodeConformance.compare((Value) two, OptionalValue.of(two)));
    }

    @Test
    void the_suites_sequence_and_optional_files_are_read_as_values() {
        Path seq = NodeConformance.suite().resolve("test_if_seq/test_data_set_0/output_0.pb");
        TensorSequence s = ExpectedValues.read(seq, ValueKind.SEQUENCE).asSequence();
        assertEquals(1, s.size());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5}, s.get(0).toFloatArray());
        Path opt = NodeConformance.suite().resolve("test_if_opt/test_data_set_0/output_0.pb");
        OptionalValue o = ExpectedValues.read(opt, ValueKind.OPTIONAL_SEQUENCE).asOptional();
        assertEquals(s, o.get().asSequence());
    }

    private static Path copyCase(String name, Path tmp) throws IOException {
        Path from = NodeConformance.suite().resolve(name);
        Path to = tmp.resolve(name);
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.sorted(Comparator.naturalOrder()).toList()) {
                Files.copy(p, to.resolve(from.relativize(p).toString()));
            }
        }
        return to;
    }
}
