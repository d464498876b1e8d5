package dev.forge.compiler.autodiff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Padding;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.reference.DoubleTensor;
import dev.forge.compiler.reference.ReferenceEvaluator;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every gradient rule against finite differences, in double precision on the reference evaluator, and
 * the float32 ONNX Runtime run of the same backward graph against that reference.
 *
 * <p>Each case is a small graph; the loss is {@code sum(y * R)} for a fixed random R, so every output
 * element gets a distinct upstream gradient. For each parameter and the data input, up to 16 elements
 * are perturbed by +-h and the central difference is compared with the emitted gradient.
 *
 * <p>{@link #opsWithCases()} lists the operators whose gradient rule the cases apply (nodes downstream of the data
 * input or a parameter): the operator coverage test requires every differentiable operator to be among them.
 */
public class GradientCheckTest {
    private static final double H = 1e-6;

    /** A case: a builder that defines the graph (one output), and the input shape. */
    record Case(String name, long[] inputShape, Consumer<GraphBuilder> body) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Attribute.Ints ints(long... v) {
        return new Attribute.Ints(v);
    }

    private static Attribute.Int i(long v) {
        return new Attribute.Int(v);
    }

    private static Value param(GraphBuilder b, String name, SplittableRandom r, double lo, double hi, long... shape) {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        float[] v = new float[n];
        for (int k = 0; k < n; k++) {
            v[k] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return b.parameter(name, Tensor.of(v, shape));
    }

    /** The input value of the builder (its only graph input). */
    private static Value in(GraphBuilder b) {
        ValueInfo vi = b.graph().inputs().get(0);
        return new Value(vi.name(), vi.type(), b);
    }

    static Stream<Case> cases() {
        List<Case> c = new ArrayList<>();
        // ---- convolution: strides, padding, dilation, groups, bias ----
        c.add(new Case(
                "conv 3x3 pad 1",
                new long[] {2, 3, 6, 6},
                b -> b.output(b.conv2d("c", in(b), Conv2d.of(4, 3).padding(1)), "y")));
        c.add(new Case(
                "conv stride 2 uneven (output_padding)",
                new long[] {2, 2, 7, 8},
                b -> b.roundDown().output(b.conv2d("c", in(b), Conv2d.of(3, 3).stride(2)), "y")));
        c.add(new Case(
                "conv dilation 2 pad 2",
                new long[] {1, 2, 7, 7},
                b -> b.output(b.conv2d("c", in(b), Conv2d.of(3, 3).dilation(2).padding(2)), "y")));
        c.add(new Case(
                "conv groups 2 stride 2 asymmetric pads",
                new long[] {2, 4, 6, 5},
                b -> b.roundDown()
                        .output(
                                b.conv2d(
                                        "c",
                                        in(b),
                                        Conv2d.of(6, 3).groups(2).stride(2).padding(Padding.of(1, 0, 2, 1))),
                                "y")));
        c.add(new Case(
                "conv 1x1 no bias, 2x3 kernel",
                new long[] {2, 3, 5, 5},
                b -> b.output(
                        b.conv2d("c2", b.conv2d("c1", in(b), Conv2d.of(2, 1).bias(false)), Conv2d.of(2, 2, 3)), "y")));
        // 8 channels x 3x3 = 72 > ConvOps.IM2COL_MAX_PATCH: the weight gradient as a convolution over the batch axis
        c.add(new Case(
                "conv 8 channels stride 2 pad 1 (batch-axis weight gradient)",
                new long[] {2, 8, 7, 6},
                b -> b.roundDown()
                        .output(b.conv2d("c", in(b), Conv2d.of(3, 3).stride(2).padding(1)), "y")));
        c.add(new Case(
                "conv SAME stride 2",
                new long[] {1, 2, 9, 9},
                b -> b.output(b.conv2d("c", in(b), Conv2d.of(2, 4).stride(2).padding(Padding.same())), "y")));
        // ---- pooling ----
        c.add(new Case(
                "maxpool 2 (MaxUnpool)",
                new long[] {2, 3, 6, 6},
                b -> b.output(b.maxPool("p", in(b), Pool2d.of(2)), "y")));
        c.add(new Case(
                "maxpool 3 stride 2 pad 1 (overlap: ScatterElements)",
                new long[] {2, 2, 7, 7},
                b -> b.output(b.maxPool("p", in(b), Pool2d.of(3).stride(2).padding(1)), "y")));
        c.add(new Case("avgpool 2", new long[] {2, 3, 6, 6}, b -> b.output(b.avgPool("p", in(b), Pool2d.of(2)), "y")));
        c.add(new Case(
                "avgpool 3 stride 2 pad 1 counting pads",
                new long[] {1, 2, 7, 7},
                b -> b.output(b.avgPool("p", in(b), Pool2d.of(3).stride(2).padding(1)), "y")));
        c.add(new Case(
                "avgpool 3 stride 2 pad 1 excluding pads",
                new long[] {1, 2, 7, 7},
                b -> b.output(
                        b.avgPool("p", in(b), Pool2d.of(3).stride(2).padding(1).countIncludePad(false)), "y")));
        c.add(new Case("global average pool", new long[] {2, 3, 4, 5}, b -> b.output(b.globalAvgPool(in(b)), "y")));
        c.add(new Case(
                "global max pool",
                new long[] {2, 3, 4, 5},
                b -> b.output(b.node("GlobalMaxPool", "g", List.of(in(b)), Map.of()), "y")));
        // ---- activations (inputs kept away from kinks and domains by construction) ----
        c.add(new Case("relu leakyrelu sigmoid tanh", new long[] {3, 8}, b -> {
            Value x = in(b);
            b.output(b.add(b.add(b.relu(x), b.leakyRelu(x, 0.2f)), b.mul(b.sigmoid(x), b.tanh(x))), "y");
        }));
        c.add(new Case("exp log sqrt reciprocal neg abs softplus", new long[] {3, 5}, b -> {
            Value x = in(b);
            Value pos = b.add(b.sigmoid(x), b.constant("half", Tensor.of(new float[] {0.5f})));
            Value y = b.node("Log", null, List.of(pos), Map.of());
            y = b.add(y, b.node("Sqrt", null, List.of(pos), Map.of()));
            y = b.add(y, b.node("Reciprocal", null, List.of(pos), Map.of()));
            y = b.add(y, b.node("Neg", null, List.of(b.node("Exp", null, List.of(x), Map.of())), Map.of()));
            y = b.add(y, b.node("Abs", null, List.of(x), Map.of()));
            b.output(b.add(y, b.node("Softplus", null, List.of(x), Map.of())), "y");
        }));
        // inputs scaled so every piece of the piecewise-linear activations is hit
        c.add(new Case("hardsigmoid hardswish across their kinks", new long[] {4, 6}, b -> {
            Value x = b.mul(in(b), b.constant("three", Tensor.of(new float[] {3.5f})));
            Value hs = b.node("HardSigmoid", null, List.of(x), Map.of("alpha", new Attribute.Float(0.3f)));
            Value h0 = b.node("HardSigmoid", null, List.of(x), Map.of());
            Value sw = b.node(
                    "HardSwish", null, List.of(b.mul(x, b.constant("two", Tensor.of(new float[] {1.5f})))), Map.of());
            b.output(b.add(b.add(hs, h0), sw), "y");
        }));
        c.add(new Case("clip as relu6 and with max only", new long[] {4, 6}, b -> {
            Value x = b.mul(in(b), b.constant("eight", Tensor.of(new float[] {8f})));
            Value relu6 = b.node(
                    "Clip",
                    null,
                    List.of(
                            x,
                            b.constant("zero", Tensor.of(new float[] {0f})),
                            b.constant("six", Tensor.of(new float[] {6f}))),
                    Map.of());
            Value capped = b.node(
                    "Clip",
                    null,
                    java.util.Arrays.asList(x, null, b.constant("two", Tensor.of(new float[] {2f}))),
                    Map.of());
            b.output(b.add(relu6, b.mul(capped, param(b, "p", new SplittableRandom(12), -1, 1, 6))), "y");
        }));
        c.add(new Case("identity dropout and a float64 cast round trip", new long[] {3, 4}, b -> {
            Value x = b.node("Identity", null, List.of(in(b)), Map.of());
            Value d = b.dropout(b.mul(x, param(b, "p", new SplittableRandom(13), -1, 1, 4)), 0.25f);
            Value wide = b.node("Cast", null, List.of(d), Map.of("to", i(11)));
            // float64 arithmetic in between: its gradient must come back as float32
            b.output(b.node("Cast", null, List.of(b.mul(wide, wide)), Map.of("to", i(1))), "y");
        }));
        c.add(new Case("a cast through int32 passes no gradient", new long[] {3, 4}, b -> {
            Value x = in(b);
            Value scaled = b.mul(x, b.constant("four", Tensor.of(new float[] {4f})));
            Value whole = b.node("Cast", null, List.of(scaled), Map.of("to", i(6)));
            Value back = b.node("Cast", null, List.of(whole), Map.of("to", i(1)));
            // y = x p + 8 trunc(4x) q: d/dx is p (the truncation is flat between integers), d/dq is 8 trunc(4x);
            // the 8 makes the upstream gradient at the int32 value survive truncation if a rule passed it on
            Value p = param(b, "p", new SplittableRandom(15), -1, 1, 4);
            Value q = param(b, "q", new SplittableRandom(16), -1, 1, 4);
            Value eight = b.constant("eight", Tensor.of(new float[] {8f}));
            b.output(b.add(b.mul(x, p), b.mul(b.mul(back, eight), q)), "y");
        }));
        c.add(new Case("where picks between two branches", new long[] {3, 4}, b -> {
            Value x = in(b);
            Value cond = b.node("Greater", null, List.of(x, b.constant("zero", Tensor.of(new float[] {0f}))), Map.of());
            Value p = param(b, "p", new SplittableRandom(14), -1, 1, 4);
            b.output(b.node("Where", null, List.of(cond, b.mul(x, p), b.tanh(x)), Map.of()), "y");
        }));
        // ---- matrix products ----
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                final int fa = ta;
                final int fb = tb;
                c.add(new Case(
                        "gemm transA=" + ta + " transB=" + tb + " alpha beta",
                        new long[] {fa == 1 ? 4 : 3, fa == 1 ? 3 : 4},
                        b -> {
                            SplittableRandom r = new SplittableRandom(5);
                            Value w = param(b, "W", r, -1, 1, fb == 1 ? 5 : 4, fb == 1 ? 4 : 5);
                            Value bias = param(b, "C", r, -1, 1, 5);
                            b.output(
                                    b.node(
                                            "Gemm",
                                            "g",
                                            List.of(in(b), w, bias),
                                            Map.of(
                                                    "transA",
                                                    i(fa),
                                                    "transB",
                                                    i(fb),
                                                    "alpha",
                                                    new Attribute.Float(0.7f),
                                                    "beta",
                                                    new Attribute.Float(1.3f))),
                                    "y");
                        }));
            }
        }
        c.add(new Case("gemm with C [M,N]", new long[] {3, 4}, b -> {
            SplittableRandom r = new SplittableRandom(6);
            b.output(
                    b.node(
                            "Gemm",
                            "g",
                            List.of(in(b), param(b, "W", r, -1, 1, 4, 2), param(b, "C", r, -1, 1, 3, 2)),
                            Map.of()),
                    "y");
        }));
        c.add(new Case("linear layer", new long[] {3, 6}, b -> b.output(b.linear("fc", in(b), 4), "y")));
        c.add(new Case("matmul batched with broadcast", new long[] {2, 3, 4}, b -> {
            SplittableRandom r = new SplittableRandom(7);
            b.output(b.matMul(in(b), param(b, "W", r, -1, 1, 4, 5)), "y");
        }));
        // ---- broadcasting arithmetic and a value with several consumers ----
        c.add(new Case("add sub mul div broadcasting, one value used four times", new long[] {2, 3, 1}, b -> {
            SplittableRandom r = new SplittableRandom(8);
            Value x = in(b);
            Value p = param(b, "p", r, -1, 1, 3, 4);
            Value q = param(b, "q", r, 0.5, 1.5, 4);
            Value y = b.add(b.mul(x, p), b.node("Div", null, List.of(x, q), Map.of()));
            y = b.node("Sub", null, List.of(y, b.mul(x, x)), Map.of());
            b.output(b.node("Sum", null, List.of(y, p, q), Map.of()), "y");
        }));
        // ---- shape movement ----
        c.add(new Case("flatten reshape transpose", new long[] {2, 3, 4}, b -> {
            Value x = b.node("Transpose", null, List.of(in(b)), Map.of("perm", ints(2, 0, 1)));
            x = b.reshape(x, 4, -1);
            b.output(b.flatten(b.mul(x, param(b, "p", new SplittableRandom(9), -1, 1, 6))), "y");
        }));
        c.add(new Case("concat and split back", new long[] {2, 3, 2, 2}, b -> {
            SplittableRandom r = new SplittableRandom(10);
            Value p = param(b, "p", r, -1, 1, 2, 2, 2, 2);
            b.output(b.concat(1, b.relu(in(b)), p, b.tanh(in(b))), "y");
        }));
        c.add(new Case("unsqueeze squeeze pad", new long[] {2, 3}, b -> {
            Value u = b.node(
                    "Unsqueeze", null, List.of(in(b), b.constant("axes", Tensor.of(new long[] {1}, 1))), Map.of());
            Value pd = b.node(
                    "Pad", null, List.of(u, b.constant("pads", Tensor.of(new long[] {0, 0, 1, 0, 0, 2}, 6))), Map.of());
            Value s = b.mul(pd, param(b, "p", new SplittableRandom(11), -1, 1, 6));
            b.output(
                    b.node("Squeeze", null, List.of(s, b.constant("axes2", Tensor.of(new long[] {1}, 1))), Map.of()),
                    "y");
        }));
        // ---- reductions and normalizers ----
        c.add(new Case(
                "softmax and logsoftmax",
                new long[] {3, 5},
                b -> b.output(b.add(b.softmax(in(b), 1), b.logSoftmax(in(b), 0)), "y")));
        c.add(new Case("reducesum reducemean keepdims", new long[] {2, 3, 4}, b -> {
            Value s = b.node(
                    "ReduceSum",
                    null,
                    List.of(in(b), b.constant("ax", Tensor.of(new long[] {1}, 1))),
                    Map.of("keepdims", i(1)));
            Value m = b.node("ReduceMean", null, List.of(in(b)), Map.of("axes", ints(0, 2), "keepdims", i(0)));
            b.output(b.add(b.mul(s, in(b)), b.reshape(m, 1, 3, 1)), "y");
        }));
        c.add(new Case(
                "batchnorm inference form", new long[] {2, 3, 4, 4}, b -> b.output(b.batchNorm("bn", in(b)), "y")));
        // ---- operators of the common CNN families (issue 10): shape movement, activations, reductions ----
        c.add(new Case(
                "slice with steps, negative indices, axes as inputs, and without axes", new long[] {2, 6, 7}, b -> {
                    Value x = b.mul(in(b), param(b, "p", new SplittableRandom(30), -1, 1, 7));
                    Value stepped =
                            slice(b, x, new long[] {1, -1}, new long[] {100, 0}, new long[] {1, 2}, new long[] {2, -2});
                    Value past = slice(
                            b, x, new long[] {0, 5}, new long[] {7, -100}, new long[] {-1, 1}, new long[] {3, -3});
                    Value plain = slice(b, x, new long[] {-5}, new long[] {-1}, new long[] {-1}, null);
                    Value noAxes = b.node("Slice", null, List.of(x, longs(b, 1, 2), longs(b, 2, 4)), Map.of());
                    b.output(b.concat(1, flat(b, stepped), flat(b, past), flat(b, plain), flat(b, noAxes)), "y");
                }));
        c.add(new Case("split with an unused piece, gather on constant indices", new long[] {2, 6, 3}, b -> {
            Value x = b.mul(in(b), param(b, "p", new SplittableRandom(31), -1, 1, 3));
            List<Value> parts = b.node("Split", null, List.of(x, longs(b, 1, 3, 2)), Map.of("axis", i(1)), 3);
            // repeated and negative indices on axis 1; a scalar index on the last axis
            Value picked = b.node("Gather", null, List.of(x, longs(b, 4, -1, 4, 0)), Map.of("axis", i(1)));
            Value column = b.node(
                    "Gather",
                    null,
                    List.of(x, b.constant("k_scalar", Tensor.of(new long[] {-2}))),
                    Map.of("axis", i(2)));
            b.output(b.concat(1, flat(b, parts.get(0)), flat(b, parts.get(2)), flat(b, picked), flat(b, column)), "y");
        }));
        c.add(new Case("expand and tile", new long[] {3, 1}, b -> {
            Value x = b.mul(in(b), param(b, "p", new SplittableRandom(32), -1, 1, 1));
            Value e = b.node("Expand", null, List.of(x, longs(b, 2, 1, 4)), Map.of());
            Value t = b.node("Tile", null, List.of(x, longs(b, 2, 3)), Map.of());
            Value kept = b.node(
                    "Tile",
                    null,
                    List.of(b.node("Tile", null, List.of(e, longs(b, 1, 1, 1)), Map.of()), longs(b, 1, 2, 1)),
                    Map.of());
            b.output(b.concat(1, flat(b, kept), flat(b, t)), "y");
        }));
        // ties between operands are covered by tied_max_and_min_operands_split_the_gradient_evenly
        c.add(new Case("max min mean of broadcast operands, silu as sigmoid times input", new long[] {2, 3}, b -> {
            SplittableRandom r = new SplittableRandom(33);
            Value x = in(b);
            Value p = param(b, "p", r, -1, 1, 3);
            Value q = param(b, "q", r, -1, 1, 2, 1);
            Value max = b.node("Max", null, List.of(x, p, q), Map.of());
            Value min = b.node("Min", null, List.of(b.tanh(x), p), Map.of());
            Value mean = b.node("Mean", null, List.of(x, q), Map.of());
            Value silu = b.mul(x, b.sigmoid(x));
            b.output(b.add(b.add(max, b.mul(min, mean)), silu), "y");
        }));
        c.add(new Case("elu selu softsign prelu on both sides of zero", new long[] {2, 3, 2, 2}, b -> {
            Value x = b.mul(in(b), b.constant("three", Tensor.of(new float[] {3f})));
            Value elu = b.node("Elu", null, List.of(x), Map.of("alpha", new Attribute.Float(0.7f)));
            Value selu = b.node("Selu", null, List.of(x), Map.of());
            Value softsign = b.node("Softsign", null, List.of(x), Map.of());
            Value slope = param(b, "slope", new SplittableRandom(34), 0, 0.5, 3, 1, 1);
            Value prelu = b.node("PRelu", null, List.of(x, slope), Map.of());
            b.output(b.add(b.add(elu, selu), b.mul(softsign, prelu)), "y");
        }));
        c.add(new Case("erf, gelu as exported and as the opset 20 op (both forms), mish", new long[] {3, 4}, b -> {
            b.opset(20);
            Value x = b.mul(in(b), b.constant("two", Tensor.of(new float[] {2.5f})));
            Value erf = b.node(
                    "Erf",
                    null,
                    List.of(b.mul(x, b.constant("rsqrt2", Tensor.of(new float[] {(float) (1 / Math.sqrt(2))})))),
                    Map.of());
            Value exported = b.mul(
                    b.mul(x, b.constant("half", Tensor.of(new float[] {0.5f}))),
                    b.add(erf, b.constant("one", Tensor.of(new float[] {1f}))));
            Value gelu = b.node("Gelu", null, List.of(x), Map.of());
            Value tanhGelu = b.node("Gelu", null, List.of(x), Map.of("approximate", new Attribute.Str("tanh")));
            Value mish = b.node("Mish", null, List.of(x), Map.of());
            b.output(b.add(b.add(exported, b.mul(gelu, tanhGelu)), mish), "y");
        }));
        c.add(new Case("pow with float, int64 and trained exponents", new long[] {2, 3}, b -> {
            Value base = b.add(b.sigmoid(in(b)), b.constant("half", Tensor.of(new float[] {0.5f})));
            Value p = param(b, "p", new SplittableRandom(35), -2, 2, 3);
            Value y = b.node("Pow", null, List.of(base, p), Map.of());
            y = b.add(y, b.node("Pow", null, List.of(in(b), b.constant("two", Tensor.of(new float[] {2f}))), Map.of()));
            y = b.add(y, b.node("Pow", null, List.of(in(b), b.constant("three", Tensor.of(new long[] {3}))), Map.of()));
            Value e = b.node("Pow", null, List.of(b.constant("e", Tensor.of(new float[] {1.5f})), in(b)), Map.of());
            b.output(b.add(y, e), "y");
        }));
        // ties within a reduction are covered by tied_reducemax_and_reducemin_elements_split_the_gradient_evenly
        c.add(new Case("reducemax reducemin reducel2 with and without keepdims", new long[] {2, 3, 4}, b -> {
            Value x = in(b);
            Value max = b.node("ReduceMax", null, List.of(x), Map.of("axes", ints(1)));
            Value min = b.node("ReduceMin", null, List.of(x), Map.of("axes", ints(0, 2), "keepdims", i(0)));
            Value l2 = b.node("ReduceL2", null, List.of(x), Map.of("axes", ints(-1), "keepdims", i(0)));
            Value all = b.node("ReduceL2", null, List.of(x), Map.of());
            b.output(b.concat(1, flat(b, max), flat(b, min), flat(b, l2), flat(b, all)), "y");
        }));
        c.add(new Case("reducemax and reducel2 with axes as an input (opset 18)", new long[] {2, 3, 4}, b -> {
            b.opset(18);
            Value max = b.node("ReduceMax", null, List.of(in(b), longs(b, 0, -1)), Map.of("keepdims", i(0)));
            Value l2 = b.node("ReduceL2", null, List.of(in(b), longs(b, 1)), Map.of());
            b.output(b.concat(1, flat(b, max), flat(b, l2)), "y");
        }));
        c.add(new Case(
                "resize nearest: upsample by scales (asymmetric floor) and to sizes (half_pixel)",
                new long[] {2, 2, 3, 4},
                b -> {
                    Value x = b.mul(in(b), param(b, "p", new SplittableRandom(36), -1, 1, 4));
                    Value up = b.node(
                            "Resize",
                            null,
                            java.util.Arrays.asList(
                                    x, null, b.constant("scales", Tensor.of(new float[] {1, 1, 2, 2}, 4))),
                            Map.of(
                                    "mode",
                                    new Attribute.Str("nearest"),
                                    "coordinate_transformation_mode",
                                    new Attribute.Str("asymmetric"),
                                    "nearest_mode",
                                    new Attribute.Str("floor")));
                    // default half_pixel / round_prefer_floor, up on one axis and down on the other
                    Value sized = b.node(
                            "Resize", null, java.util.Arrays.asList(x, null, null, longs(b, 2, 2, 5, 3)), Map.of());
                    b.output(b.concat(1, flat(b, up), flat(b, sized)), "y");
                }));
        c.add(new Case(
                "maxpool ceil_mode with dilations",
                new long[] {1, 2, 7, 8},
                b -> b.output(
                        b.node(
                                "MaxPool",
                                null,
                                List.of(in(b)),
                                Map.of(
                                        "kernel_shape",
                                        ints(2, 3),
                                        "strides",
                                        ints(2, 2),
                                        "dilations",
                                        ints(2, 1),
                                        "pads",
                                        ints(1, 0, 0, 1),
                                        "ceil_mode",
                                        i(1))),
                        "y")));
        for (int include = 0; include < 2; include++) {
            long countPads = include;
            c.add(new Case(
                    "averagepool ceil_mode, a window past the padded input, count_include_pad " + include,
                    new long[] {1, 2, 6, 7},
                    b -> b.output(
                            b.node(
                                    "AveragePool",
                                    null,
                                    List.of(in(b)),
                                    Map.of(
                                            "kernel_shape",
                                            ints(3, 3),
                                            "strides",
                                            ints(2, 2),
                                            "pads",
                                            ints(1, 1, 1, 1),
                                            "ceil_mode",
                                            i(1),
                                            "count_include_pad",
                                            i(countPads))),
                            "y")));
        }

        // ---- grouped and depthwise convolution: the batched weight gradient (ConvOps.groupedWeightGrad) ----
        c.add(new Case(
                "conv groups 3 stride 2 pad 1 dilation 2",
                new long[] {2, 6, 9, 8},
                b -> b.roundDown()
                        .output(
                                b.conv2d(
                                        "c",
                                        in(b),
                                        Conv2d.of(6, 3)
                                                .groups(3)
                                                .stride(2)
                                                .padding(1)
                                                .dilation(2)),
                                "y")));
        c.add(new Case(
                "conv groups 2 four filters per group 2x3 kernel asymmetric pads",
                new long[] {2, 4, 7, 6},
                b -> b.output(
                        b.conv2d("c", in(b), Conv2d.of(8, 2, 3).groups(2).padding(Padding.of(1, 0, 0, 2))), "y")));
        // 8 channels per group x 3x3 = 72 > ConvOps.IM2COL_MAX_PATCH: patches by one strided Slice per tap
        c.add(new Case(
                "conv groups 2 eight channels per group stride 2 pad 1 dilation 2 (tap slices)",
                new long[] {2, 16, 8, 7},
                b -> b.roundDown()
                        .output(
                                b.conv2d(
                                        "c",
                                        in(b),
                                        Conv2d.of(4, 3)
                                                .groups(2)
                                                .stride(2)
                                                .padding(1)
                                                .dilation(2)),
                                "y")));
        // GoogLeNet's inception5 blocks at a 64x64 input: 3x3 windows larger than their 2x2 input
        c.add(new Case(
                "conv 3x3 pad 1 on a 2x2 input (kernel larger than the input)",
                new long[] {2, 16, 2, 2},
                b -> b.output(b.conv2d("c", in(b), Conv2d.of(32, 3).padding(1)), "y")));
        c.add(new Case(
                "maxpool 3x3 stride 1 pad 1 ceil_mode on a 2x2 input (every window covers the input)",
                new long[] {2, 3, 2, 2},
                b -> b.output(
                        b.node(
                                "MaxPool",
                                null,
                                List.of(in(b)),
                                Map.of(
                                        "kernel_shape",
                                        ints(3, 3),
                                        "strides",
                                        ints(1, 1),
                                        "pads",
                                        ints(1, 1, 1, 1),
                                        "ceil_mode",
                                        i(1))),
                        "y")));
        c.add(new Case(
                "depthwise conv 3x3 stride 2 pad 1",
                new long[] {2, 4, 7, 7},
                b -> b.output(
                        b.conv2d("c", in(b), Conv2d.of(4, 3).groups(4).stride(2).padding(1)), "y")));
        c.add(new Case(
                "depthwise conv multiplier 2 dilation 2 strides 1x2 pad 2",
                new long[] {1, 3, 8, 9},
                b -> b.roundDown()
                        .output(
                                b.conv2d(
                                        "c",
                                        in(b),
                                        Conv2d.of(6, 3)
                                                .groups(3)
                                                .dilation(2)
                                                .stride(1, 2)
                                                .padding(2)),
                                "y")));
        c.add(new Case(
                "depthwise conv 1x1 stride 2 no bias",
                new long[] {2, 3, 5, 5},
                b -> b.roundDown()
                        .output(
                                b.conv2d(
                                        "c",
                                        in(b),
                                        Conv2d.of(3, 1).groups(3).stride(2).bias(false)),
                                "y")));
        // ---- normalization, transposed convolution and linear resizing (issue 10, the last rules) ----
        c.add(new Case("instancenorm affine on offset inputs", new long[] {2, 3, 4, 5}, b -> {
            SplittableRandom r = new SplittableRandom(40);
            Value x = b.add(in(b), b.constant("offset", Tensor.of(new float[] {3f})));
            Value y = b.node(
                    "InstanceNormalization",
                    null,
                    List.of(x, param(b, "scale", r, 0.5, 2, 3), param(b, "bias", r, -1, 1, 3)),
                    Map.of("epsilon", new Attribute.Float(1e-3f)));
            b.output(y, "y");
        }));
        // torch.nn.GroupNorm as PyTorch exports it at opsets <= 17: the groups through an InstanceNormalization
        // with constant unit scale and zero bias, the affine per channel after reshaping back
        c.add(new Case(
                "groupnorm as exported: reshape, instancenorm, reshape, mul, add", new long[] {2, 6, 3, 4}, b -> {
                    SplittableRandom r = new SplittableRandom(41);
                    Value grouped = b.node("Reshape", null, List.of(in(b), longs(b, 0, 3, -1)), Map.of());
                    Value normed = b.node(
                            "InstanceNormalization",
                            null,
                            List.of(
                                    grouped,
                                    b.constant("gn_ones", Tensor.of(new float[] {1, 1, 1}, 3)),
                                    b.constant("gn_zeros", Tensor.of(new float[] {0, 0, 0}, 3))),
                            Map.of());
                    Value back = b.node(
                            "Reshape",
                            null,
                            List.of(normed, b.node("Shape", null, List.of(in(b)), Map.of())),
                            Map.of());
                    Value y = b.add(
                            b.mul(back, param(b, "gamma", r, 0.5, 2, 6, 1, 1)), param(b, "beta", r, -1, 1, 6, 1, 1));
                    b.output(y, "y");
                }));
        c.add(new Case(
                "layernorm over the last axis and over [C, H, W] with its mean and invstddev",
                new long[] {2, 3, 2, 4},
                b -> {
                    SplittableRandom r = new SplittableRandom(42);
                    Value x = b.add(in(b), b.constant("offset", Tensor.of(new float[] {2f})));
                    Value last = b.node(
                            "LayerNormalization",
                            null,
                            List.of(x, param(b, "ln_scale", r, 0.5, 2, 4), param(b, "ln_bias", r, -1, 1, 4)),
                            Map.of());
                    // Scale broadcast along H, no B; Mean and InvStdDev read downstream
                    List<Value> chw = b.node(
                            "LayerNormalization",
                            null,
                            List.of(x, param(b, "chw_scale", r, 0.5, 2, 3, 1, 4)),
                            Map.of("axis", i(1), "epsilon", new Attribute.Float(1e-3f)),
                            3);
                    Value stats = b.add(chw.get(1), b.mul(chw.get(2), chw.get(2)));
                    b.output(b.add(b.mul(last, chw.get(0)), stats), "y");
                }));
        // torch.nn.LayerNorm as PyTorch exports it below opset 17, from primitives
        c.add(new Case(
                "layernorm as exported below opset 17: reducemean, sub, pow, sqrt, div", new long[] {2, 3, 5}, b -> {
                    SplittableRandom r = new SplittableRandom(43);
                    Value x = in(b);
                    Value mean = b.node("ReduceMean", null, List.of(x), Map.of("axes", ints(-1)));
                    Value xc = b.node("Sub", null, List.of(x, mean), Map.of());
                    Value sq =
                            b.node("Pow", null, List.of(xc, b.constant("two", Tensor.of(new float[] {2f}))), Map.of());
                    Value var = b.node("ReduceMean", null, List.of(sq), Map.of("axes", ints(-1)));
                    Value std = b.node(
                            "Sqrt",
                            null,
                            List.of(b.add(var, b.constant("eps", Tensor.of(new float[] {1e-5f})))),
                            Map.of());
                    Value normed = b.node("Div", null, List.of(xc, std), Map.of());
                    b.output(b.add(b.mul(normed, param(b, "w", r, 0.5, 2, 5)), param(b, "bias", r, -1, 1, 5)), "y");
                }));
        // 8 output channels x 3x3 = 72 > ConvOps.IM2COL_MAX_PATCH (the weight gradient over the batch axis), then
        // 3 output channels x 2x2 (im2col)
        c.add(new Case(
                "convtranspose stride 2 pad 1 output_padding 1, then 2x2 stride 2 without bias",
                new long[] {2, 2, 3, 4},
                b -> {
                    SplittableRandom r = new SplittableRandom(44);
                    Value up = b.node(
                            "ConvTranspose",
                            null,
                            List.of(in(b), param(b, "t1_w", r, -1, 1, 2, 8, 3, 3), param(b, "t1_b", r, -1, 1, 8)),
                            Map.of("strides", ints(2, 2), "pads", ints(1, 1, 1, 1), "output_padding", ints(1, 0)));
                    Value up2 = b.node(
                            "ConvTranspose",
                            null,
                            List.of(up, param(b, "t2_w", r, -1, 1, 8, 3, 2, 2)),
                            Map.of("strides", ints(2, 2)));
                    b.output(up2, "y");
                }));
        // grouped: 3 output channels per group x 3x3 (one-hot columns); depthwise-like with 8 outputs per group
        // x 3x3 = 72 (tap slices)
        c.add(new Case(
                "convtranspose groups 2 dilation 2 asymmetric pads, and 8 outputs per group",
                new long[] {2, 4, 3, 3},
                b -> {
                    SplittableRandom r = new SplittableRandom(45);
                    Value g2 = b.node(
                            "ConvTranspose",
                            null,
                            List.of(in(b), param(b, "g2_w", r, -1, 1, 4, 3, 3, 3), param(b, "g2_b", r, -1, 1, 6)),
                            Map.of(
                                    "group",
                                    i(2),
                                    "strides",
                                    ints(2, 1),
                                    "dilations",
                                    ints(2, 2),
                                    "pads",
                                    ints(1, 0, 2, 1),
                                    "output_padding",
                                    ints(1, 0)));
                    Value g4 = b.node(
                            "ConvTranspose",
                            null,
                            List.of(in(b), param(b, "g4_w", r, -1, 1, 4, 8, 3, 3)),
                            Map.of("group", i(4), "strides", ints(2, 2), "pads", ints(1, 1, 1, 1)));
                    b.output(b.concat(1, flat(b, g2), flat(b, g4)), "y");
                }));
        for (String ctm : List.of("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric")) {
            c.add(new Case("resize linear " + ctm + ": up by scales, down to sizes", new long[] {2, 2, 3, 4}, b -> {
                Value x = b.mul(in(b), param(b, "p", new SplittableRandom(46), -1, 1, 4));
                Map<String, Attribute> a = Map.of(
                        "mode", new Attribute.Str("linear"), "coordinate_transformation_mode", new Attribute.Str(ctm));
                Value up = b.node(
                        "Resize",
                        null,
                        java.util.Arrays.asList(
                                x, null, b.constant("scales", Tensor.of(new float[] {1, 1, 2, 1.5f}, 4))),
                        a);
                Value down = b.node("Resize", null, java.util.Arrays.asList(x, null, null, longs(b, 2, 2, 2, 3)), a);
                b.output(b.concat(1, flat(b, up), flat(b, down)), "y");
            }));
        }
        // built at the builder's opset, declared opset 9 (Upsample's last); the backward is Transpose and MatMul
        // no parameter: broadcasting gradients (ReduceSum with axes as an input) need opset 13
        c.add(new Case("upsample opset 9 nearest and bilinear by 2", new long[] {1, 2, 3, 4}, b -> {
            Value x = in(b);
            Value scales = b.constant("scales", Tensor.of(new float[] {1, 1, 2, 2}, 4));
            Value nearest = b.node("Upsample", null, List.of(x, scales), Map.of());
            Value linear = b.node("Upsample", null, List.of(x, scales), Map.of("mode", new Attribute.Str("linear")));
            b.output(b.add(nearest, b.mul(linear, linear)), "y");
            b.graph().opsets().put("", 9L);
        }));
        c.add(new Case("concat of nine inputs, each scaled by its own parameter", new long[] {2, 2, 3}, b -> {
            SplittableRandom r = new SplittableRandom(48);
            Value[] parts = new Value[9];
            for (int k = 0; k < parts.length; k++) {
                parts[k] = b.mul(in(b), param(b, "p" + k, r, -1, 1, 3));
            }
            b.output(b.concat(1, parts), "y");
        }));
        // ShuffleNet's channel shuffle with 2 groups of 3 channels
        c.add(new Case("channel shuffle: reshape, transpose, reshape", new long[] {2, 6, 2, 2}, b -> {
            Value x = b.mul(in(b), param(b, "p", new SplittableRandom(49), -1, 1, 6, 1, 1));
            Value grouped = b.reshape(x, 2, 2, 3, 2, 2);
            Value swapped = b.node("Transpose", null, List.of(grouped), Map.of("perm", ints(0, 2, 1, 3, 4)));
            b.output(b.reshape(swapped, 2, 6, 2, 2), "y");
        }));
        // the mean dwarfs the spread: E[x^2] - E[x]^2 would lose every digit in float32 (ONNX Runtime's run
        // of the backward graph is held to 1e-4 of the double-precision reference)
        c.add(new Case("instancenorm and layernorm on inputs offset by 1000", new long[] {2, 3, 4, 4}, b -> {
            SplittableRandom r = new SplittableRandom(51);
            Value x = b.add(in(b), b.constant("offset", Tensor.of(new float[] {1000f})));
            Value in = b.node(
                    "InstanceNormalization",
                    null,
                    List.of(x, param(b, "in_scale", r, 0.5, 2, 3), param(b, "in_bias", r, -1, 1, 3)),
                    Map.of());
            Value ln = b.node(
                    "LayerNormalization",
                    null,
                    List.of(x, param(b, "ln_scale", r, 0.5, 2, 4), param(b, "ln_bias", r, -1, 1, 4)),
                    Map.of("axis", i(1)));
            b.output(b.mul(in, ln), "y");
        }));
        // pads derived from the sizes: output_shape with an odd total padding (the odd row at the end), SAME_UPPER
        // (at the start)
        c.add(new Case(
                "convtranspose output_shape with odd total padding, and auto_pad SAME_UPPER",
                new long[] {1, 2, 3, 3},
                b -> {
                    SplittableRandom r = new SplittableRandom(52);
                    Value w = param(b, "w", r, -1, 1, 2, 3, 3, 3);
                    Value bias = param(b, "bias", r, -1, 1, 3);
                    Value shaped = b.node(
                            "ConvTranspose",
                            null,
                            List.of(in(b), w, bias),
                            Map.of("strides", ints(2, 2), "output_shape", ints(6, 7)));
                    Value same = b.node(
                            "ConvTranspose",
                            null,
                            List.of(in(b), w),
                            Map.of("strides", ints(2, 2), "auto_pad", new Attribute.Str("SAME_UPPER")));
                    b.output(b.concat(1, flat(b, shaped), flat(b, same)), "y");
                }));
        return c.stream();
    }

    /** {@code Slice(x, starts, ends, axes, steps)} with constant inputs (steps null: no steps input). */
    private static Value slice(GraphBuilder b, Value x, long[] starts, long[] ends, long[] axes, long[] steps) {
        List<Value> in = new ArrayList<>(List.of(x, longs(b, starts), longs(b, ends), longs(b, axes)));
        if (steps != null) {
            in.add(longs(b, steps));
        }
        return b.node("Slice", null, in, Map.of());
    }

    /** An int64 vector constant with a fresh name. */
    private static Value longs(GraphBuilder b, long... v) {
        return b.constant("k" + b.graph().initializers().size(), Tensor.of(v, v.length));
    }

    /** {@code v} as [1, elements], for concatenating differently shaped results into one output. */
    private static Value flat(GraphBuilder b, Value v) {
        return b.node("Flatten", null, List.of(v), Map.of("axis", i(0)));
    }

    /** Every operator type in the forward graph of some case. */
    public static java.util.Set<String> opsWithCases() {
        java.util.Set<String> ops = new TreeSet<>();
        cases().forEach(c -> ops.addAll(differentiatedOps(c)));
        return ops;
    }

    /**
     * The operators whose gradient rule a case applies: those of nodes with an input that depends on the data
     * input or a parameter (the values the check differentiates with respect to). A node fed only constants, such
     * as a Cast of a shape, is in the graph but never differentiated, so it does not count.
     */
    static java.util.Set<String> differentiatedOps(Case c) {
        GraphBuilder b = new GraphBuilder("check");
        b.input("x", Shape.fixed(c.inputShape()));
        c.body().accept(b);
        Graph g = b.build();
        java.util.Set<String> live = new java.util.HashSet<>(g.parameters());
        live.add("x");
        java.util.Set<String> ops = new TreeSet<>();
        for (Node n : g.nodes()) {
            if (n.inputs().stream().anyMatch(live::contains)) {
                ops.add(n.opType());
                live.addAll(n.outputs());
            }
        }
        return ops;
    }

    @Test
    void an_op_fed_only_constants_does_not_count_as_covered() {
        Case c = new Case("cast of a constant", new long[] {2, 3}, b -> {
            Value three = b.node(
                    "Cast", null, List.of(b.constant("three", Tensor.of(new long[] {3}, 1))), Map.of("to", i(1)));
            b.output(b.mul(in(b), three), "y");
        });
        assertEquals(
                java.util.Set.of("Mul"), differentiatedOps(c), "Cast only converts a constant: its rule never runs");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rule_matches_finite_differences_and_onnx_runtime(Case c) {
        SplittableRandom rnd = new SplittableRandom(c.name().hashCode());
        GraphBuilder b = new GraphBuilder("check");
        b.input("x", Shape.fixed(c.inputShape()));
        c.body().accept(b);
        Graph forward = b.build();
        // parameters get random values so nothing sits at its initial, special value (BN: var 1, mean 0)
        Map<String, DoubleTensor> values = new HashMap<>();
        for (String name : forward.initializers().keySet()) {
            Tensor t = forward.initializers().get(name);
            if (t.dtype() == DType.FLOAT32 && !forward.parameters().contains(name) && !name.endsWith("/var")) {
                values.put(name, DoubleTensor.of(t));
            }
        }
        for (String name : forward.initializers().keySet()) {
            Tensor t = forward.initializers().get(name);
            if (forward.parameters().contains(name) || name.endsWith("/mean")) {
                values.put(name, DoubleTensor.random(rnd, t.shape()));
            } else if (name.endsWith("/var")) {
                values.put(name, DoubleTensor.random(rnd, t.shape()).map(v -> 1 + Math.abs(v)));
            }
        }
        values.put("x", DoubleTensor.random(rnd, c.inputShape()));
        check(forward, "y", values, rnd, c.name());
    }

    /** Adds loss = sum(y * R), differentiates, and checks every gradient. */
    static void check(Graph forward, String y, Map<String, DoubleTensor> values, SplittableRandom rnd, String what) {
        Graph g = forward.copy();
        long[] yShape = g.type(y).shape().toArray();
        DoubleTensor rWeights = DoubleTensor.random(rnd, yShape);
        Emitter e = new Emitter(g, "check");
        String r = e.tensor("R", rWeights.toTensorFloat());
        values.put(r, rWeights);
        String weighted = e.op("Mul", y, r);
        String loss;
        if (g.opset() >= 13) {
            loss = e.op("ReduceSum", List.of(weighted), Map.of("keepdims", new Attribute.Int(0)));
        } else {
            // below opset 13 (Upsample's cases) a sum whose backward is Reshape, Transpose and MatMul only, valid
            // at every opset (ReduceSum's gradient uses the opset 13 forms of Unsqueeze)
            int count = (int) rWeights.size();
            float[] ones = new float[count];
            java.util.Arrays.fill(ones, 1f);
            String row = e.op("Reshape", weighted, e.ints(1, count));
            String total = e.op("MatMul", row, e.tensor("ones", Tensor.of(ones, count, 1)));
            loss = e.op("Reshape", total, e.ints());
        }
        Graph lossGraph = g.copy();
        lossGraph.clearOutputs();
        lossGraph.addOutput(new ValueInfo(loss, lossGraph.type(loss)));
        List<String> wrt = new ArrayList<>(forward.parameters());
        wrt.add("x");
        Map<String, String> grads = Autodiff.gradients(g, loss, wrt);
        g.clearOutputs();
        g.addOutput(new ValueInfo(loss, g.type(loss)));
        for (String w : wrt) {
            g.addOutput(new ValueInfo(grads.get(w), g.type(grads.get(w))));
        }
        Map<String, DoubleTensor> exact = ReferenceEvaluator.run(g, values);
        for (String w : wrt) {
            DoubleTensor base = values.get(w);
            DoubleTensor analytic = exact.get(grads.get(w));
            assertEquals(List.of(base.shape().length), List.of(analytic.shape().length), w + " gradient rank");
            double scale = 1e-3;
            for (double v : analytic.toDoubleArray()) {
                scale = Math.max(scale, Math.abs(v));
            }
            int n = base.size();
            TreeSet<Integer> picks = new TreeSet<>();
            while (picks.size() < Math.min(16, n)) {
                picks.add(rnd.nextInt(n));
            }
            for (int k : picks) {
                Map<String, DoubleTensor> plus = new HashMap<>(values);
                plus.put(w, base.withFlat(k, base.getFlat(k) + H));
                Map<String, DoubleTensor> minus = new HashMap<>(values);
                minus.put(w, base.withFlat(k, base.getFlat(k) - H));
                double lp = ReferenceEvaluator.run(lossGraph, plus).get(loss).getFlat(0);
                double lm = ReferenceEvaluator.run(lossGraph, minus).get(loss).getFlat(0);
                double numeric = (lp - lm) / (2 * H);
                double err = Math.abs(numeric - analytic.getFlat(k)) / scale;
                assertTrue(
                        err < 1e-6,
                        String.format(
                                "%s: d loss / d %s[%d]: finite difference %.9g, rule %.9g (relative error %.2g)",
                                what, w, k, numeric, analytic.getFlat(k), err));
            }
        }
        // the same backward graph in float32 on ONNX Runtime agrees with the double-precision reference
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (var in : g.inputs()) {
            feeds.put(in.name(), values.get(in.name()).toTensorFloat());
        }
        Graph ort = g.copy();
        for (String name : forward.initializers().keySet()) {
            if (values.containsKey(name)) {
                ort.replaceInitializer(name, values.get(name).toTensorFloat());
            }
        }
        try (Model m = Model.load(OnnxWriter.toBytes(ort), what, ModelOptions.defaults())) {
            Map<String, Tensor> out = m.run(feeds);
            for (String w : wrt) {
                ReferenceEvaluator.assertClose(
                        exact.get(grads.get(w)), out.get(grads.get(w)), 1e-4, what + " ORT " + w);
            }
        }
    }

    @Test
    void training_mode_batchnorm_and_every_loss_match_finite_differences() {
        for (Loss loss : Loss.values()) {
            SplittableRandom rnd = new SplittableRandom(loss.ordinal() + 100);
            GraphBuilder b = new GraphBuilder("bn_train");
            Value x = b.input("input", Shape.fixed(4, 2, 3, 3));
            Value h = b.batchNorm("bn", b.conv2d("c", x, Conv2d.of(3, 2)));
            Value out = b.linear("fc", b.flatten(b.relu(h)), 3);
            Graph forward = b.output(out, "logits").build();
            TrainingGraph tg = TrainingGraph.gradients(forward, loss, true);
            Graph g = tg.graph();
            Map<String, DoubleTensor> values = stateValues(tg, rnd);
            values.put("input", DoubleTensor.random(rnd, 4, 2, 3, 3));
            DoubleTensor target = switch (loss) {
                case CROSS_ENTROPY -> DoubleTensor.ofLongs(new long[] {0, 2, 1, 2}, 4);
                case BCE_WITH_LOGITS -> DoubleTensor.random(rnd, 4, 3).map(v -> (v + 1) / 2);
                default -> DoubleTensor.random(rnd, 4, 3);
            };
            values.put(TrainingGraph.TARGET, target);
            assertLossGradients(forward, g, values, rnd, loss.toString());
        }
    }

    /**
     * Tied maxima (MNIST's constant background makes whole windows tie): a window whose maximum k
     * elements share gives each dY / k, so the window passes dY once, in the reference evaluator and in
     * ONNX Runtime alike.
     */
    @Test
    void tied_maxpool_windows_split_the_gradient_among_the_tied_elements() {
        // windows (2x2): all four equal; two of four tied at the max; one clear maximum; all equal again
        double[] x = {
            5, 5, 1, 3,
            5, 5, 3, 0,
            2, 9, 7, 7,
            4, 8, 7, 7
        };
        GraphBuilder b = new GraphBuilder("ties");
        Value in = b.input("x", Shape.fixed(1, 1, 4, 4));
        Value y = b.maxPool("p", in, Pool2d.of(2));
        Graph g = b.output(y, "y").build();
        Emitter e = new Emitter(g, "check");
        String r = e.tensor("R", Tensor.of(new float[] {1, 2, 3, 4}, 1, 1, 2, 2));
        String loss = e.op("ReduceSum", List.of(e.op("Mul", "y", r)), Map.of("keepdims", new Attribute.Int(0)));
        String dx = Autodiff.gradients(g, loss, List.of("x")).get("x");
        g.clearOutputs();
        g.addOutput(new ValueInfo(dx, g.type(dx)));
        double[] expected = {0.25, 0.25, 0, 1, 0.25, 0.25, 1, 0, 0, 3, 1, 1, 0, 0, 1, 1};
        DoubleTensor input = DoubleTensor.of(x, 1, 1, 4, 4);
        Map<String, DoubleTensor> values = new HashMap<>(Map.of("x", input));
        values.put(r, DoubleTensor.of(new double[] {1, 2, 3, 4}, 1, 1, 2, 2));
        ReferenceEvaluator.assertClose(
                DoubleTensor.of(expected, 1, 1, 4, 4),
                ReferenceEvaluator.run(g, values).get(dx),
                0,
                "reference dX");
        try (Model m = Model.load(OnnxWriter.toBytes(g), "ties", ModelOptions.defaults())) {
            ReferenceEvaluator.assertClose(
                    DoubleTensor.of(expected, 1, 1, 4, 4),
                    m.run(Map.of("x", input.toTensorFloat())).get(dx),
                    0,
                    "ONNX Runtime dX");
        }
    }

    /**
     * Max and Min operands that tie share dY evenly (k tied operands get dY / k each), PyTorch's
     * convention for maximum/minimum, in the reference evaluator and in ONNX Runtime alike.
     */
    @Test
    void tied_max_and_min_operands_split_the_gradient_evenly() {
        GraphBuilder b = new GraphBuilder("ties");
        Value x = b.input("x", Shape.fixed(4));
        Value p = b.parameter("p", Tensor.of(new float[] {1, 5, 3, 0}, 4));
        Value q = b.constant("q", Tensor.of(new float[] {1, 2, 3, 0}, 4));
        Value max = b.node("Max", null, List.of(x, p, q), Map.of());
        Value min = b.node("Min", null, List.of(x, p), Map.of());
        Graph g = b.output(b.add(max, b.mul(min, b.constant("ten", Tensor.of(new float[] {10f})))), "y")
                .build();
        Emitter e = new Emitter(g, "check");
        String loss = e.op("ReduceSum", List.of("y"), Map.of("keepdims", new Attribute.Int(0)));
        Map<String, String> grads = Autodiff.gradients(g, loss, List.of("x", "p"));
        g.clearOutputs();
        g.addOutput(new ValueInfo(grads.get("x"), g.type(grads.get("x"))));
        g.addOutput(new ValueInfo(grads.get("p"), g.type(grads.get("p"))));
        // x = [1, 4, 3, 1] against p = [1, 5, 3, 0], q = [1, 2, 3, 0]:
        // max: three-way tie, p alone, three-way tie, x alone; min: tie, x alone, tie, p alone
        DoubleTensor input = DoubleTensor.of(new double[] {1, 4, 3, 1}, 4);
        double third = 1.0 / 3;
        DoubleTensor dx = DoubleTensor.of(new double[] {third + 5, 10, third + 5, 1}, 4);
        DoubleTensor dp = DoubleTensor.of(new double[] {third + 5, 1, third + 5, 10}, 4);
        Map<String, DoubleTensor> values = new HashMap<>(Map.of("x", input));
        values.put("p", DoubleTensor.of(new double[] {1, 5, 3, 0}, 4));
        Map<String, DoubleTensor> ref = ReferenceEvaluator.run(g, values);
        ReferenceEvaluator.assertClose(dx, ref.get(grads.get("x")), 1e-12, "reference dX");
        ReferenceEvaluator.assertClose(dp, ref.get(grads.get("p")), 1e-12, "reference dP");
        try (Model m = Model.load(OnnxWriter.toBytes(g), "ties", ModelOptions.defaults())) {
            Map<String, Tensor> out = m.run(Map.of("x", input.toTensorFloat()));
            ReferenceEvaluator.assertClose(dx, out.get(grads.get("x")), 1e-6, "ONNX Runtime dX");
            ReferenceEvaluator.assertClose(dp, out.get(grads.get("p")), 1e-6, "ONNX Runtime dP");
        }
    }

    /**
     * ReduceMax and ReduceMin elements that tie within one reduction share dY evenly, as PyTorch's
     * amax/amin backward, in the reference evaluator and in ONNX Runtime alike.
     */
    @Test
    void tied_reducemax_and_reducemin_elements_split_the_gradient_evenly() {
        GraphBuilder b = new GraphBuilder("ties");
        Value x = b.input("x", Shape.fixed(2, 4));
        Value max = b.node("ReduceMax", null, List.of(x), Map.of("axes", ints(1), "keepdims", i(0)));
        Value min = b.node("ReduceMin", null, List.of(x), Map.of("axes", ints(1), "keepdims", i(0)));
        Graph g = b.output(b.add(max, b.mul(min, b.constant("ten", Tensor.of(new float[] {10f})))), "y")
                .build();
        Emitter e = new Emitter(g, "check");
        String loss = e.op("ReduceSum", List.of("y"), Map.of("keepdims", new Attribute.Int(0)));
        String dx = Autodiff.gradients(g, loss, List.of("x")).get("x");
        g.clearOutputs();
        g.addOutput(new ValueInfo(dx, g.type(dx)));
        // row 0: the maximum 3 twice, the minimum 1 once; row 1: all four equal (max and min tie four ways)
        DoubleTensor input = DoubleTensor.of(new double[] {3, 1, 3, 2, 5, 5, 5, 5}, 2, 4);
        DoubleTensor expected = DoubleTensor.of(new double[] {0.5, 10, 0.5, 0, 2.75, 2.75, 2.75, 2.75}, 2, 4);
        ReferenceEvaluator.assertClose(
                expected,
                ReferenceEvaluator.run(g, new HashMap<>(Map.of("x", input))).get(dx),
                1e-12,
                "reference");
        try (Model m = Model.load(OnnxWriter.toBytes(g), "ties", ModelOptions.defaults())) {
            ReferenceEvaluator.assertClose(
                    expected, m.run(Map.of("x", input.toTensorFloat())).get(dx), 1e-6, "ONNX Runtime");
        }
    }

    /**
     * Relu followed by MaxPool is trained as MaxPool followed by Relu (they commute): the training graph
     * pools first, computes the same loss as the model, and its gradients match finite differences.
     */
    @Test
    void relu_then_maxpool_is_trained_pooled_first_with_exact_gradients() {
        SplittableRandom rnd = new SplittableRandom(7);
        GraphBuilder b = new GraphBuilder("relu_pool");
        Value x = b.input("input", Shape.fixed(3, 2, 4, 4));
        Value h = b.maxPool(
                "pool",
                b.relu(b.batchNorm("bn", b.conv2d("c", x, Conv2d.of(3, 3).padding(1)))),
                Pool2d.of(2));
        Graph forward = b.output(b.linear("fc", b.flatten(h), 3), "logits").build();
        TrainingGraph tg = TrainingGraph.gradients(forward, Loss.CROSS_ENTROPY, true);
        Graph g = tg.graph();
        assertEquals(
                List.of("BatchNormalization", "MaxPool", "Relu"),
                chainAround(g, "pool"),
                "the training graph pools first");
        Map<String, DoubleTensor> values = stateValues(tg, rnd);
        values.put("input", DoubleTensor.random(rnd, 3, 2, 4, 4));
        values.put(TrainingGraph.TARGET, DoubleTensor.ofLongs(new long[] {0, 2, 1}, 3));
        assertLossGradients(forward, g, values, rnd, "relu+maxpool");

        // the same loss and gradients as the graph in the model's own order, which the training graph
        // keeps when the Relu's output is used elsewhere too (here: also a model output)
        Graph unswappable = forward.copy();
        String reluOut = forward.nodes().stream()
                .filter(n -> n.opType().equals("Relu"))
                .findFirst()
                .orElseThrow()
                .output(0);
        unswappable.addOutput(new ValueInfo(reluOut, forward.type(reluOut)));
        Graph original =
                TrainingGraph.gradients(unswappable, Loss.CROSS_ENTROPY, true).graph();
        assertEquals(List.of("Relu", "MaxPool", "Flatten"), chainAround(original, "pool"));
        Map<String, DoubleTensor> swapped = ReferenceEvaluator.run(g, values);
        Map<String, DoubleTensor> inOrder = ReferenceEvaluator.run(original, values);
        for (String out :
                List.of(TrainingGraph.LOSS, "c/W.grad", "c/B.grad", "bn/scale.grad", "input.grad", "fc/W.grad")) {
            ReferenceEvaluator.assertClose(
                    inOrder.get(out), swapped.get(out), 1e-12, "pool-first vs model order: " + out);
        }
    }

    /** Random state for a training graph (running variances positive), plus the graph's own initializers. */
    private static Map<String, DoubleTensor> stateValues(TrainingGraph tg, SplittableRandom rnd) {
        Map<String, DoubleTensor> values = new HashMap<>();
        for (String s : tg.initialState().keySet()) {
            DoubleTensor v = DoubleTensor.random(rnd, tg.initialState().get(s).shape());
            values.put(s, s.endsWith("/var") ? v.map(t -> 1 + Math.abs(t)) : v);
        }
        for (Map.Entry<String, Tensor> init : tg.graph().initializers().entrySet()) {
            values.putIfAbsent(init.getKey(), DoubleTensor.of(init.getValue()));
        }
        return values;
    }

    /** Op types of node {@code name}'s producer, itself and its first consumer. */
    private static List<String> chainAround(Graph g, String name) {
        Node n = g.node(name);
        return List.of(
                g.producer(n.input(0)).opType(),
                n.opType(),
                g.consumers(n.output(0)).get(0).opType());
    }

    /** Each parameter's and the input's gradient in {@code g} against central differences of its loss. */
    private static void assertLossGradients(
            Graph forward, Graph g, Map<String, DoubleTensor> values, SplittableRandom rnd, String what) {
        Map<String, DoubleTensor> exact = ReferenceEvaluator.run(g, values);
        Graph lossGraph = g.copy();
        lossGraph.clearOutputs();
        lossGraph.addOutput(new ValueInfo(TrainingGraph.LOSS, g.type(TrainingGraph.LOSS)));
        List<String> wrt = new ArrayList<>(forward.parameters());
        wrt.add("input");
        for (String w : wrt) {
            DoubleTensor base = values.get(w);
            DoubleTensor analytic = exact.get(w + ".grad");
            for (int k = 0; k < Math.min(8, base.size()); k++) {
                int idx = rnd.nextInt(base.size());
                Map<String, DoubleTensor> plus = new HashMap<>(values);
                plus.put(w, base.withFlat(idx, base.getFlat(idx) + H));
                Map<String, DoubleTensor> minus = new HashMap<>(values);
                minus.put(w, base.withFlat(idx, base.getFlat(idx) - H));
                double numeric = (ReferenceEvaluator.run(lossGraph, plus)
                                        .get(TrainingGraph.LOSS)
                                        .getFlat(0)
                                - ReferenceEvaluator.run(lossGraph, minus)
                                        .get(TrainingGraph.LOSS)
                                        .getFlat(0))
                        / (2 * H);
                assertEquals(
                        numeric,
                        analytic.getFlat(idx),
                        1e-6 * Math.max(1, Math.abs(numeric)),
                        what + ": d loss / d " + w + "[" + idx + "]");
            }
        }
    }

    @Test
    void an_op_without_a_rule_is_named_with_the_supported_list() {
        GraphBuilder b = new GraphBuilder("mod");
        Value x = b.input("x", Shape.fixed(2, 3));
        Value p = b.parameter("p", Tensor.of(new float[] {1, 2, 3}, 3));
        Value y = b.node(
                "Mod",
                "mod1",
                List.of(b.mul(x, p), b.constant("two", Tensor.of(new float[] {2f}))),
                Map.of("fmod", new Attribute.Int(1)));
        Graph g = b.output(y, "y").build();
        Emitter e = new Emitter(g, "l");
        String loss = e.op("ReduceSum", List.of("y"), Map.of("keepdims", new Attribute.Int(0)));
        IllegalArgumentException ex =
                assertThrows(IllegalArgumentException.class, () -> Autodiff.gradients(g, loss, List.of("p")));
        assertTrue(
                ex.getMessage().startsWith("Mod(mod1): no gradient rule for Mod; differentiable ops are ["),
                ex.getMessage());
    }

    @Test
    void only_needed_gradients_are_emitted() {
        GraphBuilder b = new GraphBuilder("first");
        Value x = b.input("x", Shape.fixed(2, 3, 6, 6));
        Value y = b.conv2d("c1", x, Conv2d.of(2, 3));
        Graph g = b.output(b.conv2d("c2", y, Conv2d.of(2, 3)), "y").build();
        Emitter e = new Emitter(g, "l");
        String loss = e.op("ReduceSum", List.of("y"), Map.of("keepdims", new Attribute.Int(0)));
        Autodiff.gradients(g, loss, List.copyOf(g.parameters()));
        // dX of the first layer is never needed: exactly one ConvTranspose (c2's input gradient)
        long transposes = g.nodes().stream()
                .filter(n -> n.opType().equals("ConvTranspose"))
                .count();
        assertEquals(1, transposes);
    }

    /**
     * Dropout in a classifier head, trained: the training graph multiplies by the mask input the trainer
     * draws (0 or 1/(1 - ratio)); with a fixed mask every gradient matches finite differences, dropped
     * features pass none, and the mask is not all ones (so the case can fail).
     */
    @Test
    void dropout_in_a_classifier_head_trains_with_exact_gradients() {
        SplittableRandom rnd = new SplittableRandom(50);
        GraphBuilder b = new GraphBuilder("head");
        Value x = b.input("input", Shape.fixed(4, 2, 5, 5));
        Value features = b.flatten(b.globalAvgPool(b.relu(b.conv2d("c", x, Conv2d.of(6, 3)))));
        Graph forward =
                b.output(b.linear("fc", b.dropout(features, 0.4f), 3), "logits").build();
        TrainingGraph tg = TrainingGraph.gradients(forward, Loss.CROSS_ENTROPY, true);
        assertEquals(1, tg.dropoutMasks().size(), "one mask input");
        Map<String, DoubleTensor> values = stateValues(tg, rnd);
        values.put("input", DoubleTensor.random(rnd, 4, 2, 5, 5));
        values.put(TrainingGraph.TARGET, DoubleTensor.ofLongs(new long[] {0, 2, 1, 2}, 4));
        for (Map.Entry<String, Shape> m : tg.dropoutMasks().entrySet()) {
            DoubleTensor mask = DoubleTensor.random(rnd, m.getValue().toArray()).map(v -> v < -0.2 ? 0 : 1 / 0.6);
            assertTrue(java.util.Arrays.stream(mask.toDoubleArray()).anyMatch(v -> v == 0), "some features dropped");
            values.put(m.getKey(), mask);
        }
        assertLossGradients(forward, tg.graph(), values, rnd, "dropout head");
    }

    @Test
    void convtranspose_with_an_output_shape_past_the_scatter_names_the_limit() {
        GraphBuilder b = new GraphBuilder("ct");
        Value x = b.input("x", Shape.fixed(1, 2, 3, 3));
        Value w = b.parameter("w", Tensor.of(new float[2 * 2 * 9], 2, 2, 3, 3));
        Value y =
                b.node("ConvTranspose", "up", List.of(x, w), Map.of("strides", ints(2, 2), "output_shape", ints(8, 7)));
        Graph g = b.output(y, "y").build();
        Emitter e = new Emitter(g, "l");
        String loss = e.op("ReduceSum", List.of("y"), Map.of("keepdims", new Attribute.Int(0)));
        UnsupportedOperationException ex =
                assertThrows(UnsupportedOperationException.class, () -> Autodiff.gradients(g, loss, List.of("w")));
        assertEquals(
                "ConvTranspose(up): output size 8 on height is past the full transposed convolution (7); give an"
                        + " output_shape of at most 7",
                ex.getMessage());
    }
}
