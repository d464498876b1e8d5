package dev.forge.compiler.quant;

import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;

/**
 * The arithmetic of 8-bit linear quantization as ONNX defines it ({@code QuantizeLinear} /
 * {@code DequantizeLinear}) and as ONNX Runtime's QDQ kernels expect it:
 *
 * <ul>
 *   <li>activations: asymmetric per tensor over a calibrated range widened to include 0, so that 0 (padding,
 *       ReLU's floor) is stored exactly as the zero point: {@code scale = (max - min) / (qmax - qmin)},
 *       {@code zeroPoint = round(qmin - min / scale)};
 *   <li>weights: symmetric int8 per output channel, {@code scale_c = max|w_c| / 127}, zero point 0 (the
 *       integer kernels then need no zero-point correction on the weight side);
 *   <li>biases: int32 with {@code scale_c = s_x * s_w[c]} and zero point 0, the scale of the integer
 *       accumulator of {@code x * w}, so the bias adds to it directly (how ONNX Runtime's QDQ tools store it);
 *   <li>{@code q = saturate(round_half_even(r / scale) + zeroPoint)}, the division in float, as ONNX
 *       QuantizeLinear specifies; {@code r = (q - zeroPoint) * scale}.
 * </ul>
 *
 * A range whose width is 0 (an all-zero channel, an activation that is constantly 0) gets scale 1, a valid
 * nonzero scale under which 0 is still exact.
 */
public final class QuantMath {
    /** The largest symmetric int8 magnitude: weights use -127..127 so that the range is symmetric. */
    public static final int INT8_SYMMETRIC_MAX = 127;

    /** The largest magnitude of reduced-range (7-bit) weights, see {@link #symmetricScales(Tensor, int, int)}. */
    public static final int INT7_SYMMETRIC_MAX = 63;

    private QuantMath() {}

    /**
     * Asymmetric parameters for an activation range: the range is widened to include 0, and the zero point
     * is the integer that stands for 0.
     *
     * @param range the calibrated range
     * @param type the stored type
     * @return scale and zero point
     */
    public static QuantParams activation(TensorRange range, QuantType type) {
        TensorRange r = range.withZero();
        double width = (double) r.max() - (double) r.min();
        float scale = (float) (width / (type.qmax() - type.qmin()));
        if (!(scale >= Float.MIN_NORMAL) || !Float.isFinite(scale)) {
            // a constant-zero (or denormally narrow) range: every value rounds to 0, which the zero point stores
            // exactly whatever the scale; 1 keeps the bias scales s_x * s_w of the next layer sane
            int zp = r.min() == 0f ? type.qmin() : r.max() == 0f ? type.qmax() : (type.qmin() + type.qmax() + 1) / 2;
            return new QuantParams(1f, zp, type);
        }
        long zp = Math.round(Math.rint(type.qmin() - r.min() / (double) scale));
        zp = Math.max(type.qmin(), Math.min(type.qmax(), zp));
        return new QuantParams(scale, (int) zp, type);
    }

    /**
     * Symmetric int8 scales per slice of {@code weights} along {@code axis}: {@code max|w| / 127} per slice,
     * 1 for an all-zero slice.
     *
     * @param weights float weights
     * @param axis the output-channel axis (Conv 0, MatMul's B 1, Gemm's B 0 with transB else 1)
     * @return one scale per index of {@code axis}
     */
    public static float[] symmetricScales(Tensor weights, int axis) {
        return symmetricScales(weights, axis, INT8_SYMMETRIC_MAX);
    }

    /**
     * Symmetric scales per slice for stored magnitudes up to {@code qmax}: {@code max|w| / qmax} per slice, 1
     * for an all-zero slice. A {@code qmax} of 63 ("reduced range", 7-bit weights) keeps the sum of two
     * products {@code 255 * 63 * 2} inside int16, the accumulator of x86 AVX2 u8 x s8 kernels.
     *
     * @param weights float weights
     * @param axis the output-channel axis
     * @param qmax the largest stored magnitude, 1..127
     * @return one scale per index of {@code axis}
     */
    public static float[] symmetricScales(Tensor weights, int axis, int qmax) {
        requireFloat(weights);
        float[] w = weights.toFloatArray();
        Layout l = new Layout(weights.shape(), axis);
        float[] maxAbs = new float[l.channels];
        for (int i = 0; i < w.length; i++) {
            int c = l.channel(i);
            maxAbs[c] = Math.max(maxAbs[c], Math.abs(w[i]));
        }
        float[] scales = new float[l.channels];
        for (int c = 0; c < scales.length; c++) {
            float s = maxAbs[c] / qmax;
            scales[c] = s >= Float.MIN_NORMAL ? s : 1f;
        }
        return scales;
    }

    /**
     * Quantizes float weights to int8 with one scale per slice along {@code axis} and zero point 0.
     *
     * @param weights float weights
     * @param axis the axis the scales run along
     * @param scales one positive scale per index of {@code axis}
     * @return an int8 tensor of the same shape
     */
    public static Tensor quantizeWeights(Tensor weights, int axis, float[] scales) {
        return quantizeWeights(weights, axis, scales, INT8_SYMMETRIC_MAX);
    }

    /**
     * Quantizes float weights to int8 in {@code [-qmax, qmax]} with one scale per slice along {@code axis}
     * and zero point 0.
     *
     * @param weights float weights
     * @param axis the axis the scales run along
     * @param scales one positive scale per index of {@code axis}
     * @param qmax the largest stored magnitude
     * @return an int8 tensor of the same shape
     */
    public static Tensor quantizeWeights(Tensor weights, int axis, float[] scales, int qmax) {
        requireFloat(weights);
        float[] w = weights.toFloatArray();
        Layout l = new Layout(weights.shape(), axis);
        if (scales.length != l.channels) {
            throw new IllegalArgumentException(
                    scales.length + " scales for " + l.channels + " channels along axis " + axis);
        }
        byte[] q = new byte[w.length];
        for (int i = 0; i < w.length; i++) {
            q[i] = (byte) quantize(w[i], scales[l.channel(i)], 0, -qmax, qmax);
        }
        return Tensor.ofInt8(q, weights.shape());
    }

    /**
     * The int32 bias scales {@code s_x * s_w[c]}, computed in float.
     *
     * @param inputScale the scale of the layer's input activation
     * @param weightScales the weight scale per output channel
     * @return one bias scale per output channel
     */
    public static float[] biasScales(float inputScale, float[] weightScales) {
        float[] s = new float[weightScales.length];
        for (int c = 0; c < s.length; c++) {
            s[c] = inputScale * weightScales[c];
        }
        return s;
    }

    /**
     * Quantizes a float bias to int32 with zero point 0 and the given per-channel scales, saturating at the
     * int32 range.
     *
     * @param bias float bias, one value per output channel
     * @param scales one bias scale per channel ({@link #biasScales})
     * @return an int32 tensor of the bias's shape
     */
    public static Tensor quantizeBias(Tensor bias, float[] scales) {
        requireFloat(bias);
        float[] b = bias.toFloatArray();
        if (b.length != scales.length) {
            throw new IllegalArgumentException(b.length + " bias values for " + scales.length + " scales");
        }
        int[] q = new int[b.length];
        for (int c = 0; c < b.length; c++) {
            q[c] = quantize(b[c], scales[c], 0, Integer.MIN_VALUE, Integer.MAX_VALUE);
        }
        return Tensor.of(q, bias.shape());
    }

    /**
     * The smallest weight scale per channel that keeps {@code |bias| / (s_x * s_w)} inside int32: a large
     * bias over a small weight range would otherwise saturate. Weight scales below it are raised to it.
     *
     * @param bias float bias per channel
     * @param inputScale the input activation's scale
     * @return the floor of each channel's weight scale
     */
    public static float[] weightScaleFloorForBias(Tensor bias, float inputScale) {
        float[] b = bias.toFloatArray();
        float[] floor = new float[b.length];
        for (int c = 0; c < b.length; c++) {
            // keep a factor of 2 headroom below 2^31 for the rounding of the product s_x * s_w
            floor[c] = (float) (Math.abs((double) b[c]) / ((double) inputScale * (Integer.MAX_VALUE / 2.0)));
        }
        return floor;
    }

    /**
     * ONNX QuantizeLinear for one value: {@code saturate(round_half_even(r / scale) + zeroPoint)}, the
     * division in float.
     *
     * @param r the real value
     * @param scale the scale
     * @param zeroPoint the zero point
     * @param qmin the smallest stored value
     * @param qmax the largest stored value
     * @return the stored value
     */
    public static int quantize(float r, float scale, int zeroPoint, long qmin, long qmax) {
        float ratio = r / scale;
        if (Float.isNaN(ratio)) {
            return (int) Math.max(qmin, Math.min(qmax, zeroPoint));
        }
        double v = Math.rint(ratio) + zeroPoint;
        return (int) Math.max(qmin, Math.min(qmax, v));
    }

    /**
     * Dequantizes a tensor stored as int8, uint8 or int32, per tensor or per slice along {@code axis}.
     *
     * @param q the stored values
     * @param axis the axis the parameters run along (ignored when there is one scale)
     * @param scales one scale, or one per index of {@code axis}
     * @param zeroPoints as many zero points as scales
     * @return the float tensor {@code (q - zeroPoint) * scale}
     */
    public static Tensor dequantize(Tensor q, int axis, float[] scales, int[] zeroPoints) {
        if (q.dtype() != DType.INT8 && q.dtype() != DType.UINT8 && q.dtype() != DType.INT32) {
            throw new IllegalArgumentException("dequantize needs int8, uint8 or int32 values, got " + q.dtype());
        }
        int[] v = q.toIntArray();
        float[] out = new float[v.length];
        Layout l = scales.length == 1 ? null : new Layout(q.shape(), axis);
        for (int i = 0; i < v.length; i++) {
            int c = l == null ? 0 : l.channel(i);
            out[i] = (v[i] - zeroPoints[c]) * scales[c];
        }
        return Tensor.of(out, q.shape());
    }

    private static void requireFloat(Tensor t) {
        if (t.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException(
                    "expected float32 values, got " + t.dtype().typeName());
        }
    }

    /** Row-major index arithmetic: the index along {@code axis} of a flat position. */
    private static final class Layout {
        final int channels;
        final long inner;

        Layout(long[] shape, int axis) {
            if (axis < 0 || axis >= shape.length) {
                throw new IllegalArgumentException("axis " + axis + " is outside a tensor of rank " + shape.length);
            }
            this.channels = (int) shape[axis];
            long in = 1;
            for (int d = axis + 1; d < shape.length; d++) {
                in *= shape[d];
            }
            this.inner = in;
        }

        int channel(int flat) {
            return (int) ((flat / inner) % channels);
        }
    }
}
