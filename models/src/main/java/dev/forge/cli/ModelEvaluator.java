package dev.forge.cli;

import dev.forge.compiler.data.Normalize;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.TensorSpec;
import java.util.Arrays;
import java.util.Map;

/**
 * What the commands that score a loaded model ({@code eval}, {@code predict}) check and read from it; the
 * evaluation itself is the library's {@link dev.forge.compiler.train.Evaluation#of}.
 */
final class ModelEvaluator {
    private ModelEvaluator() {}

    /** [C, H, W] of the model's single input (the batch dimension dropped). */
    static long[] sampleShape(Model model) {
        if (model.inputs().size() != 1) {
            throw new IllegalArgumentException(model.sourceName() + " has "
                    + model.inputs().size() + " inputs; evaluation needs a model with one input");
        }
        TensorSpec in = model.inputs().get(0);
        long[] s = Arrays.copyOfRange(in.shape(), 1, in.shape().length);
        for (long d : s) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        model.sourceName() + ": input " + in + " must have fixed sizes after the batch");
            }
        }
        return s;
    }

    /** The class count of a classifier: the size of its first output's second axis, or -1 when it is not fixed. */
    static int classes(Model model) {
        long[] s = model.outputs().get(0).shape();
        return s.length >= 2 && s[1] > 0 ? Math.toIntExact(s[1]) : -1;
    }

    /** The normalization recorded in the model's metadata ({@link ModelMetadata#INPUT_MEAN}, {@link ModelMetadata#INPUT_STD}), or null. */
    static Normalize normalization(Map<String, String> metadata) {
        return ModelMetadata.normalization(metadata)
                .map(ms -> Normalize.of(ms[0], ms[1]))
                .orElse(null);
    }
}
