package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.IrType;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the shape rules over a whole graph in node order, recording every value's type in the graph.
 * Values produced by operators without a rule keep the type the model declared for them (if any).
 */
public final class ShapeInference {
    private ShapeInference() {}

    /**
     * Infers the types of every node output of {@code graph}, rounding fractional convolution/pooling
     * sizes as ONNX does.
     *
     * @throws ShapeException at the first inconsistent node
     */
    public static void run(Graph graph) {
        for (Node node : graph.nodes()) {
            List<? extends IrType> types = inferNodeTypes(graph, node, false);
            if (types == null) {
                continue;
            }
            for (int i = 0; i < node.outputs().size() && i < types.size(); i++) {
                if (!node.output(i).isEmpty() && types.get(i) != null) {
                    graph.setIrType(node.output(i), types.get(i));
                }
            }
        }
    }

    /**
     * Infers one node's output types, sequences and optionals included: the rules of {@link SequenceOps} for
     * the operators that make or take them; {@link #inferNode} for every other operator and for the outputs
     * those rules leave open (the tensor outputs of If and Loop).
     *
     * @return one type per output (null where unknown), or null if the operator has no rule
     */
    public static List<? extends IrType> inferNodeTypes(Graph graph, Node node, boolean strict) {
        if (!SequenceOps.OPS.contains(node.opType())) {
            return inferNode(graph, node, strict);
        }
        List<IrType> inputTypes = new ArrayList<>();
        for (String in : node.inputs()) {
            inputTypes.add(in.isEmpty() ? null : graph.irType(in));
        }
        List<IrType> types = SequenceOps.infer(node, inputTypes);
        if (types != null && types.stream().allMatch(java.util.Objects::nonNull)) {
            return types;
        }
        List<ValueType> tensors = inferNode(graph, node, strict);
        if (types == null || tensors == null) {
            return types == null ? tensors : types;
        }
        List<IrType> merged = new ArrayList<>(types);
        for (int i = 0; i < merged.size() && i < tensors.size(); i++) {
            if (merged.get(i) == null) {
                merged.set(i, tensors.get(i));
            }
        }
        return merged;
    }

    /** Infers one node's output types against the graph's current types and constants. */
    public static List<ValueType> inferNode(Graph graph, Node node, boolean strict) {
        List<ValueType> inputTypes = new ArrayList<>();
        for (String in : node.inputs()) {
            inputTypes.add(in.isEmpty() ? null : graph.type(in));
        }
        return Ops.infer(
                node,
                inputTypes,
                name -> constantOf(graph, name),
                name -> shapeTensorOf(graph, name),
                graph.opset(),
                strict);
    }

    /** The shape described by the output of a full {@code Shape(x)} node: x's shape; else null. */
    public static dev.forge.compiler.ir.Shape shapeTensorOf(Graph graph, String name) {
        Node p = graph.producer(name);
        if (p != null && p.opType().equals("Shape") && p.attr("start") == null && p.attr("end") == null) {
            ValueType t = graph.type(p.input(0));
            return t == null ? null : t.shape();
        }
        return null;
    }

    /**
     * The constant value of a value: an initializer, the output of a {@code Constant} node, or a
     * {@code Concat} of constant float or int64 vectors (how PyTorch writes Resize's scales when it does not
     * fold constants); else null.
     */
    public static Tensor constantOf(Graph graph, String name) {
        Tensor t = graph.initializers().get(name);
        if (t != null) {
            return t;
        }
        Node p = graph.producer(name);
        if (p != null && p.opType().equals("Constant")) {
            return TensorOps.constantValue(p);
        }
        if (p != null && p.opType().equals("Concat") && !p.inputs().isEmpty()) {
            return concatOfVectors(graph, p);
        }
        return null;
    }

    private static Tensor concatOfVectors(Graph graph, Node concat) {
        List<Tensor> parts = new ArrayList<>();
        for (String in : concat.inputs()) {
            Tensor part = in.isEmpty() ? null : constantOf(graph, in);
            if (part == null
                    || part.shape().length != 1
                    || part.dtype() != parts.stream().findFirst().orElse(part).dtype()) {
                return null;
            }
            parts.add(part);
        }
        int n = parts.stream().mapToInt(x -> (int) x.size()).sum();
        if (parts.get(0).dtype() == dev.forge.runtime.DType.FLOAT32) {
            float[] v = new float[n];
            int k = 0;
            for (Tensor part : parts) {
                for (float f : part.toFloatArray()) {
                    v[k++] = f;
                }
            }
            return Tensor.of(v, n);
        }
        if (parts.get(0).dtype() == dev.forge.runtime.DType.INT64) {
            long[] v = new long[n];
            int k = 0;
            for (Tensor part : parts) {
                for (long l : part.toLongArray()) {
                    v[k++] = l;
                }
            }
            return Tensor.of(v, n);
        }
        return null;
    }
}
