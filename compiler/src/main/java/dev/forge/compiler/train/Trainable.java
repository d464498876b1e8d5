package dev.forge.compiler.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ops.OpDef;
import dev.forge.compiler.ops.Ops;
import dev.forge.compiler.passes.InferenceForms;
import dev.forge.compiler.passes.Pass;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.Pipelines;
import dev.forge.compiler.passes.UntieParameters;
import dev.forge.runtime.DType;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Prepares an imported model (for example a PyTorch export) for training: its float initializers that
 * feed an operator as data become trainable parameters, while running statistics, dropout ratios and
 * shape constants stay constants; every operator without a gradient rule is reported in one error.
 *
 * <p>Exports are first brought to the form Forge trains: parameters the exporter tied because they were
 * equal get their own initializers ({@link UntieParameters}), and training-mode BatchNormalization and
 * Dropout nodes become their inference forms ({@link InferenceForms}).
 */
public final class Trainable {
    /** Inputs that are never trained: (op, input index) pairs holding statistics, ratios or shapes. */
    private static final Map<String, Set<Integer>> CONSTANT_INPUTS = Map.ofEntries(
            Map.entry("BatchNormalization", Set.of(3, 4)),
            Map.entry("Dropout", Set.of(1, 2)),
            Map.entry("Reshape", Set.of(1)),
            Map.entry("Expand", Set.of(1)),
            Map.entry("Pad", Set.of(1, 2, 3)),
            Map.entry("Slice", Set.of(1, 2, 3, 4)),
            Map.entry("Split", Set.of(1)),
            Map.entry("Squeeze", Set.of(1)),
            Map.entry("Unsqueeze", Set.of(1)),
            Map.entry("ReduceSum", Set.of(1)),
            Map.entry("ReduceMean", Set.of(1)),
            Map.entry("Clip", Set.of(1, 2)),
            Map.entry("Resize", Set.of(1, 2, 3)),
            Map.entry("Upsample", Set.of(1)),
            Map.entry("OneHot", Set.of(0, 1, 2)));

    private Trainable() {}

    /**
     * Unties the parameters of {@code g} and rewrites training-mode nodes into inference forms (in place),
     * marks its trainable parameters if none are marked yet, and checks that
     * every operator between the parameters and the output has a gradient rule.
     *
     * @return {@code g}
     * @throws IllegalArgumentException listing every unsupported operator at once
     */
    public static Graph prepare(Graph g) {
        // before deciding what is trainable: one initializer per parameter, inference-form nodes
        PassContext context = new PassContext();
        for (Pass pass : Pipelines.importing().passes()) {
            pass.run(g, context);
        }
        if (g.parameters().isEmpty()) {
            for (String name : g.initializers().keySet()) {
                if (g.initializers().get(name).dtype() == DType.FLOAT32 && feedsData(g, name)) {
                    g.markParameter(name);
                }
            }
        }
        if (g.parameters().isEmpty()) {
            throw new IllegalArgumentException("model '" + g.name() + "' has no float initializers to train");
        }
        Set<String> unsupported = new TreeSet<>();
        for (Node n : g.nodes()) {
            OpDef def = Ops.definition(n);
            if (def == null || (def.gradient() == null && !def.isNotDifferentiable())) {
                unsupported.add(n.opType() + " (" + n.name() + ")");
            }
        }
        if (!unsupported.isEmpty()) {
            throw new IllegalArgumentException("model '" + g.name() + "' cannot be trained: no gradient rule for "
                    + unsupported + "; differentiable ops are " + Ops.differentiable());
        }
        return g;
    }

    /** True if some node reads {@code name} at an input position that carries data (not a constant slot). */
    private static boolean feedsData(Graph g, String name) {
        for (Node n : g.nodes()) {
            for (int i = 0; i < n.inputs().size(); i++) {
                if (n.input(i).equals(name)
                        && !CONSTANT_INPUTS.getOrDefault(n.opType(), Set.of()).contains(i)) {
                    return true;
                }
            }
        }
        return false;
    }
}
