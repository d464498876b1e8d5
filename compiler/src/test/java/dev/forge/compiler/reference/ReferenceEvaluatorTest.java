package dev.forge.compiler.reference;

import static dev.forge.compiler.reference.Fixtures.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The driver: inputs, initializers, intermediate values, type checks, errors, and the comparison helpers. */
class ReferenceEvaluatorTest {

    /** conv 3x3 pad 1 -> batch norm -> relu -> max pool 2 -> flatten -> linear 5 -> softmax, batch N. */
    static Graph smallCnn() {
        GraphBuilder b = new GraphBuilder("small_cnn").seed(1);
        Value x = b.input("input", Shape.of("N", 2, 6, 6));
        x = b.conv2d("conv1", x, Conv2d.of(3, 3).padding(1));
        x = b.batchNorm("bn1", x);
        x = b.relu(x);
        x = b.maxPool("pool", x, Pool2d.of(2));
        x = b.linear("fc", b.flatten(x), 5);
        return b.output(b.softmax(x, 1), "prob").build();
    }

    @Test
    void a_small_cnn_evaluates_end_to_end_and_exposes_every_intermediate_value() {
        Graph g = smallCnn();
        DoubleTensor input = DoubleTensor.random(new SplittableRandom(13), 2, 2, 6, 6);
        Map<String, DoubleTensor> all = ReferenceEvaluator.runAll(g, Map.of("input", input));
        DoubleTensor prob = ReferenceEvaluator.run(g, Map.of("input", input)).get("prob");
        assertEquals(prob, all.get("prob"));
        assertArrayEquals(new long[] {2, 5}, prob.shape());
        for (int n = 0; n < 2; n++) {
            double sum = 0;
            for (int k = 0; k < 5; k++) {
                sum += prob.get(n, k);
            }
            assertEquals(1, sum, 1e-14);
        }
        DoubleTensor relu = all.get("Relu_1");
        DoubleTensor pool = all.get("pool");
        assertArrayEquals(new long[] {2, 3, 6, 6}, relu.shape());
        for (int k = 0; k < pool.size(); k++) {
            long[] p = pool.unravel(k);
            double max = Double.NEGATIVE_INFINITY;
            for (int dh = 0; dh < 2; dh++) {
                for (int dw = 0; dw < 2; dw++) {
                    max = Math.max(max, relu.get(p[0], p[1], 2 * p[2] + dh, 2 * p[3] + dw));
                }
            }
            assertEquals(max, pool.getFlat(k));
            assertTrue(max >= 0);
        }
        // fc = flat . W^T + B, checked by hand from the intermediate values and the initializers
        DoubleTensor flat = all.get("Flatten_1");
        DoubleTensor w = all.get("fc/W");
        DoubleTensor bias = all.get("fc/B");
        DoubleTensor fc = all.get("fc");
        for (int n = 0; n < 2; n++) {
            for (int o = 0; o < 5; o++) {
                double acc = bias.get(o);
                for (int k = 0; k < 27; k++) {
                    acc += flat.get(n, k) * w.get(o, k);
                }
                assertEquals(acc, fc.get(n, o), 1e-14);
            }
        }
    }

    @Test
    void inputs_may_replace_initializers_for_perturbation() {
        Graph g = smallCnn();
        DoubleTensor input = DoubleTensor.random(new SplittableRandom(14), 1, 2, 6, 6);
        DoubleTensor b = ReferenceEvaluator.runAll(g, Map.of("input", input)).get("fc/B");
        DoubleTensor shifted = b.map(v -> v + 1);
        Map<String, DoubleTensor> base = ReferenceEvaluator.runAll(g, Map.of("input", input));
        Map<String, DoubleTensor> moved = ReferenceEvaluator.runAll(g, Map.of("input", input, "fc/B", shifted));
        for (int o = 0; o < 5; o++) {
            assertEquals(base.get("fc").get(0, o) + 1, moved.get("fc").get(0, o), 1e-14);
        }
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ReferenceEvaluator.run(g, Map.of("input", input, "fc/B", t(new double[] {1}, 1))));
        assertTrue(
                e.getMessage().contains("initializer 'fc/B' is float32[5] but the replacement is float32[1]"),
                e.getMessage());
    }

    @Test
    void missing_unknown_and_mistyped_inputs_are_named() {
        Graph g = smallCnn();
        IllegalArgumentException missing =
                assertThrows(IllegalArgumentException.class, () -> ReferenceEvaluator.run(g, Map.of()));
        assertTrue(
                missing.getMessage().contains("missing a value for graph input 'input' (float32[N,2,6,6])"),
                missing.getMessage());
        DoubleTensor x = DoubleTensor.random(new SplittableRandom(15), 1, 2, 6, 6);
        IllegalArgumentException unknown = assertThrows(
                IllegalArgumentException.class, () -> ReferenceEvaluator.run(g, Map.of("input", x, "imput", x)));
        assertTrue(unknown.getMessage().contains("unknown input 'imput'"), unknown.getMessage());
        IllegalArgumentException shape = assertThrows(
                IllegalArgumentException.class,
                () -> ReferenceEvaluator.run(
                        g, Map.of("input", DoubleTensor.random(new SplittableRandom(1), 1, 2, 6, 5))));
        assertTrue(shape.getMessage().contains("dimension 3 is 5 vs 6"), shape.getMessage());
    }

    @Test
    void a_symbolic_dimension_must_have_one_size() {
        GraphBuilder b = new GraphBuilder("sym");
        Value x = b.input("x", Shape.of("N", 3));
        Value y = b.input("y", Shape.of("N", 3));
        Graph g = b.output(b.add(x, y), "z").build();
        SplittableRandom rnd = new SplittableRandom(16);
        assertArrayEquals(
                new long[] {4, 3},
                ReferenceEvaluator.run(
                                g, Map.of("x", DoubleTensor.random(rnd, 4, 3), "y", DoubleTensor.random(rnd, 4, 3)))
                        .get("z")
                        .shape());
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ReferenceEvaluator.run(
                        g, Map.of("x", DoubleTensor.random(rnd, 4, 3), "y", DoubleTensor.random(rnd, 1, 3))));
        assertTrue(e.getMessage().contains("(N)"), e.getMessage());
    }

    @Test
    void a_value_that_disagrees_with_the_recorded_type_is_reported() {
        Graph g = new Graph("wrong");
        g.addInput(new ValueInfo("x", ValueType.float32(Shape.of(2, 3))));
        Node relu = new Node("Relu", "r", List.of("x"), List.of("y"), Map.of());
        g.addNode(relu, List.of(ValueType.float32(Shape.of(2, 4))));
        g.addOutput(new ValueInfo("y", ValueType.float32(Shape.of(2, 4))));
        DoubleTensor x = Fixtures.iota(2, 3);
        IllegalStateException e =
                assertThrows(IllegalStateException.class, () -> ReferenceEvaluator.run(g, Map.of("x", x)));
        assertTrue(
                e.getMessage()
                        .contains("Relu(r) output 'y' evaluates to float32[2,3] but the graph records float32[2,4]"),
                e.getMessage());
        assertEquals(x, ReferenceEvaluator.runAll(g, Map.of("x", x), false).get("y"), "the check can be turned off");
    }

    @Test
    void an_unsupported_op_lists_what_is_supported() {
        GraphBuilder b = new GraphBuilder("prod");
        Value x = b.input("x", Shape.of(2));
        Graph g = b.output(b.node("ReduceProd", "prod1", List.of(x), Map.of()), "y")
                .build();
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> ReferenceEvaluator.run(g, Map.of("x", Fixtures.iota(2))));
        assertTrue(
                e.getMessage()
                        .startsWith("ReferenceEvaluator: no rule for ReduceProd (node prod1); supported: [Abs, Add, "),
                e.getMessage());
        Node custom = new Node("Relu", "r", "com.example", List.of("x"), List.of("y"), Map.of());
        IllegalArgumentException d = assertThrows(
                IllegalArgumentException.class,
                () -> ReferenceEvaluator.evaluateNode(custom, List.of(Fixtures.iota(2)), 17));
        assertTrue(d.getMessage().contains("no rule for com.example.Relu (node r)"), d.getMessage());
        assertTrue(ReferenceEvaluator.supportedOps()
                .containsAll(List.of(
                        "Conv",
                        "ConvTranspose",
                        "MaxPool",
                        "AveragePool",
                        "GlobalAveragePool",
                        "GlobalMaxPool",
                        "MaxUnpool",
                        "BatchNormalization",
                        "Relu",
                        "Sigmoid",
                        "Tanh",
                        "LeakyRelu",
                        "Elu",
                        "Softplus",
                        "Exp",
                        "Log",
                        "Neg",
                        "Abs",
                        "Sqrt",
                        "Reciprocal",
                        "Identity",
                        "Clip",
                        "Softmax",
                        "LogSoftmax",
                        "Dropout",
                        "Gemm",
                        "MatMul",
                        "Add",
                        "Sub",
                        "Mul",
                        "Div",
                        "Pow",
                        "Greater",
                        "Less",
                        "Equal",
                        "Where",
                        "Cast",
                        "Flatten",
                        "Reshape",
                        "Concat",
                        "Transpose",
                        "Shape",
                        "Gather",
                        "Unsqueeze",
                        "Squeeze",
                        "Pad",
                        "Constant",
                        "ConstantOfShape",
                        "Expand",
                        "OneHot",
                        "ReduceSum",
                        "ReduceMean",
                        "ReduceMax")));
    }

    @Test
    void max_relative_error_is_the_worst_difference_over_the_largest_expected_magnitude() {
        double err = ReferenceEvaluator.maxRelativeError(new double[] {1, -4, 0.5}, new float[] {1.1f, -4f, 0.5f});
        assertEquals((1.1f - 1.0) / 4, err, 1e-15);
        assertEquals(
                0.1,
                ReferenceEvaluator.maxRelativeError(new double[] {0, 0}, new double[] {0, 1e-13}),
                1e-15,
                "an all-zero expectation divides by the 1e-12 floor");
        assertEquals(0, ReferenceEvaluator.maxRelativeError(new double[] {Double.NaN, 2}, new float[] {Float.NaN, 2f}));
        assertEquals(
                Double.POSITIVE_INFINITY,
                ReferenceEvaluator.maxRelativeError(new double[] {1, 2}, new float[] {Float.NaN, 2f}));
        assertThrows(
                IllegalArgumentException.class, () -> ReferenceEvaluator.maxRelativeError(new double[2], new float[3]));
    }

    @Test
    void assert_close_names_the_worst_element() {
        DoubleTensor expected = t(new double[] {1, 2, 3, 4}, 2, 2);
        ReferenceEvaluator.assertClose(expected, Tensor.of(new float[] {1, 2, 3, 4.00001f}, 2, 2), 1e-5, "ok");
        AssertionError e = assertThrows(
                AssertionError.class,
                () -> ReferenceEvaluator.assertClose(
                        expected, Tensor.of(new float[] {1, 2.5f, 3, 4}, 2, 2), 1e-5, "logits"));
        assertTrue(
                e.getMessage().startsWith("logits: max relative error 1.250e-01 > tolerance 1.0e-05"), e.getMessage());
        assertTrue(
                e.getMessage().contains("worst at index [0, 1] (flat 1): expected 2.00000000, actual 2.50000000"),
                e.getMessage());
        AssertionError shape = assertThrows(
                AssertionError.class,
                () -> ReferenceEvaluator.assertClose(expected, Tensor.of(new float[] {1, 2, 3, 4}, 4), 1e-5, "logits"));
        assertTrue(shape.getMessage().contains("shape [4], expected [2,2]"), shape.getMessage());
    }

    @Test
    void double_tensor_round_trips_runtime_tensors_and_perturbs_one_element() {
        Tensor f = Tensor.of(new float[] {0.1f, 2f}, 2);
        DoubleTensor d = DoubleTensor.of(f);
        assertEquals((double) 0.1f, d.get(0));
        assertEquals(f, d.toTensor());
        assertEquals(f, d.toTensorFloat());
        Tensor l = Tensor.of(new long[] {3, -1}, 2);
        assertEquals(l, DoubleTensor.of(l).toTensor());
        DoubleTensor p = d.withFlat(1, 2.5);
        assertEquals(2.5, p.get(1));
        assertEquals(2.0, d.get(1), "the original is unchanged");
        assertThrows(IndexOutOfBoundsException.class, () -> d.get(2));
    }

    @Test
    void finite_differences_through_perturbed_inputs_give_the_conv_input_gradient() {
        // loss = sum(Conv(x, W) * r): its gradient with respect to x is ConvTranspose(r, W) with the same
        // strides and pads (and the output_padding that restores x's size). Central differences on the
        // evaluator, perturbing one input element at a time, must find the same numbers.
        GraphBuilder b = new GraphBuilder("fd").seed(3).roundDown();
        Value x = b.input("input", Shape.of(1, 2, 6, 6));
        Value y = b.conv2d("conv", x, Conv2d.of(3, 3).stride(2).padding(1).bias(false));
        Value r = b.constant(
                "r", DoubleTensor.random(new SplittableRandom(17), 1, 3, 3, 3).toTensorFloat());
        Value loss = b.node("ReduceSum", "loss", List.of(b.mul(y, r)), Map.of("keepdims", Fixtures.i(0)));
        Graph g = b.output(loss, "loss").build();
        DoubleTensor input = DoubleTensor.random(new SplittableRandom(18), 1, 2, 6, 6);
        double h = 1e-4;
        double[] numeric = new double[input.size()];
        for (int k = 0; k < numeric.length; k++) {
            double plus = ReferenceEvaluator.run(g, Map.of("input", input.withFlat(k, input.getFlat(k) + h)))
                    .get("loss")
                    .getFlat(0);
            double minus = ReferenceEvaluator.run(g, Map.of("input", input.withFlat(k, input.getFlat(k) - h)))
                    .get("loss")
                    .getFlat(0);
            numeric[k] = (plus - minus) / (2 * h);
        }
        Map<String, Attribute> a = Fixtures.attrs(
                "strides",
                Fixtures.ints(2, 2),
                "pads",
                Fixtures.ints(1, 1, 1, 1),
                "output_padding",
                Fixtures.ints(1, 1)); // (6 + 2 - 3) mod 2 = 1
        DoubleTensor analytic = Fixtures.eval1(
                "ConvTranspose",
                a,
                DoubleTensor.of(g.initializers().get("r")),
                DoubleTensor.of(g.initializers().get("conv/W")));
        ReferenceEvaluator.assertClose(analytic, DoubleTensor.of(numeric, input.shape()), 1e-9, "d loss / d input");
    }
}
