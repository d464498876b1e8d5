package dev.forge.compiler.builder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.ops.ShapeException;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GraphBuilderTest {

    private static Graph mnistLike(long seed) {
        GraphBuilder b = new GraphBuilder("m").seed(seed);
        Value x = b.input("input", Shape.of("N", 1, 28, 28));
        x = b.conv2d("conv1", x, Conv2d.of(32, 5).padding(2));
        x = b.batchNorm("bn1", x);
        x = b.relu(x);
        x = b.maxPool("pool", x, Pool2d.of(2));
        x = b.linear("fc", b.flatten(x), 10);
        return b.output(x, "logits").build();
    }

    @Test
    void every_shape_is_inferred_with_a_symbolic_batch() {
        Graph g = mnistLike(0);
        assertEquals(Shape.of("N", 32, 28, 28), g.type("conv1").shape());
        assertEquals(Shape.of("N", 32, 14, 14), g.type("pool").shape());
        assertEquals(Shape.of("N", 6272), g.type("Flatten_1").shape());
        assertEquals(Shape.of("N", 10), g.outputs().get(0).type().shape());
        assertEquals("logits", g.outputs().get(0).name());
        assertEquals(List.of("conv1/W", "conv1/B", "bn1/scale", "bn1/B", "fc/W", "fc/B"), List.copyOf(g.parameters()));
    }

    @Test
    void initialization_is_seeded_and_kaiming_uniform_bounded() {
        Tensor w1 = mnistLike(7).initializers().get("fc/W");
        Tensor w2 = mnistLike(7).initializers().get("fc/W");
        Tensor w3 = mnistLike(8).initializers().get("fc/W");
        assertEquals(w1, w2);
        assertNotEquals(w1, w3);
        assertArrayEquals(new long[] {10, 6272}, w1.shape());
        double bound = 1 / Math.sqrt(6272);
        float[] data = w1.toFloatArray();
        double max = 0;
        double sumSq = 0;
        for (float v : data) {
            max = Math.max(max, Math.abs(v));
            sumSq += v * v;
        }
        assertTrue(max <= bound, "max " + max + " exceeds 1/sqrt(fan_in) " + bound);
        // uniform(-b, b) has variance b^2/3
        double var = sumSq / data.length;
        assertEquals(bound * bound / 3, var, bound * bound / 3 * 0.05);
        float[] conv = mnistLike(0).initializers().get("conv1/W").toFloatArray();
        for (float v : conv) {
            assertTrue(Math.abs(v) <= 1 / Math.sqrt(25.0));
        }
    }

    @Test
    void batchnorm_starts_as_pytorch_does() {
        Graph g = mnistLike(0);
        assertArrayEquals(new float[32], g.initializers().get("bn1/mean").toFloatArray());
        float[] ones = new float[32];
        java.util.Arrays.fill(ones, 1f);
        assertArrayEquals(ones, g.initializers().get("bn1/var").toFloatArray());
        assertArrayEquals(ones, g.initializers().get("bn1/scale").toFloatArray());
        assertEquals(0.9f, g.node("bn1").attrFloat("momentum", 0), 1e-7);
        assertEquals(1e-5f, g.node("bn1").attrFloat("epsilon", 0), 1e-12);
        assertTrue(!g.parameters().contains("bn1/mean") && !g.parameters().contains("bn1/var"));
    }

    @Test
    void linear_on_an_unflattened_input_says_to_flatten() {
        GraphBuilder b = new GraphBuilder("x");
        Value x = b.input("input", Shape.of("N", 1, 28, 28));
        ShapeException e = assertThrows(ShapeException.class, () -> b.linear("fc", x, 10));
        assertTrue(e.getMessage().contains("Gemm(fc)") && e.getMessage().contains("flatten"), e.getMessage());
    }

    @Test
    void gemm_with_wrong_feature_count_names_both_sizes() {
        GraphBuilder b = new GraphBuilder("x");
        Value x = b.input("input", Shape.of("N", 100));
        Value w = b.parameter("W", Tensor.of(new float[10 * 99], 10, 99));
        ShapeException e = assertThrows(
                ShapeException.class,
                () -> b.node("Gemm", "fc", List.of(x, w), Map.of("transB", new Attribute.Int(1))));
        assertTrue(e.getMessage().startsWith("Gemm(fc): inner dimensions differ"), e.getMessage());
        assertTrue(e.getMessage().contains("99") && e.getMessage().contains("100"), e.getMessage());
    }

    @Test
    void conv_channel_mismatch_is_reported() {
        GraphBuilder b = new GraphBuilder("x");
        Value x = b.input("input", Shape.of("N", 3, 8, 8));
        Value w = b.parameter("W", Tensor.of(new float[4 * 2 * 9], 4, 2, 3, 3));
        ShapeException e = assertThrows(ShapeException.class, () -> b.node("Conv", "c", List.of(x, w), Map.of()));
        assertTrue(e.getMessage().startsWith("Conv(c): input has 3 channels"), e.getMessage());
    }

    @Test
    void groups_must_divide_channels() {
        GraphBuilder b = new GraphBuilder("x");
        Value x = b.input("input", Shape.of("N", 3, 8, 8));
        ShapeException e = assertThrows(
                ShapeException.class, () -> b.conv2d("c", x, Conv2d.of(4, 3).groups(2)));
        assertTrue(e.getMessage().contains("groups 2 must divide"), e.getMessage());
    }

    @Test
    void grouped_strided_same_conv_and_every_helper_shape() {
        GraphBuilder b = new GraphBuilder("zoo");
        Value x = b.input("input", Shape.of("N", 4, 15, 15));
        Value c = b.conv2d(
                "c",
                x,
                Conv2d.of(8, 3).stride(2).padding(Padding.same()).groups(2).bias(false));
        assertEquals(Shape.of("N", 8, 8, 8), c.shape());
        assertEquals(2, b.graph().node("c").inputs().size());
        Value v = b.conv2d("v", c, Conv2d.of(8, 3).padding(Padding.valid()));
        assertEquals(Shape.of("N", 8, 6, 6), v.shape());
        Value a = b.avgPool("ap", v, Pool2d.of(2));
        assertEquals(Shape.of("N", 8, 3, 3), a.shape());
        Value cat = b.concat(1, a, b.sigmoid(a));
        assertEquals(Shape.of("N", 16, 3, 3), cat.shape());
        Value gap = b.globalAvgPool(cat);
        assertEquals(Shape.of("N", 16, 1, 1), gap.shape());
        Value r = b.reshape(gap, 0, -1);
        assertEquals(Shape.of("N", 16), r.shape());
        Value m = b.mul(r, b.tanh(r));
        Value s = b.add(m, b.leakyRelu(m, 0.1f));
        Value d = b.dropout(s, 0.5f);
        Value l = b.logSoftmax(b.linear("fc", d, 5), 1);
        assertEquals(Shape.of("N", 5), l.shape());
        Value sm = b.softmax(l, -1);
        assertEquals(Shape.of("N", 5), sm.shape());
    }

    @Test
    void values_cannot_cross_builders() {
        GraphBuilder a = new GraphBuilder("a");
        GraphBuilder b = new GraphBuilder("b");
        Value x = a.input("input", Shape.of("N", 3));
        assertThrows(IllegalArgumentException.class, () -> b.relu(x));
    }

    @Test
    void build_without_outputs_fails_clearly() {
        GraphBuilder b = new GraphBuilder("a");
        b.input("input", Shape.of("N", 3));
        IllegalStateException e = assertThrows(IllegalStateException.class, b::build);
        assertTrue(e.getMessage().contains("no outputs"));
    }

    @Test
    void every_node_gets_a_deterministic_unique_name_counted_per_op_type() {
        java.util.function.Supplier<Graph> build = () -> {
            GraphBuilder b = new GraphBuilder("names");
            Value x = b.input("input", Shape.of("N", 1, 8, 8));
            x = b.relu(b.conv2d("conv1", x, Conv2d.of(2, 3).padding(1)));
            // a user-chosen name that looks generated is skipped by the counter, never reused
            x = b.node("Relu", "Relu_2", List.of(x), Map.of());
            x = b.maxPool(b.relu(x), 2);
            x = b.dropout(b.flatten(x), 0.5f);
            x = b.relu(b.linear("fc", b.reshape(x, 0, -1), 3));
            return b.output(x, "logits").build();
        };
        List<String> names = build.get().nodes().stream().map(n -> n.name()).toList();
        assertEquals(
                List.of(
                        "conv1",
                        "Relu_1",
                        "Relu_2",
                        "Relu_3",
                        "MaxPool_1",
                        "Flatten_1",
                        "Dropout_1",
                        "Reshape_1",
                        "fc",
                        "Relu_4"),
                names);
        assertEquals(
                names, build.get().nodes().stream().map(n -> n.name()).toList(), "the same code gives the same names");
        assertEquals(
                List.of("Dropout_1/ratio", "Reshape_1/shape"),
                build.get().initializers().keySet().stream()
                        .filter(k -> k.startsWith("Dropout") || k.startsWith("Reshape"))
                        .toList());
    }
}
