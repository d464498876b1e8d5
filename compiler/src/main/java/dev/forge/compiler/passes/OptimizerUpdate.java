package dev.forge.compiler.passes;

import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Appends the optimizer's update of every parameter: its scalar inputs (learning rate, bias corrections,
 * computed per step in Java so schedules never rebuild the graph; one set per learning-rate group), its state inputs per parameter
 * ({@code conv1/W.exp_avg}, initially zero) and the update subgraph, whose results are named
 * {@code conv1/W.next} and {@code conv1/W.exp_avg.next}.
 */
public final class OptimizerUpdate implements Pass {
    private final Optimizer optimizer;
    private final Map<String, Double> lrFactors;

    /** Appends the updates of {@code optimizer}. */
    public OptimizerUpdate(Optimizer optimizer) {
        this(optimizer, Map.of());
    }

    /**
     * Appends the updates of {@code optimizer} with discriminative learning rates: a parameter listed in
     * {@code lrFactors} belongs to the group of its factor, which has scalar inputs of its own
     * ({@link #groupScalar}) that the trainer computes at {@code factor * lr}, like a PyTorch parameter group.
     *
     * @param lrFactors learning-rate factor by parameter name; parameters not listed have factor 1
     */
    public OptimizerUpdate(Optimizer optimizer, Map<String, Double> lrFactors) {
        this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
        this.lrFactors = Map.copyOf(lrFactors);
    }

    /**
     * The input name of scalar {@code scalar} (e.g. {@code optimizer/lr}) in parameter group {@code group}:
     * the scalar itself for the default group {@code ""}, else {@code optimizer/<group>/lr}.
     */
    public static String groupScalar(String scalar, String group) {
        return group.isEmpty() ? scalar : scalar.replaceFirst("^optimizer/", "optimizer/" + group + "/");
    }

    @Override
    public Graph run(Graph g, PassContext context) {
        // groups: the default one (factor 1) always, then one per other factor, in parameter order
        Map<Double, String> groupOf = new LinkedHashMap<>();
        groupOf.put(1.0, "");
        for (String p : context.parameters()) {
            double f = lrFactors.getOrDefault(p, 1.0);
            groupOf.computeIfAbsent(f, k -> "group" + groupOf.size());
        }
        for (Map.Entry<Double, String> grp : groupOf.entrySet()) {
            context.lrGroups().put(grp.getValue(), grp.getKey());
            for (String s : optimizer.scalars(1, optimizer.lr()).keySet()) {
                String name = groupScalar(s, grp.getValue());
                g.addInput(new ValueInfo(name, new ValueType(DType.FLOAT32, Shape.fixed())));
                context.scalarInputs().add(name);
            }
        }
        Emitter emit = context.emitter(g);
        for (String p : context.parameters()) {
            Map<String, String> stateIn = new LinkedHashMap<>();
            for (String s : optimizer.stateNames()) {
                String name = p + "." + s;
                Tensor zeros =
                        Tensor.zeros(DType.FLOAT32, context.state().get(p).shape());
                g.addInput(new ValueInfo(name, new ValueType(DType.FLOAT32, Shape.fixed(zeros.shape()))));
                context.state().put(name, zeros);
                stateIn.put(s, name);
            }
            emit.prefix(p + "/update");
            String group = groupOf.get(lrFactors.getOrDefault(p, 1.0));
            Map<String, String> out =
                    optimizer.emit(emit, p, context.gradients().get(p), stateIn, s -> groupScalar(s, group));
            // the parameter, then its states in stateNames() order: the update's map may iterate in any order
            List<String> keys = new ArrayList<>();
            keys.add("");
            keys.addAll(optimizer.stateNames());
            if (!out.keySet().equals(Set.copyOf(keys))) {
                throw new IllegalStateException(optimizer.name() + " updated " + out.keySet() + ", expected " + keys);
            }
            for (String k : keys) {
                String target = (k.isEmpty() ? p : p + "." + k) + TrainingGraph.NEXT;
                g.renameValue(out.get(k), target);
                context.nextOutputs().add(target);
            }
        }
        return g;
    }
}
