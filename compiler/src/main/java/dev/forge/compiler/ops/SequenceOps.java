package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.IrType;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.OptionalType;
import dev.forge.compiler.ir.SequenceType;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxFormatException;
import dev.forge.compiler.onnx.OnnxTypes;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Type rules of the operators that make or take sequences and optionals ({@code SequenceConstruct},
 * {@code SequenceAt}, {@code Optional}, ...) and of {@code If}, {@code Loop} and {@code SequenceMap}
 * outputs of those types, read from their subgraphs' declared outputs.
 *
 * <p>These operators have no {@link OpDef}: an {@link ShapeRule} returns tensor types only, and none of
 * them has a gradient (the autodiff refuses a sequence or an optional on a differentiated path), so the
 * registry, which every tensor pass and the autodiff consult, stays tensor-only. Their rules follow
 * ONNX's own type inference: where ONNX leaves a dimension open (a split along an axis, a concatenation
 * of a sequence of unknown length) the rule leaves it unknown.
 */
public final class SequenceOps {
    /** The operators with a rule here. */
    public static final Set<String> OPS = Set.of(
            "SequenceEmpty",
            "SequenceConstruct",
            "SequenceAt",
            "SequenceLength",
            "SequenceInsert",
            "SequenceErase",
            "SplitToSequence",
            "ConcatFromSequence",
            "Optional",
            "OptionalHasElement",
            "OptionalGetElement",
            "If",
            "Loop",
            "SequenceMap");

    private SequenceOps() {}

    /**
     * The output types of a node of one of {@link #OPS} (default domain).
     *
     * @param node the node
     * @param in one type per input, null where omitted or unknown
     * @return one type per output (null where unknown), or null if the operator has no rule here
     * @throws ShapeException when the inputs' types contradict the operator (a tensor where a sequence is
     *     read, elements of different element types)
     */
    public static List<IrType> infer(Node node, List<IrType> in) {
        if (!(node.domain().isEmpty() || node.domain().equals("ai.onnx")) || !OPS.contains(node.opType())) {
            return null;
        }
        IrType first = in.isEmpty() ? null : in.get(0);
        return switch (node.opType()) {
            case "SequenceEmpty" -> {
                DType d = OnnxTypes.fromOnnx((int) node.attrInt("dtype", DType.FLOAT32.onnxElementType()));
                yield List.of(d == null ? null : new SequenceType(new ValueType(d, null)));
            }
            case "SequenceConstruct" -> {
                IrType element = null;
                for (int i = 0; i < in.size(); i++) {
                    if (in.get(i) == null) {
                        yield one(null);
                    }
                    element = i == 0 ? tensor(node, in.get(i), i) : merge(node, element, tensor(node, in.get(i), i));
                }
                yield one(element == null ? null : new SequenceType(element));
            }
            case "SequenceAt" ->
                one(sequence(node, first) == null ? null : sequence(node, first).element());
            case "SequenceLength" -> {
                sequence(node, first);
                yield List.of(new ValueType(DType.INT64, Shape.of()));
            }
            case "SequenceErase" -> one(sequence(node, first));
            case "SequenceInsert" -> {
                SequenceType s = sequence(node, first);
                IrType t = in.size() > 1 ? in.get(1) : null;
                yield one(
                        s == null || t == null ? null : new SequenceType(merge(node, s.element(), tensor(node, t, 1))));
            }
            case "SplitToSequence" -> one(splitToSequence(node, first, in.size() > 1 && in.get(1) != null));
            case "ConcatFromSequence" -> one(concatFromSequence(node, sequence(node, first)));
            case "Optional" -> {
                if (first != null) {
                    yield one(new OptionalType(first));
                }
                IrType declared = node.inputs().isEmpty() || node.input(0).isEmpty() ? typeAttribute(node) : null;
                yield one(declared == null ? null : new OptionalType(declared));
            }
            case "OptionalHasElement" -> List.of(new ValueType(DType.BOOL, Shape.of()));
            case "OptionalGetElement" -> one(first instanceof OptionalType o ? o.element() : first);
            default -> subgraphOutputs(node, in);
        };
    }

    private static List<IrType> one(IrType t) {
        List<IrType> out = new ArrayList<>(1);
        out.add(t);
        return out;
    }

    private static SequenceType sequence(Node node, IrType t) {
        if (t == null || t instanceof SequenceType) {
            return (SequenceType) t;
        }
        throw new ShapeException(node.label() + ": input '" + node.input(0) + "' must be a sequence, got " + t
                + "; give it the output of SequenceConstruct, SequenceEmpty or SplitToSequence");
    }

    private static ValueType tensor(Node node, IrType t, int i) {
        if (t instanceof ValueType v) {
            return v;
        }
        throw new ShapeException(node.label() + ": input " + i + " '" + node.input(i) + "' must be a tensor, got " + t
                + "; a sequence holds tensors");
    }

    /**
     * The type both values fit: equal parts kept, differing dimensions unknown, differing ranks an unknown
     * shape; different element types or kinds are an error (ONNX's sequences hold one element type).
     */
    static IrType merge(Node node, IrType a, IrType b) {
        if (a.equals(b)) {
            return a;
        }
        if (a instanceof ValueType x && b instanceof ValueType y && x.dtype() == y.dtype()) {
            if (x.shape() == null
                    || y.shape() == null
                    || x.shape().rank() != y.shape().rank()) {
                return new ValueType(x.dtype(), null);
            }
            List<Dim> dims = new ArrayList<>();
            for (int i = 0; i < x.shape().rank(); i++) {
                Dim d = x.shape().dim(i);
                dims.add(d.equals(y.shape().dim(i)) ? d : Dim.unknown());
            }
            return new ValueType(x.dtype(), Shape.of(dims));
        }
        if (a instanceof SequenceType x && b instanceof SequenceType y) {
            return new SequenceType(merge(node, x.element(), y.element()));
        }
        if (a instanceof OptionalType x && b instanceof OptionalType y) {
            return new OptionalType(merge(node, x.element(), y.element()));
        }
        throw new ShapeException(node.label() + ": a sequence holds values of one type; got " + a + " and " + b
                + "; Cast them to one element type first");
    }

    /** Splitting along {@code axis}: pieces of size 1 when there is no {@code split} input, else unknown. */
    private static IrType splitToSequence(Node node, IrType input, boolean hasSplit) {
        if (input == null) {
            return null;
        }
        ValueType x = tensor(node, input, 0);
        if (x.shape() == null) {
            return new SequenceType(new ValueType(x.dtype(), null));
        }
        int rank = x.shape().rank();
        long axis = node.attrInt("axis", 0);
        if (axis < -rank || axis >= rank) {
            throw new ShapeException(node.label() + ": axis " + axis + " is outside [" + -rank + ", " + (rank - 1)
                    + "] for input " + x + "; give an axis of the input");
        }
        int a = (int) (axis < 0 ? axis + rank : axis);
        List<Dim> dims = new ArrayList<>(x.shape().dims());
        if (hasSplit) {
            dims.set(a, Dim.unknown());
        } else if (node.attrInt("keepdims", 1) != 0) {
            dims.set(a, Dim.of(1));
        } else {
            dims.remove(a);
        }
        return new SequenceType(new ValueType(x.dtype(), Shape.of(dims)));
    }

    /** The elements' shape with the concatenated (or new) axis unknown: the sequence's length is not known. */
    private static IrType concatFromSequence(Node node, SequenceType s) {
        if (s == null) {
            return null;
        }
        ValueType e = tensor(node, s.element(), 0);
        if (e.shape() == null) {
            return new ValueType(e.dtype(), null);
        }
        boolean newAxis = node.attrInt("new_axis", 0) != 0;
        int rank = e.shape().rank() + (newAxis ? 1 : 0);
        long axis = node.attrInt("axis", 0);
        if (axis < -rank || axis >= rank) {
            throw new ShapeException(node.label() + ": axis " + axis + " is outside [" + -rank + ", " + (rank - 1)
                    + "] for elements " + e + (newAxis ? " with new_axis" : "") + "; give an axis of the result");
        }
        int a = (int) (axis < 0 ? axis + rank : axis);
        List<Dim> dims = new ArrayList<>(e.shape().dims());
        if (newAxis) {
            dims.add(a, Dim.unknown());
        } else {
            dims.set(a, Dim.unknown());
        }
        return new ValueType(e.dtype(), Shape.of(dims));
    }

    /** The {@code type} attribute of an {@code Optional} without input (a TypeProto), or null. */
    private static IrType typeAttribute(Node node) {
        Attribute a = node.attr("type");
        if (!(a instanceof Attribute.Opaque o)) {
            return null;
        }
        try {
            Onnx.AttributeProto ap = Onnx.AttributeProto.parseFrom(o.proto());
            return ap.hasTp() ? OnnxTypes.irType(ap.getTp().toByteArray(), node.label() + ": attribute 'type'") : null;
        } catch (com.google.protobuf.InvalidProtocolBufferException | OnnxFormatException e) {
            return null;
        }
    }

    /**
     * {@code If}, {@code Loop} and {@code SequenceMap}: the sequence and optional outputs take the types
     * their subgraphs declare (for If, both branches merged); tensor outputs are left to the tensor rules
     * ({@link ShapeInference#inferNodeTypes} fills them in), so the tensor path is unchanged.
     */
    private static List<IrType> subgraphOutputs(Node node, List<IrType> in) {
        int n = node.outputs().size();
        IrType[] out = new IrType[n];
        switch (node.opType()) {
            case "If" -> {
                List<IrType> then = graphOutputs(node, "then_branch");
                List<IrType> otherwise = graphOutputs(node, "else_branch");
                for (int i = 0; i < n && then != null && otherwise != null; i++) {
                    IrType a = i < then.size() ? then.get(i) : null;
                    IrType b = i < otherwise.size() ? otherwise.get(i) : null;
                    if (a != null && b != null && !(a instanceof ValueType) && !(b instanceof ValueType)) {
                        out[i] = mergeOrNull(node, a, b);
                    }
                }
            }
            case "Loop" -> {
                // body outputs: condition, then the loop-carried values, then the scan outputs
                List<IrType> body = graphOutputs(node, "body");
                int carried = Math.max(0, node.inputs().size() - 2);
                for (int i = 0; i < Math.min(n, carried) && body != null && i + 1 < body.size(); i++) {
                    IrType t = body.get(i + 1);
                    IrType initial = i + 2 < in.size() ? in.get(i + 2) : null;
                    if (t != null && !(t instanceof ValueType)) {
                        out[i] = initial == null ? t : mergeOrNull(node, t, initial);
                    }
                }
            }
            default -> { // SequenceMap: output i is the sequence of the body's output i
                List<IrType> body = graphOutputs(node, "body");
                for (int i = 0; i < n && body != null && i < body.size(); i++) {
                    out[i] = body.get(i) == null ? null : new SequenceType(body.get(i));
                }
            }
        }
        return Arrays.asList(out);
    }

    private static IrType mergeOrNull(Node node, IrType a, IrType b) {
        try {
            return merge(node, a, b);
        } catch (ShapeException e) {
            return null; // ONNX Runtime reports branches that disagree when it runs the model
        }
    }

    /** The declared output types of a graph attribute (null entries where a type is missing or not carried). */
    private static List<IrType> graphOutputs(Node node, String attribute) {
        if (!(node.attr(attribute) instanceof Attribute.Opaque o)) {
            return null;
        }
        Onnx.GraphProto g;
        try {
            g = Onnx.AttributeProto.parseFrom(o.proto()).getG();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            return null;
        }
        List<IrType> types = new ArrayList<>();
        for (Onnx.ValueInfoProto vi : g.getOutputList()) {
            IrType t = null;
            if (vi.hasType()) {
                try {
                    t = OnnxTypes.irType(vi.getType().toByteArray(), node.label() + ": " + attribute + " output");
                } catch (OnnxFormatException e) {
                    t = null; // a map or an element type Forge does not carry: unknown here
                }
            }
            types.add(t);
        }
        return types;
    }
}
