package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.ForgeRuntimeException;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Replaces every node whose inputs are all constants (initializers or {@code Constant} outputs) by
 * initializers holding its outputs, and every {@code Shape} of a value whose shape is fixed by the
 * shape as an int64 initializer. Chains fold in one run since a folded output is a constant for the nodes
 * after it. {@code Constant} nodes left without readers are removed.
 *
 * <p>Conservative: a node is evaluated by ONNX Runtime itself (a one-node model, so the result is the
 * value the exported model would compute), and is left alone when it is random, has a subgraph, is
 * outside the default domain, produces a graph output, has an output of unknown type, or would produce
 * more than {@value #MAX_ELEMENTS} elements or more than its constant inputs hold (at least
 * {@value #SMALL_ELEMENTS}): folding must not grow the model.
 */
public final class FoldConstants implements Pass {
    /** Largest folded output, in elements. */
    public static final long MAX_ELEMENTS = 1 << 20;
    /** Outputs up to this many elements fold even when larger than the inputs (e.g. an Expand of a scalar). */
    public static final long SMALL_ELEMENTS = 4096;

    private static final Set<String> NEVER = Set.of(
            "Constant",
            "RandomNormal",
            "RandomNormalLike",
            "RandomUniform",
            "RandomUniformLike",
            "Multinomial",
            "Bernoulli",
            "Dropout",
            "If",
            "Loop",
            "Scan",
            "SequenceMap");

    @Override
    public Graph run(Graph g, PassContext context) {
        Set<String> graphOutputs = new HashSet<>();
        g.outputs().forEach(o -> graphOutputs.add(o.name()));
        boolean folded = false;
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!candidate(n, graphOutputs) || n.outputs().stream().anyMatch(o -> !o.isEmpty() && g.type(o) == null)) {
                continue;
            }
            Map<String, Tensor> values = n.opType().equals("Shape") ? shapeOf(g, n) : evaluate(g, n);
            if (values == null) {
                continue;
            }
            List<Node> nodes = new ArrayList<>(g.nodes());
            nodes.remove(n);
            g.setNodes(nodes);
            values.forEach(g::addInitializer);
            folded = true;
        }
        if (folded) {
            removeUnreadConstants(g, graphOutputs);
        }
        return g;
    }

    private static boolean candidate(Node n, Set<String> graphOutputs) {
        return !NEVER.contains(n.opType())
                && n.domain().isEmpty()
                && !n.inputs().isEmpty()
                && n.outputs().stream().noneMatch(graphOutputs::contains);
    }

    /** Shape(x) with x's shape fixed, honouring start and end (opset 15); null if a dimension is symbolic. */
    private static Map<String, Tensor> shapeOf(Graph g, Node n) {
        ValueType t = g.type(n.input(0));
        if (t == null || t.shape() == null) {
            return null;
        }
        List<Dim> dims = t.shape().dims();
        int rank = dims.size();
        long start = clamp(n.attrInt("start", 0), rank);
        long end = clamp(n.attrInt("end", rank), rank);
        List<Long> out = new ArrayList<>();
        for (long i = start; i < end; i++) {
            Dim d = dims.get((int) i);
            if (!d.isFixed()) {
                return null;
            }
            out.add(d.value());
        }
        long[] v = out.stream().mapToLong(Long::longValue).toArray();
        return Map.of(n.output(0), Tensor.of(v, v.length));
    }

    private static long clamp(long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        return Math.max(0, Math.min(rank, a));
    }

    /** The node's outputs computed by ONNX Runtime, or null if an input is not constant or the result is too large. */
    private static Map<String, Tensor> evaluate(Graph g, Node n) {
        Graph one = new Graph(n.name() + "_fold");
        one.opsets().clear();
        one.opsets().putAll(g.opsets());
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        long inputElements = 0;
        for (String in : n.inputs()) {
            if (in.isEmpty() || feeds.containsKey(in)) {
                continue;
            }
            Tensor t = ShapeInference.constantOf(g, in);
            if (t == null) {
                return null;
            }
            feeds.put(in, t);
            inputElements += t.size();
            one.addInput(new ValueInfo(in, new ValueType(t.dtype(), Shape.fixed(t.shape()))));
        }
        if (feeds.isEmpty()) {
            return null;
        }
        long cap = Math.min(MAX_ELEMENTS, Math.max(SMALL_ELEMENTS, inputElements));
        for (String out : n.outputs()) {
            Shape s = out.isEmpty() ? null : g.type(out).shape();
            if (s != null && s.isFixed() && s.elementCount() > cap) {
                return null;
            }
        }
        List<ValueType> types = new ArrayList<>();
        List<String> wanted = new ArrayList<>();
        for (String out : n.outputs()) {
            types.add(out.isEmpty() ? null : g.type(out));
            if (!out.isEmpty()) {
                wanted.add(out);
            }
        }
        one.addNode(n, types);
        for (String out : wanted) {
            one.addOutput(new ValueInfo(out, g.type(out)));
        }
        ModelOptions options = ModelOptions.builder().intraOpThreads(1).build();
        Map<String, Tensor> result;
        try (Model m = Model.load(OnnxWriter.toBytes(one), n.label(), options)) {
            result = m.run(feeds, wanted);
        } catch (ForgeRuntimeException e) {
            return null; // an operator ONNX Runtime cannot run on these inputs: leave it to run at inference
        }
        for (Tensor t : result.values()) {
            if (t.size() > cap) {
                return null;
            }
        }
        return result;
    }

    private static void removeUnreadConstants(Graph g, Set<String> graphOutputs) {
        Set<String> read = new HashSet<>(graphOutputs);
        for (Node n : g.nodes()) {
            read.addAll(n.inputs());
        }
        List<Node> kept = new ArrayList<>();
        for (Node n : g.nodes()) {
            if (!(n.opType().equals("Constant") && n.outputs().stream().noneMatch(read::contains))) {
                kept.add(n);
            }
        }
        g.setNodes(kept);
    }
}
