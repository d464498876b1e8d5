package dev.forge.compiler.quant;

/**
 * The affine map of one quantized tensor (or of one channel of it): a real value {@code r} is stored as
 * {@code q = saturate(round(r / scale) + zeroPoint)} and read back as {@code (q - zeroPoint) * scale}.
 *
 * @param scale the step between consecutive stored values; positive and finite
 * @param zeroPoint the stored value that stands for the real 0, inside the type's range
 * @param type the stored type
 */
public record QuantParams(float scale, int zeroPoint, QuantType type) {
    /** Checks that the scale is a positive finite float and the zero point a value of the type. */
    public QuantParams {
        if (!(scale > 0) || !Float.isFinite(scale)) {
            throw new IllegalArgumentException("a quantization scale must be positive and finite, got " + scale);
        }
        if (zeroPoint < type.qmin() || zeroPoint > type.qmax()) {
            throw new IllegalArgumentException("zero point " + zeroPoint + " is outside " + type + "'s range ["
                    + type.qmin() + ", " + type.qmax() + "]");
        }
    }

    /**
     * The real value a stored value stands for.
     *
     * @param q a stored value
     * @return {@code (q - zeroPoint) * scale}, computed in float as ONNX DequantizeLinear does
     */
    public float dequantize(int q) {
        return (q - zeroPoint) * scale;
    }

    /**
     * The stored value of a real value, as ONNX QuantizeLinear computes it.
     *
     * @param r the real value
     * @return the stored value
     */
    public int quantize(float r) {
        return QuantMath.quantize(r, scale, zeroPoint, type.qmin(), type.qmax());
    }
}
