package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Starts the training step: a new graph {@code <model>_training_step} (opset 17, no outputs yet) with the
 * forward nodes, whose trainable parameters and the running statistics of trained BatchNorms become graph inputs (the
 * state a trainer feeds and swaps every step) while every other initializer stays a constant.
 *
 * <p>Refuses models with more than one data input, without parameters, or above opset 17.
 */
public final class StateAsInputs implements Pass {
    @Override
    public Graph run(Graph forward, PassContext context) {
        if (forward.inputs().size() != 1) {
            throw new IllegalArgumentException("training needs a model with one data input, '" + forward.name()
                    + "' has " + forward.inputs().size() + ": " + forward.inputs());
        }
        if (forward.parameters().isEmpty()) {
            throw new IllegalArgumentException("model '" + forward.name() + "' has no trainable parameters");
        }
        if (forward.opset() > Graph.DEFAULT_OPSET) {
            throw new IllegalArgumentException("model '" + forward.name() + "' uses opset " + forward.opset()
                    + "; training supports opsets up to " + Graph.DEFAULT_OPSET);
        }
        Graph g = new Graph(forward.name() + "_training_step");
        g.setProducerName("forge");
        context.setModelIo(
                forward.inputs().get(0).name(),
                forward.outputs().stream().map(ValueInfo::name).toList());
        g.addInput(forward.inputs().get(0));
        Map<String, Tensor> state = context.state();
        List<String> params = new ArrayList<>(forward.parameters());
        context.parameters().addAll(params);
        for (String p : params) {
            Tensor value = forward.initializers().get(p);
            g.addInput(new ValueInfo(p, new ValueType(value.dtype(), Shape.fixed(value.shape()))));
            state.put(p, value);
        }
        for (String s : runningStatistics(forward, context)) {
            Tensor value = forward.initializers().get(s);
            g.addInput(new ValueInfo(s, new ValueType(value.dtype(), Shape.fixed(value.shape()))));
            state.put(s, value);
        }
        for (Map.Entry<String, Tensor> e : forward.initializers().entrySet()) {
            if (!state.containsKey(e.getKey())) {
                g.addInitializer(e.getKey(), e.getValue());
            }
        }
        for (Node n : forward.nodes()) {
            List<ValueType> types = new ArrayList<>();
            for (String out : n.outputs()) {
                types.add(forward.type(out));
            }
            g.addNode(n, types);
        }
        return g;
    }

    /**
     * Initializers that hold the running statistics (inputs 3 and 4) of each BatchNormalization that is
     * trained. A BatchNormalization whose scale and bias are both constants (frozen for fine-tuning) stays in
     * inference mode instead, PyTorch's {@code bn.eval()} convention: it normalizes with its running
     * statistics, which stay constants, and is recorded in {@link PassContext#inferenceModeNodes()}.
     */
    private static Set<String> runningStatistics(Graph forward, PassContext context) {
        Set<String> out = new LinkedHashSet<>();
        for (Node n : forward.nodes()) {
            if (n.opType().equals("BatchNormalization")) {
                if (!forward.parameters().contains(n.input(1))
                        && !forward.parameters().contains(n.input(2))) {
                    context.inferenceModeNodes().add(n.name());
                    continue;
                }
                for (int i = 3; i <= 4; i++) {
                    if (!forward.initializers().containsKey(n.input(i))) {
                        throw new IllegalArgumentException(n.label() + ": running statistic '" + n.input(i)
                                + "' must be an initializer to be trained");
                    }
                    out.add(n.input(i));
                }
            }
        }
        return out;
    }
}
