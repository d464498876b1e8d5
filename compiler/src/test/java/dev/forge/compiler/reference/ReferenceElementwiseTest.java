package dev.forge.compiler.reference;

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

import dev.forge.compiler.ir.Attribute;
import dev.forge.runtime.DType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Activations, unary math, broadcasting binary ops, comparisons, Where, Cast, Clip, Dropout. */
class ReferenceElementwiseTest {
    private static final DoubleTensor X = t(new double[] {-2, -0.5, 0, 0.5, 2}, 5);

    private static double[] apply(String op, Map<String, Attribute> a) {
        DoubleTensor y = eval1(op, a, X);
        assertArrayEquals(X.shape(), y.shape());
        return y.toDoubleArray();
    }

    @Test
    void activations_on_hand_values() {
        double e2 = Math.exp(2);
        double eh = Math.exp(0.5);
        assertArrayEquals(new double[] {0, 0, 0, 0.5, 2}, apply("Relu", Map.of()));
        assertArrayEquals(
                new double[] {1 / (1 + e2), 1 / (1 + eh), 0.5, 1 / (1 + 1 / eh), 1 / (1 + 1 / e2)},
                apply("Sigmoid", Map.of()),
                1e-15);
        assertArrayEquals(
                new double[] {
                    -(e2 * e2 - 1) / (e2 * e2 + 1),
                    -(eh * eh - 1) / (eh * eh + 1),
                    0,
                    (eh * eh - 1) / (eh * eh + 1),
                    (e2 * e2 - 1) / (e2 * e2 + 1)
                },
                apply("Tanh", Map.of()),
                1e-15);
        double alpha = 0.01f; // ONNX float attributes are float32, defaults included
        assertArrayEquals(
                new double[] {-2 * alpha, -0.5 * alpha, 0, 0.5, 2},
                apply("LeakyRelu", Map.of()),
                1e-15,
                "alpha defaults to 0.01");
        assertArrayEquals(new double[] {-0.5, -0.125, 0, 0.5, 2}, apply("LeakyRelu", attrs("alpha", f(0.25f))), 1e-15);
        assertArrayEquals(
                new double[] {1 / e2 - 1, 1 / eh - 1, 0, 0.5, 2}, apply("Elu", Map.of()), 1e-15, "alpha defaults to 1");
        assertArrayEquals(
                new double[] {2 * (1 / e2 - 1), 2 * (1 / eh - 1), 0, 0.5, 2},
                apply("Elu", attrs("alpha", f(2f))),
                1e-15);
        assertArrayEquals(
                new double[] {
                    Math.log(1 + 1 / e2), Math.log(1 + 1 / eh), Math.log(2), Math.log(1 + eh), Math.log(1 + e2)
                },
                apply("Softplus", Map.of()),
                1e-15);
        assertEquals(
                1000, eval1("Softplus", Map.of(), t(new double[] {1000}, 1)).getFlat(0), 1e-12, "no overflow");
        assertEquals(0, eval1("Sigmoid", Map.of(), t(new double[] {-1000}, 1)).getFlat(0), 1e-300, "no overflow");
        // mish(x) = x tanh(ln(1 + e^x))
        double[] mish = new double[5];
        double[] xs = {-2, -0.5, 0, 0.5, 2};
        for (int k = 0; k < 5; k++) {
            mish[k] = xs[k] * Math.tanh(Math.log(1 + Math.exp(xs[k])));
        }
        assertArrayEquals(mish, apply("Mish", Map.of()), 1e-15);
        // hard sigmoid and hard swish saturate at 0 and 1 (x/6 + 1/2 leaves [0, 1] at |x| = 3)
        assertArrayEquals(new double[] {0.1, 0.4, 0.5, 0.6, 0.9}, apply("HardSigmoid", Map.of()), 1e-7);
        assertArrayEquals(new double[] {0, 0, 0.5, 1, 1}, apply("HardSigmoid", attrs("alpha", f(1f))), 1e-7);
        assertArrayEquals(
                new double[] {-2 * (1 / 6.0), -0.5 * (5 / 12.0), 0, 0.5 * (7 / 12.0), 2 * (5 / 6.0)},
                apply("HardSwish", Map.of()),
                1e-15);
        assertEquals(0, eval1("HardSwish", Map.of(), t(new double[] {-4}, 1)).getFlat(0), 0.0);
        assertEquals(4, eval1("HardSwish", Map.of(), t(new double[] {4}, 1)).getFlat(0));
    }

    @Test
    void unary_math_on_hand_values() {
        assertArrayEquals(
                new double[] {1 / Math.exp(2), 1 / Math.exp(0.5), 1, Math.exp(0.5), Math.exp(2)},
                apply("Exp", Map.of()),
                1e-15);
        assertArrayEquals(new double[] {2, 0.5, -0.0, -0.5, -2}, apply("Neg", Map.of()));
        assertArrayEquals(new double[] {2, 0.5, 0, 0.5, 2}, apply("Abs", Map.of()));
        assertArrayEquals(new double[] {-0.5, -2, Double.POSITIVE_INFINITY, 2, 0.5}, apply("Reciprocal", Map.of()));
        assertArrayEquals(X.toDoubleArray(), apply("Identity", Map.of()));
        DoubleTensor p = t(new double[] {0.25, 1, 4, Math.E}, 4);
        assertArrayEquals(
                new double[] {0.5, 1, 2, Math.sqrt(Math.E)},
                eval1("Sqrt", Map.of(), p).toDoubleArray(),
                1e-15);
        assertArrayEquals(
                new double[] {-Math.log(4), 0, Math.log(4), 1},
                eval1("Log", Map.of(), p).toDoubleArray(),
                1e-15);
        assertTrue(Double.isNaN(eval1("Sqrt", Map.of(), t(new double[] {-1}, 1)).getFlat(0)));
    }

    @Test
    void clip_takes_optional_min_and_max_inputs() {
        DoubleTensor lo = t(new double[] {-1}, new long[0]);
        DoubleTensor hi = t(new double[] {1}, new long[0]);
        assertArrayEquals(
                new double[] {-1, -0.5, 0, 0.5, 1},
                eval1("Clip", Map.of(), X, lo, hi).toDoubleArray());
        assertArrayEquals(
                new double[] {-2, -0.5, 0, 0.5, 1},
                eval1("Clip", Map.of(), X, null, hi).toDoubleArray(),
                "min omitted");
        assertArrayEquals(
                new double[] {-1, -0.5, 0, 0.5, 2},
                eval1("Clip", Map.of(), X, lo).toDoubleArray(),
                "max omitted");
        assertArrayEquals(X.toDoubleArray(), eval1("Clip", Map.of(), X).toDoubleArray(), "no bounds");
        assertArrayEquals(
                new double[] {-1, -1, -1, -1, -1},
                eval1("Clip", Map.of(), X, hi, lo).toDoubleArray(),
                "min > max gives max");
        assertArrayEquals(
                new double[] {-1, -0.5, 0, 0.5, 1},
                eval(10, "Clip", attrs("min", f(-1f), "max", f(1f)), 1, X)
                        .get(0)
                        .toDoubleArray(),
                "attributes before opset 11");
    }

    @Test
    void add_broadcasts_2x3x1_with_4_to_2x3x4() {
        DoubleTensor a = Fixtures.iota(2, 3, 1).map(v -> 10 * v);
        DoubleTensor b = t(new double[] {1, 2, 3, 4}, 4);
        DoubleTensor y = eval1("Add", Map.of(), a, b);
        assertArrayEquals(new long[] {2, 3, 4}, y.shape());
        for (int p = 0; p < 2; p++) {
            for (int q = 0; q < 3; q++) {
                for (int r = 0; r < 4; r++) {
                    assertEquals(a.get(p, q, 0) + b.get(r), y.get(p, q, r));
                }
            }
        }
        assertEquals(y, eval1("Add", Map.of(), b, a), "broadcasting is symmetric");
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> eval1("Add", Map.of(), a, t(new double[4], 4, 1)));
        assertTrue(
                e.getMessage().contains("Add(add_test)") && e.getMessage().contains("cannot be broadcast"),
                e.getMessage());
    }

    @Test
    void sub_mul_div_pow_with_scalars_and_rows() {
        DoubleTensor m = t(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        DoubleTensor row = t(new double[] {1, 2, 4}, 3);
        DoubleTensor two = t(new double[] {2}, new long[0]);
        assertTensor(new long[] {2, 3}, new double[] {0, 0, -1, 3, 3, 2}, eval1("Sub", Map.of(), m, row));
        assertTensor(new long[] {2, 3}, new double[] {2, 4, 6, 8, 10, 12}, eval1("Mul", Map.of(), m, two));
        assertTensor(new long[] {2, 3}, new double[] {1, 1, 0.75, 4, 2.5, 1.5}, eval1("Div", Map.of(), m, row));
        assertTensor(new long[] {2, 3}, new double[] {1, 4, 9, 16, 25, 36}, eval1("Pow", Map.of(), m, two));
        // the exponent may have another type (int64 here); the result keeps the base's type
        DoubleTensor pw = eval1("Pow", Map.of(), two, Fixtures.longs(1, 2, 4));
        assertEquals(DType.FLOAT32, pw.dtype());
        assertTensor(new long[] {3}, new double[] {2, 4, 16}, pw);
        // integer division truncates toward zero, as in C
        DoubleTensor ints = DoubleTensor.ofLongs(new long[] {7, -7, 6}, 3);
        DoubleTensor q = eval1("Div", Map.of(), ints, DoubleTensor.ofLongs(new long[] {2}));
        assertEquals(DType.INT64, q.dtype());
        assertTensor(new long[] {3}, new double[] {3, -3, 3}, q);
        assertThrows(
                IllegalArgumentException.class,
                () -> eval1("Add", Map.of(), m, ints.reshape(3)),
                "element types must agree");
    }

    @Test
    void comparisons_give_bool_and_where_selects() {
        DoubleTensor a = t(new double[] {1, 2, 3, 4}, 2, 2);
        DoubleTensor b = t(new double[] {2, 2}, 2);
        DoubleTensor gt = eval1("Greater", Map.of(), a, b);
        assertEquals(DType.BOOL, gt.dtype());
        assertTensor(new long[] {2, 2}, new double[] {0, 0, 1, 1}, gt);
        assertTensor(new long[] {2, 2}, new double[] {1, 0, 0, 0}, eval1("Less", Map.of(), a, b));
        assertTensor(new long[] {2, 2}, new double[] {0, 1, 0, 0}, eval1("Equal", Map.of(), a, b));
        DoubleTensor chosen = eval1("Where", Map.of(), gt, a, t(new double[] {-1}, new long[0]));
        assertTensor(new long[] {2, 2}, new double[] {-1, -1, 3, 4}, chosen);
        DoubleTensor cond = DoubleTensor.ofBools(new boolean[] {true, false}, 2, 1);
        assertTensor(new long[] {2, 2}, new double[] {1, 2, 2, 2}, eval1("Where", Map.of(), cond, a, b));
        assertThrows(IllegalArgumentException.class, () -> eval1("Where", Map.of(), a, a, b), "condition must be bool");
    }

    @Test
    void cast_converts_per_the_spec() {
        DoubleTensor x = t(new double[] {-2.7, -0.5, 0, 0.5, 2.7, 300}, 6);
        DoubleTensor toLong = eval1("Cast", attrs("to", i(DType.INT64.onnxElementType())), x);
        assertEquals(DType.INT64, toLong.dtype());
        assertArrayEquals(
                new double[] {-2, 0, 0, 0, 2, 300}, toLong.toDoubleArray(), "float to int truncates toward zero");
        DoubleTensor toBool = eval1("Cast", attrs("to", i(DType.BOOL.onnxElementType())), x);
        assertArrayEquals(new double[] {1, 1, 0, 1, 1, 1}, toBool.toDoubleArray(), "zero is false, anything else true");
        DoubleTensor toU8 = eval1(
                "Cast", attrs("to", i(DType.UINT8.onnxElementType())), DoubleTensor.ofLongs(new long[] {300, -1}, 2));
        assertArrayEquals(new double[] {44, 255}, toU8.toDoubleArray(), "integers wrap to the target width");
        DoubleTensor back = eval1("Cast", attrs("to", i(DType.FLOAT32.onnxElementType())), toBool);
        assertEquals(DType.FLOAT32, back.dtype());
        assertArrayEquals(new double[] {1, 1, 0, 1, 1, 1}, back.toDoubleArray());
        assertEquals(
                0.1,
                eval1("Cast", attrs("to", i(1)), t(new double[] {0.1}, 1)).getFlat(0),
                0.0,
                "casting to float keeps the double value (the evaluator never rounds)");
        DoubleTensor half = eval1("Cast", attrs("to", i(10)), t(new double[] {0.1, 70000, 1e-8}, 3));
        assertEquals(DType.FLOAT16, half.dtype());
        assertArrayEquals(
                new double[] {0.0999755859375, Double.POSITIVE_INFINITY, 0},
                half.toDoubleArray(),
                "float16 rounds to nearest even, overflows to infinity, underflows to zero");
        assertEquals(
                0.333984375,
                eval1("Cast", attrs("to", i(16)), t(new double[] {1.0 / 3}, 1)).getFlat(0));
        assertThrows(
                IllegalArgumentException.class,
                () -> eval1("Cast", attrs("to", i(12)), x),
                "uint32 is not a Forge type");
    }

    @Test
    void dropout_in_inference_is_the_identity_with_an_all_true_mask() {
        DoubleTensor ratio = t(new double[] {0.3}, new long[0]);
        List<DoubleTensor> out = eval("Dropout", Map.of(), 2, X, ratio);
        assertEquals(X, out.get(0));
        assertEquals(DType.BOOL, out.get(1).dtype());
        assertArrayEquals(new double[] {1, 1, 1, 1, 1}, out.get(1).toDoubleArray());
        DoubleTensor training = DoubleTensor.ofBools(new boolean[] {true});
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> eval("Dropout", Map.of(), 2, X, ratio, training));
        assertTrue(e.getMessage().contains("random"), e.getMessage());
        assertEquals(
                X,
                eval("Dropout", Map.of(), 1, X, t(new double[] {0}, new long[0]), training)
                        .get(0),
                "ratio 0 keeps everything");
    }

    @Test
    void logic_rounding_and_variadic_ops() {
        DoubleTensor a = t(new double[] {1, 2, 3, 4}, 2, 2);
        DoubleTensor b = t(new double[] {2, 2}, 2);
        assertTensor(new long[] {2, 2}, new double[] {0, 1, 1, 1}, eval1("GreaterOrEqual", Map.of(), a, b));
        assertTensor(new long[] {2, 2}, new double[] {1, 1, 0, 0}, eval1("LessOrEqual", Map.of(), a, b));
        DoubleTensor p = DoubleTensor.ofBools(new boolean[] {true, true, false, false}, 4);
        DoubleTensor q = DoubleTensor.ofBools(new boolean[] {true, false, true, false}, 4);
        assertTensor(new long[] {4}, new double[] {1, 0, 0, 0}, eval1("And", Map.of(), p, q));
        assertTensor(new long[] {4}, new double[] {1, 1, 1, 0}, eval1("Or", Map.of(), p, q));
        assertTensor(new long[] {4}, new double[] {0, 0, 1, 1}, eval1("Not", Map.of(), p));
        assertEquals(DType.BOOL, eval1("Not", Map.of(), p).dtype());
        assertThrows(IllegalArgumentException.class, () -> eval1("And", Map.of(), a, a), "And takes bools");
        DoubleTensor r = t(new double[] {-1.5, -0.5, 0, 0.5, 1.5, 2.5, 2.7}, 7);
        assertArrayEquals(
                new double[] {-2, -0.0, 0, 0, 2, 2, 3},
                eval1("Round", Map.of(), r).toDoubleArray(),
                "half to even");
        assertArrayEquals(
                new double[] {-2, -1, 0, 0, 1, 2, 2},
                eval1("Floor", Map.of(), r).toDoubleArray());
        assertArrayEquals(
                new double[] {-1, -0.0, 0, 1, 2, 3, 3},
                eval1("Ceil", Map.of(), r).toDoubleArray());
        assertArrayEquals(
                new double[] {-1, -1, 0, 1, 1, 1, 1}, eval1("Sign", Map.of(), r).toDoubleArray());
        DoubleTensor c = t(new double[] {10}, 1);
        assertTensor(new long[] {2, 2}, new double[] {13, 14, 15, 16}, eval1("Sum", Map.of(), a, b, c));
        assertTensor(
                new long[] {2, 2}, new double[] {13 / 3.0, 14 / 3.0, 5, 16 / 3.0}, eval1("Mean", Map.of(), a, b, c));
        assertTensor(new long[] {2, 2}, new double[] {2, 2, 3, 4}, eval1("Max", Map.of(), a, b));
        assertTensor(new long[] {2, 2}, new double[] {1, 2, 2, 2}, eval1("Min", Map.of(), a, b));
        assertEquals(a, eval1("Sum", Map.of(), a), "one input is the identity");
    }

    @Test
    void erf_matches_tabulated_values_to_double_precision() {
        // erf at 0, 0.5, 1, 2, 3.5 and -1 (tabulated to 16 digits), and saturation beyond 6
        double[] x = {0, 0.5, 1, 2, 3.5, -1, 7};
        double[] expected = {
            0, 0.5204998778130465, 0.8427007929497149, 0.9953222650189527, 0.9999992569016276, -0.8427007929497149, 1
        };
        for (int k = 0; k < x.length; k++) {
            assertEquals(expected[k], ElementwiseRules.erf(x[k]), 1e-15, "erf(" + x[k] + ")");
        }
    }
}
