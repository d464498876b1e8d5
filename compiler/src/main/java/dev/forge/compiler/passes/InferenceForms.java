package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns the training-mode nodes of an export made with {@code torch.onnx.export(...,
 * training=TrainingMode.TRAINING)} into their inference forms, which is what Forge's training pipeline
 * expects (it applies the training forms itself: {@code TrainingForms}, {@code DropoutMasks}) and what
 * evaluation and export must run:
 *
 * <ul>
 *   <li>a BatchNormalization with {@code training_mode=1} or with the running-statistics outputs loses the
 *       attribute and those outputs, provided nothing reads them (a model that reads them is refused:
 *       Forge computes running statistics itself);
 *   <li>a Dropout with a constant {@code training_mode} input loses that input (Dropout without it is the
 *       identity at inference; training graphs replace every Dropout with a mask anyway).
 * </ul>
 */
public final class InferenceForms implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        Set<String> read = new HashSet<>();
        for (Node n : g.nodes()) {
            read.addAll(n.inputs());
        }
        for (ValueInfo o : g.outputs()) {
            read.add(o.name());
        }
        List<Node> nodes = new ArrayList<>();
        boolean changed = false;
        for (Node n : g.nodes()) {
            Node r = n;
            if (n.opType().equals("BatchNormalization")
                    && (n.outputs().size() > 1 || n.attrInt("training_mode", 0) != 0)) {
                r = batchNorm(n, read);
                for (int i = 1; i < n.outputs().size(); i++) {
                    if (!n.output(i).isEmpty()) {
                        g.setType(n.output(i), null);
                    }
                }
            } else if (n.opType().equals("Dropout")
                    && n.inputs().size() > 2
                    && !n.input(2).isEmpty()) {
                r = dropout(g, n);
            }
            changed |= r != n;
            nodes.add(r);
        }
        if (changed) {
            g.setNodes(nodes);
        }
        return g;
    }

    private static Node batchNorm(Node n, Set<String> read) {
        List<String> readExtras = new ArrayList<>();
        for (int i = 1; i < n.outputs().size(); i++) {
            if (!n.output(i).isEmpty() && read.contains(n.output(i))) {
                readExtras.add(n.output(i));
            }
        }
        if (!readExtras.isEmpty()) {
            throw new IllegalArgumentException(n.label() + ": the training outputs " + readExtras
                    + " of this training-mode BatchNormalization are read by other nodes or are graph outputs;"
                    + " Forge trains BatchNormalization and updates its running statistics itself, so only"
                    + " output 0 may be used. Export the model without reading them (for example with"
                    + " torch.onnx.TrainingMode.PRESERVE or EVAL)");
        }
        Map<String, Attribute> attrs = new LinkedHashMap<>(n.attributes());
        attrs.remove("training_mode");
        return new Node(n.opType(), n.name(), n.domain(), n.inputs(), List.of(n.output(0)), attrs);
    }

    private static Node dropout(Graph g, Node n) {
        Tensor mode = ShapeInference.constantOf(g, n.input(2));
        if (mode == null) {
            return n; // a training_mode fed at run time is the caller's choice; leave it
        }
        return new Node(n.opType(), n.name(), n.domain(), n.inputs().subList(0, 2), n.outputs(), n.attributes());
    }
}
