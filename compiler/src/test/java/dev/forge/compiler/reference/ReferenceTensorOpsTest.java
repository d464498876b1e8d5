package dev.forge.compiler.reference;

import static dev.forge.compiler.reference.Fixtures.assertTensor;
import static dev.forge.compiler.reference.Fixtures.attrs;
import static dev.forge.compiler.reference.Fixtures.eval;
import static dev.forge.compiler.reference.Fixtures.eval1;
import static dev.forge.compiler.reference.Fixtures.f;
import static dev.forge.compiler.reference.Fixtures.i;
import static dev.forge.compiler.reference.Fixtures.ints;
import static dev.forge.compiler.reference.Fixtures.iota;
import static dev.forge.compiler.reference.Fixtures.longs;
import static dev.forge.compiler.reference.Fixtures.s;
import static dev.forge.compiler.reference.Fixtures.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.forge.compiler.ir.Attribute;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Shape, movement, creation and reduction operators. */
class ReferenceTensorOpsTest {

    @Test
    void flatten_reshape_with_zero_minus_one_and_allowzero() {
        DoubleTensor x = iota(2, 3, 4);
        assertArrayEquals(new long[] {2, 12}, eval1("Flatten", Map.of(), x).shape());
        assertArrayEquals(
                new long[] {1, 24}, eval1("Flatten", attrs("axis", i(0)), x).shape());
        assertArrayEquals(
                new long[] {6, 4}, eval1("Flatten", attrs("axis", i(-1)), x).shape());
        assertArrayEquals(
                new long[] {24, 1}, eval1("Flatten", attrs("axis", i(3)), x).shape());
        DoubleTensor r = eval1("Reshape", Map.of(), x, longs(0, -1, 2));
        assertArrayEquals(new long[] {2, 6, 2}, r.shape());
        assertArrayEquals(x.toDoubleArray(), r.toDoubleArray(), "reshape keeps row-major order");
        DoubleTensor empty = DoubleTensor.zeros(DType.FLOAT32, 0, 3);
        assertArrayEquals(
                new long[] {3, 0},
                eval1("Reshape", attrs("allowzero", i(1)), empty, longs(3, 0)).shape(),
                "allowzero: 0 is a real zero");
        assertArrayEquals(
                new long[] {0, 3},
                eval1("Reshape", Map.of(), empty, longs(0, 3)).shape(),
                "0 copies the input's 0");
        assertThrows(IllegalArgumentException.class, () -> eval1("Reshape", Map.of(), x, longs(-1, -1)));
        assertThrows(IllegalArgumentException.class, () -> eval1("Reshape", Map.of(), x, longs(5, -1)));
    }

    @Test
    void concat_and_transpose() {
        DoubleTensor a = iota(2, 2);
        DoubleTensor b = iota(2, 1).map(v -> 10 + v);
        assertTensor(new long[] {2, 3}, new double[] {0, 1, 10, 2, 3, 11}, eval1("Concat", attrs("axis", i(-1)), a, b));
        assertTensor(
                new long[] {4, 2}, new double[] {0, 1, 2, 3, 0, 1, 2, 3}, eval1("Concat", attrs("axis", i(0)), a, a));
        assertThrows(IllegalArgumentException.class, () -> eval1("Concat", attrs("axis", i(0)), a, b));
        DoubleTensor x = iota(2, 3, 4);
        DoubleTensor y = eval1("Transpose", attrs("perm", ints(1, 2, 0)), x);
        assertArrayEquals(new long[] {3, 4, 2}, y.shape());
        for (int p = 0; p < 2; p++) {
            for (int q = 0; q < 3; q++) {
                for (int r = 0; r < 4; r++) {
                    assertEquals(x.get(p, q, r), y.get(q, r, p));
                }
            }
        }
        DoubleTensor rev = eval1("Transpose", Map.of(), x);
        assertArrayEquals(new long[] {4, 3, 2}, rev.shape());
        assertEquals(x.get(1, 2, 3), rev.get(3, 2, 1));
    }

    @Test
    void shape_and_gather() {
        DoubleTensor x = iota(2, 3, 4);
        DoubleTensor shape = eval1("Shape", Map.of(), x);
        assertEquals(DType.INT64, shape.dtype());
        assertTensor(new long[] {3}, new double[] {2, 3, 4}, shape);
        assertTensor(new long[] {2}, new double[] {3, 4}, eval1("Shape", attrs("start", i(1)), x));
        assertTensor(new long[] {1}, new double[] {3}, eval1("Shape", attrs("start", i(-2), "end", i(-1)), x));
        DoubleTensor g = eval1("Gather", attrs("axis", i(1)), x, DoubleTensor.ofLongs(new long[] {2, -3, 1, 1}, 2, 2));
        assertArrayEquals(new long[] {2, 2, 2, 4}, g.shape());
        assertEquals(x.get(1, 2, 3), g.get(1, 0, 0, 3));
        assertEquals(x.get(0, 0, 2), g.get(0, 0, 1, 2), "-3 is index 0 on an axis of 3");
        assertEquals(x.get(1, 1, 0), g.get(1, 1, 1, 0));
        assertTensor(
                new long[] {}, new double[] {4}, eval1("Gather", Map.of(), shape, DoubleTensor.ofLongs(new long[] {2
                })));
        assertThrows(IllegalArgumentException.class, () -> eval1("Gather", Map.of(), shape, longs(3)));
    }

    @Test
    void unsqueeze_and_squeeze_take_axes_as_an_input_from_opset_13() {
        DoubleTensor x = iota(3, 4);
        assertArrayEquals(
                new long[] {1, 3, 1, 4},
                eval1("Unsqueeze", Map.of(), x, longs(0, 2)).shape());
        assertArrayEquals(
                new long[] {3, 4, 1}, eval1("Unsqueeze", Map.of(), x, longs(-1)).shape());
        assertArrayEquals(
                new long[] {1, 3, 4},
                eval(12, "Unsqueeze", attrs("axes", ints(0)), 1, x).get(0).shape());
        DoubleTensor y = iota(1, 3, 1, 4);
        assertArrayEquals(new long[] {3, 4}, eval1("Squeeze", Map.of(), y).shape());
        assertArrayEquals(
                new long[] {3, 1, 4}, eval1("Squeeze", Map.of(), y, longs(0)).shape());
        assertArrayEquals(
                new long[] {1, 3, 4}, eval1("Squeeze", Map.of(), y, longs(-2)).shape());
        assertThrows(IllegalArgumentException.class, () -> eval1("Squeeze", Map.of(), y, longs(1)));
        assertThrows(IllegalArgumentException.class, () -> eval1("Unsqueeze", Map.of(), x, longs(1, 1)));
    }

    @Test
    void pad_constant_edge_reflect_and_negative() {
        DoubleTensor x = t(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertTensor(
                new long[] {3, 5},
                new double[] {
                    0, 0, 0, 0, 0,
                    0, 1, 2, 3, 0,
                    0, 4, 5, 6, 0,
                },
                eval1("Pad", Map.of(), x, longs(1, 1, 0, 1)));
        assertTensor(
                new long[] {2, 5},
                new double[] {9, 1, 2, 3, 9, 9, 4, 5, 6, 9},
                eval1("Pad", Map.of(), x, longs(0, 1, 0, 1), t(new double[] {9}, new long[0])));
        assertTensor(
                new long[] {2, 7},
                new double[] {1, 1, 1, 2, 3, 3, 3, 4, 4, 4, 5, 6, 6, 6},
                eval1("Pad", attrs("mode", s("edge")), x, longs(0, 2, 0, 2)));
        assertTensor(
                new long[] {2, 7},
                new double[] {3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4},
                eval1("Pad", attrs("mode", s("reflect")), x, longs(0, 2, 0, 2)));
        assertTensor(
                new long[] {1, 2},
                new double[] {2, 3},
                eval1("Pad", Map.of(), x, longs(0, -1, -1, 0)),
                "negative pads crop");
        // opset 18: axes select which axes the pads cover
        assertTensor(
                new long[] {2, 4},
                new double[] {1, 2, 3, 0, 4, 5, 6, 0},
                eval(18, "Pad", Map.of(), 1, x, longs(0, 1), null, longs(-1)).get(0));
    }

    @Test
    void constant_forms_and_constant_of_shape() {
        assertEquals(DoubleTensor.scalar(2.5), eval1("Constant", attrs("value_float", f(2.5f))));
        assertEquals(
                DoubleTensor.of(new double[] {1, 2}, 2),
                eval1("Constant", attrs("value_floats", new Attribute.Floats(new float[] {1, 2}))));
        assertEquals(DoubleTensor.ofLongs(new long[] {7}), eval1("Constant", attrs("value_int", i(7))));
        assertEquals(longs(3, -1), eval1("Constant", attrs("value_ints", ints(3, -1))));
        Tensor value = Tensor.of(new long[] {1, 2, 3, 4}, 2, 2);
        assertEquals(DoubleTensor.of(value), eval1("Constant", attrs("value", new Attribute.TensorValue(value))));
        assertThrows(IllegalArgumentException.class, () -> eval1("Constant", Map.of()));
        DoubleTensor zeros = eval1("ConstantOfShape", Map.of(), longs(2, 3));
        assertEquals(DoubleTensor.zeros(DType.FLOAT32, 2, 3), zeros);
        DoubleTensor sevens = eval1(
                "ConstantOfShape", attrs("value", new Attribute.TensorValue(Tensor.of(new long[] {7}, 1))), longs(2));
        assertEquals(DoubleTensor.ofLongs(new long[] {7, 7}, 2), sevens);
    }

    @Test
    void expand_broadcasts_both_ways_and_one_hot_inserts_an_axis() {
        DoubleTensor col = t(new double[] {1, 2, 3}, 3, 1);
        assertTensor(
                new long[] {3, 4},
                new double[] {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3},
                eval1("Expand", Map.of(), col, longs(1, 4)));
        assertArrayEquals(
                new long[] {2, 3, 4},
                eval1("Expand", Map.of(), col, longs(2, 1, 4)).shape());
        DoubleTensor labels = DoubleTensor.ofLongs(new long[] {0, 2, -1, 5}, 4);
        DoubleTensor values = t(new double[] {0, 1}, 2);
        DoubleTensor oh = eval1("OneHot", Map.of(), labels, DoubleTensor.ofLongs(new long[] {3}), values);
        assertTensor(
                new long[] {4, 3},
                new double[] {
                    1, 0, 0,
                    0, 0, 1,
                    0, 0, 1, // -1 counts from depth
                    0, 0, 0, // out of range: all off
                },
                oh);
        DoubleTensor first =
                eval1("OneHot", attrs("axis", i(0)), labels, t(new double[] {3}, 1), t(new double[] {-1, 5}, 2));
        assertTensor(new long[] {3, 4}, new double[] {5, -1, -1, -1, -1, -1, -1, -1, -1, 5, 5, -1}, first);
    }

    @Test
    void reductions_with_axes_keepdims_and_noop() {
        DoubleTensor x = t(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertTensor(new long[] {1, 3}, new double[] {5, 7, 9}, eval1("ReduceSum", Map.of(), x, longs(0)));
        assertTensor(new long[] {2}, new double[] {6, 15}, eval1("ReduceSum", attrs("keepdims", i(0)), x, longs(-1)));
        assertTensor(new long[] {1, 1}, new double[] {21}, eval1("ReduceSum", Map.of(), x), "no axes: everything");
        assertEquals(x, eval1("ReduceSum", attrs("noop_with_empty_axes", i(1)), x, longs()));
        // ReduceMean / ReduceMax take axes as an attribute below opset 18 and as an input from 18
        assertTensor(new long[] {2, 1}, new double[] {2, 5}, eval1("ReduceMean", attrs("axes", ints(1)), x));
        assertTensor(
                new long[] {3},
                new double[] {4, 5, 6},
                eval1("ReduceMax", attrs("axes", ints(0), "keepdims", i(0)), x));
        assertTensor(new long[] {}, new double[] {3.5}, eval1("ReduceMean", attrs("keepdims", i(0)), x));
        assertTensor(
                new long[] {2, 1},
                new double[] {2, 5},
                eval(18, "ReduceMean", Map.of(), 1, x, longs(1)).get(0));
        assertTensor(
                new long[] {1, 3},
                new double[] {4, 5, 6},
                eval(18, "ReduceMax", Map.of(), 1, x, longs(0)).get(0));
        assertThrows(
                IllegalArgumentException.class,
                () -> eval1("ReduceMean", Map.of(), x, longs(1)),
                "an axes input needs opset 18");
        assertTensor(
                new long[] {1, 3},
                new double[] {5, 7, 9},
                eval(12, "ReduceSum", attrs("axes", ints(0)), 1, x).get(0));
    }

    @Test
    void size_slice_split_and_scatter_elements() {
        DoubleTensor x = iota(3, 4);
        assertEquals(DoubleTensor.ofLongs(new long[] {12}), eval1("Size", Map.of(), x));
        // rows 1.., columns 0..3 step 2
        assertTensor(
                new long[] {2, 2},
                new double[] {4, 6, 8, 10},
                eval1("Slice", Map.of(), x, longs(1, 0), longs(100, 3), longs(0, 1), longs(1, 2)));
        // a negative step walks backwards; ends of -huge mean "through index 0"
        assertTensor(
                new long[] {3, 2},
                new double[] {3, 1, 7, 5, 11, 9},
                eval1("Slice", Map.of(), x, longs(-1), longs(Long.MIN_VALUE), longs(1), longs(-2)));
        assertTensor(
                new long[] {1, 4},
                new double[] {4, 5, 6, 7},
                eval1("Slice", Map.of(), x, longs(1), longs(-1)),
                "default axes 0..");
        assertArrayEquals(
                new long[] {0, 4},
                eval1("Slice", Map.of(), x, longs(2), longs(1)).shape(),
                "empty when end <= start");
        var parts = eval("Split", attrs("axis", i(1)), 2, x, longs(1, 3));
        assertTensor(new long[] {3, 1}, new double[] {0, 4, 8}, parts.get(0));
        assertTensor(new long[] {3, 3}, new double[] {1, 2, 3, 5, 6, 7, 9, 10, 11}, parts.get(1));
        var halves = eval("Split", attrs("axis", i(1)), 2, x);
        assertTensor(new long[] {3, 2}, new double[] {0, 1, 4, 5, 8, 9}, halves.get(0));
        assertThrows(
                IllegalArgumentException.class,
                () -> eval("Split", Map.of(), 2, x),
                "3 rows do not split in 2 equal parts");
        var uneven = eval(18, "Split", attrs("num_outputs", i(2)), 2, x);
        assertArrayEquals(new long[] {2, 4}, uneven.get(0).shape());
        assertArrayEquals(new long[] {1, 4}, uneven.get(1).shape());
        // ScatterElements: axis 1, indices name columns; with reduction add, repeated indices accumulate
        DoubleTensor data = DoubleTensor.zeros(DType.FLOAT32, 2, 3);
        DoubleTensor idx = DoubleTensor.ofLongs(new long[] {0, 0, 2, -1}, 2, 2);
        DoubleTensor upd = t(new double[] {1, 2, 3, 4}, 2, 2);
        assertTensor(
                new long[] {2, 3},
                new double[] {2, 0, 0, 0, 0, 4},
                eval1("ScatterElements", attrs("axis", i(1)), data, idx, upd),
                "without reduction the later update wins");
        assertTensor(
                new long[] {2, 3},
                new double[] {3, 0, 0, 0, 0, 7},
                eval1("ScatterElements", attrs("axis", i(1), "reduction", s("add")), data, idx, upd));
        assertTensor(
                new long[] {2, 3},
                new double[] {1, 0, 0, 0, 0, 0},
                eval1(
                        "ScatterElements",
                        Map.of(),
                        data,
                        DoubleTensor.ofLongs(new long[] {0}, 1, 1),
                        t(new double[] {1}, 1, 1)));
    }
}
