package dev.forge.runtime;

import static dev.forge.runtime.TestModels.FLOAT;
import static dev.forge.runtime.TestModels.INT64;
import static dev.forge.runtime.TestModels.floatInitializer;
import static dev.forge.runtime.TestModels.int64Initializer;
import static dev.forge.runtime.TestModels.intAttr;
import static dev.forge.runtime.TestModels.node;
import static dev.forge.runtime.TestModels.valueInfo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.TestModels.Msg;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and broken models are refused by {@link ModelValidator} before ONNX Runtime sees them, with
 * one clear message; real models (PyTorch's, Forge's, hand-made) still load. Each case asserts the
 * validator's own wording, so it fails if that protection is removed even where ONNX Runtime would
 * have refused the model later on its own.
 */
class HostileModelTest {
    @TempDir
    Path dir;

    // ------------------------------------------------------------------ model building

    /** A ModelProto with the given IR version and ai.onnx opset around a graph. */
    static byte[] model(long ir, long opset, Msg graph) {
        return new Msg()
                .i64(1, ir)
                .str(2, "hostile")
                .msg(7, graph)
                .msg(8, new Msg().str(1, "").i64(2, opset))
                .toBytes();
    }

    static byte[] model(Msg graph) {
        return model(8, 17, graph);
    }

    /** y = Relu(x) with x, y: float[N,4], plus whatever else the caller adds. */
    static Msg reluGraph() {
        return new Msg()
                .msg(1, node("Relu", "relu", List.of("x"), List.of("y")))
                .str(2, "g")
                .msg(11, valueInfo("x", FLOAT, "N", 4L))
                .msg(12, valueInfo("y", FLOAT, "N", 4L));
    }

    /** y = Add(x, c) where c is made by the given nodes and initializers; x: float[1,1], y declared [1,1]. */
    static Msg addConstant(List<Msg> nodes, List<Msg> initializers) {
        Msg g = new Msg();
        for (Msg n : nodes) {
            g.msg(1, n);
        }
        g.msg(1, node("Add", "add", List.of("x", "c"), List.of("y"))).str(2, "g");
        for (Msg t : initializers) {
            g.msg(5, t);
        }
        return g.msg(11, valueInfo("x", FLOAT, 1L, 1L)).msg(12, valueInfo("y", FLOAT, 1L, 1L));
    }

    static Msg tensorAttr(String name, Msg tensor) {
        return new Msg().str(1, name).msg(5, tensor).i64(20, 4);
    }

    static ModelLoadException refusedBytes(byte[] model) {
        return refusedBytes(model, ModelLimits.defaults());
    }

    static ModelLoadException refusedBytes(byte[] model, ModelLimits limits) {
        ModelLoadException e = assertThrows(
                ModelLoadException.class,
                () -> Model.load(
                        model, "hostile", ModelOptions.builder().limits(limits).build()));
        assertFalse(e.getMessage().contains("ONNX Runtime:"), "refused before ONNX Runtime: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    static void assertMessage(ModelLoadException e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + p + "' in: " + e.getMessage());
        }
    }

    static float[] run(Model m, float... x) {
        return m.run(Tensor.of(x, 1, x.length)).toFloatArray();
    }

    // ------------------------------------------------------------------ real models still load

    static List<Path> seedModels() throws IOException, URISyntaxException {
        Path seeds = Path.of(HostileModelTest.class
                .getResource("ModelLoaderFuzzTestInputs/fuzzModelLoader")
                .toURI());
        try (Stream<Path> files = Files.list(seeds)) {
            return files.filter(p -> p.toString().endsWith(".onnx")
                            && !p.getFileName().toString().startsWith("hostile-")
                            && !p.getFileName().toString().startsWith("finding-"))
                    .sorted()
                    .toList();
        }
    }

    @Test
    void realModelsFromPyTorchForgeAndByHandPassAndLoad() throws Exception {
        List<Path> models = seedModels();
        assertTrue(models.size() >= 8, "seed models: " + models);
        for (Path p : models) {
            byte[] bytes = Files.readAllBytes(p);
            ModelValidator.Summary s =
                    ModelValidator.inspect(bytes, p.toString(), p.getParent(), ModelLimits.defaults());
            assertTrue(s.nodes >= 1 && s.irVersion >= 3, p.toString());
            try (Model m = Model.load(p)) {
                assertFalse(m.inputs().isEmpty(), p.toString());
            }
        }
    }

    // ------------------------------------------------------------------ truncated and random bytes

    @Test
    void everyPrefixOfARealModelIsRefusedOrLoadsAndNothingElse() throws Exception {
        byte[] full = Files.readAllBytes(seedModels().stream()
                .filter(p -> p.toString().contains("ops-zoo-opset13"))
                .findFirst()
                .orElseThrow());
        int refusedByValidator = 0;
        for (int cut = 0; cut < full.length; cut++) {
            byte[] prefix = Arrays.copyOf(full, cut);
            try {
                ModelValidator.validate(prefix, "prefix", null, ModelLimits.defaults());
            } catch (ModelLoadException e) {
                refusedByValidator++;
                assertTrue(e.getMessage().contains("not a valid ONNX model"), e.getMessage());
                continue;
            }
            try (Model m = Model.load(prefix, "prefix", ModelOptions.defaults())) {
                assertFalse(m.outputs().isEmpty());
            } catch (ForgeRuntimeException e) {
                // a well-formed prefix that ONNX Runtime rejects (cut exactly between fields) is fine too
            }
        }
        // a cut inside any field is truncation: all but the few cuts on field boundaries of the top level
        assertTrue(refusedByValidator > full.length - 10, refusedByValidator + " of " + full.length);
    }

    @Test
    void randomBytesBehindAValidFirstTagAreRefusedAsMalformed() {
        java.util.Random r = new java.util.Random(42);
        for (int i = 0; i < 500; i++) {
            byte[] junk = new byte[1 + r.nextInt(2048)];
            r.nextBytes(junk);
            junk[0] = 0x08; // ir_version varint: gets past the first-field check
            ModelLoadException e = refusedBytes(junk);
            assertTrue(e.getMessage().startsWith("Cannot load model hostile: "), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ versions

    @Test
    void irVersionsOutsideTheSupportedRangeAreRefused() {
        assertMessage(refusedBytes(model(2, 17, reluGraph())), "unsupported: ir_version 2 is outside [3, 13]");
        assertMessage(refusedBytes(model(14, 17, reluGraph())), "unsupported: ir_version 14 is outside [3, 13]");
        byte[] noIr = new Msg()
                .str(2, "p")
                .msg(7, reluGraph())
                .msg(8, new Msg().str(1, "").i64(2, 17))
                .toBytes();
        assertMessage(refusedBytes(noIr), "ir_version is missing");
        for (long ir : new long[] {3, 8, 13}) {
            try (Model m = Model.load(model(ir, 17, reluGraph()), "ir" + ir, ModelOptions.defaults())) {
                assertArrayEquals(new float[] {0, 1, 0, 2}, run(m, -1, 1, -2, 2));
            }
        }
    }

    @Test
    void opsetsOutsideTheSupportedRangeAreRefused() {
        assertMessage(
                refusedBytes(model(8, 27, reluGraph())),
                "unsupported: the model imports ai.onnx opset 27, outside [1, 26]");
        byte[] opset0 = new Msg()
                .i64(1, 8)
                .msg(7, reluGraph())
                .msg(8, new Msg().str(1, "").i64(2, 0))
                .toBytes();
        assertMessage(refusedBytes(opset0), "has version 0; versions start at 1");
        // ONNX Runtime runs opset-6 models (Relu's opset-1 form it has no kernel for; the node suite's opset-1
        // cases are other ops), so they load
        for (long opset : new long[] {6}) {
            try (Model m = Model.load(model(8, opset, reluGraph()), "opset" + opset, ModelOptions.defaults())) {
                assertArrayEquals(new float[] {0, 1, 0, 2}, run(m, -1, 1, -2, 2));
            }
        }
        byte[] noOpset = new Msg().i64(1, 8).msg(7, reluGraph()).toBytes();
        assertMessage(refusedBytes(noOpset), "opset_import is empty");
        byte[] twice = new Msg()
                .i64(1, 8)
                .msg(7, reluGraph())
                .msg(8, new Msg().str(1, "").i64(2, 17))
                .msg(8, new Msg().str(1, "ai.onnx").i64(2, 13))
                .toBytes();
        assertMessage(refusedBytes(twice), "lists domain 'ai.onnx' twice");
        Msg customOp = new Msg()
                .msg(1, node("Relu", "relu", List.of("x"), List.of("y")).str(7, "com.example"))
                .msg(11, valueInfo("x", FLOAT, "N", 4L))
                .msg(12, valueInfo("y", FLOAT, "N", 4L));
        assertMessage(refusedBytes(model(customOp)), "uses domain 'com.example', which the model does not import");
    }

    // ------------------------------------------------------------------ declared sizes vs data

    @Test
    void tensorsWhoseDataDoesNotMatchTheirShapeAreRefused() {
        // raw_data of 3 floats for a [2,2] tensor
        Msg shortRaw = new Msg().i64(1, 2).i64(1, 2).i64(2, FLOAT).str(8, "c").bytes(9, new byte[12]);
        assertMessage(
                refusedBytes(model(addConstant(List.of(), List.of(shortRaw)))),
                "tensor 'c' has 12 bytes of raw_data but its shape holds 4 elements of float = 16 bytes");
        // 5 float_data values for [2,2]
        Msg longTyped = new Msg().i64(1, 2).i64(1, 2).i64(2, FLOAT).str(8, "c");
        for (int i = 0; i < 5; i++) {
            longTyped.f32(4, i);
        }
        assertMessage(
                refusedBytes(model(addConstant(List.of(), List.of(longTyped)))),
                "holds 5 values but its shape needs 4");
        // a shape and no data at all
        Msg noData = new Msg().i64(1, 1000).i64(1, 1000).i64(2, FLOAT).str(8, "c");
        assertMessage(
                refusedBytes(model(addConstant(List.of(), List.of(noData)))),
                "holds 0 values but its shape needs 1000000");
        // values in the wrong typed field (int64_data for a float tensor)
        Msg wrongField = new Msg().i64(1, 1).i64(2, FLOAT).str(8, "c").i64(7, 3);
        assertMessage(
                refusedBytes(model(addConstant(List.of(), List.of(wrongField)))),
                "keeps its values in the wrong typed field");
        // raw_data and typed values together
        Msg both = new Msg().i64(1, 1).i64(2, FLOAT).str(8, "c").f32(4, 1).bytes(9, new byte[4]);
        assertMessage(refusedBytes(model(addConstant(List.of(), List.of(both)))), "both raw_data and typed values");
        // the same inside a Constant node's value attribute
        Msg constBad = node(
                "Constant",
                "k",
                List.of(),
                List.of("c"),
                tensorAttr("value", new Msg().i64(1, 4).i64(2, FLOAT).bytes(9, new byte[8])));
        assertMessage(
                refusedBytes(model(addConstant(List.of(constBad), List.of()))), "8 bytes of raw_data", "16 bytes");
        // unknown and missing element types, negative and overflowing dims
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(), List.of(new Msg().i64(1, 1).i64(2, 99).str(8, "c"))))),
                "unknown data_type 99");
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(), List.of(new Msg().i64(1, 1).str(8, "c").f32(4, 1))))),
                "has no data_type");
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(), List.of(new Msg().i64(1, -3).i64(2, FLOAT).str(8, "c"))))),
                "negative dimension -3");
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(),
                        List.of(new Msg()
                                .i64(1, 1L << 40)
                                .i64(1, 1L << 40)
                                .i64(2, FLOAT)
                                .str(8, "c"))))),
                "overflows 64 bits");
        // segmented and sparse tensors
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(),
                        List.of(new Msg()
                                .i64(1, 1)
                                .i64(2, FLOAT)
                                .str(8, "c")
                                .msg(3, new Msg().i64(1, 0).i64(2, 1))
                                .f32(4, 1))))),
                "segmented");
        Msg sparse = addConstant(List.of(), List.of(floatInitializer("c", new float[] {1}, 1, 1)))
                .msg(
                        15,
                        new Msg()
                                .msg(1, new Msg().i64(1, 1).i64(2, FLOAT).f32(4, 1))
                                .i64(3, 100000)
                                .i64(3, 100000));
        assertMessage(refusedBytes(model(sparse)), "sparse initializers are not supported");
    }

    @Test
    void matchingDataInEveryEncodingLoads() {
        Msg typed = new Msg().i64(1, 1).i64(1, 1).i64(2, FLOAT).str(8, "c").f32(4, 2.5f);
        try (Model m = Model.load(model(addConstant(List.of(), List.of(typed))), "typed", ModelOptions.defaults())) {
            assertArrayEquals(new float[] {3.5f}, run(m, 1));
        }
        Msg raw = floatInitializer("c", new float[] {-1}, 1, 1);
        try (Model m = Model.load(model(addConstant(List.of(), List.of(raw))), "raw", ModelOptions.defaults())) {
            assertArrayEquals(new float[] {0f}, run(m, 1));
        }
    }

    // ------------------------------------------------------------------ limits

    @Test
    void absurdDeclaredSizesAreRefusedByTheLimitsBeforeAnyAllocation() {
        Msg huge = new Msg().i64(1, 1L << 20).i64(1, 1L << 20).i64(2, FLOAT).str(8, "c");
        assertMessage(
                refusedBytes(model(addConstant(List.of(), List.of(huge)))),
                "refused: tensor 'c' declares 1099511627776 elements of float (4398046511104 bytes), more than"
                        + " ModelLimits.maxTensorBytes (1073741824)");
    }

    @Test
    void theLimitsAreConfigurable() {
        byte[] classifier = TestModels.classifier(false); // 48 + 12 bytes of initializers, one node
        ModelLimits tight = ModelLimits.builder().maxTotalInitializerBytes(50).build();
        assertMessage(refusedBytes(classifier, tight), "more than ModelLimits.maxTotalInitializerBytes (50 bytes)");
        assertMessage(
                refusedBytes(
                        classifier, ModelLimits.builder().maxTensorBytes(40).build()),
                "tensor 'W' declares 12 elements of float (48 bytes), more than ModelLimits.maxTensorBytes (40)");
        assertMessage(
                refusedBytes(
                        TestModels.classifier(true),
                        ModelLimits.builder().maxNodes(1).build()),
                "more than ModelLimits.maxNodes (1) nodes");
        assertMessage(
                refusedBytes(
                        classifier, ModelLimits.builder().maxModelBytes(100).build()),
                "bytes, more than ModelLimits.maxModelBytes (100)");
        // maxNodes also bounds what the validator keeps: initializers, graph inputs and outputs, node inputs and
        // outputs
        assertMessage(
                refusedBytes(classifier, ModelLimits.builder().maxNodes(1).build()),
                "more than ModelLimits.maxNodes (1) initializers");
        Msg wide = new Msg().str(4, "Sum").str(3, "sum").str(2, "y");
        for (int i = 0; i < 33; i++) {
            wide.str(1, "x");
        }
        assertMessage(
                refusedBytes(
                        model(new Msg()
                                .msg(1, wide)
                                .msg(11, valueInfo("x", FLOAT, 1L))
                                .msg(12, valueInfo("y", FLOAT, 1L))),
                        ModelLimits.builder().maxNodes(2).build()),
                "more than 16 x ModelLimits.maxNodes (32) inputs and outputs");
        try (Model m = Model.load(
                classifier,
                "ok",
                ModelOptions.builder()
                        .limits(ModelLimits.builder()
                                .maxTotalInitializerBytes(60)
                                .maxTensorBytes(48)
                                .maxNodes(2)
                                .maxModelBytes(classifier.length)
                                .build())
                        .build())) {
            assertEquals(1, m.outputs().size());
        }
        assertThrows(IllegalArgumentException.class, () -> ModelLimits.builder().maxModelBytes(1L << 31));
        assertThrows(IllegalArgumentException.class, () -> ModelLimits.builder().maxTensorBytes(0));
        assertThrows(IllegalArgumentException.class, () -> ModelLimits.builder().maxNodes(0));
        assertEquals(ModelLimits.defaults(), ModelOptions.defaults().limits());
    }

    @Test
    void aFileOverTheModelSizeLimitIsRefusedWithoutReadingIt() throws IOException {
        Path p = dir.resolve("big.onnx");
        Files.write(p, TestModels.conv());
        ModelLoadException e = assertThrows(
                ModelLoadException.class,
                () -> Model.load(
                        p,
                        ModelOptions.builder()
                                .limits(ModelLimits.builder().maxModelBytes(100).build())
                                .build()));
        assertMessage(e, "refused: the file is " + Files.size(p) + " bytes, more than ModelLimits.maxModelBytes (100)");
    }

    /** One float ConstantOfShape of [rows, cols] feeding Add; ONNX Runtime folds it while loading. */
    static byte[] constantOfShape(long rows, long cols) {
        return model(addConstant(
                List.of(node("ConstantOfShape", "fill", List.of("shape"), List.of("c"))),
                List.of(int64Initializer("shape", new long[] {rows, cols}, 2))));
    }

    @Test
    void sequencesCountAllTheirTensorsAndConcatFromSequenceCarriesShapesOn() {
        ModelLimits oneMiB = ModelLimits.builder().maxTensorBytes(1 << 20).build();
        // c: 500 x 500 floats (1,000,000 bytes) is under 1 MiB; a sequence holding two copies of it is not
        Msg fill = node("ConstantOfShape", "fill", List.of("shape"), List.of("big"));
        Msg twice = node("SequenceConstruct", "twice", List.of("big", "big"), List.of("s"));
        Msg cat = node("ConcatFromSequence", "cat", List.of("s"), List.of("c"), intAttr("axis", 0));
        Msg shape = int64Initializer("shape", new long[] {500, 500}, 2);
        assertMessage(
                refusedBytes(model(addConstant(List.of(fill, twice, cat), List.of(shape))), oneMiB),
                "node 'twice' (SequenceConstruct) would make a sequence of 2 tensors holding 500000 elements of float"
                        + " (2000000 bytes), more than ModelLimits.maxTensorBytes (1048576)");
        // SequenceEmpty + SequenceInsert count the same way
        Msg empty = node("SequenceEmpty", "empty", List.of(), List.of("e"));
        Msg first = node("SequenceInsert", "first", List.of("e", "big"), List.of("s1"));
        Msg second = node("SequenceInsert", "second", List.of("s1", "big"), List.of("s"));
        assertMessage(
                refusedBytes(model(addConstant(List.of(fill, empty, first, second, cat), List.of(shape))), oneMiB),
                "node 'second' (SequenceInsert) would make a sequence of 2 tensors");
        // ConcatFromSequence's shape flows on: a Tile of its [1, 1] result by 1024 x 1024 is 4 MiB
        Msg one = floatInitializer("one", new float[] {1}, 1, 1);
        Msg seq = node("SequenceConstruct", "seq", List.of("one"), List.of("s"));
        Msg cat1 = node("ConcatFromSequence", "cat", List.of("s"), List.of("joined"), intAttr("axis", 0));
        Msg tile = node("Tile", "tile", List.of("joined", "reps"), List.of("c"));
        assertMessage(
                refusedBytes(
                        model(addConstant(
                                List.of(seq, cat1, tile),
                                List.of(one, int64Initializer("reps", new long[] {1024, 1024}, 2)))),
                        oneMiB),
                "node 'tile' (Tile) would make a tensor of 1024 x 1024");
        // and the same model with small sizes loads and runs: x + 1
        try (Model m = Model.load(
                model(addConstant(
                        List.of(seq, cat1, tile), List.of(one, int64Initializer("reps", new long[] {1, 1}, 2)))),
                "small",
                ModelOptions.builder().limits(oneMiB).build())) {
            assertArrayEquals(new float[] {3}, run(m, 2));
        }
    }

    @Test
    void tensorsWhoseSizeIsFixedByConstantsInTheModelAreBoundedToo() {
        // ~300 bytes that would make ONNX Runtime allocate 40 GB while constant-folding at load time
        assertMessage(
                refusedBytes(constantOfShape(100_000, 100_000)),
                "node 'fill' (ConstantOfShape) would make a tensor of 100000 x 100000 = 10000000000 elements of float"
                        + " (40000000000 bytes), more than ModelLimits.maxTensorBytes (1073741824)");
        // a size ONNX Runtime would really allocate (4 MiB) over a configured limit of 1 MiB: refused by the
        // validator, so this fails if the check is removed
        ModelLimits oneMiB = ModelLimits.builder().maxTensorBytes(1 << 20).build();
        assertMessage(
                refusedBytes(constantOfShape(1024, 1024), oneMiB),
                "(ConstantOfShape) would make a tensor of 1024 x 1024");
        try (Model m = Model.load(
                constantOfShape(1, 1),
                "small",
                ModelOptions.builder().limits(oneMiB).build())) {
            assertArrayEquals(new float[] {1}, run(m, 1));
        }
        // the shape reaches ConstantOfShape through Constant, Concat, Unsqueeze and Identity nodes
        Msg a = node(
                "Constant",
                "a",
                List.of(),
                List.of("a"),
                new Msg().str(1, "value_ints").i64(8, 50_000).i64(20, 7));
        Msg bConst = node(
                "Constant",
                "b",
                List.of(),
                List.of("b"),
                tensorAttr("value", new Msg().i64(1, 1).i64(2, INT64).i64(7, 50_000)));
        Msg cat = node("Concat", "cat", List.of("a", "b"), List.of("ab"), intAttr("axis", 0));
        Msg id = node("Identity", "id", List.of("ab"), List.of("shape"));
        Msg fill = node("ConstantOfShape", "fill", List.of("shape"), List.of("c"));
        assertMessage(
                refusedBytes(model(addConstant(List.of(a, bConst, cat, id, fill), List.of()))),
                "'fill' (ConstantOfShape) would make a tensor of 50000 x 50000");
        // Expand, Tile, Range, Resize, OneHot, RandomNormal
        Msg one = floatInitializer("one", new float[] {1}, 1, 1);
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(node("Expand", "ex", List.of("one", "shape"), List.of("c"))),
                        List.of(one, int64Initializer("shape", new long[] {70_000, 70_000}, 2))))),
                "'ex' (Expand) would make a tensor");
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(node("Tile", "tile", List.of("one", "reps"), List.of("c"))),
                        List.of(one, int64Initializer("reps", new long[] {70_000, 70_000}, 2))))),
                "'tile' (Tile) would make a tensor");
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(node("Range", "range", List.of("s", "l", "d"), List.of("c"))),
                        List.of(
                                int64Initializer("s", new long[] {0}),
                                int64Initializer("l", new long[] {1L << 40}),
                                int64Initializer("d", new long[] {1}))))),
                "'range' (Range) would make a tensor of 1099511627776");
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(node("Resize", "rs", List.of("one", "", "", "sizes"), List.of("c"))),
                        List.of(one, int64Initializer("sizes", new long[] {100_000, 100_000}, 2))))),
                "'rs' (Resize) would make a tensor");
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(node("OneHot", "oh", List.of("idx", "depth", "vals"), List.of("c"))),
                        List.of(
                                int64Initializer("idx", new long[] {1}, 1),
                                int64Initializer("depth", new long[] {1L << 33}),
                                floatInitializer("vals", new float[] {0, 1}, 2))))),
                "'oh' (OneHot) would make a tensor");
        Msg shapeAttr =
                new Msg().str(1, "shape").i64(8, 100_000).i64(8, 100_000).i64(20, 7);
        assertMessage(
                refusedBytes(model(addConstant(
                        List.of(node("RandomNormal", "rn", List.of(), List.of("c"), shapeAttr)), List.of()))),
                "'rn' (RandomNormal) would make a tensor of 100000 x 100000");
    }

    @Test
    void tensorsWhoseSizeFollowsFromAttributesAndConstantsAreBoundedAtLoad() {
        // Pad with pads from a Constant node: what the fuzzer found in a mutated PyTorch model (4.5 KB that
        // made ONNX Runtime allocate 20 GB on the first run with a 2x3x16x16 input)
        Msg pads = node(
                "Constant",
                "pads",
                List.of(),
                List.of("p"),
                tensorAttr(
                        "value", new Msg().i64(1, 8).i64(2, INT64).bytes(9, longs(0, 0, 0, 11_403_264, 0, 0, 0, 0))));
        Msg pad = node("Pad", "pad", List.of("x", "p"), List.of("y"));
        Msg g = new Msg()
                .msg(1, pads)
                .msg(1, pad)
                .msg(11, valueInfo("x", FLOAT, "N", 8L, 8L, 8L))
                .msg(12, valueInfo("y", FLOAT, "N", 8L, 8L, 8L));
        assertMessage(
                refusedBytes(model(g)),
                "node 'pad' (Pad) would make a tensor of 1 x 8 x 8 x 11403272 = 729809408 elements"
                        + " of float (2919237632 bytes, counting every symbolic dimension as 1)");
        // ONNX Runtime takes a Constant's value from its first attribute whatever its name; so do we
        Msg renamed = node(
                "Constant",
                "pads",
                List.of(),
                List.of("p"),
                tensorAttr(
                        "val\u00c4",
                        new Msg().i64(1, 8).i64(2, INT64).bytes(9, longs(0, 0, 0, 11_403_264, 0, 0, 0, 0))));
        Msg g2 = new Msg()
                .msg(1, renamed)
                .msg(1, pad)
                .msg(11, valueInfo("x", FLOAT, "N", 8L, 8L, 8L))
                .msg(12, valueInfo("y", FLOAT, "N", 8L, 8L, 8L));
        assertMessage(refusedBytes(model(g2)), "node 'pad' (Pad) would make a tensor");
        // Conv pads, ConvTranspose strides, MaxPool pads, Resize scales: sizes from attributes
        Msg w = floatInitializer("W", new float[9], 1, 1, 3, 3);
        Msg conv = node(
                "Conv", "conv", List.of("x", "W"), List.of("y"), TestModels.intsAttr("pads", 0, 0, 100_000, 100_000));
        Msg gc = new Msg()
                .msg(1, conv)
                .msg(5, w)
                .msg(11, valueInfo("x", FLOAT, "N", 1L, 8L, 8L))
                .msg(12, valueInfo("y", FLOAT, "N", 1L, 8L, 8L));
        assertMessage(refusedBytes(model(gc)), "node 'conv' (Conv) would make a tensor of 1 x 1 x 100006 x 100006");
        Msg deconv = node(
                "ConvTranspose", "up", List.of("x", "W"), List.of("y"), TestModels.intsAttr("strides", 50_000, 50_000));
        Msg gd = new Msg()
                .msg(1, deconv)
                .msg(5, w)
                .msg(11, valueInfo("x", FLOAT, "N", 1L, 8L, 8L))
                .msg(12, valueInfo("y", FLOAT, "N", 1L, 8L, 8L));
        assertMessage(
                refusedBytes(model(gd)), "node 'up' (ConvTranspose) would make a tensor of 1 x 1 x 350003 x 350003");
        Msg resize = node("Resize", "rs", List.of("x", "", "scales"), List.of("y"));
        Msg gr = new Msg()
                .msg(1, resize)
                .msg(5, floatInitializer("scales", new float[] {1, 1, 10_000, 10_000}, 4))
                .msg(11, valueInfo("x", FLOAT, "N", 1L, 8L, 8L))
                .msg(12, valueInfo("y", FLOAT, "N", 1L, 8L, 8L));
        assertMessage(refusedBytes(model(gr)), "node 'rs' (Resize) would make a tensor of 1 x 1 x 80000 x 80000");
        // the same shapes with sane attributes load and run
        Msg okConv = node("Conv", "conv", List.of("x", "W"), List.of("y"), TestModels.intsAttr("pads", 1, 1, 1, 1));
        Msg ok = new Msg()
                .msg(1, okConv)
                .msg(5, w)
                .msg(11, valueInfo("x", FLOAT, "N", 1L, 8L, 8L))
                .msg(12, valueInfo("y", FLOAT, "N", 1L, 8L, 8L));
        try (Model m = Model.load(model(ok), "ok", ModelOptions.defaults())) {
            assertArrayEquals(
                    new long[] {2, 1, 8, 8},
                    m.run(Tensor.zeros(DType.FLOAT32, 2, 1, 8, 8)).shape());
        }
    }

    @Test
    void outer_products_of_small_initializers_are_bounded_at_load() {
        // two 256 KB initializers, [65536, 1] and [1, 65536], that ONNX Runtime would fold into one 16 GB
        // tensor at load time: a broadcasting Add and a MatMul. Neither operator writes a size into the
        // model; only following the initializers' shapes through the graph bounds them.
        float[] zeros = new float[65_536];
        for (String op : List.of("Add", "MatMul")) {
            Msg g = new Msg()
                    .msg(1, node(op, "outer", List.of("a", "b"), List.of("s")))
                    .msg(1, node("Add", "add", List.of("x", "s"), List.of("y")))
                    .msg(5, floatInitializer("a", zeros, 65_536, 1))
                    .msg(5, floatInitializer("b", zeros, 1, 65_536))
                    .msg(11, valueInfo("x", FLOAT, 1L, 1L))
                    .msg(12, valueInfo("y", FLOAT, 65_536L, 65_536L));
            assertMessage(
                    refusedBytes(model(g)),
                    "node 'outer' (" + op + ") would make a tensor of 65536 x 65536 = 4294967296 elements of float"
                            + " (17179869184 bytes)");
        }
    }

    static byte[] longs(long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(v);
        return b.array();
    }

    // ------------------------------------------------------------------ graph structure

    @Test
    void cyclesUndefinedInputsAndDoubleDefinitionsAreRefused() {
        Msg cycle = new Msg()
                .msg(1, node("Add", "a", List.of("x", "b_out"), List.of("a_out")))
                .msg(1, node("Relu", "b", List.of("a_out"), List.of("b_out")))
                .msg(11, valueInfo("x", FLOAT, "N", 4L))
                .msg(12, valueInfo("a_out", FLOAT, "N", 4L));
        assertMessage(
                refusedBytes(model(cycle)),
                "the graph has a cycle through 2 nodes, among them ['a' (Add), 'b' (Relu)]");
        Msg undefined = new Msg()
                .msg(1, node("Add", "add", List.of("x", "nowhere"), List.of("y")))
                .msg(11, valueInfo("x", FLOAT, "N", 4L))
                .msg(12, valueInfo("y", FLOAT, "N", 4L));
        assertMessage(
                refusedBytes(model(undefined)),
                "node 'add' (Add) reads 'nowhere', which is not a graph input, an initializer");
        Msg twice = reluGraph().msg(1, node("Neg", "neg", List.of("x"), List.of("y")));
        assertMessage(refusedBytes(model(twice)), "value 'y' is produced by two nodes, 'relu' (Relu) and 'neg' (Neg)");
        Msg noOutput = new Msg()
                .msg(1, node("Relu", "relu", List.of("x"), List.of("y")))
                .msg(11, valueInfo("x", FLOAT, "N", 4L))
                .msg(12, valueInfo("z", FLOAT, "N", 4L));
        assertMessage(refusedBytes(model(noOutput)), "graph output 'z' is not produced by any node");
        Msg shadow = reluGraph().msg(1, node("Neg", "neg", List.of("y"), List.of("x")));
        assertMessage(refusedBytes(model(shadow)), "produces 'x', which is already a graph input");
        Msg dupInit = addConstant(
                List.of(),
                List.of(floatInitializer("c", new float[] {1}, 1, 1), floatInitializer("c", new float[] {2}, 1, 1)));
        assertMessage(refusedBytes(model(dupInit)), "initializer 'c' is defined twice");
        Msg noOp = new Msg()
                .msg(1, new Msg().str(1, "x").str(2, "y"))
                .msg(11, valueInfo("x", FLOAT, "N", 4L))
                .msg(12, valueInfo("y", FLOAT, "N", 4L));
        assertMessage(refusedBytes(model(noOp)), "has no op_type");
    }

    /** out = If(cond) with then/else branches that read the outer value 'x' (or {@code elseReads}). */
    static byte[] ifModel(String elseReads) {
        Msg thenBranch = new Msg()
                .msg(1, node("Relu", "t", List.of("x"), List.of("t_out")))
                .str(2, "then")
                .msg(12, valueInfo("t_out", FLOAT, "N", 4L));
        Msg elseBranch = new Msg()
                .msg(1, node("Neg", "e", List.of(elseReads), List.of("e_out")))
                .str(2, "else")
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
                .str(2, "g")
                .msg(11, valueInfo("x", FLOAT, "N", 4L))
                .msg(11, valueInfo("cond", TestModels.BOOL))
                .msg(12, valueInfo("y", FLOAT, "N", 4L));
        return model(g);
    }

    @Test
    void subgraphsMayReadEnclosingValuesButNothingUndefined() {
        try (Model m = Model.load(ifModel("x"), "if", ModelOptions.defaults())) {
            Tensor x = Tensor.of(new float[] {-1, 2, -3, 4}, 1, 4);
            Tensor yes = m.run(java.util.Map.of("x", x, "cond", Tensor.ofBool(new boolean[] {true})))
                    .get("y");
            Tensor no = m.run(java.util.Map.of("x", x, "cond", Tensor.ofBool(new boolean[] {false})))
                    .get("y");
            assertArrayEquals(new float[] {0, 2, 0, 4}, yes.toFloatArray());
            assertArrayEquals(new float[] {1, -2, 3, -4}, no.toFloatArray());
        }
        assertMessage(refusedBytes(ifModel("ghost")), "node 'e' (Neg) reads 'ghost'", "subgraph");
    }

    @Test
    void graphsNestedTooDeeplyAreRefused() {
        Msg g = reluGraph();
        for (int i = 0; i <= ModelValidator.MAX_GRAPH_DEPTH + 1; i++) {
            Msg ifNode = node(
                    "If",
                    "if" + i,
                    List.of("cond"),
                    List.of("y"),
                    new Msg().str(1, "then_branch").msg(6, g).i64(20, 5),
                    new Msg().str(1, "else_branch").msg(6, g).i64(20, 5));
            g = new Msg()
                    .msg(1, ifNode)
                    .msg(11, valueInfo("cond", TestModels.BOOL))
                    .msg(11, valueInfo("x", FLOAT, "N", 4L))
                    .msg(12, valueInfo("y", FLOAT, "N", 4L));
        }
        assertMessage(refusedBytes(model(g)), "graphs nested more than 16 deep");
    }

    // ------------------------------------------------------------------ external data

    /** y = Add(x, W) with W: float[4] in external data at {@code location}. */
    static byte[] externalModel(String location, Long offset, Long length) {
        Msg w = new Msg()
                .i64(1, 4)
                .i64(2, FLOAT)
                .str(8, "W")
                .msg(13, new Msg().str(1, "location").str(2, location));
        if (offset != null) {
            w.msg(13, new Msg().str(1, "offset").str(2, Long.toString(offset)));
        }
        if (length != null) {
            w.msg(13, new Msg().str(1, "length").str(2, Long.toString(length)));
        }
        w.i64(14, 1);
        Msg g = new Msg()
                .msg(1, node("Add", "add", List.of("x", "W"), List.of("y")))
                .msg(5, w)
                .msg(11, valueInfo("x", FLOAT, 1L, 4L))
                .msg(12, valueInfo("y", FLOAT, 1L, 4L));
        return model(g);
    }

    static byte[] weights(float... w) {
        ByteBuffer b = ByteBuffer.allocate(4 * w.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(w);
        return b.array();
    }

    Path modelIn(Path modelDir, byte[] model) throws IOException {
        Files.createDirectories(modelDir);
        Path p = modelDir.resolve("model.onnx");
        Files.write(p, model);
        return p;
    }

    /** A named pipe: opening it for reading blocks until a writer comes, so a read of it hangs the test. */
    Path fifo(Path p) throws Exception {
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertEquals(0, mk.waitFor());
        return p;
    }

    @Test
    void externalDataInsideTheModelDirectoryLoads() throws Exception {
        Path models = dir.resolve("models");
        Files.createDirectories(models.resolve("data"));
        Files.write(models.resolve("data/w.bin"), weights(0, 0, 1, 2, 3, 4));
        try (Model m = Model.load(modelIn(models, externalModel("data/w.bin", 8L, 16L)))) {
            assertArrayEquals(new float[] {2, 3, 4, 5}, run(m, 1, 1, 1, 1));
        }
        ModelValidator.Summary s =
                ModelValidator.inspect(externalModel("data/w.bin", 8L, null), "m", models, ModelLimits.defaults());
        assertEquals(1, s.externalTensors);
        assertEquals(16, s.initializerBytes);
    }

    @Test
    void externalDataOutsideTheModelDirectoryIsRefusedAndNeverRead() throws Exception {
        Path models = dir.resolve("models");
        Path secret = fifo(dir.resolve("secret"));
        Files.createDirectories(models);
        Files.createSymbolicLink(models.resolve("link.bin"), secret);
        Files.createDirectories(dir.resolve("elsewhere"));
        Files.write(dir.resolve("elsewhere/w.bin"), weights(1, 2, 3, 4));
        Files.createSymbolicLink(models.resolve("linkdir"), dir.resolve("elsewhere"));
        // if anything opened the pipe to read it, the load would block and the timeout would fail the test
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            for (String location : List.of(
                    "../secret",
                    "../../../../../../" + secret,
                    secret.toString(),
                    "link.bin",
                    "linkdir/w.bin",
                    "data/../../secret",
                    "..\\secret")) {
                Path p = modelIn(models, externalModel(location, null, null));
                ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(p), location);
                assertTrue(
                        e.getMessage()
                                .startsWith("Cannot load model " + p + ": refused: tensor 'W' points at external data"),
                        location + ": " + e.getMessage());
                assertTrue(
                        e.getMessage().contains("outside the model's directory")
                                || e.getMessage().contains("does not exist"),
                        e.getMessage());
            }
        });
        ModelLoadException e = assertThrows(
                ModelLoadException.class,
                () -> Model.load(modelIn(models, externalModel("*/_ORT_MEM_ADDR_/*", 4096L, 16L))));
        assertMessage(e, "ONNX Runtime's form for raw memory addresses");
    }

    @Test
    void externalDataIsRefusedForBytesAndCheckedForSize() throws Exception {
        Path models = dir.resolve("models");
        Files.createDirectories(models);
        Files.write(models.resolve("w.bin"), weights(1, 2, 3));
        assertMessage(
                refusedBytes(externalModel("w.bin", null, null)),
                "keeps its data in the external file 'w.bin'; external data is only read for models loaded from a file");
        assertMessage(
                assertThrows(
                        ModelLoadException.class,
                        () -> Model.load(modelIn(models, externalModel("w.bin", null, null)))),
                "needs 16 bytes at offset 0 of external data 'w.bin', which has 12 bytes");
        assertMessage(
                assertThrows(
                        ModelLoadException.class, () -> Model.load(modelIn(models, externalModel("w.bin", 0L, 8L)))),
                "says its external data is 8 bytes long but its shape needs 16");
        assertMessage(
                assertThrows(
                        ModelLoadException.class,
                        () -> Model.load(modelIn(models, externalModel("gone.bin", null, null)))),
                "'gone.bin', which does not exist");
    }

    // ------------------------------------------------------------------ NaN and infinity

    @Test
    void nonFiniteInputsAreAcceptedByDefaultAndRefusedOnRequest() {
        float[] x = {1, Float.NaN, -2, Float.POSITIVE_INFINITY};
        try (Model m = Model.load(TestModels.relu(), "relu", ModelOptions.defaults())) {
            float[] y = run(m, x);
            assertTrue(Float.isNaN(y[1]) && y[3] == Float.POSITIVE_INFINITY, Arrays.toString(y));
        }
        try (Model m = Model.load(
                TestModels.relu(),
                "relu",
                ModelOptions.builder().rejectNonFiniteInputs(true).build())) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> run(m, x));
            assertEquals(
                    "input 'x': element 1 (index [0,1]) is NaN; 2 of 4 values are not finite, and this model was loaded with"
                            + " rejectNonFiniteInputs",
                    e.getMessage());
            assertArrayEquals(new float[] {1, 0, 0, 4}, run(m, 1, -1, -2, 4));
            Tensor inf = Tensor.of(new double[] {Double.NEGATIVE_INFINITY}, 1);
            try (Model id = Model.load(
                    TestModels.identity(TestModels.DOUBLE),
                    "id",
                    ModelOptions.builder().rejectNonFiniteInputs(true).build())) {
                assertTrue(assertThrows(InvalidInputException.class, () -> id.run(inf))
                        .getMessage()
                        .contains("is -Infinity"));
            }
        }
    }

    // ------------------------------------------------------------------ a seed for the fuzzer

    @Test
    void hostileExamplesAreFuzzSeeds() throws Exception {
        // The fuzzer starts from these too, so it explores the refusal paths; keep them in sync.
        List<byte[]> hostile =
                new ArrayList<>(List.of(constantOfShape(4, 4), ifModel("x"), externalModel("w.bin", 0L, 16L)));
        Path seeds = Path.of(HostileModelTest.class
                .getResource("ModelLoaderFuzzTestInputs/fuzzModelLoader")
                .toURI());
        for (int i = 0; i < hostile.size(); i++) {
            try (InputStream in = Files.newInputStream(seeds.resolve("hostile-" + i + ".onnx"))) {
                assertArrayEquals(
                        hostile.get(i), in.readAllBytes(), "seed hostile-" + i + ".onnx is stale; regenerate it");
            }
        }
    }
}
