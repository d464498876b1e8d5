package dev.forge.runtime;

import static dev.forge.runtime.HostileModelTest.model;
import static dev.forge.runtime.HostileModelTest.refusedBytes;
import static dev.forge.runtime.TestModels.FLOAT;
import static dev.forge.runtime.TestModels.floatInitializer;
import static dev.forge.runtime.TestModels.int64Initializer;
import static dev.forge.runtime.TestModels.intAttr;
import static dev.forge.runtime.TestModels.intsAttr;
import static dev.forge.runtime.TestModels.node;
import static dev.forge.runtime.TestModels.valueInfo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.forge.runtime.TestModels.Msg;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Each operator rule of the validator's size inference that docs/SECURITY.md lists and HostileModelTest
 * does not reach: one node on a fixed input {@code x: float[1, 4, 8, 8]}, refused when {@code
 * maxTensorBytes} is one byte below the size its output must have, and accepted at exactly that size.
 * An operator without a rule ends the inference, so the refusal fails if its rule is removed, and the
 * exact shape in the message fails if the rule's arithmetic changes.
 */
class SizeRulesTest {
    /** One case: a graph around the node 'op', the shape and bytes its output must have, the opset. */
    record Case(String op, Msg graph, String shape, long elements, long bytes, long opset) {}

    static Msg graph(Msg node, Msg... initializers) {
        Msg g = new Msg().msg(1, node);
        for (Msg t : initializers) {
            g.msg(5, t);
        }
        return g.msg(11, valueInfo("x", FLOAT, 1L, 4L, 8L, 8L)).msg(12, valueInfo("y", FLOAT));
    }

    static Case c(String op, Msg graph, String shape, long elements, int elementBytes) {
        return new Case(op, graph, shape, elements, elements * elementBytes, 17);
    }

    static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        List<String> x = List.of("x");
        List<String> y = List.of("y");
        cases.add(c(
                "MaxPool",
                graph(node("MaxPool", "op", x, y, intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2))),
                "1 x 4 x 4 x 4",
                64,
                4));
        cases.add(c(
                "AveragePool",
                graph(node("AveragePool", "op", x, y, intsAttr("kernel_shape", 3, 3), intsAttr("pads", 1, 1, 1, 1))),
                "1 x 4 x 8 x 8",
                256,
                4));
        cases.add(c(
                "LpPool",
                graph(node("LpPool", "op", x, y, intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2))),
                "1 x 4 x 4 x 4",
                64,
                4));
        for (String global : List.of("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")) {
            cases.add(c(global, graph(node(global, "op", x, y)), "1 x 4 x 1 x 1", 4, 4));
        }
        cases.add(new Case(
                "Upsample",
                graph(
                        node("Upsample", "op", List.of("x", "scales"), y),
                        floatInitializer("scales", new float[] {1, 1, 2, 2}, 4)),
                "1 x 4 x 16 x 16",
                1024,
                4096,
                9));
        cases.add(c(
                "RandomUniform",
                graph(node("RandomUniform", "op", List.of(), y, intsAttr("shape", 3, 50))),
                "3 x 50",
                150,
                4));
        Msg gemm = new Msg()
                .msg(1, node("Gemm", "op", List.of("a", "B"), y))
                .msg(5, floatInitializer("B", new float[20], 4, 5))
                .msg(11, valueInfo("a", FLOAT, 30L, 4L))
                .msg(12, valueInfo("y", FLOAT));
        cases.add(c("Gemm", gemm, "30 x 5", 150, 4));
        cases.add(c("Flatten", graph(node("Flatten", "op", x, y, intAttr("axis", 2))), "4 x 64", 256, 4));
        cases.add(c(
                "Reshape",
                graph(
                        node("Reshape", "op", List.of("x", "shape"), y),
                        int64Initializer("shape", new long[] {2, 128}, 2)),
                "2 x 128",
                256,
                4));
        cases.add(c(
                "Transpose",
                graph(node("Transpose", "op", x, y, intsAttr("perm", 0, 2, 3, 1))),
                "1 x 8 x 8 x 4",
                256,
                4));
        Msg squeeze = new Msg()
                .msg(1, node("Squeeze", "op", List.of("s", "axes"), y))
                .msg(5, int64Initializer("axes", new long[] {0, 2}, 2))
                .msg(11, valueInfo("s", FLOAT, 1L, 4L, 1L, 8L))
                .msg(12, valueInfo("y", FLOAT));
        cases.add(c("Squeeze", squeeze, "4 x 8", 32, 4));
        cases.add(c(
                "Unsqueeze",
                graph(node("Unsqueeze", "op", List.of("x", "axes"), y), int64Initializer("axes", new long[] {0}, 1)),
                "1 x 1 x 4 x 8 x 8",
                256,
                4));
        cases.add(c(
                "Gather",
                graph(
                        node("Gather", "op", List.of("x", "idx"), y, intAttr("axis", 1)),
                        int64Initializer("idx", new long[] {0, 1, 2}, 3)),
                "1 x 3 x 8 x 8",
                192,
                4));
        cases.add(c("ReduceMean", graph(node("ReduceMean", "op", x, y, intsAttr("axes", 1))), "1 x 1 x 8 x 8", 64, 4));
        cases.add(c(
                "ReduceSum",
                graph(node("ReduceSum", "op", List.of("x", "axes"), y), int64Initializer("axes", new long[] {3}, 1)),
                "1 x 4 x 8 x 1",
                32,
                4));
        cases.add(c("ArgMax", graph(node("ArgMax", "op", x, y, intAttr("axis", 1))), "1 x 1 x 8 x 8", 64, 8));
        cases.add(c(
                "Concat",
                graph(node("Concat", "op", List.of("x", "x"), y, intAttr("axis", 1))),
                "1 x 8 x 8 x 8",
                512,
                4));
        cases.add(c("Cast", graph(node("Cast", "op", x, y, intAttr("to", 11))), "1 x 4 x 8 x 8", 256, 8));
        cases.add(c("Softmax", graph(node("Softmax", "op", x, y)), "1 x 4 x 8 x 8", 256, 4));
        // a shape read from the input by Shape, filled by ConstantOfShape: Shape's rule carries the value
        Msg shapeOf = new Msg()
                .msg(1, node("Shape", "shape", x, List.of("s")))
                .msg(1, node("ConstantOfShape", "op", List.of("s"), y))
                .msg(11, valueInfo("x", FLOAT, 1L, 4L, 8L, 8L))
                .msg(12, valueInfo("y", FLOAT));
        cases.add(c("ConstantOfShape", shapeOf, "1 x 4 x 8 x 8", 256, 4));
        return cases;
    }

    @Test
    void every_listed_operator_rule_bounds_its_output_exactly() {
        List<String> failures = new ArrayList<>();
        for (Case k : cases()) {
            byte[] m = model(8, k.opset(), k.graph());
            String expected = "Cannot load model hostile: refused: node 'op' (" + k.op() + ") would make a tensor of "
                    + k.shape() + " = " + k.elements() + " elements of ";
            String tail = " (" + k.bytes() + " bytes), more than ModelLimits.maxTensorBytes (" + (k.bytes() - 1)
                    + ") (in graph)";
            try {
                String got = refusedBytes(
                                m,
                                ModelLimits.builder()
                                        .maxTensorBytes(k.bytes() - 1)
                                        .build())
                        .getMessage();
                if (!got.startsWith(expected) || !got.endsWith(tail)) {
                    failures.add(k.op() + ": " + got);
                }
            } catch (AssertionError e) {
                failures.add(k.op() + ": not refused (" + e.getMessage() + ")");
            }
            try {
                ModelValidator.validate(
                        m,
                        "at the limit",
                        null,
                        ModelLimits.builder().maxTensorBytes(k.bytes()).build());
            } catch (ModelLoadException e) {
                failures.add(k.op() + " at exactly " + k.bytes() + " bytes: " + e.getMessage());
            }
        }
        assertEquals(List.of(), failures);
    }
}
