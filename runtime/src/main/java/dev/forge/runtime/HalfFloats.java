package dev.forge.runtime;

/**
 * Conversions between {@code float} and the two 16-bit floating-point formats ONNX uses, as raw bits in
 * a {@code short}: IEEE 754 binary16 ({@link DType#FLOAT16}: 1 sign, 5 exponent, 10 fraction bits) and
 * bfloat16 ({@link DType#BFLOAT16}: the upper half of a float32).
 *
 * <p>Narrowing rounds to the nearest representable value, ties to even, like Java 20's {@code
 * Float.floatToFloat16}, NumPy's {@code astype(np.float16)} and ONNX Runtime's Cast: values at or above
 * 65520 in magnitude become infinity, values below 2^-14 become binary16 subnormals (or a signed zero at
 * or below 2^-25). NaN stays NaN (the upper fraction bits are kept, and a payload that would vanish
 * becomes a quiet NaN). Widening is exact.
 */
public final class HalfFloats {
    private HalfFloats() {}

    /**
     * The binary16 bits nearest to {@code f} (round to nearest, ties to even).
     *
     * @param f the value
     * @return the float16 bits
     */
    public static short toFloat16(float f) {
        int x = Float.floatToRawIntBits(f);
        int sign = (x >>> 16) & 0x8000;
        int abs = x & 0x7fffffff;
        if (abs >= 0x7f800000) {
            if (abs == 0x7f800000) {
                return (short) (sign | 0x7c00);
            }
            int payload = (abs >>> 13) & 0x3ff;
            return (short) (sign | 0x7c00 | (payload == 0 ? 0x200 : payload));
        }
        // 65520 = 0x477ff000 lies halfway between the largest binary16 (65504, odd fraction) and 2^16:
        // the tie goes to the even neighbour, infinity
        if (abs >= 0x477ff000) {
            return (short) (sign | 0x7c00);
        }
        if (abs >= 0x38800000) { // 2^-14 and up: a normal binary16
            int h = ((abs >>> 23) - 127 + 15) << 10 | ((abs >>> 13) & 0x3ff);
            int rest = abs & 0x1fff;
            // a carry out of the fraction moves into the exponent, which is the right result
            if (rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1)) {
                h++;
            }
            return (short) (sign | h);
        }
        // 2^-25 (0x33000000) is halfway between 0 and the smallest subnormal 2^-24: ties to even, zero
        if (abs <= 0x33000000) {
            return (short) sign;
        }
        // subnormal: the value is m * 2^-24 with m = significand * 2^(e - 126), e the biased exponent
        int e = abs >>> 23;
        int significand = (abs & 0x7fffff) | 0x800000;
        int shift = 126 - e; // 14..24
        int m = significand >>> shift;
        int rest = significand & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rest > half || (rest == half && (m & 1) == 1)) {
            m++; // 0x400 is the smallest normal, still right
        }
        return (short) (sign | m);
    }

    /**
     * The float value of binary16 bits (exact).
     *
     * @param bits the float16 bits
     * @return the value
     */
    public static float fromFloat16(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int e = (h >>> 10) & 0x1f;
        int m = h & 0x3ff;
        if (e == 0) {
            float v = m * 0x1p-24f; // exact: m < 2^10
            return Float.intBitsToFloat(sign | Float.floatToRawIntBits(v));
        }
        if (e == 31) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (m << 13));
        }
        return Float.intBitsToFloat(sign | ((e - 15 + 127) << 23) | (m << 13));
    }

    /**
     * The bfloat16 bits nearest to {@code f} (round to nearest, ties to even; NaN stays a quiet NaN).
     *
     * @param f the value
     * @return the bfloat16 bits
     */
    public static short toBFloat16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) {
            return (short) ((x >>> 16) | 0x40);
        }
        // adding 0x7fff plus the lowest kept bit rounds the dropped half to nearest, ties to even;
        // a carry into the exponent (up to infinity) is the right result
        return (short) ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16);
    }

    /**
     * The float value of bfloat16 bits (exact).
     *
     * @param bits the bfloat16 bits
     * @return the value
     */
    public static float fromBFloat16(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }
}
