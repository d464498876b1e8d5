package dev.forge.compiler.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.passes.FoldBatchNorm;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.Pipelines;
import dev.forge.compiler.passes.RemoveTrainingNodes;
import dev.forge.compiler.passes.RemoveUnusedInitializers;
import dev.forge.runtime.Tensor;
import java.util.Map;

/**
 * Turns a trained model into its inference model: trained values baked in as initializers,
 * BatchNormalization folded into the preceding Conv, Gemm or MatMul where possible, Dropout removed,
 * constant subgraphs folded, unused initializers dropped, the batch dimension kept symbolic, and metadata
 * attached. The work is done by the passes of {@link Pipelines#export}.
 */
public final class Export {
    private Export() {}

    /**
     * The inference model of {@code forward} with the given trained state.
     *
     * @param forward the model as built or imported (eval-mode graph)
     * @param state trained values by initializer name (parameters and running statistics); other
     *     entries (optimizer state) are ignored
     * @param metadata entries for {@code metadata_props} (class labels, normalization, summary)
     */
    public static Graph inferenceModel(Graph forward, Map<String, Tensor> state, Map<String, String> metadata) {
        return Pipelines.export(state, metadata).run(forward, new PassContext());
    }

    /** Replaces every Dropout (the identity at inference) by a direct connection ({@link RemoveTrainingNodes}). */
    public static void removeDropout(Graph g) {
        new RemoveTrainingNodes().run(g, new PassContext());
    }

    /** Folds inference BatchNormalization into the Conv, Gemm or MatMul before it ({@link FoldBatchNorm}). */
    public static void foldBatchNorm(Graph g) {
        new FoldBatchNorm().run(g, new PassContext());
    }

    /** Drops initializers no node reads (and that are not graph outputs). */
    public static void removeUnusedInitializers(Graph g) {
        new RemoveUnusedInitializers().run(g, new PassContext());
    }
}
