package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueType;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Replaces nodes by what an {@link dev.forge.compiler.autodiff.Emitter} appends, at each node's place, in one
 * forward sweep: the graph is emptied and its nodes are put back one by one, and when a selected node's turn
 * comes its replacement is emitted instead. The emitter therefore sees the graph exactly as a single forward
 * walk would (its names do not depend on later nodes), and the sweep costs one pass over the nodes however
 * many are replaced (cutting and restoring the node list per replaced node made compiling quadratic in the
 * number of BatchNorms).
 */
final class Splice {
    private Splice() {}

    /** Replaces every node of {@code g} that {@code selected} accepts by the nodes {@code emit} appends for it. */
    static void replaceAll(Graph g, Predicate<Node> selected, Consumer<Node> emit) {
        List<Node> nodes = new ArrayList<>(g.nodes());
        if (nodes.stream().noneMatch(selected)) {
            return;
        }
        g.setNodes(List.of());
        for (Node n : nodes) {
            if (selected.test(n)) {
                emit.accept(n);
            } else {
                List<ValueType> types = new ArrayList<>();
                for (String out : n.outputs()) {
                    types.add(out.isEmpty() ? null : g.type(out));
                }
                g.addNode(n, types);
            }
        }
    }
}
