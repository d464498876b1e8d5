package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.function.Function;

/**
 * What a {@link ShapeRule} sees: the node, the types of its inputs, the values of constant inputs, the
 * opset, and whether fractional spatial outputs are errors (the builder) or rounded as ONNX says
 * (imported models).
 */
public final class InferenceContext {
    private final Node node;
    private final List<ValueType> inputTypes;
    private final Function<String, Tensor> constants;
    private final int opset;
    private final boolean strict;
    private final Function<String, Shape> shapeTensors;

    /**
     * Creates a context.
     *
     * @param node the node
     * @param inputTypes one type per node input (null for omitted optional inputs)
     * @param constants looks up the constant value of a value name, or returns null
     * @param opset the default-domain opset version
     * @param strict reject convolution/pooling configurations whose output size is not a whole number
     */
    public InferenceContext(
            Node node, List<ValueType> inputTypes, Function<String, Tensor> constants, int opset, boolean strict) {
        this(node, inputTypes, constants, name -> null, opset, strict);
    }

    /**
     * Creates a context that can also see through shape tensors: {@code shapeTensors} gives the shape an
     * int64 vector value describes (e.g. the output of {@code Shape(x)} is x's shape, symbolic batch
     * included), or null.
     */
    public InferenceContext(
            Node node,
            List<ValueType> inputTypes,
            Function<String, Tensor> constants,
            Function<String, Shape> shapeTensors,
            int opset,
            boolean strict) {
        this.shapeTensors = shapeTensors;
        this.node = node;
        this.inputTypes = inputTypes;
        this.constants = constants;
        this.opset = opset;
        this.strict = strict;
    }

    public Node node() {
        return node;
    }

    public int opset() {
        return opset;
    }

    public boolean strict() {
        return strict;
    }

    /** Number of inputs the node lists (including omitted optional ones). */
    public int inputCount() {
        return node.inputs().size();
    }

    /** True if optional input {@code i} is present. */
    public boolean hasInput(int i) {
        return node.hasInput(i);
    }

    /** The type of input {@code i}; fails clearly if it is missing or unknown. */
    public ValueType input(int i) {
        if (!node.hasInput(i)) {
            throw error("input " + i + " is required but missing", "connect input " + i);
        }
        ValueType t = inputTypes.get(i);
        if (t == null) {
            throw new UnknownShape();
        }
        return t;
    }

    /** The shape of input {@code i} (requires the rank to be known). */
    public Shape shape(int i) {
        Shape s = input(i).shape();
        if (s == null) {
            throw new UnknownShape();
        }
        return s;
    }

    /** The shape of input {@code i}, which must have the given rank. */
    public Shape shape(int i, int rank, String what) {
        Shape s = shape(i);
        if (s.rank() != rank) {
            throw error(
                    what + " must have rank " + rank + ", got shape " + s + " (rank " + s.rank() + ")",
                    rank == 4 ? "feed NCHW tensors (batch, channels, height, width)" : "reshape the input");
        }
        return s;
    }

    /** The element type of input {@code i}. */
    public DType dtype(int i) {
        return input(i).dtype();
    }

    /** The constant value of input {@code i}, or null when it is computed at run time. */
    public Tensor constant(int i) {
        return node.hasInput(i) ? constants.apply(node.input(i)) : null;
    }

    /**
     * The shape that int64 input {@code i} describes, when it is a constant or the output of a
     * {@code Shape} node; else null.
     */
    public Shape shapeTensor(int i) {
        if (!node.hasInput(i)) {
            return null;
        }
        Tensor t = constant(i);
        if (t != null) {
            return Shape.fixed(t.toLongArray());
        }
        return shapeTensors.apply(node.input(i));
    }

    /** A {@link ShapeException} prefixed with the op and node, followed by the fix. */
    public ShapeException error(String problem, String fix) {
        return new ShapeException(node.label() + ": " + problem + (fix == null || fix.isEmpty() ? "" : "; " + fix));
    }

    /** The type list for one output of the given type and shape. */
    public static List<ValueType> one(DType dtype, Shape shape) {
        return List.of(new ValueType(dtype, shape));
    }

    /** Requires a fixed dimension, or fails naming what needed it. */
    public long fixed(Dim d, String what) {
        if (!d.isFixed()) {
            throw error(what + " must be a fixed number, got " + d, "give that dimension a fixed size");
        }
        return d.value();
    }

    /** Thrown by accessors when an input's type is unknown; the graph-level inference then marks outputs unknown. */
    static final class UnknownShape extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UnknownShape() {
            super(null, null, false, false);
        }
    }
}
