package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;

/** Drops initializers no node reads and that are not graph outputs (for example weights replaced by a fold). */
public final class RemoveUnusedInitializers implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        Set<String> used = new HashSet<>();
        for (Node n : g.nodes()) {
            used.addAll(n.inputs());
        }
        for (ValueInfo o : g.outputs()) {
            used.add(o.name());
        }
        for (String name : new ArrayList<>(g.initializers().keySet())) {
            if (!used.contains(name)) {
                g.removeInitializer(name);
            }
        }
        return g;
    }
}
