package dev.forge.compiler.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Small helpers for the reference evaluator's tests: one-node evaluation, attribute and tensor shorthands. */
final class Fixtures {
    private Fixtures() {}

    /** A float32-tagged tensor. */
    static DoubleTensor t(double[] data, long... shape) {
        return DoubleTensor.of(data, shape);
    }

    /** A 1-D int64 tensor. */
    static DoubleTensor longs(long... values) {
        return DoubleTensor.ofLongs(values, values.length);
    }

    /** 0, 1, 2, ... as a float32-tagged tensor of the given shape. */
    static DoubleTensor iota(long... shape) {
        double[] d = new double[(int) DoubleTensor.checkedCount(shape)];
        for (int i = 0; i < d.length; i++) {
            d[i] = i;
        }
        return DoubleTensor.of(d, shape);
    }

    static Attribute i(long v) {
        return new Attribute.Int(v);
    }

    static Attribute f(float v) {
        return new Attribute.Float(v);
    }

    static Attribute s(String v) {
        return new Attribute.Str(v);
    }

    static Attribute ints(long... v) {
        return new Attribute.Ints(v);
    }

    /** Attributes from alternating names and values: {@code attrs("axis", i(1), "keepdims", i(0))}. */
    static Map<String, Attribute> attrs(Object... kv) {
        Map<String, Attribute> m = new LinkedHashMap<>();
        for (int k = 0; k < kv.length; k += 2) {
            m.put((String) kv[k], (Attribute) kv[k + 1]);
        }
        return m;
    }

    /** Evaluates one node of {@code op} at the default opset; a null input is an omitted optional input. */
    static List<DoubleTensor> eval(String op, Map<String, Attribute> attributes, int outputs, DoubleTensor... inputs) {
        return eval(Graph.DEFAULT_OPSET, op, attributes, outputs, inputs);
    }

    /** Evaluates one node of {@code op} at the given opset. */
    static List<DoubleTensor> eval(
            int opset, String op, Map<String, Attribute> attributes, int outputs, DoubleTensor... inputs) {
        List<String> inNames = new ArrayList<>();
        for (int k = 0; k < inputs.length; k++) {
            inNames.add(inputs[k] == null ? "" : "in" + k);
        }
        List<String> outNames = new ArrayList<>();
        for (int k = 0; k < outputs; k++) {
            outNames.add("out" + k);
        }
        Node node = new Node(op, op.toLowerCase(java.util.Locale.ROOT) + "_test", inNames, outNames, attributes);
        return ReferenceEvaluator.evaluateNode(node, Arrays.asList(inputs), opset);
    }

    /** The single output of a one-node evaluation. */
    static DoubleTensor eval1(String op, Map<String, Attribute> attributes, DoubleTensor... inputs) {
        return eval(op, attributes, 1, inputs).get(0);
    }

    /** Asserts shape and values (to 1e-12 absolute, which hand-computed small cases meet exactly or nearly). */
    static void assertTensor(long[] shape, double[] expected, DoubleTensor actual) {
        assertTensor(shape, expected, actual, "");
    }

    /** {@link #assertTensor(long[], double[], DoubleTensor)} with a message. */
    static void assertTensor(long[] shape, double[] expected, DoubleTensor actual, String message) {
        assertArrayEquals(shape, actual.shape(), message + " shape of " + actual);
        assertArrayEquals(expected, actual.toDoubleArray(), 1e-12, message + " values of " + actual);
    }

    /** Asserts that two tensors have equal shapes and values within {@code tolerance} relative (see maxRelativeError). */
    static void assertNear(DoubleTensor expected, DoubleTensor actual, double tolerance) {
        assertArrayEquals(expected.shape(), actual.shape(), "shape");
        double err = ReferenceEvaluator.maxRelativeError(expected.toDoubleArray(), actual.toDoubleArray());
        assertEquals(0, err, tolerance, "max relative error between " + expected + " and " + actual);
    }
}
