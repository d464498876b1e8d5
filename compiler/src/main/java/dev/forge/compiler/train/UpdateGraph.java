package dev.forge.compiler.train;

import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.passes.OptimizerUpdate;
import dev.forge.compiler.passes.PassContext;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The update graph of {@link ReplicatedTrainer}: the weighted sum of the replicas' gradients, then the
 * optimizer's update by the same {@link OptimizerUpdate} pass the single-session step graph ends with, so
 * both apply identical algebra to the averaged gradient.
 *
 * <p>Summing inside the graph, rather than in Java, keeps the gradients where the replicas wrote them
 * (pinned direct buffers that are this graph's inputs): no copy through Java arrays, and ONNX Runtime
 * fuses nothing away that Java would have to repeat. The cost is {@code N} Mul and one Sum per parameter,
 * a pass over the parameters that is small next to a step (see {@code docs/SCALING.md}).
 */
final class UpdateGraph {
    private UpdateGraph() {}

    /**
     * Builds the update graph of {@code tg} for {@code replicas} replicas: inputs, per parameter {@code p},
     * {@code p}, its gradients {@link ReplicatedTrainer#gradientInput(String, int)} and its optimizer state;
     * the replicas' weights {@link ReplicatedTrainer#weightInput(int)}; the optimizer's scalars. Outputs
     * {@code p.next} and the optimizer state's next values, in the step graph's order.
     */
    static Graph build(TrainingGraph tg, int replicas) {
        Graph g = new Graph(tg.graph().name().replaceFirst("_training_step$", "") + "_update");
        g.setProducerName("forge");
        PassContext c = new PassContext();
        for (int r = 0; r < replicas; r++) {
            g.addInput(new ValueInfo(ReplicatedTrainer.weightInput(r), new ValueType(DType.FLOAT32, Shape.fixed())));
        }
        for (String p : tg.parameters()) {
            Tensor value = tg.initialState().get(p);
            ValueType type = new ValueType(DType.FLOAT32, Shape.fixed(value.shape()));
            g.addInput(new ValueInfo(p, type));
            c.parameters().add(p);
            c.state().put(p, value);
            for (int r = 0; r < replicas; r++) {
                g.addInput(new ValueInfo(ReplicatedTrainer.gradientInput(p, r), type));
            }
        }
        Emitter e = c.emitter(g);
        for (String p : tg.parameters()) {
            // grad = sum_r (rows_r / B) * grad_r: the gradient of the full batch's mean loss
            e.prefix(p + "/average");
            List<String> terms = new ArrayList<>();
            for (int r = 0; r < replicas; r++) {
                terms.add(e.op("Mul", ReplicatedTrainer.gradientInput(p, r), ReplicatedTrainer.weightInput(r)));
            }
            c.gradients().put(p, e.op("Sum", terms, Map.of()));
        }
        g = new OptimizerUpdate(tg.optimizer(), tg.lrFactors()).run(g, c);
        if (!c.scalarInputs().equals(tg.scalarInputs())) {
            throw new IllegalStateException(
                    "the update graph's scalars " + c.scalarInputs() + " differ from the step's " + tg.scalarInputs());
        }
        for (String s : c.nextOutputs()) {
            g.addOutput(new ValueInfo(s, g.type(s)));
        }
        return g;
    }
}
