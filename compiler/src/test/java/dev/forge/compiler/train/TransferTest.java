package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Transfer}: finding a classifier and replacing it with a fresh one, on Forge's nets and PyTorch exports. */
class TransferTest {
    static final Path IMPORTS = Path.of("../testdata/golden-import");

    @TempDir
    Path dir;

    /** {@code n} random samples [3, 8, 8] with labels below {@code classes}. */
    static Dataset rgb(int n, int classes, int seed) {
        Random r = new Random(seed);
        float[] x = new float[n * 3 * 64];
        long[] y = new long[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % classes;
            for (int k = 0; k < 192; k++) {
                x[i * 192 + k] = (float) (r.nextGaussian() + (k % classes == y[i] ? 1 : 0));
            }
        }
        return NpyDataset.of(Tensor.of(x, n, 3, 8, 8), Tensor.of(y, n), classes);
    }

    static void assertKeptExcept(Graph before, Graph after, String... replaced) {
        List<String> changed = List.of(replaced);
        for (var e : before.initializers().entrySet()) {
            if (!changed.contains(e.getKey()) && after.initializers().containsKey(e.getKey())) {
                assertEquals(e.getValue(), after.initializers().get(e.getKey()), e.getKey() + " kept");
            }
        }
    }

    @Test
    void a_forge_net_gets_a_fresh_linear_head_with_the_builders_initialization() {
        Graph net = TrainingApiTest.tinyCnn(true);
        assertEquals(new Transfer.Head("fc", "fc/W", "fc/B", 64, 3), Transfer.findHead(net));
        Graph five = Transfer.replaceHead(net, 5, 7);
        assertEquals("[N,5]", five.outputs().get(0).type().shape().toString());
        assertArrayEquals(new long[] {5, 64}, five.initializers().get("fc/W").shape());
        assertArrayEquals(new long[] {5}, five.initializers().get("fc/B").shape());
        assertTrue(five.parameters().containsAll(List.of("conv1/W", "conv1/B", "fc/W", "fc/B")));
        assertKeptExcept(net, five, "fc/W", "fc/B");
        // the builder's linear layer with the same seed draws the same numbers: Kaiming-uniform, bound 1/sqrt(64)
        GraphBuilder b = new GraphBuilder("ref").seed(7);
        Value x = b.input("x", Shape.of("N", 64));
        Graph ref = b.output(b.linear("fc", x, 5), "y").build();
        assertEquals(ref.initializers().get("fc/W"), five.initializers().get("fc/W"));
        assertEquals(ref.initializers().get("fc/B"), five.initializers().get("fc/B"));
        assertEquals("[N,3]", net.outputs().get(0).type().shape().toString(), "the input graph is not modified");
    }

    @Test
    void a_squeezenet_style_export_gets_a_new_1x1_conv_classifier_and_trains_and_exports_class_names()
            throws Exception {
        Graph raw = OnnxReader.read(IMPORTS.resolve("squeeze-like/model.onnx"));
        Graph prepared = Trainable.prepare(OnnxReader.read(IMPORTS.resolve("squeeze-like/model.onnx")));
        Graph net = Transfer.replaceHead(raw, 2, 0);
        Transfer.Head head = Transfer.findHead(net);
        assertEquals("/classifier/Conv", head.node());
        assertEquals(2, head.classes());
        assertArrayEquals(
                new long[] {2, head.inFeatures(), 1, 1},
                net.initializers().get("classifier.weight").shape());
        assertEquals("[N,2]", net.outputs().get(0).type().shape().toString());
        assertKeptExcept(prepared, net, "classifier.weight", "classifier.bias");
        TrainingResult r = Training.of(net)
                .freeze(Transfer.backbone(net))
                .learningRate("classifier.*", 1.0)
                .optimizer(Optimizer.sgd(0.05))
                .batchSize(8)
                .maxSteps(3)
                .fit(rgb(24, 2, 1), rgb(8, 2, 2));
        assertEquals(
                List.of("classifier.weight", "classifier.bias"),
                List.copyOf(r.trainedGraph().parameters()));
        Path out = dir.resolve("two.onnx");
        r.export(out, ExportOptions.builder().classLabels(List.of("cat", "dog")).build());
        try (Model m = Model.load(out)) {
            assertEquals("cat,dog", m.metadata().get(ModelMetadata.CLASS_LABELS));
            assertArrayEquals(
                    new long[] {8, 2},
                    m.run(Tensor.of(new float[8 * 192], 8, 3, 8, 8)).shape());
        }
    }

    @Test
    void a_pytorch_export_with_batchnorm_gets_a_new_gemm_head() {
        Graph net = Transfer.replaceHead(OnnxReader.read(IMPORTS.resolve("bn-init/model.onnx")), 7, 1);
        assertEquals(new Transfer.Head("/fc/Gemm", "fc.weight", "fc.bias", 4, 7), Transfer.findHead(net));
        assertEquals("[N,7]", net.outputs().get(0).type().shape().toString());
        TrainingResult r = Training.of(net)
                .freeze(Transfer.backbone(net))
                .maxSteps(2)
                .batchSize(8)
                .fit(rgb(16, 7, 1), rgb(8, 7, 2));
        assertEquals(2, r.steps());
    }

    @Test
    void a_matmul_plus_bias_head_is_found_and_replaced() {
        GraphBuilder b = new GraphBuilder("mm").seed(1);
        Value x = b.input("x", Shape.of("N", 6));
        Value w = b.parameter("head/W", Tensor.of(new float[6 * 4], 6, 4));
        Value bias = b.parameter("head/B", Tensor.of(new float[4], 4));
        Graph g = b.output(b.softmax(b.add(b.matMul(x, w), bias), 1), "p").build();
        Graph three = Transfer.replaceHead(g, 3, 0);
        assertArrayEquals(new long[] {6, 3}, three.initializers().get("head/W").shape());
        assertArrayEquals(new long[] {3}, three.initializers().get("head/B").shape());
        assertEquals("[N,3]", three.outputs().get(0).type().shape().toString());
    }

    @Test
    void no_identifiable_classifier_is_a_clear_error() {
        GraphBuilder b = new GraphBuilder("convs").seed(1);
        Value x = b.input("x", Shape.of("N", 3, 8, 8));
        x = b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1));
        Graph g = b.output(b.flatten(b.globalAvgPool(b.relu(x))), "y").build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Transfer.replaceHead(g, 2, 0));
        assertTrue(
                e.getMessage()
                        .startsWith("no classifier found in 'convs': walking back from output 'y' through [Flatten,"
                                + " GlobalAveragePool, Relu] reached Conv(conv1) with a 3x3 kernel"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Transfer.replaceHead(TrainingApiTest.tinyCnn(false), 0, 0));
        assertFalse(Transfer.AFTER_HEAD.contains("Conv"));
    }
}
