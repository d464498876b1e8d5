package dev.forge.compiler.passes;

import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.runtime.Tensor;
import java.util.Map;

/**
 * Forge's pipelines, each one readable list. {@code docs/PASSES.md} says what every pass does.
 */
public final class Pipelines {
    private Pipelines() {}

    /**
     * What an imported model goes through before Forge decides what is trainable ({@code Trainable.prepare},
     * which runs these passes in place): parameters the exporter tied are untied, training-mode nodes take
     * their inference forms, Upsample (opsets 7 to 9) becomes Resize, shape arithmetic on fixed dimensions is
     * folded (so shapes after a traced {@code view(x.size(0), ...)} are known).
     */
    public static Pipeline importing() {
        return Pipeline.of(
                "import", new UntieParameters(), new InferenceForms(), new UpsampleToResize(), new FoldShapes());
    }

    /**
     * The training step of a forward model: forward in training mode, loss, backward and optimizer update,
     * with every piece of state as an input and its next value as an output ({@code TrainingGraph.build}).
     */
    public static Pipeline training(Loss loss, Optimizer optimizer) {
        return training(loss, optimizer, Map.of());
    }

    /**
     * The training step with discriminative learning rates: {@code lrFactors} multiplies the rate of the
     * parameters it lists (see {@link OptimizerUpdate#OptimizerUpdate(Optimizer, Map)}).
     */
    public static Pipeline training(Loss loss, Optimizer optimizer, Map<String, Double> lrFactors) {
        return Pipeline.of(
                "train",
                new StateAsInputs(),
                new PoolBeforeRelu(),
                new TrainingForms(),
                new DropoutMasks(),
                new AppendLoss(loss),
                new Differentiate(false),
                new OptimizerUpdate(optimizer, lrFactors),
                new StepOutputs());
    }

    /**
     * The training-mode forward pass, loss and gradients, without an optimizer ({@code TrainingGraph.gradients}),
     * for checking gradients.
     */
    public static Pipeline gradients(Loss loss, boolean withInputGradient) {
        return Pipeline.of(
                "gradients",
                new StateAsInputs(),
                new PoolBeforeRelu(),
                new TrainingForms(),
                new DropoutMasks(),
                new AppendLoss(loss),
                new Differentiate(withInputGradient),
                new GradientOutputs());
    }

    /**
     * The inference model of a trained forward model ({@code Export.inferenceModel}): trained values baked in,
     * training-only nodes removed, BatchNormalization folded, constants folded, metadata attached.
     *
     * @param state trained values by initializer name; other entries (optimizer state) are ignored
     * @param metadata entries for {@code metadata_props}
     */
    public static Pipeline export(Map<String, Tensor> state, Map<String, String> metadata) {
        return Pipeline.of(
                "export",
                new BakeState(state),
                new RemoveTrainingNodes(),
                new FoldBatchNorm(),
                new FoldConstants(),
                new RemoveUnusedInitializers(),
                new AttachMetadata(metadata));
    }
}
