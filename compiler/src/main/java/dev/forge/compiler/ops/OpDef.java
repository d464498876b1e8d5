package dev.forge.compiler.ops;

import dev.forge.compiler.autodiff.GradientRule;
import dev.forge.compiler.ir.Attribute;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Everything Forge knows about one ONNX operator, in one place: its name, its attribute schema, its
 * shape/type rule, and its gradient rule or the explicit statement that it is not differentiable (its
 * outputs carry no gradient: integer, boolean or piecewise-constant results). An operator with neither
 * is differentiable in principle but has no rule yet; differentiating through it fails naming it.
 *
 * <p>Definitions are written in one file per operator family ({@code ActivationOps}, {@code ConvOps},
 * ...) with {@link #op(String)} and collected by {@link Ops}; see docs/OPERATORS.md.
 */
public final class OpDef {
    private final String name;
    private final Map<String, AttributeSpec> attributes;
    private final ShapeRule shapeRule;
    private final GradientRule gradient;
    private final boolean notDifferentiable;
    private final GradientPreparation preparation;
    private final TrainingForm trainingForm;

    private OpDef(Builder b) {
        this.name = b.name;
        this.attributes = Collections.unmodifiableMap(new TreeMap<>(b.attributes));
        this.shapeRule = Objects.requireNonNull(b.shapeRule, () -> b.name + " has no shape rule");
        this.gradient = b.gradient;
        this.notDifferentiable = b.notDifferentiable;
        this.preparation = b.preparation;
        this.trainingForm = b.trainingForm;
        if (gradient != null && notDifferentiable) {
            throw new IllegalStateException(name + " has a gradient rule and is marked not differentiable");
        }
        if (preparation != null && gradient == null) {
            throw new IllegalStateException(name + " prepares for a gradient it does not have");
        }
    }

    /** Starts the definition of operator {@code name} (default ONNX domain). */
    public static Builder op(String name) {
        return new Builder(name);
    }

    /** The ONNX operator type, e.g. {@code Conv}. */
    public String name() {
        return name;
    }

    /** The attribute schema by name, sorted: every attribute the ONNX specification gives at opsets 7 to 26. */
    public Map<String, AttributeSpec> attributes() {
        return attributes;
    }

    /** The shape/type rule. */
    public ShapeRule shapeRule() {
        return shapeRule;
    }

    /** The gradient rule, or null (see {@link #isNotDifferentiable()}). */
    public GradientRule gradient() {
        return gradient;
    }

    /** True if the operator's outputs carry no gradient, so differentiation stops at it. */
    public boolean isNotDifferentiable() {
        return notDifferentiable;
    }

    /** The operator's preparation for differentiation, or null. */
    public GradientPreparation preparation() {
        return preparation;
    }

    /** The operator's training-mode form, or null when it computes the same in training and inference. */
    public TrainingForm trainingForm() {
        return trainingForm;
    }

    @Override
    public String toString() {
        return name + attributes.keySet();
    }

    /** Collects one definition; {@link Ops} builds it. */
    public static final class Builder {
        private final String name;
        private final Map<String, AttributeSpec> attributes = new TreeMap<>();
        private ShapeRule shapeRule;
        private GradientRule gradient;
        private boolean notDifferentiable;
        private GradientPreparation preparation;
        private TrainingForm trainingForm;

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        private Builder attr(String attrName, AttributeSpec.Kind kind, boolean required, Attribute defaultValue) {
            if (attributes.put(attrName, new AttributeSpec(attrName, kind, required, defaultValue)) != null) {
                throw new IllegalStateException(name + " declares attribute " + attrName + " twice");
            }
            return this;
        }

        /** An optional int attribute with its default. */
        public Builder attrInt(String attrName, long defaultValue) {
            return attr(attrName, AttributeSpec.Kind.INT, false, new Attribute.Int(defaultValue));
        }

        /** An optional float attribute with its default. */
        public Builder attrFloat(String attrName, float defaultValue) {
            return attr(attrName, AttributeSpec.Kind.FLOAT, false, new Attribute.Float(defaultValue));
        }

        /** An optional string attribute with its default. */
        public Builder attrString(String attrName, String defaultValue) {
            return attr(attrName, AttributeSpec.Kind.STRING, false, new Attribute.Str(defaultValue));
        }

        /** An optional attribute whose default is not a constant (e.g. one value per spatial axis). */
        public Builder attr(String attrName, AttributeSpec.Kind kind) {
            return attr(attrName, kind, false, null);
        }

        /** A required attribute. */
        public Builder required(String attrName, AttributeSpec.Kind kind) {
            return attr(attrName, kind, true, null);
        }

        /** The shape/type rule. */
        public Builder shape(ShapeRule rule) {
            this.shapeRule = rule;
            return this;
        }

        /** The gradient rule. */
        public Builder gradient(GradientRule rule) {
            this.gradient = rule;
            return this;
        }

        /** Marks the outputs as carrying no gradient (integer, boolean or piecewise-constant results). */
        public Builder notDifferentiable() {
            this.notDifferentiable = true;
            return this;
        }

        /** The preparation the autodiff driver applies to every such node before differentiating. */
        public Builder prepareForGradient(GradientPreparation hook) {
            this.preparation = hook;
            return this;
        }

        /** What the node computes while it is trained, when that differs from its inference form. */
        public Builder trainingForm(TrainingForm form) {
            this.trainingForm = form;
            return this;
        }

        OpDef build() {
            return new OpDef(this);
        }
    }
}
