package dev.forge.compiler.reference;

import static dev.forge.compiler.reference.Fixtures.assertTensor;
import static dev.forge.compiler.reference.Fixtures.attrs;
import static dev.forge.compiler.reference.Fixtures.eval;
import static dev.forge.compiler.reference.Fixtures.eval1;
import static dev.forge.compiler.reference.Fixtures.i;
import static dev.forge.compiler.reference.Fixtures.ints;
import static dev.forge.compiler.reference.Fixtures.longs;
import static dev.forge.compiler.reference.Fixtures.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.runtime.DType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** MaxPool (and its Indices), AveragePool, the global pools and MaxUnpool. */
class ReferencePoolTest {

    private static final double[] GRID = {
        1, 1, 2, 4,
        5, 6, 7, 8,
        3, 2, 1, 0,
        1, 2, 3, 4,
    };

    @Test
    void max_pool_2x2_stride_2_through_the_builder() {
        GraphBuilder b = new GraphBuilder("pool");
        Value x = b.input("input", Shape.of("N", 1, 4, 4));
        b.output(b.maxPool("pool", x, Pool2d.of(2)), "y");
        Map<String, DoubleTensor> out = ReferenceEvaluator.run(b.build(), Map.of("input", t(GRID, 1, 1, 4, 4)));
        // max of each 2x2 block: {1,1,5,6} -> 6, {2,4,7,8} -> 8, {3,2,1,2} -> 3, {1,0,3,4} -> 4
        assertTensor(new long[] {1, 1, 2, 2}, new double[] {6, 8, 3, 4}, out.get("y"));
    }

    @Test
    void max_pool_indices_are_flat_positions_in_the_whole_input() {
        DoubleTensor x = t(GRID, 1, 1, 4, 4);
        List<DoubleTensor> out = eval("MaxPool", attrs("kernel_shape", ints(2, 2), "strides", ints(2, 2)), 2, x);
        // 6 at (1,1) -> 5, 8 at (1,3) -> 7, 3 at (2,0) -> 8, 4 at (3,3) -> 15
        assertEquals(DType.INT64, out.get(1).dtype());
        assertTensor(new long[] {1, 1, 2, 2}, new double[] {5, 7, 8, 15}, out.get(1));
        // storage_order 1 numbers the spatial positions column-major: (h, w) -> w * H + h
        List<DoubleTensor> col =
                eval("MaxPool", attrs("kernel_shape", ints(2, 2), "strides", ints(2, 2), "storage_order", i(1)), 2, x);
        assertTensor(new long[] {1, 1, 2, 2}, new double[] {1 * 4 + 1, 3 * 4 + 1, 0 * 4 + 2, 3 * 4 + 3}, col.get(1));

        // With batch and channels, every index points back at the value it reports
        SplittableRandom rnd = new SplittableRandom(6);
        DoubleTensor big = DoubleTensor.random(rnd, 2, 3, 7, 6);
        List<DoubleTensor> r = eval(
                "MaxPool",
                attrs(
                        "kernel_shape",
                        ints(3, 2),
                        "strides",
                        ints(2, 2),
                        "pads",
                        ints(1, 0, 1, 1),
                        "dilations",
                        ints(1, 2)),
                2,
                big);
        for (int k = 0; k < r.get(0).size(); k++) {
            int index = (int) r.get(1).getFlat(k);
            assertEquals(r.get(0).getFlat(k), big.getFlat(index), "index " + index);
            long[] yIdx = r.get(0).unravel(k);
            long[] xIdx = big.unravel(index);
            assertEquals(yIdx[0], xIdx[0], "same batch");
            assertEquals(yIdx[1], xIdx[1], "same channel");
        }
    }

    @Test
    void max_pool_never_takes_the_padding() {
        DoubleTensor x = t(new double[] {-5, -6, -7, -8}, 1, 1, 2, 2);
        DoubleTensor y = eval1("MaxPool", attrs("kernel_shape", ints(2, 2), "pads", ints(1, 1, 1, 1)), x);
        assertTensor(new long[] {1, 1, 3, 3}, new double[] {-5, -5, -6, -5, -5, -6, -7, -7, -8}, y);
    }

    @Test
    void ceil_mode_rounds_up_but_drops_a_window_that_would_start_in_the_right_padding() {
        DoubleTensor x = Fixtures.iota(1, 1, 5, 5);
        // floor((5 - 2)/2) + 1 = 2, ceil: 3 (the last window holds only row/column 4)
        DoubleTensor y =
                eval1("MaxPool", attrs("kernel_shape", ints(2, 2), "strides", ints(2, 2), "ceil_mode", i(1)), x);
        assertTensor(new long[] {1, 1, 3, 3}, new double[] {6, 8, 9, 16, 18, 19, 21, 23, 24}, y);
        // in 2, kernel 3, stride 3, pads 1: ceil((2 + 2 - 3)/3) + 1 = 2, but window 2 would start at
        // 3 >= in + padBegin = 3, i.e. in the right padding, so it is ignored: 1x1.
        DoubleTensor small = t(new double[] {1, 2, 3, 4}, 1, 1, 2, 2);
        Map<String, Attribute> a =
                attrs("kernel_shape", ints(3, 3), "strides", ints(3, 3), "pads", ints(1, 1, 1, 1), "ceil_mode", i(1));
        assertTensor(new long[] {1, 1, 1, 1}, new double[] {4}, eval1("MaxPool", a, small));
        assertTensor(new long[] {1, 1, 1, 1}, new double[] {10.0 / 4}, eval1("AveragePool", a, small));
    }

    @Test
    void average_pool_divides_by_the_window_inside_the_input_or_the_padded_input() {
        // x = 1..16 as 4x4, kernel 3, stride 2, pads 1, ceil_mode: windows start at -1, 1, 3 on each axis.
        DoubleTensor x = Fixtures.iota(1, 1, 4, 4).map(v -> v + 1);
        Map<String, Attribute> base =
                attrs("kernel_shape", ints(3, 3), "strides", ints(2, 2), "pads", ints(1, 1, 1, 1), "ceil_mode", i(1));
        Map<String, Attribute> include = new LinkedHashMap<>(base);
        include.put("count_include_pad", i(1));
        // count_include_pad 1: the divisor counts taps inside [-1, 5): 3 for windows at -1 and 1, 2 for the
        // window at 3 (its third tap, 5, is past the end padding). Top-left: (1+2+5+6)/9; top-right: (4+8)/6;
        // bottom-right: 16/4. These are PyTorch's values for avg_pool2d(k=3, s=2, p=1, ceil_mode=True).
        assertTensor(
                new long[] {1, 1, 3, 3},
                new double[] {
                    14.0 / 9, 30.0 / 9, 12.0 / 6,
                    57.0 / 9, 99.0 / 9, 36.0 / 6,
                    27.0 / 6, 45.0 / 6, 16.0 / 4,
                },
                eval1("AveragePool", include, x));
        // count_include_pad 0 (the default): only taps inside the input count.
        assertTensor(
                new long[] {1, 1, 3, 3},
                new double[] {
                    14.0 / 4, 30.0 / 6, 12.0 / 2,
                    57.0 / 6, 99.0 / 9, 36.0 / 3,
                    27.0 / 2, 45.0 / 3, 16.0 / 1,
                },
                eval1("AveragePool", base, x));
    }

    @Test
    void average_pool_through_the_builder_counts_padding_like_pytorch() {
        GraphBuilder b = new GraphBuilder("avg");
        Value x = b.input("input", Shape.of(1, 1, 4, 4));
        b.output(b.avgPool("avg", x, Pool2d.of(2).stride(2).padding(1)), "y");
        Map<String, DoubleTensor> out = ReferenceEvaluator.run(b.build(), Map.of("input", t(GRID, 1, 1, 4, 4)));
        // (4 + 2*1 - 2)/2 + 1 = 3; every window has 4 taps inside the padded input
        assertTensor(
                new long[] {1, 1, 3, 3},
                new double[] {
                    1 / 4.0, (1 + 2) / 4.0, 4 / 4.0,
                    (5 + 3) / 4.0, (6 + 7 + 2 + 1) / 4.0, (8 + 0) / 4.0,
                    1 / 4.0, (2 + 3) / 4.0, 4 / 4.0,
                },
                out.get("y"));
    }

    @Test
    void global_pools_reduce_every_spatial_axis() {
        DoubleTensor x = t(new double[] {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6}, 1, 2, 2, 3);
        assertTensor(new long[] {1, 2, 1, 1}, new double[] {3.5, -3.5}, eval1("GlobalAveragePool", Map.of(), x));
        assertTensor(new long[] {1, 2, 1, 1}, new double[] {6, -1}, eval1("GlobalMaxPool", Map.of(), x));
        assertTensor(
                new long[] {1, 2, 1},
                new double[] {3.5, -3.5},
                eval1("GlobalAveragePool", Map.of(), x.reshape(1, 2, 6)));
    }

    @Test
    void max_unpool_inverts_max_pool_on_distinct_values() {
        // distinct positive values in random order
        List<Double> values = new ArrayList<>();
        for (int k = 1; k <= 2 * 3 * 6 * 6; k++) {
            values.add((double) k);
        }
        Collections.shuffle(values, new Random(7));
        double[] data = values.stream().mapToDouble(Double::doubleValue).toArray();
        DoubleTensor x = t(data, 2, 3, 6, 6);
        Map<String, Attribute> a = attrs("kernel_shape", ints(2, 2), "strides", ints(2, 2));
        List<DoubleTensor> pooled = eval("MaxPool", a, 2, x);
        DoubleTensor z = eval1("MaxUnpool", a, pooled.get(0), pooled.get(1), longs(2, 3, 6, 6));
        assertArrayEquals(x.shape(), z.shape());
        // each window's maximum is back in its place, everything else is zero
        int kept = 0;
        for (int k = 0; k < z.size(); k++) {
            if (z.getFlat(k) != 0) {
                assertEquals(x.getFlat(k), z.getFlat(k));
                kept++;
            }
        }
        assertEquals(pooled.get(0).size(), kept);
        assertEquals(
                pooled.get(0), eval("MaxPool", a, 2, z).get(0), "pooling the unpooled tensor gives the pooled values");
        // without output_shape the size is (in - 1) * stride + kernel - pads = (3 - 1)*2 + 2 = 6
        assertEquals(z, eval1("MaxUnpool", a, pooled.get(0), pooled.get(1)));
        // an odd input (7x7) needs output_shape to restore its size
        DoubleTensor odd = DoubleTensor.random(new SplittableRandom(8), 1, 1, 7, 7);
        List<DoubleTensor> p = eval("MaxPool", a, 2, odd);
        DoubleTensor back = eval1("MaxUnpool", a, p.get(0), p.get(1), longs(1, 1, 7, 7));
        assertArrayEquals(new long[] {1, 1, 7, 7}, back.shape());
        for (int k = 0; k < p.get(1).size(); k++) {
            int index = (int) p.get(1).getFlat(k);
            assertEquals(odd.getFlat(index), back.getFlat(index));
        }
        // without it the default size (3 - 1)*2 + 2 = 6 cannot hold indices into a 7x7 plane
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> eval1("MaxUnpool", a, p.get(0), p.get(1)));
        assertTrue(e.getMessage().contains("is outside the output of 36 elements [1, 1, 6, 6]"), e.getMessage());
    }

    @Test
    void shape_inference_agrees_on_a_ceil_mode_window_starting_in_the_padding() {
        GraphBuilder b = new GraphBuilder("ceil").roundDown();
        Value x = b.input("input", Shape.of(1, 1, 2, 2));
        Value y = b.node(
                "MaxPool",
                "pool",
                List.of(x),
                attrs("kernel_shape", ints(3, 3), "strides", ints(3, 3), "pads", ints(1, 1, 1, 1), "ceil_mode", i(1)));
        assertEquals(Shape.of(1, 1, 1, 1), y.shape());
        ReferenceEvaluator.run(b.output(y, "y").build(), Map.of("input", t(new double[] {1, 2, 3, 4}, 1, 1, 2, 2)));
    }
}
