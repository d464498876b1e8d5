package dev.forge.cli;

import dev.forge.compiler.data.Batch;
import dev.forge.compiler.data.DataLoader;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Normalize;
import dev.forge.compiler.train.Evaluation;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Tensor;
import dev.forge.runtime.TensorSpec;
import java.util.Arrays;
import java.util.Map;

/** Evaluates a classifier loaded in the runtime on a data set: cross-entropy, accuracy, confusion. */
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

    /** The normalization recorded in the model's metadata ({@link ModelMetadata#INPUT_MEAN}, {@link ModelMetadata#INPUT_STD}), or null. */
    static Normalize normalization(Map<String, String> metadata) {
        return ModelMetadata.normalization(metadata)
                .map(ms -> Normalize.of(ms[0], ms[1]))
                .orElse(null);
    }

    /** Runs the model over the data set in batches and scores its first output as class logits. */
    static Evaluation evaluate(Model model, Dataset data, int batchSize) {
        int classes = data.numClasses();
        if (classes <= 0) {
            throw new IllegalArgumentException("evaluation needs a classification data set");
        }
        long[][] confusion = new long[classes][classes];
        double lossSum = 0;
        long n = 0;
        long correct = 0;
        String input = model.inputs().get(0).name();
        try (DataLoader loader = DataLoader.builder(data, batchSize).build();
                DataLoader.Epoch epoch = loader.epoch(0)) {
            for (Batch b : epoch) {
                Tensor out =
                        model.run(Map.of(input, b.inputs())).values().iterator().next();
                if (out.rank() != 2 || out.shape()[1] != classes) {
                    throw new IllegalArgumentException(model.sourceName() + ": output " + Arrays.toString(out.shape())
                            + " is not [batch, " + classes + "] class scores for this data set");
                }
                float[] p = out.toFloatArray();
                for (int r = 0; r < b.size(); r++) {
                    int truth = (int) b.labels().getLong(r);
                    int best = 0;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < classes; c++) {
                        max = Math.max(max, p[r * classes + c]);
                        if (p[r * classes + c] > p[r * classes + best]) {
                            best = c;
                        }
                    }
                    double sum = 0;
                    for (int c = 0; c < classes; c++) {
                        sum += Math.exp(p[r * classes + c] - max);
                    }
                    lossSum += -(p[r * classes + truth] - max - Math.log(sum));
                    confusion[truth][best]++;
                    if (best == truth) {
                        correct++;
                    }
                }
                n += b.size();
            }
        }
        return new Evaluation(lossSum / n, (double) correct / n, n, confusion, data.classNames());
    }
}
