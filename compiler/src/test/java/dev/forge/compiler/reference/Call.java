package dev.forge.compiler.reference;

import dev.forge.compiler.ir.Node;
import java.util.Arrays;
import java.util.List;

/**
 * One application of a rule: the node (attributes, output names), its evaluated inputs (null for an
 * omitted optional input) and the graph's opset, with the attribute defaults and errors every rule uses.
 */
final class Call {
    final Node node;
    final List<DoubleTensor> inputs;
    final int opset;

    Call(Node node, List<DoubleTensor> inputs, int opset) {
        this.node = node;
        this.inputs = inputs;
        this.opset = opset;
    }

    /** Required input {@code i}. */
    DoubleTensor in(int i) {
        DoubleTensor t = opt(i);
        if (t == null) {
            throw error("input " + i + " is required but missing");
        }
        return t;
    }

    /** Optional input {@code i}, or null when omitted (absent or named ""). */
    DoubleTensor opt(int i) {
        return i < inputs.size() ? inputs.get(i) : null;
    }

    /** True when optional input {@code i} is given. */
    boolean has(int i) {
        return opt(i) != null;
    }

    /** True when output {@code i} is listed with a non-empty name (is requested). */
    boolean wantsOutput(int i) {
        return i < node.outputs().size() && !node.output(i).isEmpty();
    }

    long attrInt(String key, long defaultValue) {
        return node.attrInt(key, defaultValue);
    }

    /**
     * A float attribute widened to double. ONNX float attributes are float32, so a default given as a
     * float literal (e.g. {@code 1e-5f}) is the value a runtime would use.
     */
    double attrFloat(String key, float defaultValue) {
        return node.attrFloat(key, defaultValue);
    }

    /** A float attribute, or a double default that is not a float32 value (e.g. an infinite bound). */
    double attrFloat(String key, double defaultValue) {
        return node.attr(key) == null ? defaultValue : node.attrFloat(key, 0f);
    }

    String attrString(String key, String defaultValue) {
        return node.attrString(key, defaultValue);
    }

    /** An integer-list attribute (null default allowed). */
    long[] attrInts(String key, long[] defaultValue) {
        return node.attrInts(key, defaultValue);
    }

    /** An integer-list attribute of exactly {@code n} values, each >= {@code min}, defaulting to {@code fill}. */
    long[] attrInts(String key, int n, long fill, long min) {
        long[] v = node.attrInts(key, null);
        if (v == null) {
            v = new long[n];
            Arrays.fill(v, fill);
            return v;
        }
        if (v.length != n) {
            throw error(key + " " + Arrays.toString(v) + " has " + v.length + " values, expected " + n);
        }
        for (long e : v) {
            if (e < min) {
                throw error(key + " " + Arrays.toString(v) + " must be >= " + min);
            }
        }
        return v;
    }

    /** An axis in [-rank, rank-1] made non-negative. */
    int axis(long axis, int rank) {
        if (axis < -rank || axis >= rank) {
            throw error("axis " + axis + " is out of range for rank " + rank + " (valid: [" + -rank + ", " + (rank - 1)
                    + "])");
        }
        return (int) (axis < 0 ? axis + rank : axis);
    }

    /** An error naming the evaluator, the op and the node. */
    IllegalArgumentException error(String problem) {
        return new IllegalArgumentException(ReferenceEvaluator.PREFIX + node.label() + ": " + problem);
    }
}
