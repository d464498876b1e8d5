package dev.forge.runtime;

/**
 * One entry of a top-k result from {@link Model#topK}.
 *
 * @param index the class index (column of the model's output)
 * @param label the class name from the model's {@code class_labels} metadata, or the index as a string
 * @param probability the class probability in [0, 1] (after softmax when the model outputs logits)
 */
public record Prediction(int index, String label, float probability) {
    /** {@code cat (2): 0.9132}. */
    @Override
    public String toString() {
        return label + " (" + index + "): " + String.format(java.util.Locale.ROOT, "%.4f", probability);
    }
}
