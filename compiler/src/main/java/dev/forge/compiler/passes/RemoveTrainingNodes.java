package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes what only training needs: every Dropout (the identity at inference) becomes a direct connection,
 * or an Identity when its output is a graph output or its mask output is read.
 */
public final class RemoveTrainingNodes implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        List<Node> kept = new ArrayList<>();
        Map<String, String> alias = new HashMap<>();
        Set<String> outputs = new HashSet<>();
        g.outputs().forEach(o -> outputs.add(o.name()));
        for (Node n : g.nodes()) {
            Node r = renameInputs(n, alias);
            if (r.opType().equals("Dropout")
                    && (r.outputs().size() == 1 || g.consumers(r.output(1)).isEmpty())
                    && !outputs.contains(r.output(0))) {
                alias.put(r.output(0), r.input(0));
                continue;
            }
            if (r.opType().equals("Dropout")) {
                r = new Node("Identity", r.name(), r.domain(), List.of(r.input(0)), List.of(r.output(0)), Map.of());
            }
            kept.add(r);
        }
        g.setNodes(kept);
        return g;
    }

    private static Node renameInputs(Node n, Map<String, String> alias) {
        if (alias.isEmpty() || n.inputs().stream().noneMatch(alias::containsKey)) {
            return n;
        }
        List<String> ins = new ArrayList<>();
        for (String in : n.inputs()) {
            ins.add(alias.getOrDefault(in, in));
        }
        return new Node(n.opType(), n.name(), n.domain(), ins, n.outputs(), n.attributes());
    }
}
