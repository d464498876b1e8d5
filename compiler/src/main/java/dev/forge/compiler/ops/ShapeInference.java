package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Graph;
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
            List<ValueType> types = inferNode(graph, node, false);
            if (types == null) {
                continue;
            }
            for (int i = 0; i < node.outputs().size() && i < types.size(); i++) {
                if (!node.output(i).isEmpty() && types.get(i) != null) {
                    graph.setType(node.output(i), types.get(i));
                }
            }
        }
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

    /** The constant value of a value: an initializer or the output of a {@code Constant} node; else null. */
    public static Tensor constantOf(Graph graph, String name) {
        Tensor t = graph.initializers().get(name);
        if (t != null) {
            return t;
        }
        Node p = graph.producer(name);
        if (p != null && p.opType().equals("Constant")) {
            return TensorOps.constantValue(p);
        }
        return null;
    }
}
