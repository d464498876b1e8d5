package dev.forge.compiler.quant;

/**
 * The float range {@code [min, max]} a tensor is quantized over, as calibration chose it for an activation
 * or as read from a weight. The quantization arithmetic widens it to include zero, so that zero (padding,
 * ReLU's floor) is represented exactly.
 *
 * @param min the smallest value represented
 * @param max the largest value represented
 */
public record TensorRange(float min, float max) {
    /** Checks that both ends are finite and ordered. */
    public TensorRange {
        if (!Float.isFinite(min) || !Float.isFinite(max) || min > max) {
            throw new IllegalArgumentException(
                    "a tensor range needs finite min <= max, got [" + min + ", " + max + "]");
        }
    }

    /**
     * The range widened to include zero.
     *
     * @return {@code [min(min, 0), max(max, 0)]}
     */
    public TensorRange withZero() {
        return new TensorRange(Math.min(min, 0f), Math.max(max, 0f));
    }
}
