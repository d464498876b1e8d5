package dev.forge.compiler.autodiff;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * What a {@link GradientRule} sees: the forward node, the gradients flowing into its outputs, which of
 * its inputs need a gradient, and an {@link Emitter} to write the backward nodes with.
 */
public final class GradContext {
    private final Node node;
    private final List<String> outputGrads;
    private final boolean[] needs;
    private final Emitter emit;

    GradContext(Node node, List<String> outputGrads, boolean[] needs, Emitter emit) {
        this.node = node;
        this.outputGrads = outputGrads;
        this.needs = needs;
        this.emit = emit;
    }

    public Node node() {
        return node;
    }

    /** The emitter for backward nodes. */
    public Emitter emit() {
        return emit;
    }

    /** Forward input {@code i}'s value name. */
    public String x(int i) {
        return node.input(i);
    }

    /** Forward output {@code i}'s value name. */
    public String y(int i) {
        return node.output(i);
    }

    /** The gradient flowing into output {@code i}, or null when that output does not reach the loss. */
    public String dy(int i) {
        return i < outputGrads.size() ? outputGrads.get(i) : null;
    }

    /** The gradient of output 0 (the usual case). */
    public String dy() {
        return dy(0);
    }

    /** True if input {@code i} needs a gradient. */
    public boolean needs(int i) {
        return i < needs.length && needs[i];
    }

    /** The type of a value. */
    public ValueType type(String value) {
        return emit.type(value);
    }

    /** The shape of a value. */
    public Shape shape(String value) {
        ValueType t = emit.type(value);
        if (t == null || t.shape() == null) {
            throw new IllegalStateException(
                    node.label() + ": the shape of '" + value + "' is unknown, so its gradient cannot be emitted");
        }
        return t.shape();
    }

    /** A result list with one entry per forward input, all null. */
    public List<String> none() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < node.inputs().size(); i++) {
            out.add(null);
        }
        return out;
    }

    /** A result list from the given per-input gradients (trailing inputs get null). */
    public List<String> grads(String... g) {
        List<String> out = none();
        for (int i = 0; i < g.length && i < out.size(); i++) {
            out.set(i, needs(i) ? g[i] : null);
        }
        return out;
    }

    // ---- emission shorthands ---------------------------------------------------------------------

    public String op(String opType, String... inputs) {
        return emit.op(opType, inputs);
    }

    public String op(String opType, List<String> inputs, Map<String, Attribute> attrs) {
        return emit.op(opType, inputs, attrs);
    }

    public String mul(String a, String b) {
        return op("Mul", a, b);
    }

    public String sub(String a, String b) {
        return op("Sub", a, b);
    }

    public String add(String a, String b) {
        return op("Add", a, b);
    }

    public String div(String a, String b) {
        return op("Div", a, b);
    }

    public String scalar(float v) {
        return emit.scalar(v);
    }

    /** {@code Shape(value)} at run time. */
    public String shapeOf(String value) {
        return op("Shape", value);
    }

    /** Reshapes {@code value} to the run-time shape of {@code like}. */
    public String reshapeLike(String value, String like) {
        return op("Reshape", value, shapeOf(like));
    }

    /** {@code ReduceSum} over {@code axes}, keeping dimensions (opset 13+: axes as an input). */
    public String reduceSum(String value, long[] axes, boolean keepDims) {
        return op("ReduceSum", List.of(value, emit.ints(axes)), Map.of("keepdims", Emitter.attrInt(keepDims ? 1 : 0)));
    }

    /**
     * Sums a broadcast gradient back to the shape of forward input {@code target}: over the leading axes
     * the input did not have and over the axes where the input had size 1 and the gradient does not.
     */
    public String unbroadcast(String grad, String target) {
        Shape g = shape(grad);
        Shape t = shape(target);
        if (g.equals(t)) {
            return grad;
        }
        int lead = g.rank() - t.rank();
        List<Long> axes = new ArrayList<>();
        for (int i = 0; i < g.rank(); i++) {
            if (i < lead) {
                axes.add((long) i);
                continue;
            }
            Dim td = t.dim(i - lead);
            Dim gd = g.dim(i);
            if (td.isFixed() && td.value() == 1 && !(gd.isFixed() && gd.value() == 1)) {
                axes.add((long) i);
            } else if (!td.equals(gd) && !(td.isFixed() && gd.isFixed() && td.value() == gd.value())) {
                if (!td.isFixed() || !gd.isFixed()) {
                    throw new IllegalStateException(node.label() + ": cannot tell whether '" + target + "' " + t
                            + " was broadcast to " + g + "; give its dimensions fixed sizes");
                }
            }
        }
        String reduced = axes.isEmpty()
                ? grad
                : reduceSum(grad, axes.stream().mapToLong(Long::longValue).toArray(), true);
        if (lead == 0 && shape(reduced).equals(t)) {
            return reduced;
        }
        return t.isFixed() ? op("Reshape", reduced, emit.ints(t.toArray())) : reshapeLike(reduced, target);
    }

    /** Integer-list attribute of the forward node with a default. */
    public long[] attrInts(String key, long... defaultValue) {
        long[] v = node.attrInts(key, null);
        return v == null ? defaultValue : v;
    }

    /** A copy of the forward node's attributes restricted to {@code keys}. */
    public Map<String, Attribute> attrs(String... keys) {
        Map<String, Attribute> out = new java.util.LinkedHashMap<>();
        for (String k : keys) {
            Attribute a = node.attr(k);
            if (a != null) {
                out.put(k, a);
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return node.label() + " needs " + Arrays.toString(needs);
    }
}
