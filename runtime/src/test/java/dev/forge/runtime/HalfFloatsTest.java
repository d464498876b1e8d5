package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The float16 and bfloat16 conversions against hand-computed bits (Java 20's {@code Float.floatToFloat16}
 * semantics; the build is Java 17), an exhaustive round trip, a brute-force nearest-value oracle and
 * ONNX Runtime's own Cast.
 */
class HalfFloatsTest {

    private static void half(int expectedBits, float f) {
        assertEquals(
                String.format("0x%04x", expectedBits),
                String.format("0x%04x", HalfFloats.toFloat16(f) & 0xffff),
                "toFloat16(" + f + " = " + Float.toHexString(f) + ")");
    }

    @Test
    void float16_rounding_matches_hand_computed_bits() {
        half(0x3c00, 1f);
        half(0xc000, -2f);
        half(0x0000, 0f);
        half(0x8000, -0f);
        half(0x2e66, 0.1f);
        half(0x3555, 1f / 3);
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to the even fraction (1)
        half(0x3c00, 1 + 0x1p-11f);
        // 1 + 3 * 2^-11 is halfway between 0x3c01 and 0x3c02: ties to the even one
        half(0x3c02, 1 + 3 * 0x1p-11f);
        half(0x3c01, Math.nextUp(1 + 0x1p-11f));
        // the largest finite half, the overflow threshold and beyond
        half(0x7bff, 65504f);
        half(0x7bff, Math.nextDown(65520f));
        half(0x7c00, 65520f);
        half(0xfc00, -1e10f);
        half(0x7c00, Float.MAX_VALUE);
        half(0x7c00, Float.POSITIVE_INFINITY);
        half(0xfc00, Float.NEGATIVE_INFINITY);
        // smallest normal, subnormals, and underflow to zero with ties to even
        half(0x0400, 0x1p-14f);
        half(0x03ff, 1023 * 0x1p-24f);
        half(0x0400, 0x1p-14f - 0x1p-25f); // halfway between 0x03ff (odd) and 0x0400
        half(0x0001, 0x1p-24f);
        half(0x0000, 0x1p-25f); // halfway between 0 and 2^-24: the even one is 0
        half(0x0001, Math.nextUp(0x1p-25f));
        half(0x0002, 3 * 0x1p-25f); // halfway between 1 and 2 units: 2
        half(0x8001, -0x1p-24f);
        half(0x0000, Float.MIN_VALUE);
        // NaN stays NaN, quiet, with the upper payload bits
        half(0x7e00, Float.NaN);
        half(0xfe00, Float.intBitsToFloat(0xffc00000));
        half(0x7c01, Float.intBitsToFloat(0x7f802000)); // payload survives in the top fraction bit kept
        half(0x7e00, Float.intBitsToFloat(0x7f800001)); // payload below the kept bits: made quiet, not infinity
    }

    @Test
    void every_float16_survives_a_round_trip_through_float() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.fromFloat16((short) h);
            assertEquals(h, HalfFloats.toFloat16(f) & 0xffff, String.format("0x%04x -> %s", h, f));
            int e = (h >>> 10) & 0x1f;
            int m = h & 0x3ff;
            double magnitude = e == 0 ? m * 0x1p-24 : e == 31 ? Double.NaN : (1 + m / 1024.0) * Math.scalb(1.0, e - 15);
            if (e == 31) {
                assertTrue(m == 0 ? Float.isInfinite(f) : Float.isNaN(f), String.format("0x%04x", h));
            } else {
                assertEquals((h & 0x8000) != 0 ? -magnitude : magnitude, f, 0.0, String.format("0x%04x", h));
            }
        }
    }

    /** The nearest half by search over the ordered finite halves, ties to the even bit pattern. */
    private static int nearestHalf(float f) {
        double x = Math.abs((double) f);
        int sign = Float.floatToRawIntBits(f) < 0 ? 0x8000 : 0;
        int lo = 0;
        int hi = 0x7c00; // "infinity" stands for 2^16 when rounding, as IEEE 754 says
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (value(mid) <= x) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        double dLo = x - value(lo);
        double dHi = value(hi) - x;
        int pick = dLo < dHi ? lo : dHi < dLo ? hi : ((lo & 1) == 0 ? lo : hi);
        return sign | pick;
    }

    private static double value(int bits) {
        return bits == 0x7c00 ? 65536.0 : HalfFloats.fromFloat16((short) bits);
    }

    @Test
    void float16_rounding_agrees_with_a_brute_force_nearest_search() {
        Random r = new Random(11);
        for (int i = 0; i < 300_000; i++) {
            // exponents from far below the subnormals to beyond the overflow threshold
            float f = Float.intBitsToFloat(
                    (r.nextInt() & 0x80000000) | ((96 + r.nextInt(50)) << 23) | r.nextInt(1 << 23));
            if (Math.abs(f) >= 65520f) {
                continue; // infinity, checked by hand above
            }
            assertEquals(nearestHalf(f), HalfFloats.toFloat16(f) & 0xffff, Float.toHexString(f));
        }
        // every midpoint between neighbouring finite halves, and its two float neighbours
        for (int h = 0; h < 0x7bff; h++) {
            float mid = (float) ((value(h) + value(h + 1)) / 2);
            for (float f : new float[] {mid, Math.nextDown(mid), Math.nextUp(mid)}) {
                assertEquals(nearestHalf(f), HalfFloats.toFloat16(f) & 0xffff, Float.toHexString(f));
            }
        }
    }

    @Test
    void bfloat16_rounds_to_nearest_even_and_widens_exactly() {
        assertEquals(0x3f80, HalfFloats.toBFloat16(1f) & 0xffff);
        assertEquals(0x3f80, HalfFloats.toBFloat16(Float.intBitsToFloat(0x3f808000)) & 0xffff, "tie to even");
        assertEquals(0x3f82, HalfFloats.toBFloat16(Float.intBitsToFloat(0x3f818000)) & 0xffff, "tie to even");
        assertEquals(0x3f81, HalfFloats.toBFloat16(Float.intBitsToFloat(0x3f808001)) & 0xffff);
        assertEquals(0x7f80, HalfFloats.toBFloat16(Float.MAX_VALUE) & 0xffff, "overflow to infinity");
        assertEquals(0x7f7f, HalfFloats.toBFloat16(Float.intBitsToFloat(0x7f7f7fff)) & 0xffff);
        assertEquals(0xff80, HalfFloats.toBFloat16(Float.NEGATIVE_INFINITY) & 0xffff);
        assertEquals(0x8000, HalfFloats.toBFloat16(-0f) & 0xffff);
        assertEquals(0x0001, HalfFloats.toBFloat16(Float.intBitsToFloat(0x00010000)) & 0xffff, "subnormal");
        assertTrue(Float.isNaN(HalfFloats.fromBFloat16(HalfFloats.toBFloat16(Float.intBitsToFloat(0x7f800001)))));
        for (int b = 0; b < 0x10000; b++) {
            float f = HalfFloats.fromBFloat16((short) b);
            assertEquals(b << 16, Float.floatToRawIntBits(f));
            if (!Float.isNaN(f)) {
                assertEquals(b, HalfFloats.toBFloat16(f) & 0xffff);
            }
        }
    }

    @Test
    void onnx_runtime_casts_give_the_same_bits() {
        Random r = new Random(5);
        int n = 1 << 16;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = Float.intBitsToFloat((r.nextInt() & 0x80000000) | ((90 + r.nextInt(70)) << 23) | r.nextInt(1 << 23));
        }
        x[0] = 65520f;
        x[1] = 0x1p-25f;
        x[2] = 3 * 0x1p-25f;
        x[3] = 1 + 0x1p-11f;
        x[4] = -0f;
        x[5] = Float.POSITIVE_INFINITY;
        try (Model toHalf = Model.load(
                        TestModels.cast(TestModels.FLOAT, TestModels.FLOAT16), "to_f16", ModelOptions.defaults());
                Model toBf16 = Model.load(
                        TestModels.cast(TestModels.FLOAT, TestModels.BFLOAT16), "to_bf16", ModelOptions.defaults());
                Model fromHalf = Model.load(
                        TestModels.cast(TestModels.FLOAT16, TestModels.FLOAT), "from_f16", ModelOptions.defaults())) {
            Tensor ortHalf = toHalf.run(Tensor.of(x, n));
            assertEquals(DType.FLOAT16, ortHalf.dtype());
            assertEquals(Tensor.ofFloat16(x, n), ortHalf);
            Tensor ortBf16 = toBf16.run(Tensor.of(x, n));
            assertEquals(Tensor.ofBFloat16(x, n), ortBf16);

            short[] all = new short[0x10000];
            for (int h = 0; h < all.length; h++) {
                all[h] = (short) h;
            }
            float[] widened =
                    fromHalf.run(Tensor.ofFloat16Bits(all, all.length)).toFloatArray();
            for (int h = 0; h < all.length; h++) {
                float mine = HalfFloats.fromFloat16(all[h]);
                if (Float.isNaN(mine)) {
                    assertTrue(Float.isNaN(widened[h]), String.format("0x%04x", h));
                } else {
                    assertEquals(Float.floatToRawIntBits(mine), Float.floatToRawIntBits(widened[h]), "" + h);
                }
            }
        }
    }
}
