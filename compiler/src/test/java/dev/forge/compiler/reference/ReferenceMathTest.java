package dev.forge.compiler.reference;

import static dev.forge.compiler.reference.Fixtures.assertNear;
import static dev.forge.compiler.reference.Fixtures.assertTensor;
import static dev.forge.compiler.reference.Fixtures.attrs;
import static dev.forge.compiler.reference.Fixtures.eval;
import static dev.forge.compiler.reference.Fixtures.eval1;
import static dev.forge.compiler.reference.Fixtures.f;
import static dev.forge.compiler.reference.Fixtures.i;
import static dev.forge.compiler.reference.Fixtures.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Gemm, MatMul, BatchNormalization, Softmax and LogSoftmax. */
class ReferenceMathTest {

    @Test
    void gemm_with_transposes_alpha_beta_and_a_broadcast_bias() {
        // A stored [K=2, M=3] and used transposed; B stored [N=2, K=2] and used transposed.
        DoubleTensor a = t(new double[] {1, 2, 3, 4, 5, 6}, 2, 3); // A^T = [[1,4],[2,5],[3,6]]
        DoubleTensor b = t(new double[] {1, 0, 1, 1}, 2, 2); // B^T = [[1,1],[0,1]]
        DoubleTensor c = t(new double[] {10, 20}, 2); // broadcast over the rows
        DoubleTensor y = eval1("Gemm", attrs("transA", i(1), "transB", i(1), "alpha", f(0.5f), "beta", f(2f)), a, b, c);
        // A^T B^T = [[1, 5], [2, 7], [3, 9]]; 0.5 * that + 2 * [10, 20]
        assertTensor(new long[] {3, 2}, new double[] {20.5, 42.5, 21, 43.5, 21.5, 44.5}, y);
        // defaults: alpha = beta = 1, no transposes, C optional
        DoubleTensor plain =
                eval1("Gemm", Map.of(), t(new double[] {1, 2, 3, 4}, 2, 2), t(new double[] {5, 6, 7, 8}, 2, 2));
        assertTensor(new long[] {2, 2}, new double[] {19, 22, 43, 50}, plain);
        // C of shape [M, 1] broadcasts along the columns
        DoubleTensor col = eval1(
                "Gemm",
                Map.of(),
                t(new double[] {1, 2, 3, 4}, 2, 2),
                t(new double[] {1, 0, 0, 1}, 2, 2),
                t(new double[] {100, 200}, 2, 1));
        assertTensor(new long[] {2, 2}, new double[] {101, 102, 203, 204}, col);
        assertThrows(
                IllegalArgumentException.class,
                () -> eval1(
                        "Gemm",
                        Map.of(),
                        t(new double[] {1, 2, 3, 4}, 2, 2),
                        t(new double[] {1, 2, 3, 4}, 2, 2),
                        t(new double[3], 3)));
    }

    @Test
    void matmul_follows_numpy_for_batches_and_vectors() {
        SplittableRandom rnd = new SplittableRandom(9);
        DoubleTensor a = DoubleTensor.random(rnd, 2, 1, 3, 4);
        DoubleTensor b = DoubleTensor.random(rnd, 5, 4, 2);
        DoubleTensor y = eval1("MatMul", Map.of(), a, b);
        assertArrayEquals(new long[] {2, 5, 3, 2}, y.shape());
        for (int p = 0; p < 2; p++) {
            for (int q = 0; q < 5; q++) {
                for (int r = 0; r < 3; r++) {
                    for (int s = 0; s < 2; s++) {
                        double acc = 0;
                        for (int k = 0; k < 4; k++) {
                            acc += a.get(p, 0, r, k) * b.get(q, k, s);
                        }
                        assertEquals(acc, y.get(p, q, r, s), 1e-14);
                    }
                }
            }
        }
        DoubleTensor v = t(new double[] {1, 2, 3}, 3);
        DoubleTensor m = t(new double[] {1, 2, 3, 4, 5, 6}, 3, 2);
        assertTensor(new long[] {2}, new double[] {22, 28}, eval1("MatMul", Map.of(), v, m));
        assertTensor(new long[] {}, new double[] {14}, eval1("MatMul", Map.of(), v, v));
        assertTensor(
                new long[] {2}, new double[] {1 + 4 + 9, 4 + 10 + 18}, eval1("MatMul", Map.of(), m.reshape(2, 3), v));
    }

    @Test
    void batch_norm_inference_applies_the_formula_per_channel() {
        SplittableRandom rnd = new SplittableRandom(10);
        DoubleTensor x = DoubleTensor.random(rnd, 2, 3, 4, 5);
        DoubleTensor scale = t(new double[] {1.5, -2, 0.5}, 3);
        DoubleTensor bias = t(new double[] {0.1, 0.2, 0.3}, 3);
        DoubleTensor mean = t(new double[] {0.05, -0.1, 0.2}, 3);
        DoubleTensor var = t(new double[] {0.5, 1.5, 2}, 3);
        double eps = 1e-3;
        DoubleTensor y = eval1("BatchNormalization", attrs("epsilon", f((float) eps)), x, scale, bias, mean, var);
        double epsF = (float) eps; // the attribute is a float
        for (int k = 0; k < x.size(); k++) {
            int ch = (int) x.unravel(k)[1];
            double expected =
                    (x.getFlat(k) - mean.get(ch)) / Math.sqrt(var.get(ch) + epsF) * scale.get(ch) + bias.get(ch);
            assertEquals(expected, y.getFlat(k), 1e-14);
        }
        // the 1-D form is [N] with one channel
        DoubleTensor one = eval1(
                "BatchNormalization",
                Map.of(),
                t(new double[] {1, 3}, 2),
                t(new double[] {2}, 1),
                t(new double[] {1}, 1),
                t(new double[] {1}, 1),
                t(new double[] {4}, 1));
        double eps5 = 1e-5f;
        assertTensor(new long[] {2}, new double[] {1, 2 * 2 / Math.sqrt(4 + eps5) + 1}, one);
    }

    @Test
    void batch_norm_training_normalizes_with_batch_statistics_and_updates_the_running_ones() {
        SplittableRandom rnd = new SplittableRandom(11);
        DoubleTensor x = DoubleTensor.random(rnd, 4, 2, 3, 3).map(v -> 3 * v + 1);
        DoubleTensor scale = t(new double[] {2, 0.5}, 2);
        DoubleTensor bias = t(new double[] {-1, 1}, 2);
        DoubleTensor mean = t(new double[] {0.2, -0.3}, 2);
        DoubleTensor var = t(new double[] {1.2, 0.8}, 2);
        List<DoubleTensor> out = eval(
                "BatchNormalization",
                attrs("training_mode", i(1), "momentum", f(0.75f), "epsilon", f(0f)),
                3,
                x,
                scale,
                bias,
                mean,
                var);
        double momentum = 0.75; // exact in float
        for (int ch = 0; ch < 2; ch++) {
            // batch statistics computed here by a two-pass sum over the channel's 4*3*3 = 36 values
            double sum = 0;
            double sumSq = 0;
            double ySum = 0;
            double ySq = 0;
            for (int k = 0; k < x.size(); k++) {
                if (x.unravel(k)[1] == ch) {
                    sum += x.getFlat(k);
                    sumSq += x.getFlat(k) * x.getFlat(k);
                    ySum += out.get(0).getFlat(k);
                    ySq += out.get(0).getFlat(k) * out.get(0).getFlat(k);
                }
            }
            double mu = sum / 36;
            double populationVar = sumSq / 36 - mu * mu;
            // Y has mean B and standard deviation |scale| per channel
            double yMean = ySum / 36;
            assertEquals(bias.get(ch), yMean, 1e-12);
            assertEquals(scale.get(ch) * scale.get(ch), ySq / 36 - yMean * yMean, 1e-10);
            assertEquals(
                    mean.get(ch) * momentum + mu * (1 - momentum), out.get(1).get(ch), 1e-12);
            assertEquals(
                    var.get(ch) * momentum + populationVar * (1 - momentum),
                    out.get(2).get(ch),
                    1e-12);
        }
        // running statistics without training_mode are an error, as the spec says
        assertThrows(
                IllegalArgumentException.class,
                () -> eval("BatchNormalization", Map.of(), 3, x, scale, bias, mean, var));
    }

    @Test
    void softmax_rows_sum_to_one_and_match_known_values() {
        DoubleTensor y = eval1("Softmax", Map.of(), t(new double[] {1, 2, 3, 1000, 1000, 1000}, 2, 3));
        assertArrayEquals(
                new double[] {0.09003057317038046, 0.24472847105479767, 0.6652409557748219},
                Arrays.copyOf(y.toDoubleArray(), 3),
                1e-15);
        assertArrayEquals(
                new double[] {1 / 3.0, 1 / 3.0, 1 / 3.0},
                Arrays.copyOfRange(y.toDoubleArray(), 3, 6),
                1e-15,
                "large logits do not overflow");
        SplittableRandom rnd = new SplittableRandom(12);
        DoubleTensor x = DoubleTensor.random(rnd, 2, 3, 4).map(v -> 5 * v);
        for (int axis = -3; axis < 3; axis++) {
            DoubleTensor s = eval1("Softmax", attrs("axis", i(axis)), x);
            int a = axis < 0 ? axis + 3 : axis;
            DoubleTensor sums = eval1("ReduceSum", attrs("keepdims", i(0)), s, Fixtures.longs(a));
            for (double v : sums.toDoubleArray()) {
                assertEquals(1, v, 1e-14, "softmax along axis " + axis + " sums to 1");
            }
            DoubleTensor logS = eval1("LogSoftmax", attrs("axis", i(axis)), x);
            assertNear(s.map(Math::log), logS, 1e-14);
        }
    }

    @Test
    void softmax_before_opset_13_normalizes_the_flattened_trailing_axes() {
        DoubleTensor x = Fixtures.iota(2, 2, 3);
        DoubleTensor y = eval(12, "Softmax", Map.of(), 1, x).get(0); // axis 1: rows of 2*3 = 6 values
        double total = 0;
        for (int k = 0; k < 6; k++) {
            total += y.getFlat(k);
        }
        assertEquals(1, total, 1e-14);
        assertTrue(y.getFlat(5) > y.getFlat(2), "the 6 values are normalized together, not per axis");
    }
}
