package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks the structural invariants every pass must keep (MLIR's verifier): nodes in topological order
 * (each input is a graph input, an initializer or an earlier node's output), every value and node name
 * defined once, every graph output defined, and a known type for every value a node produces.
 */
public final class GraphVerifier {
    private GraphVerifier() {}

    /**
     * Verifies {@code g}.
     *
     * @throws IllegalStateException listing every violation found
     */
    public static void verify(Graph g) {
        List<String> problems = new ArrayList<>();
        Set<String> defined = new HashSet<>(g.initializers().keySet());
        for (ValueInfo in : g.inputs()) {
            if (!defined.add(in.name())) {
                problems.add("input '" + in.name() + "' is defined twice");
            }
        }
        Set<String> nodeNames = new HashSet<>();
        for (Node n : g.nodes()) {
            if (!nodeNames.add(n.name())) {
                problems.add(n.label() + ": node name used twice");
            }
            for (String in : n.inputs()) {
                if (!in.isEmpty() && !defined.contains(in)) {
                    problems.add(n.label() + ": input '" + in + "' is not defined before the node");
                }
            }
            for (String out : n.outputs()) {
                if (out.isEmpty()) {
                    continue;
                }
                if (!defined.add(out)) {
                    problems.add(n.label() + ": output '" + out + "' is already defined");
                }
                if (g.type(out) == null) {
                    problems.add(n.label() + ": output '" + out + "' has no type");
                }
            }
        }
        for (ValueInfo out : g.outputs()) {
            if (!defined.contains(out.name())) {
                problems.add("graph output '" + out.name() + "' is not defined");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException("graph '" + g.name() + "' is invalid: " + String.join("; ", problems));
        }
    }

    /** Instrumentation that verifies the graph after every pass, naming the pass that broke it. */
    public static PassInstrumentation afterEachPass() {
        return (index, pass, graph) -> {
            try {
                verify(graph);
            } catch (IllegalStateException e) {
                throw new IllegalStateException("after pass " + index + " " + pass.name() + ": " + e.getMessage(), e);
            }
        };
    }
}
