package dev.forge.compiler.ops;

/**
 * The seed's size arithmetic for convolution and pooling as plain functions:
 * {@code H2 = (H1 - F + 2P)/S + 1}, and the padding that keeps the size (SAME).
 */
public final class ConvArithmetic {
    private ConvArithmetic() {}

    /**
     * The output size {@code (in - F + 2P)/S + 1} with dilation {@code D} (effective window
     * {@code (F - 1) * D + 1}).
     *
     * @throws IllegalArgumentException if the result is not a whole number or below 1
     */
    public static long outputSize(long in, long kernel, long stride, long padding, long dilation) {
        long effective = (kernel - 1) * dilation + 1;
        long numerator = in - effective + 2 * padding;
        if (numerator < 0) {
            throw new IllegalArgumentException("(" + in + " - " + effective + " + 2*" + padding + ")/" + stride
                    + " + 1 is below 1: the window is larger than the padded input");
        }
        if (numerator % stride != 0) {
            throw new IllegalArgumentException("(" + in + " - " + effective + " + 2*" + padding + ")/" + stride
                    + " + 1 = " + ((double) numerator / stride + 1) + " is not a whole number");
        }
        return numerator / stride + 1;
    }

    /**
     * The padding {@code [begin, end]} that makes the output {@code ceil(in / stride)} (SAME, extra pixel
     * at the end as in ONNX's SAME_UPPER and TensorFlow). For stride 1 and odd {@code kernel} both sides
     * are {@code (kernel - 1) / 2}: a 3x3 filter needs padding 1, a 5x5 filter padding 2.
     */
    public static long[] samePadding(long in, long kernel, long stride, long dilation) {
        return Spatial.samePads(in, kernel, stride, dilation, true);
    }
}
