package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import java.util.ArrayList;
import java.util.List;

/**
 * Replaces one node by what an {@link dev.forge.compiler.autodiff.Emitter} appends, at the node's place:
 * the graph is cut back to the nodes before it while the replacement is emitted (so the emitter sees the
 * graph exactly as a single forward walk would, and its names do not depend on later nodes), then the
 * nodes after it are put back.
 */
final class Splice {
    private Splice() {}

    /** Replaces {@code node} of {@code g} by the nodes {@code emit} appends. */
    static void replace(Graph g, Node node, Runnable emit) {
        List<Node> nodes = new ArrayList<>(g.nodes());
        int at = nodes.indexOf(node);
        if (at < 0) {
            throw new IllegalArgumentException(node.label() + " is not a node of graph '" + g.name() + "'");
        }
        g.setNodes(nodes.subList(0, at));
        emit.run();
        List<Node> out = new ArrayList<>(g.nodes());
        out.addAll(nodes.subList(at + 1, nodes.size()));
        g.setNodes(out);
    }
}
