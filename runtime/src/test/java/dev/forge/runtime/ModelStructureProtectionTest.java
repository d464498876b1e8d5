package dev.forge.runtime;

import static dev.forge.runtime.HostileModelTest.addConstant;
import static dev.forge.runtime.HostileModelTest.assertMessage;
import static dev.forge.runtime.HostileModelTest.externalModel;
import static dev.forge.runtime.HostileModelTest.model;
import static dev.forge.runtime.HostileModelTest.refusedBytes;
import static dev.forge.runtime.HostileModelTest.reluGraph;
import static dev.forge.runtime.HostileModelTest.tensorAttr;
import static dev.forge.runtime.TestModels.FLOAT;
import static dev.forge.runtime.TestModels.floatInitializer;
import static dev.forge.runtime.TestModels.node;
import static dev.forge.runtime.TestModels.valueInfo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import dev.forge.runtime.ModelLoading.Source;
import dev.forge.runtime.TestModels.Msg;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The protections of docs/SECURITY.md beyond the wire format that had no targeted test: ranks over 64,
 * data locations, sparse attribute tensors, duplicate graph inputs, cycles through subgraph reads,
 * hostile content inside functions and training info, the bounds on what the validator keeps, external
 * locations in every absolute form and on special files, and a model file read once. Each asserts the
 * validator's own words (or, for the file read once, which model ONNX Runtime got).
 */
class ModelStructureProtectionTest {
    @TempDir
    Path dir;

    static final String PREFIX = "Cannot load model hostile: ";

    static String refusal(byte[] model) {
        return refusedBytes(model).getMessage();
    }

    static String refusal(byte[] model, ModelLimits limits) {
        return refusedBytes(model, limits).getMessage();
    }

    // ------------------------------------------------------------------ tensors

    @Test
    void more_than_64_dimensions_are_refused_in_tensors_and_declared_shapes() {
        Msg deep = new Msg().str(8, "c");
        for (int i = 0; i < 65; i++) {
            deep.i64(1, 1);
        }
        deep.i64(2, FLOAT).f32(4, 1);
        assertEquals(
                PREFIX + "refused: tensor 'c' has more than 64 dimensions (in graph > initializer #0)",
                refusal(model(reluGraph().msg(5, deep))));
        Object[] dims = new Object[65];
        java.util.Arrays.fill(dims, 1L);
        Msg g = new Msg()
                .msg(1, node("Relu", "relu", List.of("x"), List.of("y")))
                .msg(11, valueInfo("x", FLOAT, dims))
                .msg(12, valueInfo("y", FLOAT, "N", 4L));
        assertEquals(
                PREFIX + "refused: value 'x' has more than 64 dimensions (in graph > input #0)", refusal(model(g)));
        // 64 is allowed
        Msg rank64 = new Msg();
        for (int i = 0; i < 64; i++) {
            rank64.i64(1, 1);
        }
        rank64.i64(2, FLOAT).str(8, "c").f32(4, 1);
        ModelValidator.validate(model(reluGraph().msg(5, rank64)), "rank64", null, ModelLimits.defaults());
    }

    @Test
    void data_locations_other_than_default_and_external_are_refused() {
        for (long location : new long[] {2, 7, 1L << 40}) {
            Msg t = new Msg().i64(1, 1).i64(2, FLOAT).str(8, "c").f32(4, 1).i64(14, location);
            assertEquals(
                    PREFIX + "not a valid ONNX model: tensor 'c' has data_location " + location
                            + "; expected 0 (DEFAULT) or 1 (EXTERNAL) (in graph > initializer #0)",
                    refusal(model(reluGraph().msg(5, t))));
        }
        Msg explicitDefault =
                new Msg().i64(1, 1).i64(2, FLOAT).str(8, "c").f32(4, 1).i64(14, 0);
        ModelValidator.validate(model(reluGraph().msg(5, explicitDefault)), "d", null, ModelLimits.defaults());
    }

    @Test
    void sparse_attribute_tensors_are_refused() {
        Msg sparse = new Msg()
                .msg(1, new Msg().i64(1, 1).i64(2, FLOAT).f32(4, 1))
                .msg(2, new Msg().i64(1, 1).i64(2, TestModels.INT64).i64(7, 0))
                .i64(3, 100_000)
                .i64(3, 100_000);
        for (int field : new int[] {22, 23}) {
            Msg attr = new Msg().str(1, "sparse_value").msg(field, sparse).i64(20, field == 22 ? 11 : 12);
            Msg constant = node("Constant", "k", List.of(), List.of("c"), attr);
            assertMessage(
                    refusedBytes(model(addConstant(List.of(constant), List.of()))),
                    "refused: sparse tensor attributes are not supported",
                    "(in graph > node #0 > attribute #0)");
        }
    }

    // ------------------------------------------------------------------ graph structure

    @Test
    void a_graph_input_declared_twice_is_refused() {
        Msg g = reluGraph().msg(11, valueInfo("x", FLOAT, "N", 4L));
        assertEquals(
                PREFIX + "not a valid ONNX model: graph input 'x' is declared twice (in graph)", refusal(model(g)));
    }

    @Test
    void a_node_output_redefining_an_initializer_is_refused() {
        Msg g = addConstant(
                List.of(node("Relu", "r", List.of("x"), List.of("c"))),
                List.of(floatInitializer("c", new float[] {1}, 1, 1)));
        assertEquals(
                PREFIX + "not a valid ONNX model: node 'r' (Relu) produces 'c', which is already a graph input or"
                        + " initializer (in graph)",
                refusal(model(g)));
    }

    @Test
    void a_cycle_closed_by_a_subgraph_read_is_refused() {
        // 'if' produces y; its then-branch reads 'b_out', which 'b' computes from y: a cycle only through the
        // subgraph's read of an enclosing value
        Msg thenBranch = new Msg()
                .msg(1, node("Relu", "t", List.of("b_out"), List.of("t_out")))
                .msg(12, valueInfo("t_out", FLOAT, "N", 4L));
        Msg elseBranch = new Msg()
                .msg(1, node("Neg", "e", List.of("x"), List.of("e_out")))
                .msg(12, valueInfo("e_out", FLOAT, "N", 4L));
        Msg ifNode = node(
                "If",
                "if",
                List.of("cond"),
                List.of("y"),
                new Msg().str(1, "then_branch").msg(6, thenBranch).i64(20, 5),
                new Msg().str(1, "else_branch").msg(6, elseBranch).i64(20, 5));
        Msg g = new Msg()
                .msg(1, ifNode)
                .msg(1, node("Relu", "b", List.of("y"), List.of("b_out")))
                .msg(11, valueInfo("x", FLOAT, "N", 4L))
                .msg(11, valueInfo("cond", TestModels.BOOL))
                .msg(12, valueInfo("b_out", FLOAT, "N", 4L));
        assertEquals(
                PREFIX + "not a valid ONNX model: the graph has a cycle through 2 nodes, among them ['if' (If), 'b'"
                        + " (Relu)] (in graph)",
                refusal(model(g)));
    }

    @Test
    void hostile_tensors_inside_functions_and_training_info_are_refused() {
        Msg badValue = new Msg().i64(1, 4).i64(2, FLOAT).bytes(9, new byte[8]);
        Msg function = new Msg()
                .str(1, "F")
                .str(10, "local")
                .str(4, "a")
                .str(5, "b")
                .msg(7, node("Constant", "k", List.of(), List.of("b"), tensorAttr("value", badValue)))
                .msg(9, new Msg().str(1, "").i64(2, 17));
        byte[] withFunction = new Msg()
                .i64(1, 8)
                .msg(7, reluGraph())
                .msg(8, new Msg().str(1, "").i64(2, 17))
                .msg(8, new Msg().str(1, "local").i64(2, 1))
                .msg(25, function)
                .toBytes();
        assertEquals(
                PREFIX + "not a valid ONNX model: tensor '' has 8 bytes of raw_data but its shape holds 4 elements of"
                        + " float = 16 bytes (in function #0 > node #0 > attribute #0 > tensor)",
                refusal(withFunction));
        Msg badInit = new Msg().i64(1, 4).i64(2, FLOAT).str(8, "w").bytes(9, new byte[8]);
        byte[] withTraining = new Msg()
                .i64(1, 8)
                .msg(7, reluGraph())
                .msg(8, new Msg().str(1, "").i64(2, 17))
                .msg(20, new Msg().msg(2, new Msg().msg(5, badInit)))
                .toBytes();
        assertEquals(
                PREFIX + "not a valid ONNX model: tensor 'w' has 8 bytes of raw_data but its shape holds 4 elements of"
                        + " float = 16 bytes (in training_info #0 > algorithm > initializer #0)",
                refusal(withTraining));
    }

    // ------------------------------------------------------------------ what the validator keeps is bounded

    @Test
    void graph_inputs_and_outputs_are_bounded_by_max_nodes() {
        ModelLimits two = ModelLimits.builder().maxNodes(2).build();
        assertEquals(
                PREFIX + "refused: the model has more than ModelLimits.maxNodes (2) graph inputs and outputs (in"
                        + " graph)",
                refusal(model(reluGraph().msg(11, valueInfo("z", FLOAT, 1L))), two));
    }

    @Test
    void functions_and_training_graphs_count_against_max_nodes() {
        // empty functions and training graphs cost the validator a structure each (hundreds of bytes for 3 bytes
        // of model); without a bound a 1 GiB model of them would need hundreds of GB
        Msg m = new Msg()
                .i64(1, 8)
                .msg(7, reluGraph())
                .msg(8, new Msg().str(1, "").i64(2, 17));
        for (int i = 0; i < 10; i++) {
            m.msg(25, new Msg());
        }
        ModelLimits ten = ModelLimits.builder().maxNodes(10).build();
        assertEquals(
                PREFIX + "refused: the model has more than ModelLimits.maxNodes (10) nodes, subgraphs and functions (in"
                        + " function #9)",
                refusal(m.toBytes(), ten));
        ModelLimits eleven = ModelLimits.builder().maxNodes(11).build();
        ModelValidator.validate(m.toBytes(), "ok", null, eleven);
        Msg t = new Msg()
                .i64(1, 8)
                .msg(7, reluGraph())
                .msg(8, new Msg().str(1, "").i64(2, 17));
        for (int i = 0; i < 5; i++) {
            t.msg(20, new Msg().msg(1, new Msg()).msg(2, new Msg()));
        }
        assertEquals(
                PREFIX + "refused: the model has more than ModelLimits.maxNodes (10) nodes and subgraphs (in"
                        + " training_info #4)",
                refusal(t.toBytes(), ten));
        // at the default limit: 100,001 empty functions (300 KB) are refused
        Msg many = new Msg()
                .i64(1, 8)
                .msg(7, reluGraph())
                .msg(8, new Msg().str(1, "").i64(2, 17));
        for (int i = 0; i < 100_001; i++) {
            many.msg(25, new Msg());
        }
        assertMessage(refusedBytes(many.toBytes()), "more than ModelLimits.maxNodes (100000) nodes, subgraphs and");
    }

    // ------------------------------------------------------------------ external data

    Path modelDir() throws Exception {
        Path models = dir.resolve("models");
        Files.createDirectories(models);
        return models;
    }

    ModelLoadException externalRefusal(String location) throws Exception {
        Path p = modelDir().resolve("model.onnx");
        Files.write(p, externalModel(location, null, null));
        return assertThrows(ModelLoadException.class, () -> Model.load(p), location);
    }

    @Test
    void external_locations_in_every_absolute_form_and_with_nul_are_refused() throws Exception {
        Files.write(modelDir().resolve("w.bin"), HostileModelTest.weights(1, 2, 3, 4));
        for (String location : List.of("\\w.bin", "\\\\server\\share\\w.bin", "C:w.bin", "c:\\w.bin", "Z:/w.bin")) {
            assertMessage(
                    externalRefusal(location),
                    "refused: tensor 'W' points at external data",
                    "outside the model's directory (an absolute path)");
        }
        assertMessage(externalRefusal("w.bin\0.txt"), "refused: tensor 'W' has an external data location with a NUL");
        assertMessage(
                externalRefusal("a/".repeat(2049) + "w.bin"),
                "refused: tensor 'W' has an external data location longer than 4096 bytes");
        // the same file, named plainly, loads
        Path good = modelDir().resolve("good.onnx");
        Files.write(good, externalModel("w.bin", null, null));
        try (Model m = Model.load(good)) {
            assertArrayEquals(new float[] {2, 3, 4, 5}, HostileModelTest.run(m, 1, 1, 1, 1));
        }
    }

    @Test
    void external_data_that_is_not_a_regular_file_is_refused_without_opening_it() throws Exception {
        Path models = modelDir();
        Files.createDirectories(models.resolve("sub"));
        Process mk = new ProcessBuilder("mkfifo", models.resolve("pipe").toString())
                .inheritIO()
                .start();
        assertEquals(0, mk.waitFor());
        // opening the pipe for reading would block: the timeout fails the test if anything opens it
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            for (String location : List.of("sub", "pipe")) {
                assertMessage(
                        externalRefusal(location),
                        "refused: tensor 'W' points at external data '" + location + "', which is not a regular file");
            }
        });
    }

    // ------------------------------------------------------------------ a model file is read once

    @Test
    void the_bytes_checked_are_the_bytes_onnx_runtime_loads_even_if_the_file_changes() throws Exception {
        Path p = dir.resolve("model.onnx");
        Files.write(p, TestModels.relu());
        Source src = Source.ofFile(p);
        src.check(ModelLimits.defaults());
        // swapped after the check: a model with another output name, and bytes that are not a model at all
        Files.write(p, TestModels.twoOutputs());
        try (SessionOptions so = NativeObjects.sessionOptions()) {
            OrtSession session = src.open(so);
            try {
                assertEquals(Set.of("y"), session.getOutputNames());
            } finally {
                ModelLoading.closeSession(session);
            }
        }
        Files.write(p, "not a model".getBytes());
        try (SessionOptions so = NativeObjects.sessionOptions()) {
            ModelLoading.closeSession(src.open(so));
        }
    }
}
