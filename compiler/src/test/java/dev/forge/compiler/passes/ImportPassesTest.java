package dev.forge.compiler.passes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.reference.DoubleTensor;
import dev.forge.compiler.reference.ReferenceEvaluator;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainable;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The import pipeline: parameters tied by an exporter are untied, training-mode nodes take inference forms. */
class ImportPassesTest {
    static ValueType f32(long... dims) {
        return ValueType.float32(Shape.fixed(dims));
    }

    static Node node(String op, String name, List<String> in, List<String> out) {
        return new Node(op, name, in, out, Map.of());
    }

    /** x * w * w2 + w3 with w2 = Identity(w), w3 = Identity(w2), and Identity(w) as a second graph output. */
    static Graph tied() {
        Graph g = new Graph("tied");
        g.addInput(new ValueInfo("x", f32(2, 3)));
        g.addInitializer("w", Tensor.of(new float[] {0, 0, 0}, 3));
        g.addNode(node("Identity", "id1", List.of("w"), List.of("w2")), List.of(f32(3)));
        g.addNode(node("Identity", "id2", List.of("w2"), List.of("w3")), List.of(f32(3)));
        g.addNode(node("Identity", "id3", List.of("w"), List.of("w_out")), List.of(f32(3)));
        g.addNode(node("Mul", "m1", List.of("x", "w"), List.of("a")), List.of(f32(2, 3)));
        g.addNode(node("Mul", "m2", List.of("a", "w2"), List.of("b")), List.of(f32(2, 3)));
        g.addNode(node("Add", "add", List.of("b", "w3"), List.of("y")), List.of(f32(2, 3)));
        g.addOutput(new ValueInfo("y", f32(2, 3)));
        g.addOutput(new ValueInfo("w_out", f32(3)));
        return g;
    }

    @Test
    void the_import_pipeline_reads_as_one_list() {
        assertEquals(
                List.of("UntieParameters", "InferenceForms", "UpsampleToResize", "FoldShapes"),
                Pipelines.importing().passNames());
    }

    @Test
    void identities_of_initializers_become_parameters_of_their_own() {
        Graph g = Trainable.prepare(tied());
        assertEquals(Set.of("w", "w2", "w3"), g.parameters());
        assertSame(g.initializers().get("w"), g.initializers().get("w3"), "the copy holds the same values");
        assertEquals(
                List.of("id3"),
                g.nodes().stream()
                        .filter(n -> n.opType().equals("Identity"))
                        .map(Node::name)
                        .toList(),
                "only the Identity that is a graph output stays");
        TrainingGraph tg = TrainingGraph.build(g, Loss.MSE, Optimizer.sgd(0.1));
        assertTrue(tg.parameters().containsAll(List.of("w", "w2", "w3")), "each one trained: " + tg.parameters());
    }

    /** Conv-free BatchNormalization as a TrainingMode.TRAINING export writes it: training_mode=1, three outputs. */
    static Graph trainingModeBatchNorm(boolean readStatistics) {
        Graph g = new Graph("bn");
        g.addInput(new ValueInfo("x", f32(2, 3, 4, 4)));
        for (String s : List.of("scale", "bias", "mean", "var")) {
            g.addInitializer(s, Tensor.of(new float[] {1, 1, 1}, 3));
        }
        g.addNode(
                new Node(
                        "BatchNormalization",
                        "bn1",
                        List.of("x", "scale", "bias", "mean", "var"),
                        List.of("y", "mean_out", "var_out"),
                        Map.of("training_mode", new Attribute.Int(1))),
                List.of(f32(2, 3, 4, 4), f32(3), f32(3)));
        g.addNode(node("Relu", "relu", List.of("y"), List.of("out")), List.of(f32(2, 3, 4, 4)));
        g.addOutput(new ValueInfo("out", f32(2, 3, 4, 4)));
        if (readStatistics) {
            g.addNode(node("Identity", "keep", List.of("var_out"), List.of("stat")), List.of(f32(3)));
            g.addOutput(new ValueInfo("stat", f32(3)));
        }
        return g;
    }

    @Test
    void training_mode_batchnorm_becomes_the_inference_form_and_trains() {
        Graph g = Trainable.prepare(trainingModeBatchNorm(false));
        Node bn = g.nodes().get(0);
        assertEquals(List.of("y"), bn.outputs());
        assertFalse(bn.attributes().containsKey("training_mode"));
        assertEquals(Set.of("scale", "bias"), g.parameters());
        TrainingGraph tg = TrainingGraph.build(g, Loss.MSE, Optimizer.sgd(0.1));
        assertTrue(tg.initialState().containsKey("mean"), "running statistics are state: " + tg.initialState());
    }

    @Test
    void training_mode_batchnorm_whose_statistics_are_read_is_refused_naming_them() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Trainable.prepare(trainingModeBatchNorm(true)));
        assertTrue(
                e.getMessage().startsWith("BatchNormalization(bn1): the training outputs [var_out]"), e.getMessage());
    }

    @Test
    void dropout_loses_a_constant_training_mode_input() {
        Graph g = new Graph("drop");
        g.addInput(new ValueInfo("x", f32(2, 3)));
        g.addInitializer("ratio", Tensor.of(new float[] {0.5f}));
        g.addInitializer("training", Tensor.ofBool(new boolean[] {true}));
        g.addNode(node("Dropout", "d", List.of("x", "ratio", "training"), List.of("y", "mask")), null);
        g.setType("y", f32(2, 3));
        g.setType("mask", new ValueType(DType.BOOL, Shape.fixed(2, 3)));
        g.addOutput(new ValueInfo("y", f32(2, 3)));
        new InferenceForms().run(g, new PassContext());
        assertEquals(List.of("x", "ratio"), g.nodes().get(0).inputs());
    }

    /**
     * ShuffleNet's channel shuffle as torch.onnx.export traces {@code x.view(x.size(0), 2, c // 2, h, w)},
     * {@code transpose(1, 2)}, {@code view(x.size(0), -1, h, w)}, followed by a 1x1 Conv: the Reshape
     * targets are computed from {@code Shape(x)} at run time.
     */
    static Graph channelShuffle() {
        Graph g = new Graph("shuffle");
        g.addInput(new ValueInfo("x", ValueType.float32(Shape.of("N", 4, 3, 3))));
        g.addInitializer("i0", Tensor.of(new long[] {0}));
        g.addInitializer("i1", Tensor.of(new long[] {1}));
        g.addInitializer("two", Tensor.of(new long[] {2}));
        g.addInitializer("axes", Tensor.of(new long[] {0}, 1));
        g.addInitializer("groups", Tensor.of(new long[] {2}, 1));
        g.addInitializer("hw", Tensor.of(new long[] {3, 3}, 2));
        g.addInitializer("minus1", Tensor.of(new long[] {-1}, 1));
        g.addInitializer("w", Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 4, 1, 1));
        g.addNode(node("Shape", "shape", List.of("x"), List.of("s")), null);
        g.addNode(node("Gather", "batch", List.of("s", "i0"), List.of("b")), null);
        g.addNode(node("Gather", "channels", List.of("s", "i1"), List.of("c")), null);
        g.addNode(node("Div", "per_group", List.of("c", "two"), List.of("cpg")), null);
        g.addNode(
                new Node("Cast", "cast", "", List.of("cpg"), List.of("cpg64"), Map.of("to", new Attribute.Int(7))),
                null);
        g.addNode(new Node("Unsqueeze", "ub", "", List.of("b", "axes"), List.of("bu"), Map.of()), null);
        g.addNode(new Node("Unsqueeze", "uc", "", List.of("cpg64", "axes"), List.of("cu"), Map.of()), null);
        g.addNode(
                new Node(
                        "Concat",
                        "t5",
                        "",
                        List.of("bu", "groups", "cu", "hw"),
                        List.of("target5"),
                        Map.of("axis", new Attribute.Int(0))),
                null);
        g.addNode(node("Reshape", "view1", List.of("x", "target5"), List.of("r1")), null);
        g.addNode(
                new Node(
                        "Transpose",
                        "tr",
                        "",
                        List.of("r1"),
                        List.of("t"),
                        Map.of("perm", new Attribute.Ints(new long[] {0, 2, 1, 3, 4}))),
                null);
        g.addNode(
                new Node(
                        "Concat",
                        "t4",
                        "",
                        List.of("bu", "minus1", "hw"),
                        List.of("target4"),
                        Map.of("axis", new Attribute.Int(0))),
                null);
        g.addNode(node("Reshape", "view2", List.of("t", "target4"), List.of("r2")), null);
        g.addNode(node("Conv", "conv", List.of("r2", "w"), List.of("y")), null);
        dev.forge.compiler.ops.ShapeInference.run(g);
        g.addOutput(new ValueInfo("y", g.type("y")));
        return g;
    }

    @Test
    void shape_arithmetic_of_a_traced_channel_shuffle_folds_so_the_conv_after_it_trains() {
        Graph raw = channelShuffle();
        assertFalse(raw.type("r2").shape().dim(2).isFixed(), "before: the shuffle's output size is unknown");
        assertThrows(RuntimeException.class, () -> TrainingGraph.build(raw.copy(), Loss.MSE, Optimizer.sgd(0.1)));

        Graph g = Trainable.prepare(channelShuffle());
        assertEquals(Shape.of("N", 2, 2, 3, 3), g.type("r1").shape());
        assertEquals(Shape.of("N", 4, 3, 3), g.type("r2").shape());
        assertEquals(
                List.of("Reshape", "Transpose", "Reshape", "Conv"),
                g.nodes().stream().map(Node::opType).toList(),
                "the shape arithmetic is gone");
        assertEquals(
                List.of(0L, 2L, 2L, 3L, 3L),
                boxed(g.initializers().get(g.nodes().get(0).input(1))));
        assertEquals(
                List.of(0L, -1L, 3L, 3L),
                boxed(g.initializers().get(g.nodes().get(2).input(1))));
        assertEquals(Set.of("w"), g.parameters());
        TrainingGraph tg = TrainingGraph.build(g, Loss.MSE, Optimizer.sgd(0.1));
        assertTrue(tg.parameters().contains("w"));
    }

    /**
     * An opset-9 export of {@code nn.Upsample}: x * p, nearest by (2, 3) with scales as an input, linear by
     * (2, 2), each average-pooled to one value per channel; or at opset 8, nearest with scales as an attribute.
     */
    static Graph upsampling(int opset) {
        GraphBuilder b = new GraphBuilder("upsample");
        Value x = b.input("x", Shape.fixed(2, 2, 3, 4));
        Value p = b.parameter("p", Tensor.of(new float[] {0.5f, -1.5f}, 1, 2, 1, 1));
        Value scaled = b.mul(x, p);
        Value nearest = opset >= 9
                ? b.node(
                        "Upsample",
                        null,
                        List.of(scaled, b.constant("s1", Tensor.of(new float[] {1, 1, 2, 3}, 4))),
                        Map.of())
                : b.node(
                        "Upsample", null, List.of(scaled), Map.of("scales", new Attribute.Floats(new float[] {1, 1, 2, 3
                        })));
        Value linear = b.node(
                "Upsample",
                null,
                opset >= 9
                        ? List.of(scaled, b.constant("s2", Tensor.of(new float[] {1, 1, 2, 2}, 4)))
                        : List.of(scaled),
                opset >= 9
                        ? Map.of("mode", new Attribute.Str("linear"))
                        : Map.of("mode", new Attribute.Str("linear"), "scales", new Attribute.Floats(new float[] {
                            1, 1, 2, 2
                        })));
        Value pooled = b.add(
                b.node("GlobalAveragePool", null, List.of(b.mul(nearest, nearest)), Map.of()),
                b.node("GlobalAveragePool", null, List.of(b.mul(linear, linear)), Map.of()));
        Graph g = b.output(b.flatten(pooled), "y").build();
        g.opsets().put("", (long) opset);
        return g;
    }

    static Tensor runOnnxRuntime(Graph g, Tensor x) {
        try (Model m = Model.load(OnnxWriter.toBytes(g), "upsample", ModelOptions.defaults())) {
            return m.run(Map.of("x", x)).get("y");
        }
    }

    @ParameterizedTest(name = "opset {0}")
    @ValueSource(ints = {8, 9})
    void upsample_becomes_the_resize_that_computes_the_same_values_and_trains(int opset) {
        Graph original = upsampling(opset);
        Graph g = Trainable.prepare(upsampling(opset));
        assertEquals(11, g.opset(), "raised to Resize's opset");
        assertEquals(Set.of("p"), g.parameters(), "scales and the empty roi are constants");
        List<Node> resizes =
                g.nodes().stream().filter(n -> n.opType().equals("Resize")).toList();
        assertEquals(2, resizes.size());
        assertTrue(g.nodes().stream().noneMatch(n -> n.opType().equals("Upsample")));
        assertEquals("asymmetric", resizes.get(0).attrString("coordinate_transformation_mode", ""));
        assertEquals("floor", resizes.get(0).attrString("nearest_mode", ""));
        assertEquals("linear", resizes.get(1).attrString("mode", ""));

        // inference: ONNX Runtime's Resize gives the Upsample's values to the last bit
        SplittableRandom rnd = new SplittableRandom(opset);
        DoubleTensor x = DoubleTensor.random(rnd, 2, 2, 3, 4);
        assertArrayEquals(
                runOnnxRuntime(original, x.toTensorFloat()).toFloatArray(),
                runOnnxRuntime(g, x.toTensorFloat()).toFloatArray());

        // training: the gradients through the Resize against central differences in double precision, and
        // ONNX Runtime's float32 run of the same gradient graph against that
        TrainingGraph tg = TrainingGraph.gradients(g, Loss.MSE, true);
        Map<String, DoubleTensor> values = new HashMap<>();
        for (Map.Entry<String, Tensor> e : tg.graph().initializers().entrySet()) {
            values.put(e.getKey(), DoubleTensor.of(e.getValue()));
        }
        values.put("p", DoubleTensor.random(rnd, 1, 2, 1, 1));
        values.put("x", x);
        values.put(TrainingGraph.TARGET, DoubleTensor.random(rnd, 2, 2));
        Map<String, DoubleTensor> exact = ReferenceEvaluator.run(tg.graph(), values);
        Graph lossGraph = tg.graph().copy();
        lossGraph.clearOutputs();
        lossGraph.addOutput(new ValueInfo(TrainingGraph.LOSS, lossGraph.type(TrainingGraph.LOSS)));
        double h = 1e-6;
        for (String w : List.of("p", "x")) {
            DoubleTensor base = values.get(w);
            DoubleTensor analytic = exact.get(w + ".grad");
            for (int k = 0; k < base.size(); k += 5) {
                Map<String, DoubleTensor> plus = new HashMap<>(values);
                plus.put(w, base.withFlat(k, base.getFlat(k) + h));
                Map<String, DoubleTensor> minus = new HashMap<>(values);
                minus.put(w, base.withFlat(k, base.getFlat(k) - h));
                double numeric = (ReferenceEvaluator.run(lossGraph, plus)
                                        .get(TrainingGraph.LOSS)
                                        .getFlat(0)
                                - ReferenceEvaluator.run(lossGraph, minus)
                                        .get(TrainingGraph.LOSS)
                                        .getFlat(0))
                        / (2 * h);
                assertEquals(numeric, analytic.getFlat(k), 1e-6 * Math.max(1, Math.abs(numeric)), w + "[" + k + "]");
            }
        }
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (ValueInfo in : tg.graph().inputs()) {
            feeds.put(in.name(), values.get(in.name()).toTensorFloat());
        }
        try (Model m = Model.load(OnnxWriter.toBytes(tg.graph()), "upsample-grad", ModelOptions.defaults())) {
            Map<String, Tensor> out = m.run(feeds);
            for (String w : List.of("p", "x")) {
                ReferenceEvaluator.assertClose(exact.get(w + ".grad"), out.get(w + ".grad"), 1e-5, "ORT " + w);
            }
        }
        try (Trainer t = new Trainer(TrainingGraph.build(g, Loss.MSE, Optimizer.sgd(0.1)), 0, 0)) {
            Tensor target = DoubleTensor.random(rnd, 2, 2).toTensorFloat();
            double before = t.evaluate(x.toTensorFloat(), target).loss();
            t.step(x.toTensorFloat(), target);
            assertTrue(t.evaluate(x.toTensorFloat(), target).loss() < before, "one SGD step lowers the loss");
        }
    }

    @Test
    void upsample_in_a_model_whose_other_nodes_change_meaning_at_opset_11_is_refused_naming_them() {
        Graph g = upsampling(9);
        g.addNode(
                new Node(
                        "Pad",
                        "pad",
                        "",
                        List.of("y"),
                        List.of("padded"),
                        Map.of("pads", new Attribute.Ints(new long[] {0, 1, 0, 1}))),
                List.of(f32(2, 4)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainable.prepare(g));
        assertTrue(e.getMessage().startsWith("Upsample("), e.getMessage());
        assertTrue(e.getMessage().contains("[Pad(pad)]") && e.getMessage().contains("opset_version"), e.getMessage());
    }

    static List<Long> boxed(Tensor t) {
        return java.util.Arrays.stream(t.toLongArray()).boxed().toList();
    }
}
