package dev.forge.compiler.autodiff;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.IrType;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.ops.OpDef;
import dev.forge.compiler.ops.Ops;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reverse-mode differentiation of a graph, emitted into the same graph as standard ONNX nodes.
 *
 * <p>The driver: (1) find the values that lie on a path from a requested value to the loss — only those
 * get gradients, so nothing unused is computed (ONNX Runtime runs every node, requested or not); (2)
 * walk the nodes in reverse order, sum the gradient contributions of each output, and apply the node's
 * gradient rule from its operator's definition in {@link Ops}; (3) return the summed gradient of each
 * requested value. Before that, every node whose operator prepares for differentiation (MaxPool adds its
 * Indices output) is given the chance to.
 */
public final class Autodiff {
    private Autodiff() {}

    /**
     * Appends the backward pass of {@code loss} (a scalar) with respect to {@code wrt} to {@code graph}.
     *
     * @return for each value of {@code wrt}, in order, the name of its gradient value ({@code <name>.grad})
     * @throws IllegalArgumentException when a value of {@code wrt} does not influence the loss, or an op on
     *     the path has no gradient rule (the message lists the supported ops)
     */
    public static Map<String, String> gradients(Graph graph, String loss, Collection<String> wrt) {
        return gradients(graph, loss, wrt, Map.of());
    }

    /**
     * A gradient rule for a composite block of nodes, attached to the block's final node: given the
     * gradient of that node's output, it emits the gradients of the block's inputs directly, so the
     * block's inner nodes are not differentiated one by one.
     */
    @FunctionalInterface
    public interface BlockRule {
        /**
         * Emits the block's input gradients.
         *
         * @param emit emitter
         * @param dy gradient of the final node's output
         * @param needs whether a value needs a gradient
         * @return gradients by block input value name (only for values that need one)
         */
        Map<String, String> apply(Emitter emit, String dy, java.util.function.Predicate<String> needs);
    }

    /**
     * Like {@link #gradients(Graph, String, Collection)}, with block rules keyed by the name of the node
     * that ends each block.
     */
    public static Map<String, String> gradients(
            Graph graph, String loss, Collection<String> wrt, Map<String, BlockRule> blocks) {
        ValueType lossType = graph.type(loss);
        if (graph.irType(loss) != null && lossType == null) {
            throw new IllegalArgumentException("the loss '" + loss + "' must be a scalar tensor, got a "
                    + graph.irType(loss) + "; take an element out first (SequenceAt, OptionalGetElement)");
        }
        if (lossType == null || lossType.shape() == null || lossType.shape().rank() != 0) {
            throw new IllegalArgumentException("the loss '" + loss + "' must be a scalar, got " + lossType);
        }
        prepare(graph);
        List<Node> forward = new ArrayList<>(graph.nodes());
        Set<String> needs = valuesOnPaths(forward, loss, wrt);
        for (String w : wrt) {
            if (!needs.contains(w)) {
                throw new IllegalArgumentException(
                        "'" + w + "' does not influence the loss '" + loss + "', so it has no gradient");
            }
        }
        Emitter emit = new Emitter(graph, "grad");
        Map<String, List<String>> contributions = new HashMap<>();
        contributions.computeIfAbsent(loss, k -> new ArrayList<>()).add(emit.scalar(1f));
        for (int i = forward.size() - 1; i >= 0; i--) {
            Node node = forward.get(i);
            boolean[] need = new boolean[node.inputs().size()];
            boolean any = false;
            for (int j = 0; j < need.length; j++) {
                need[j] = !node.input(j).isEmpty() && needs.contains(node.input(j));
                any |= need[j];
            }
            if (!any) {
                continue;
            }
            requireTensors(graph, node, need);
            emit.prefix(node.name() + "/grad");
            List<String> dys = new ArrayList<>();
            boolean anyDy = false;
            for (String out : node.outputs()) {
                String dy = sum(emit, contributions.remove(out), out);
                dys.add(dy);
                anyDy |= dy != null;
            }
            if (!anyDy) {
                continue;
            }
            BlockRule block = blocks.get(node.name());
            if (block != null) {
                for (Map.Entry<String, String> g :
                        block.apply(emit, dys.get(0), needs::contains).entrySet()) {
                    if (needs.contains(g.getKey()) && g.getValue() != null) {
                        contributions
                                .computeIfAbsent(g.getKey(), k -> new ArrayList<>())
                                .add(g.getValue());
                    }
                }
                continue;
            }
            OpDef def = Ops.definition(node.opType());
            GradientRule rule = def == null ? null : def.gradient();
            if (rule == null) {
                throw new IllegalArgumentException(node.label() + ": no gradient rule for " + node.opType()
                        + "; differentiable ops are " + Ops.differentiable());
            }
            List<String> dxs = rule.apply(new GradContext(node, dys, need, emit));
            if (dxs.size() != node.inputs().size()) {
                throw new IllegalStateException(node.label() + ": gradient rule returned " + dxs.size()
                        + " gradients for " + node.inputs().size() + " inputs");
            }
            for (int j = 0; j < dxs.size(); j++) {
                if (need[j] && dxs.get(j) != null) {
                    contributions
                            .computeIfAbsent(node.input(j), k -> new ArrayList<>())
                            .add(dxs.get(j));
                }
            }
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (String w : wrt) {
            emit.prefix(w + "/grad");
            String g = sum(emit, contributions.get(w), w);
            String name = w + ".grad";
            if (!graph.hasValue(name)) {
                if (graph.producer(g) != null && !wrt.contains(g)) {
                    graph.renameValue(g, name);
                    g = name;
                } else {
                    g = emit.op("Identity", g);
                    graph.renameValue(g, name);
                    g = name;
                }
            }
            result.put(w, g);
        }
        return result;
    }

    /** The sum of a value's gradient contributions (a Sum node when it has several consumers). */
    private static String sum(Emitter emit, List<String> parts, String value) {
        if (parts == null || parts.isEmpty()) {
            return null;
        }
        if (parts.size() == 1) {
            return parts.get(0);
        }
        return emit.op("Sum", parts, Map.of());
    }

    /**
     * Refuses a sequence or an optional on a differentiated path: gradient rules exist for tensors only,
     * and ONNX has no gradient of a sequence to emit.
     */
    private static void requireTensors(Graph graph, Node node, boolean[] need) {
        List<String> names = new ArrayList<>(node.outputs());
        for (int j = 0; j < need.length; j++) {
            if (need[j]) {
                names.add(node.input(j));
            }
        }
        for (String v : names) {
            IrType t = v.isEmpty() ? null : graph.irType(v);
            if (t != null && !(t instanceof ValueType)) {
                throw new IllegalArgumentException(node.label() + ": '" + v + "' is a " + t
                        + ", not a tensor, on the path from the differentiated values to the loss; the autodiff"
                        + " differentiates tensors only (sequence and optional operators have no gradient rule):"
                        + " keep them off that path, or stop the gradient before them");
            }
        }
    }

    /** Values that depend on some {@code wrt} value and that the loss depends on. */
    private static Set<String> valuesOnPaths(List<Node> nodes, String loss, Collection<String> wrt) {
        Set<String> fromWrt = new HashSet<>(wrt);
        for (Node n : nodes) {
            OpDef def = Ops.definition(n.opType());
            if (def != null && def.isNotDifferentiable()) {
                continue;
            }
            if (n.inputs().stream().anyMatch(fromWrt::contains)) {
                fromWrt.addAll(n.outputs());
            }
        }
        Set<String> toLoss = new HashSet<>();
        toLoss.add(loss);
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            if (n.outputs().stream().anyMatch(toLoss::contains)) {
                toLoss.addAll(n.inputs());
            }
        }
        Set<String> both = new HashSet<>(fromWrt);
        both.retainAll(toLoss);
        return both;
    }

    /** Applies each operator's preparation for differentiation (see {@link OpDef#preparation()}) to its nodes. */
    private static void prepare(Graph graph) {
        List<Node> nodes = new ArrayList<>(graph.nodes());
        boolean changed = false;
        for (int i = 0; i < nodes.size(); i++) {
            OpDef def = Ops.definition(nodes.get(i).opType());
            if (def != null && def.preparation() != null) {
                Node prepared = def.preparation().prepare(graph, nodes.get(i));
                if (prepared != nodes.get(i)) {
                    nodes.set(i, prepared);
                    changed = true;
                }
            }
        }
        if (changed) {
            graph.setNodes(nodes);
        }
    }
}
