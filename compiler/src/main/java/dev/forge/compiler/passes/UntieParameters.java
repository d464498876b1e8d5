package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Gives every parameter of an imported model its own initializer. {@code torch.onnx.export} keeps one
 * initializer for parameters that happen to be equal (zero biases, BatchNorm's ones and zeros, running
 * statistics) and turns each of the others into an {@code Identity} of it, whose output carries the other
 * parameter's name. Trained as it is, the shared initializer would get the sum of the gradients of every
 * parameter tied to it, and the export would keep them tied. This pass replaces each {@code Identity} whose
 * input is an initializer by a new initializer named like the Identity's output, holding the same values
 * (a parameter of its own when the original is a marked parameter). Identities that are graph outputs stay.
 *
 * <p>Parameters a model really shares (one module used twice) are exported as one initializer read by
 * several nodes, without an Identity, and stay shared.
 */
public final class UntieParameters implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        Set<String> outputs = new HashSet<>();
        for (ValueInfo o : g.outputs()) {
            outputs.add(o.name());
        }
        // nodes are in topological order, so an Identity of an untied copy (a chain) is seen after the copy
        List<Node> kept = new ArrayList<>();
        List<Node> untied = new ArrayList<>();
        Set<String> constants = new HashSet<>(g.initializers().keySet());
        for (Node n : g.nodes()) {
            if (n.opType().equals("Identity")
                    && n.inputs().size() == 1
                    && constants.contains(n.input(0))
                    && !outputs.contains(n.output(0))) {
                untied.add(n);
                constants.add(n.output(0));
            } else {
                kept.add(n);
            }
        }
        if (untied.isEmpty()) {
            return g;
        }
        g.setNodes(kept);
        for (Node n : untied) {
            String source = n.input(0);
            Tensor value = g.initializers().get(source);
            g.setType(n.output(0), null);
            g.addInitializer(n.output(0), value);
            if (g.parameters().contains(source)) {
                g.markParameter(n.output(0));
            }
        }
        return g;
    }
}
