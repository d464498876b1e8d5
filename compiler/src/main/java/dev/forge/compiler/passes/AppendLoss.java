package dev.forge.compiler.passes;

import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.TrainingGraph;
import java.util.Objects;

/**
 * Appends the loss: a {@code target} input typed for the loss (class indices for cross-entropy, else
 * shaped like the prediction) and the loss's nodes, whose scalar result is named {@code loss}.
 */
public final class AppendLoss implements Pass {
    private final Loss loss;

    /** Appends {@code loss} of the prediction and the target. */
    public AppendLoss(Loss loss) {
        this.loss = Objects.requireNonNull(loss, "loss");
    }

    @Override
    public Graph run(Graph g, PassContext context) {
        String prediction = context.prediction();
        g.addInput(new ValueInfo(TrainingGraph.TARGET, loss.targetType(g.type(prediction))));
        Emitter emit = context.emitter(g);
        emit.prefix("loss");
        String value = loss.emit(emit, prediction, TrainingGraph.TARGET);
        g.renameValue(value, TrainingGraph.LOSS);
        return g;
    }
}
