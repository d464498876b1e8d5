package dev.forge.compiler.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class QuantMathTest {
    @Test
    void a_range_across_zero_gets_the_hand_computed_scale_and_zero_point() {
        // [-1, 3] over 0..255: scale 4/255, zero point round(0 + 1 / (4/255)) = round(63.75) = 64
        QuantParams p = QuantMath.activation(new TensorRange(-1f, 3f), QuantType.UINT8);
        assertEquals(4f / 255f, p.scale(), 1e-9);
        assertEquals(64, p.zeroPoint());
        assertEquals(0f, p.dequantize(p.zeroPoint()));
        // int8: round(-128 + 63.75) = -64
        QuantParams s = QuantMath.activation(new TensorRange(-1f, 3f), QuantType.INT8);
        assertEquals(-64, s.zeroPoint());
    }

    @Test
    void a_positive_only_range_is_widened_to_include_zero_exactly() {
        QuantParams p = QuantMath.activation(new TensorRange(0.5f, 2f), QuantType.UINT8);
        assertEquals(2f / 255f, p.scale(), 1e-9);
        assertEquals(0, p.zeroPoint());
        assertEquals(0, p.quantize(0f));
        assertEquals(0f, p.dequantize(p.quantize(0f)));
        // ReLU outputs in int8 put the zero point at qmin, which is what lets ONNX Runtime drop the Relu
        assertEquals(
                -128,
                QuantMath.activation(new TensorRange(0f, 6f), QuantType.INT8).zeroPoint());
    }

    @Test
    void a_negative_only_range_puts_the_zero_point_at_the_top() {
        QuantParams u = QuantMath.activation(new TensorRange(-3f, -1f), QuantType.UINT8);
        assertEquals(3f / 255f, u.scale(), 1e-9);
        assertEquals(255, u.zeroPoint());
        assertEquals(0, u.quantize(-3f));
        QuantParams s = QuantMath.activation(new TensorRange(-3f, -1f), QuantType.INT8);
        assertEquals(127, s.zeroPoint());
        assertEquals(-128, s.quantize(-3f));
    }

    @Test
    void constant_activations_get_a_valid_scale_and_keep_zero_and_the_constant() {
        QuantParams c = QuantMath.activation(new TensorRange(2f, 2f), QuantType.UINT8);
        assertEquals(2f / 255f, c.scale(), 1e-9);
        assertEquals(2f, c.dequantize(c.quantize(2f)), 1e-6);
        QuantParams zero = QuantMath.activation(new TensorRange(0f, 0f), QuantType.UINT8);
        assertEquals(1f, zero.scale());
        assertEquals(0, zero.zeroPoint());
        assertEquals(0f, zero.dequantize(zero.quantize(0f)));
        QuantParams zero8 = QuantMath.activation(new TensorRange(0f, 0f), QuantType.INT8);
        assertEquals(-128, zero8.zeroPoint());
        assertEquals(0f, zero8.dequantize(zero8.quantize(0f)));
    }

    @Test
    void quantize_rounds_half_to_even_and_saturates() {
        assertEquals(2, QuantMath.quantize(2.5f, 1f, 0, -128, 127));
        assertEquals(4, QuantMath.quantize(3.5f, 1f, 0, -128, 127));
        assertEquals(-2, QuantMath.quantize(-2.5f, 1f, 0, -128, 127));
        assertEquals(0, QuantMath.quantize(0.5f, 1f, 0, -128, 127));
        assertEquals(11, QuantMath.quantize(0.5f, 1f, 11, -128, 127));
        assertEquals(127, QuantMath.quantize(1000f, 0.1f, 0, -128, 127));
        assertEquals(-128, QuantMath.quantize(-1000f, 0.1f, 0, -128, 127));
        assertEquals(255, QuantMath.quantize(1000f, 0.1f, 10, 0, 255));
        assertEquals(0, QuantMath.quantize(-1000f, 0.1f, 10, 0, 255));
    }

    @Test
    void activation_quantization_matches_a_double_precision_reference() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int trial = 0; trial < 200; trial++) {
            float lo = (float) rnd.nextDouble(-20, 5);
            float hi = lo + (float) rnd.nextDouble(0, 30);
            for (QuantType t : QuantType.values()) {
                QuantParams p = QuantMath.activation(new TensorRange(lo, hi), t);
                double min = Math.min(lo, 0);
                double max = Math.max(hi, 0);
                assertEquals((max - min) / (t.qmax() - t.qmin()), p.scale(), 1e-6 * Math.max(1, p.scale()));
                assertEquals(0f, p.dequantize(p.zeroPoint()));
                for (int k = 0; k < 50; k++) {
                    float x = (float) rnd.nextDouble(min - 1, max + 1);
                    double ratio = x / (double) p.scale();
                    long ref = Math.max(t.qmin(), Math.min(t.qmax(), (long) Math.rint(ratio) + p.zeroPoint()));
                    boolean nearTie = Math.abs(Math.abs(ratio - Math.floor(ratio)) - 0.5) < 1e-5;
                    if (!nearTie) {
                        assertEquals(ref, p.quantize(x), "x = " + x + " in [" + lo + ", " + hi + "] " + t);
                    }
                    if (x >= min && x <= max) {
                        // inside the range the round trip errs by at most half a step
                        assertTrue(Math.abs(p.dequantize(p.quantize(x)) - x) <= p.scale() * 0.5001);
                    }
                }
            }
        }
    }

    @Test
    void weights_are_symmetric_per_channel_and_an_all_zero_channel_gets_scale_one() {
        // [2, 3] along axis 0: rows {1, -2, 0.5} and {0, 0, 0}
        Tensor w = Tensor.of(new float[] {1f, -2f, 0.5f, 0f, 0f, 0f}, 2, 3);
        float[] scales = QuantMath.symmetricScales(w, 0);
        assertArrayEquals(new float[] {2f / 127f, 1f}, scales);
        Tensor q = QuantMath.quantizeWeights(w, 0, scales);
        assertArrayEquals(new byte[] {64, -127, 32, 0, 0, 0}, q.toByteArray());
        // along axis 1: columns {1, 0}, {-2, 0}, {0.5, 0}
        float[] cols = QuantMath.symmetricScales(w, 1);
        assertArrayEquals(new float[] {1f / 127f, 2f / 127f, 0.5f / 127f}, cols);
        assertArrayEquals(
                new byte[] {127, -127, 127, 0, 0, 0},
                QuantMath.quantizeWeights(w, 1, cols).toByteArray());
    }

    @Test
    void conv_weights_per_output_channel_round_trip_within_half_a_step() {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] v = new float[4 * 3 * 3 * 3];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian() * (1 + i / 27);
        }
        Tensor w = Tensor.of(v, 4, 3, 3, 3);
        float[] s = QuantMath.symmetricScales(w, 0);
        Tensor q = QuantMath.quantizeWeights(w, 0, s);
        float[] back = QuantMath.dequantize(q, 0, s, new int[4]).toFloatArray();
        for (int i = 0; i < v.length; i++) {
            double maxAbs = 0;
            for (int k = 0; k < 27; k++) {
                maxAbs = Math.max(maxAbs, Math.abs(v[(i / 27) * 27 + k]));
            }
            assertEquals(maxAbs / 127, s[i / 27], 1e-6);
            assertTrue(Math.abs(back[i] - v[i]) <= s[i / 27] * 0.5001, "element " + i);
        }
    }

    @Test
    void biases_are_int32_at_input_scale_times_weight_scale() {
        float[] bs = QuantMath.biasScales(0.02f, new float[] {0.01f, 0.5f});
        assertArrayEquals(new float[] {0.02f * 0.01f, 0.02f * 0.5f}, bs);
        Tensor b = Tensor.of(new float[] {0.1234f, -3f}, 2);
        Tensor q = QuantMath.quantizeBias(b, bs);
        // 0.1234 / 0.0002 = 617; -3 / 0.01 = -300
        assertArrayEquals(new int[] {617, -300}, q.toIntArray());
        float[] back = QuantMath.dequantize(q, 0, bs, new int[2]).toFloatArray();
        assertEquals(0.1234f, back[0], bs[0] / 2);
        assertEquals(-3f, back[1], bs[1] / 2);
    }

    @Test
    void a_large_bias_over_tiny_weights_raises_the_weight_scale_instead_of_saturating() {
        Tensor b = Tensor.of(new float[] {5e4f}, 1);
        float inputScale = 1e-3f;
        float tiny = 1e-9f;
        assertEquals(
                Integer.MAX_VALUE,
                QuantMath.quantizeBias(b, QuantMath.biasScales(inputScale, new float[] {tiny}))
                        .toIntArray()[0]);
        float floor = QuantMath.weightScaleFloorForBias(b, inputScale)[0];
        assertTrue(floor > tiny);
        int q = QuantMath.quantizeBias(b, QuantMath.biasScales(inputScale, new float[] {floor}))
                .toIntArray()[0];
        assertTrue(q < Integer.MAX_VALUE && q > Integer.MAX_VALUE / 4, "q = " + q);
    }

    @Test
    void invalid_parameters_are_refused_with_the_reason() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> new QuantParams(0f, 0, QuantType.UINT8));
        assertTrue(e.getMessage().contains("positive"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new QuantParams(1f, -1, QuantType.UINT8));
        assertTrue(e.getMessage().contains("[0, 255]"), e.getMessage());
    }
}
