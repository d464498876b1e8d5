package dev.forge.compiler.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.autodiff.GradientCheckTest;
import dev.forge.compiler.reference.ReferenceEvaluator;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Keeps the operator registry and its tests in step: every registered operator has a reference-evaluator
 * rule (or a reasoned exclusion), every differentiable operator a finite-difference case in
 * {@link GradientCheckTest}, and every operator an attribute schema.
 */
class OperatorCoverageTest {
    /**
     * Registered operators the reference evaluator has no rule for, with the reason. They are read,
     * shape-inferred and written back for imported models, but no graph Forge builds, trains or checks
     * contains them yet; an operator moves out of this list when a test first needs it evaluated.
     */
    private static final Map<String, String> WITHOUT_REFERENCE_RULE = Map.ofEntries(
            Map.entry("ArgMax", "index output; appears only in imported inference graphs"),
            Map.entry("ArgMin", "index output; appears only in imported inference graphs"),
            Map.entry("ConvInteger", "imported quantized inference graphs only; Forge's passes emit QDQ"),
            Map.entry("LpPool", "imported inference graphs only; no built-in net or training graph uses it"),
            Map.entry("Mod", "integer/float remainder; imported inference graphs only"),
            Map.entry("QLinearConv", "imported quantized inference graphs only; Forge's passes emit QDQ"),
            Map.entry("QLinearMatMul", "imported quantized inference graphs only; Forge's passes emit QDQ"),
            Map.entry("ReduceLogSumExp", "imported inference graphs only"),
            Map.entry("ReduceProd", "imported inference graphs only"),
            Map.entry("ScatterND", "imported inference graphs only; backward graphs use ScatterElements"));

    /**
     * Operators the ONNX specification gives no attribute at any opset from 7 to 26, so their empty
     * schema is a statement, not an omission.
     */
    private static final Set<String> TAKE_NO_ATTRIBUTES = Set.of(
            "Abs",
            "Add",
            "And",
            "Ceil",
            "Div",
            "DynamicQuantizeLinear",
            "Equal",
            "Erf",
            "Exp",
            "Expand",
            "Floor",
            "GlobalAveragePool",
            "GlobalMaxPool",
            "Greater",
            "GreaterOrEqual",
            "HardSwish",
            "Identity",
            "Less",
            "LessOrEqual",
            "Log",
            "MatMul",
            "MatMulInteger",
            "Max",
            "Mean",
            "Min",
            "Mish",
            "Mul",
            "Neg",
            "Not",
            "Or",
            "PRelu",
            "QLinearMatMul",
            "Pow",
            "Reciprocal",
            "Relu",
            "Round",
            "Sigmoid",
            "Sign",
            "Size",
            "Softplus",
            "Softsign",
            "Sqrt",
            "Sub",
            "Sum",
            "Tanh",
            "Tile",
            "Where",
            "Xor");

    @Test
    void every_registered_op_has_a_reference_rule_or_a_reasoned_exclusion() {
        Set<String> missing = new TreeSet<>(Ops.known());
        missing.removeAll(ReferenceEvaluator.supportedOps());
        missing.removeAll(WITHOUT_REFERENCE_RULE.keySet());
        assertTrue(
                missing.isEmpty(),
                "registered ops without a reference rule in compiler/src/test/.../reference: " + missing
                        + "; add a rule (or, with a reason, an entry in WITHOUT_REFERENCE_RULE)");
        Set<String> stale = new TreeSet<>(WITHOUT_REFERENCE_RULE.keySet());
        stale.retainAll(ReferenceEvaluator.supportedOps());
        assertTrue(
                stale.isEmpty(),
                "ops excluded from the reference evaluator that now have a rule: " + stale
                        + "; remove them from WITHOUT_REFERENCE_RULE");
    }

    @Test
    void every_reference_rule_is_keyed_by_a_registered_op() {
        Set<String> unknown = new TreeSet<>(ReferenceEvaluator.supportedOps());
        unknown.removeAll(Ops.known());
        Set<String> excludedButUnknown = new TreeSet<>(WITHOUT_REFERENCE_RULE.keySet());
        excludedButUnknown.removeAll(Ops.known());
        assertTrue(
                unknown.isEmpty() && excludedButUnknown.isEmpty(),
                "reference rules " + unknown + " and exclusions " + excludedButUnknown
                        + " name ops the registry does not define; define them in an ops family file");
    }

    @Test
    void every_differentiable_op_has_a_finite_difference_case() {
        Set<String> missing = new TreeSet<>(Ops.differentiable());
        missing.removeAll(GradientCheckTest.opsWithCases());
        assertTrue(
                missing.isEmpty(),
                "differentiable ops without a case in GradientCheckTest.cases(): " + missing
                        + "; add a case whose forward graph uses each of them");
    }

    @Test
    void every_op_has_an_attribute_schema() {
        Set<String> empty = new TreeSet<>();
        for (String op : Ops.known()) {
            if (Ops.definition(op).attributes().isEmpty()) {
                empty.add(op);
            }
        }
        Set<String> undeclared = new TreeSet<>(empty);
        undeclared.removeAll(TAKE_NO_ATTRIBUTES);
        assertTrue(
                undeclared.isEmpty(),
                "ops with an empty attribute schema that the ONNX specification gives attributes: " + undeclared
                        + "; declare every attribute of opsets 7 to 26 in the op's definition");
        Set<String> wrong = new TreeSet<>(TAKE_NO_ATTRIBUTES);
        wrong.removeAll(empty);
        assertTrue(wrong.isEmpty(), "ops listed as taking no attributes that are unknown or declare some: " + wrong);
    }
}
