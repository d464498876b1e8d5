package dev.forge.compiler.reference;

import static dev.forge.compiler.reference.Fixtures.assertNear;
import static dev.forge.compiler.reference.Fixtures.assertTensor;
import static dev.forge.compiler.reference.Fixtures.attrs;
import static dev.forge.compiler.reference.Fixtures.eval1;
import static dev.forge.compiler.reference.Fixtures.i;
import static dev.forge.compiler.reference.Fixtures.ints;
import static dev.forge.compiler.reference.Fixtures.s;
import static dev.forge.compiler.reference.Fixtures.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Conv and ConvTranspose: hand-computed cases, an im2col cross-check, and the adjoint property. */
class ReferenceConvTest {

    // The seed's example: a 5x5 binary image and a 3x3 "X" filter (ones on the corners and the centre).
    private static final double[] IMAGE = {
        1, 1, 1, 0, 0,
        0, 1, 1, 1, 0,
        0, 0, 1, 1, 1,
        0, 0, 1, 1, 0,
        0, 1, 1, 0, 0,
    };
    private static final double[] X_FILTER = {
        1, 0, 1,
        0, 1, 0,
        1, 0, 1,
    };

    @Test
    void seed_image_5x5_with_3x3_filter_gives_3x3_at_stride_1_and_2x2_at_stride_2() {
        GraphBuilder b = new GraphBuilder("seed");
        Value x = b.input("input", Shape.of(1, 1, 5, 5));
        b.output(b.conv2d("s1", x, Conv2d.of(1, 3).stride(1).bias(false)), "y1");
        b.output(b.conv2d("s2", x, Conv2d.of(1, 3).stride(2).bias(false)), "y2");
        Graph g = b.build();
        Map<String, DoubleTensor> out = ReferenceEvaluator.run(
                g,
                Map.of(
                        "input", t(IMAGE, 1, 1, 5, 5),
                        "s1/W", t(X_FILTER, 1, 1, 3, 3),
                        "s2/W", t(X_FILTER, 1, 1, 3, 3)));
        // Each output is the sum of the image under the filter's five ones; e.g. top-left:
        // image[0][0] + image[0][2] + image[1][1] + image[2][0] + image[2][2] = 1 + 1 + 1 + 0 + 1 = 4.
        assertTensor(
                new long[] {1, 1, 3, 3},
                new double[] {
                    4, 3, 4,
                    2, 4, 3,
                    2, 3, 4,
                },
                out.get("y1"));
        // Stride 2 keeps the windows at rows and columns 0 and 2 of the stride-1 map.
        assertTensor(new long[] {1, 1, 2, 2}, new double[] {4, 4, 2, 4}, out.get("y2"));
    }

    @Test
    void conv_is_cross_correlation_not_flipped_and_adds_the_bias() {
        // x[i][j] = 5i + j + 1; a kernel with a single 1 at (row 1, col 2) reads x[i+1][j+2].
        DoubleTensor x = Fixtures.iota(1, 1, 5, 5).map(v -> v + 1);
        double[] w = new double[9];
        w[1 * 3 + 2] = 1;
        DoubleTensor y = eval1("Conv", Map.of(), x, t(w, 1, 1, 3, 3), t(new double[] {0.5}, 1));
        double[] expected = new double[9];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) {
                expected[r * 3 + c] = 5 * (r + 1) + (c + 2) + 1 + 0.5;
            }
        }
        assertTensor(new long[] {1, 1, 3, 3}, expected, y);
    }

    /** An independent Conv: materialize the zero-padded input, unfold it (im2col), multiply matrices. */
    static DoubleTensor im2colConv(
            DoubleTensor x,
            DoubleTensor w,
            DoubleTensor bias,
            long[] strides,
            long[] pads,
            long[] dilations,
            int group) {
        int n = (int) x.dim(0);
        int channels = (int) x.dim(1);
        int h = (int) x.dim(2);
        int wd = (int) x.dim(3);
        int filters = (int) w.dim(0);
        int cg = (int) w.dim(1);
        int kh = (int) w.dim(2);
        int kw = (int) w.dim(3);
        int top = (int) pads[0];
        int left = (int) pads[1];
        int hp = h + top + (int) pads[2];
        int wp = wd + left + (int) pads[3];
        double[][][][] padded = new double[n][channels][hp][wp];
        for (int a = 0; a < n; a++) {
            for (int c = 0; c < channels; c++) {
                for (int r = 0; r < h; r++) {
                    for (int q = 0; q < wd; q++) {
                        padded[a][c][r + top][q + left] = x.get(a, c, r, q);
                    }
                }
            }
        }
        int oh = (int) ((hp - ((kh - 1) * dilations[0] + 1)) / strides[0] + 1);
        int ow = (int) ((wp - ((kw - 1) * dilations[1] + 1)) / strides[1] + 1);
        int mg = filters / group;
        double[] out = new double[n * filters * oh * ow];
        for (int a = 0; a < n; a++) {
            for (int g = 0; g < group; g++) {
                // columns: one row per (channel-in-group, kernel row, kernel col), one column per output pixel
                double[][] cols = new double[cg * kh * kw][oh * ow];
                for (int c = 0; c < cg; c++) {
                    for (int i = 0; i < kh; i++) {
                        for (int j = 0; j < kw; j++) {
                            for (int r = 0; r < oh; r++) {
                                for (int q = 0; q < ow; q++) {
                                    cols[(c * kh + i) * kw + j][r * ow + q] =
                                            padded[a][g * cg + c][(int) (r * strides[0] + i * dilations[0])][
                                                    (int) (q * strides[1] + j * dilations[1])];
                                }
                            }
                        }
                    }
                }
                for (int m = 0; m < mg; m++) {
                    int filter = g * mg + m;
                    double[] row = new double[cg * kh * kw];
                    for (int c = 0; c < cg; c++) {
                        for (int i = 0; i < kh; i++) {
                            for (int j = 0; j < kw; j++) {
                                row[(c * kh + i) * kw + j] = w.get(filter, c, i, j);
                            }
                        }
                    }
                    for (int p = 0; p < oh * ow; p++) {
                        double acc = bias == null ? 0 : bias.get(filter);
                        for (int k = 0; k < row.length; k++) {
                            acc += row[k] * cols[k][p];
                        }
                        out[((a * filters + filter) * oh * ow) + p] = acc;
                    }
                }
            }
        }
        return t(out, n, filters, oh, ow);
    }

    private static Map<String, Attribute> convAttrs(long[] strides, long[] pads, long[] dilations, int group) {
        return attrs("strides", ints(strides), "pads", ints(pads), "dilations", ints(dilations), "group", i(group));
    }

    @Test
    void conv_with_padding_dilation_groups_and_strides_matches_im2col() {
        SplittableRandom rnd = new SplittableRandom(1);
        // {C, M, group, H, W, kh, kw, sh, sw, top, left, bottom, right, dh, dw}
        long[][] configs = {
            {1, 1, 1, 5, 5, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},
            {3, 4, 1, 6, 7, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},
            {4, 6, 2, 7, 7, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, // padding 2, dilation 2, groups 2
            {4, 4, 4, 8, 6, 3, 3, 2, 2, 1, 0, 2, 1, 1, 1}, // depthwise, asymmetric pads, stride 2
            {2, 3, 1, 9, 8, 2, 3, 3, 2, 0, 1, 1, 0, 2, 1}, // stride 3 with a remainder (floor)
            {6, 4, 2, 5, 5, 1, 1, 2, 1, 0, 0, 0, 0, 1, 1}, // 1x1 grouped
        };
        for (long[] k : configs) {
            int group = (int) k[2];
            DoubleTensor x = DoubleTensor.random(rnd, 2, k[0], k[3], k[4]);
            DoubleTensor w = DoubleTensor.random(rnd, k[1], k[0] / group, k[5], k[6]);
            DoubleTensor b = DoubleTensor.random(rnd, k[1]);
            long[] strides = {k[7], k[8]};
            long[] pads = {k[9], k[10], k[11], k[12]};
            long[] dilations = {k[13], k[14]};
            DoubleTensor expected = im2colConv(x, w, b, strides, pads, dilations, group);
            DoubleTensor actual = eval1("Conv", convAttrs(strides, pads, dilations, group), x, w, b);
            assertNear(expected, actual, 1e-13);
        }
    }

    @Test
    void auto_pad_resolves_like_the_spec() {
        SplittableRandom rnd = new SplittableRandom(2);
        DoubleTensor x = DoubleTensor.random(rnd, 1, 2, 4, 4);
        DoubleTensor w = DoubleTensor.random(rnd, 3, 2, 2, 2);
        // in 4, kernel 2, stride 1: out = ceil(4/1) = 4, total padding (4-1)*1 + 2 - 4 = 1, odd
        DoubleTensor upper = eval1("Conv", attrs("auto_pad", s("SAME_UPPER")), x, w);
        DoubleTensor lower = eval1("Conv", attrs("auto_pad", s("SAME_LOWER")), x, w);
        assertArrayEquals(new long[] {1, 3, 4, 4}, upper.shape());
        assertEquals(
                upper,
                eval1("Conv", attrs("pads", ints(0, 0, 1, 1)), x, w),
                "SAME_UPPER puts the odd pixel at the end");
        assertEquals(
                lower, eval1("Conv", attrs("pads", ints(1, 1, 0, 0)), x, w), "SAME_LOWER puts it at the beginning");
        assertNotEquals(upper, lower);
        // in 5, kernel 3, stride 2: out = ceil(5/2) = 3, total (3-1)*2 + 3 - 5 = 2, one each side
        DoubleTensor x5 = DoubleTensor.random(rnd, 1, 2, 5, 5);
        DoubleTensor w3 = DoubleTensor.random(rnd, 1, 2, 3, 3);
        assertEquals(
                eval1("Conv", attrs("strides", ints(2, 2), "pads", ints(1, 1, 1, 1)), x5, w3),
                eval1("Conv", attrs("strides", ints(2, 2), "auto_pad", s("SAME_UPPER")), x5, w3));
        DoubleTensor valid =
                eval1("Conv", attrs("strides", ints(2, 2), "auto_pad", s("VALID"), "pads", ints(1, 1, 1, 1)), x5, w3);
        assertEquals(eval1("Conv", attrs("strides", ints(2, 2)), x5, w3), valid, "VALID ignores pads: no padding");
        assertArrayEquals(new long[] {1, 1, 2, 2}, valid.shape());
    }

    @Test
    void conv_1d_and_3d_agree_with_2d_slices() {
        SplittableRandom rnd = new SplittableRandom(3);
        // 1-D: a length-9 signal equals a 1x9 image with a 1xk kernel
        DoubleTensor x1 = DoubleTensor.random(rnd, 2, 3, 9);
        DoubleTensor w1 = DoubleTensor.random(rnd, 4, 3, 3);
        DoubleTensor y1 = eval1("Conv", attrs("strides", ints(2), "pads", ints(1, 2), "dilations", ints(2)), x1, w1);
        DoubleTensor y2 = eval1(
                "Conv",
                attrs("strides", ints(1, 2), "pads", ints(0, 1, 0, 2), "dilations", ints(1, 2)),
                x1.reshape(2, 3, 1, 9),
                w1.reshape(4, 3, 1, 3));
        assertEquals(y2.reshape(y1.shape()), y1);
        // 3-D with a kernel of depth 1: each depth slice is an independent 2-D convolution
        DoubleTensor x3 = DoubleTensor.random(rnd, 1, 2, 3, 5, 5);
        DoubleTensor w3 = DoubleTensor.random(rnd, 2, 2, 1, 3, 3);
        DoubleTensor y3 = eval1("Conv", attrs("pads", ints(0, 1, 1, 0, 1, 1)), x3, w3);
        assertArrayEquals(new long[] {1, 2, 3, 5, 5}, y3.shape());
        DoubleTensor w2 = w3.reshape(2, 2, 3, 3);
        for (int d = 0; d < 3; d++) {
            double[] slice = new double[2 * 25];
            for (int c = 0; c < 2; c++) {
                for (int p = 0; p < 25; p++) {
                    slice[c * 25 + p] = x3.get(0, c, d, p / 5, p % 5);
                }
            }
            DoubleTensor y = eval1("Conv", attrs("pads", ints(1, 1, 1, 1)), t(slice, 1, 2, 5, 5), w2);
            for (int m = 0; m < 2; m++) {
                for (int p = 0; p < 25; p++) {
                    assertEquals(y.get(0, m, p / 5, p % 5), y3.get(0, m, d, p / 5, p % 5), 1e-14);
                }
            }
        }
    }

    @Test
    void conv_transpose_hand_computed_in_1d() {
        // x = [1, 2], W = [1, 10, 100], stride 2: x[0] scatters to 0..2, x[1] to 2..4
        DoubleTensor x = t(new double[] {1, 2}, 1, 1, 2);
        DoubleTensor w = t(new double[] {1, 10, 100}, 1, 1, 3);
        assertTensor(
                new long[] {1, 1, 5},
                new double[] {1, 10, 102, 20, 200},
                eval1("ConvTranspose", attrs("strides", ints(2)), x, w));
        assertTensor(
                new long[] {1, 1, 3},
                new double[] {10, 102, 20},
                eval1("ConvTranspose", attrs("strides", ints(2), "pads", ints(1, 1)), x, w));
        // output_padding adds a cell at the end that receives only the bias
        assertTensor(
                new long[] {1, 1, 6},
                new double[] {1.5, 10.5, 102.5, 20.5, 200.5, 0.5},
                eval1(
                        "ConvTranspose",
                        attrs("strides", ints(2), "output_padding", ints(1)),
                        x,
                        w,
                        t(new double[] {0.5}, 1)));
        // SAME: out = in * stride = 4, total padding 5 - 4 = 1: the extra at the end (UPPER) or beginning (LOWER)
        assertTensor(
                new long[] {1, 1, 4},
                new double[] {1, 10, 102, 20},
                eval1("ConvTranspose", attrs("strides", ints(2), "auto_pad", s("SAME_UPPER")), x, w));
        assertTensor(
                new long[] {1, 1, 4},
                new double[] {10, 102, 20, 200},
                eval1("ConvTranspose", attrs("strides", ints(2), "auto_pad", s("SAME_LOWER")), x, w));
        // output_shape with NOTSET: the spec's "else" branch puts the odd padding pixel at the beginning
        assertTensor(
                new long[] {1, 1, 4},
                new double[] {10, 102, 20, 200},
                eval1("ConvTranspose", attrs("strides", ints(2), "output_shape", ints(4)), x, w));
        // dilation 2 spreads the kernel taps: x[0] -> 0, 2, 4; x[1] -> 1, 3, 5
        assertTensor(
                new long[] {1, 1, 6},
                new double[] {1, 2, 10, 20, 100, 200},
                eval1("ConvTranspose", attrs("dilations", ints(2)), x, w));
    }

    @Test
    void conv_transpose_is_the_adjoint_of_conv() {
        // <Conv(x), y> == <x, ConvTranspose(y)> for every x, y, with the same W, strides, pads, dilations,
        // group, and output_padding = the remainder Conv's floor dropped (so the shapes match).
        SplittableRandom rnd = new SplittableRandom(4);
        // {C, M, group, H, W, kh, kw, sh, sw, top, left, bottom, right, dh, dw}
        long[][] configs = {
            {1, 1, 1, 5, 5, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},
            {3, 2, 1, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
            {4, 6, 2, 9, 8, 3, 2, 2, 3, 2, 1, 0, 2, 2, 1},
            {2, 4, 2, 28, 28, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1}, // the seed's conv at stride 2: remainder 1
            {3, 3, 3, 10, 11, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2},
        };
        for (long[] k : configs) {
            int group = (int) k[2];
            long[] strides = {k[7], k[8]};
            long[] pads = {k[9], k[10], k[11], k[12]};
            long[] dilations = {k[13], k[14]};
            DoubleTensor x = DoubleTensor.random(rnd, 2, k[0], k[3], k[4]);
            DoubleTensor w = DoubleTensor.random(rnd, k[1], k[0] / group, k[5], k[6]);
            DoubleTensor cx = eval1("Conv", convAttrs(strides, pads, dilations, group), x, w);
            DoubleTensor y = DoubleTensor.random(rnd, cx.shape());
            long[] outputPadding = new long[2];
            for (int j = 0; j < 2; j++) {
                long effective = (k[5 + j] - 1) * dilations[j] + 1;
                outputPadding[j] = (x.dim(2 + j) + pads[j] + pads[j + 2] - effective) % strides[j];
            }
            Map<String, Attribute> a = convAttrs(strides, pads, dilations, group);
            a.put("output_padding", ints(outputPadding));
            DoubleTensor ty = eval1("ConvTranspose", a, y, w);
            assertArrayEquals(x.shape(), ty.shape());
            double lhs = cx.dot(y);
            double rhs = x.dot(ty);
            assertEquals(lhs, rhs, 1e-12 * Math.max(1, Math.abs(lhs)), "adjoint for config " + Arrays.toString(k));
        }
    }

    @Test
    void conv_transpose_with_output_shape_is_the_adjoint_when_it_recovers_the_pads() {
        // The seed's 28x28, 5x5 pad 2 stride 2 conv gives 14x14. ConvTranspose with output_shape 28 derives
        // total padding 2*13 + 5 - 28 = 3 and, per the spec (NOTSET), begin = 3 - 3/2 = 2: the forward pads.
        SplittableRandom rnd = new SplittableRandom(5);
        DoubleTensor x = DoubleTensor.random(rnd, 1, 2, 28, 28);
        DoubleTensor w = DoubleTensor.random(rnd, 3, 2, 5, 5);
        DoubleTensor cx = eval1("Conv", attrs("strides", ints(2, 2), "pads", ints(2, 2, 2, 2)), x, w);
        assertArrayEquals(new long[] {1, 3, 14, 14}, cx.shape());
        DoubleTensor y = DoubleTensor.random(rnd, cx.shape());
        DoubleTensor ty = eval1("ConvTranspose", attrs("strides", ints(2, 2), "output_shape", ints(28, 28)), y, w);
        assertArrayEquals(x.shape(), ty.shape());
        assertEquals(cx.dot(y), x.dot(ty), 1e-12 * Math.abs(cx.dot(y)));
    }

    @Test
    void conv_rejects_a_channel_mismatch_naming_the_node() {
        DoubleTensor x = Fixtures.iota(1, 3, 4, 4);
        DoubleTensor w = Fixtures.iota(2, 2, 3, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> eval1("Conv", Map.of(), x, w));
        assertTrue(e.getMessage().startsWith("ReferenceEvaluator: Conv(conv_test): X has 3 channels"), e.getMessage());
    }
}
