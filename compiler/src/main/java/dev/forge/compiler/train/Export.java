package dev.forge.compiler.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.Pipelines;
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
}
