package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelLoadTest {
    @TempDir
    Path dir;

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    @Test
    void loadsFromAPathAndReportsWhatTheModelDeclares() throws IOException {
        Path file = write("relu.onnx", TestModels.relu());
        try (Model m = Model.load(file)) {
            assertEquals(
                    List.of("x: float32[N,4]"),
                    m.inputs().stream().map(TensorSpec::toString).toList());
            assertEquals(
                    List.of("y: float32[N,4]"),
                    m.outputs().stream().map(TensorSpec::toString).toList());
            TensorSpec x = m.inputs().get(0);
            assertEquals("x", x.name());
            assertEquals(DType.FLOAT32, x.dtype());
            assertArrayEquals(new long[] {-1, 4}, x.shape());
            assertArrayEquals(new String[] {"N", null}, x.dimNames());
            assertEquals(Map.of("author", "forge", "license", "MIT"), m.metadata());
            assertEquals("forge-test", m.producerName());
            assertEquals("relu_graph", m.graphName());
            assertEquals("Relu of a batch of 4-vectors", m.description());
            assertEquals(3, m.version());
            assertEquals(Device.cpu(), m.device());
            assertEquals(ModelOptions.defaults(), m.options());
            assertEquals(file.toString(), m.sourceName());
            assertFalse(m.loadedFromCache());
            assertTrue(m.toString().contains("x: float32[N,4]"), m.toString());
        }
    }

    @Test
    void loadsFromBytesWithAndWithoutAName() {
        try (Model m = Model.load(TestModels.add(), "add-model", ModelOptions.defaults())) {
            assertEquals("add-model", m.sourceName());
            assertEquals(
                    List.of("a", "b"), m.inputs().stream().map(TensorSpec::name).toList());
            assertEquals(
                    List.of("a: float32[2,3]", "b: float32[2,3]"),
                    m.inputs().stream().map(Object::toString).toList());
            assertTrue(m.metadata().isEmpty());
            assertEquals(0, m.version(), "no model_version set");
        }
        try (Model m = Model.load(TestModels.add(), ModelOptions.defaults())) {
            assertTrue(m.sourceName().contains("bytes"), m.sourceName());
        }
    }

    @Test
    void optionsAreApplied() {
        ModelOptions opts = ModelOptions.builder()
                .intraOpThreads(1)
                .interOpThreads(2)
                .optimizationLevel(OptimizationLevel.NONE)
                .build();
        try (Model m = Model.load(TestModels.relu(), "relu", opts)) {
            assertEquals(opts, m.options());
            assertArrayEquals(
                    new float[] {0, 2, 0, 4},
                    m.run(Tensor.of(new float[] {-1, 2, -3, 4}, 1, 4)).toFloatArray());
        }
    }

    private static String loadFailure(Path p) {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(p));
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void aMissingFileIsAModelLoadException() {
        assertTrue(loadFailure(dir.resolve("missing.onnx")).contains("file not found"));
    }

    @Test
    void aDirectoryIsAModelLoadException() {
        assertTrue(loadFailure(dir).contains("directory"));
    }

    @Test
    void anEmptyFileIsAModelLoadException() throws IOException {
        String m = loadFailure(write("empty.onnx", new byte[0]));
        assertTrue(m.contains("empty (0 bytes)") && m.contains("not a valid ONNX model"), m);
    }

    @Test
    void aTruncatedModelIsAModelLoadException() throws IOException {
        byte[] model = TestModels.classifier(false);
        for (int cut : new int[] {1, 2, 5, model.length / 2, model.length - 1}) {
            String m = loadFailure(write("cut" + cut + ".onnx", Arrays.copyOf(model, cut)));
            assertTrue(m.contains("not a valid ONNX model"), m);
        }
        String m = loadFailure(write("half.onnx", Arrays.copyOf(model, model.length / 2)));
        assertTrue(m.contains("truncated"), m);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void randomBytesAreAModelLoadException(long seed) {
        byte[] junk = new byte[4096];
        new Random(seed).nextBytes(junk);
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> Model.load(junk, "junk", ModelOptions.defaults()));
        assertTrue(e.getMessage().startsWith("Cannot load model junk: not a valid ONNX model"), e.getMessage());
        // Make the first byte a valid ModelProto tag (ir_version) so the bytes get further.
        junk[0] = 0x08;
        junk[1] = 0x08;
        assertThrows(ModelLoadException.class, () -> Model.load(junk, "junk", ModelOptions.defaults()));
    }

    @Test
    void aModelProtoWithoutAGraphIsRefusedBeforeOnnxRuntime() {
        // ir_version = 8, one opset import and nothing else: a well-formed ModelProto without a graph.
        byte[] noGraph = new TestModels.Msg()
                .i64(1, 8)
                .msg(8, new TestModels.Msg().str(1, "").i64(2, 17))
                .toBytes();
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> Model.load(noGraph, "nograph", ModelOptions.defaults()));
        assertEquals("Cannot load model nograph: not a valid ONNX model: the model has no graph", e.getMessage());
    }

    @Test
    void textAndOtherFormatsAreRefusedEarly() {
        ModelLoadException e = assertThrows(
                ModelLoadException.class,
                () -> Model.load("hello, not a model".getBytes(), "text", ModelOptions.defaults()));
        assertTrue(e.getMessage().contains("do not start like an ONNX ModelProto"), e.getMessage());
        byte[] npy = Npy.toBytes(Tensor.of(new float[] {1}, 1));
        assertThrows(ModelLoadException.class, () -> Model.load(npy, "npy", ModelOptions.defaults()));
    }

    @Test
    void unsupportedElementTypesAreRefusedAtLoad() {
        ModelLoadException e = assertThrows(
                ModelLoadException.class,
                () -> Model.load(TestModels.uint32Identity(), "u32", ModelOptions.defaults()));
        assertTrue(e.getMessage().contains("uint32") && e.getMessage().contains("OnnxJavaType"), e.getMessage());
        // complex64 (14): ONNX Runtime itself has no tensor type for it
        ModelLoadException c = assertThrows(
                ModelLoadException.class, () -> Model.load(TestModels.identity(14), "c64", ModelOptions.defaults()));
        assertTrue(c.getMessage().contains("complex64"), c.getMessage());
    }

    @Test
    void theValidatorAcceptsRealModelsAndRejectsGarbage() {
        ModelValidator.validate(TestModels.conv(), "conv", null, ModelLimits.defaults());
        ModelValidator.validate(TestModels.relu(), "relu", null, ModelLimits.defaults());
        assertTrue(problem(new byte[0]).contains("empty"));
        assertTrue(problem(new byte[] {(byte) 0xff, 1, 2}).contains("do not start like"));
        // graph field (7) declaring 100 bytes with 3 present
        assertTrue(problem(new byte[] {0x08, 0x08, 0x3a, 100, 1, 2, 3}).contains("truncated"));
    }

    private static String problem(byte[] model) {
        return assertThrows(
                        ModelLoadException.class,
                        () -> ModelValidator.validate(model, "m", null, ModelLimits.defaults()))
                .getMessage();
    }
}
