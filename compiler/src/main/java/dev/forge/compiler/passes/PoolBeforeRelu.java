package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueType;
import java.util.ArrayList;
import java.util.List;

/**
 * Rewrites {@code Relu -> MaxPool} as {@code MaxPool -> Relu}. Max-pooling and ReLU commute exactly (both
 * are monotone: max(relu(x)) = relu(max(x)), and MaxPool's padding is -inf), so the ReLU and its gradient
 * run on the pooled tensor, a quarter of the size for a 2x2 pool. Both nodes keep their names and the
 * pool's output keeps its name; the pooled, not yet rectified value is {@code <pool output>/before_relu}.
 *
 * <p>Applies when the MaxPool (one input, no Indices output) is the only consumer of the ReLU's output
 * and that output is not a model output.
 */
public final class PoolBeforeRelu implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        List<Node> nodes = new ArrayList<>(g.nodes());
        List<Node> out = new ArrayList<>();
        List<Node> moved = new ArrayList<>();
        for (Node n : nodes) {
            if (moved.contains(n)) {
                continue;
            }
            Node pool = maxPoolAfterRelu(g, context, n);
            if (pool == null) {
                out.add(n);
                continue;
            }
            String pooled = pool.output(0) + "/before_relu";
            ValueType type = g.type(pool.output(0));
            out.add(new Node(
                    "MaxPool", pool.name(), pool.domain(), List.of(n.input(0)), List.of(pooled), pool.attributes()));
            out.add(new Node("Relu", n.name(), n.domain(), List.of(pooled), List.of(pool.output(0)), n.attributes()));
            g.setType(pooled, type);
            g.setType(n.output(0), null);
            moved.add(pool);
        }
        g.setNodes(out);
        return g;
    }

    /** The MaxPool that is the only consumer of Relu node {@code n}'s output, or null. */
    private static Node maxPoolAfterRelu(Graph g, PassContext context, Node n) {
        if (!n.opType().equals("Relu") || context.modelOutputs().contains(n.output(0))) {
            return null;
        }
        List<Node> consumers = g.consumers(n.output(0));
        if (consumers.size() != 1) {
            return null;
        }
        Node pool = consumers.get(0);
        boolean oneOutput = pool.outputs().size() == 1
                || pool.outputs().subList(1, pool.outputs().size()).stream().allMatch(String::isEmpty);
        return pool.opType().equals("MaxPool") && oneOutput && pool.inputs().size() == 1 ? pool : null;
    }
}
