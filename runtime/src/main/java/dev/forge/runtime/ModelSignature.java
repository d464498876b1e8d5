package dev.forge.runtime;

import dev.forge.runtime.OnnxProto.AttributeProto;
import dev.forge.runtime.OnnxProto.DataType;
import dev.forge.runtime.OnnxProto.GraphProto;
import dev.forge.runtime.OnnxProto.ModelProto;
import dev.forge.runtime.OnnxProto.NodeProto;
import dev.forge.runtime.OnnxProto.OperatorSetIdProto;
import dev.forge.runtime.OnnxProto.TensorProto;
import dev.forge.runtime.OnnxProto.TensorShapeProto;
import dev.forge.runtime.OnnxProto.TypeProto;
import dev.forge.runtime.OnnxProto.ValueInfoProto;
import dev.forge.runtime.WireReader.Problem;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The declared inputs and outputs of a model's main graph with their whole ONNX types, and how sequence
 * and optional outputs are carried out of ONNX Runtime.
 *
 * <p>Why a rewrite: ONNX Runtime's Java API (1.29) returns a sequence output as an {@code OnnxSequence}
 * and a present optional as its content, but an <em>empty sequence</em> fails the run ("Unsupported type in
 * a sequence, found UNKNOWN": the Java side takes the element type from the first element) and an
 * <em>empty optional</em> crashes the JVM (a null dereference in native code while the result is
 * converted); {@code OrtSession.getOutputInfo} also throws ("Invalid ONNXType found") for a model with an
 * optional output. So before the model goes to ONNX Runtime, each sequence or optional output is replaced
 * by outputs Java can always receive ({@link Carrier}): a sequence with one empty tensor appended, and for
 * an optional a bool "present" flag plus its content (an empty stand-in when absent, behind an {@code If}).
 * The original output is removed from the graph's outputs, nothing else changes; models whose outputs are
 * all tensors go to ONNX Runtime byte for byte as given.
 *
 * <p>Read after {@link ModelValidator} accepted the bytes, with the same bounded {@link WireReader}.
 */
final class ModelSignature {
    /** The first ai.onnx opsets with the operators a carrier uses: SequenceInsert (11), Optional* (15). */
    static final long SEQUENCE_OPSET = 11;

    static final long OPTIONAL_OPSET = 15;
    /** Loop carries sequences from opset 13. */
    static final long WIDENING_OPSET = 13;

    /** One declared graph input or output. */
    static final class Declared {
        final String name;
        /** Null when the type is none ONNX Runtime's Java API can carry (a map, a nested sequence ...). */
        final ValueKind kind;
        /** The ONNX type as text, for messages: {@code optional(sequence(tensor(float)))}. */
        final String typeText;

        final int elemType;
        final long[] dims;
        final String[] dimNames;
        /** Where its {@code GraphProto.output} (or input) field is in the model bytes, tag included. */
        final int start;

        final int end;

        Declared(
                String name,
                ValueKind kind,
                String typeText,
                int elemType,
                long[] dims,
                String[] dimNames,
                int start,
                int end) {
            this.name = name;
            this.kind = kind;
            this.typeText = typeText;
            this.elemType = elemType;
            this.dims = dims;
            this.dimNames = dimNames;
            this.start = start;
            this.end = end;
        }
    }

    /**
     * The outputs ONNX Runtime gives instead of a sequence or optional output {@code output}: {@code
     * value} (a sequence with one extra empty tensor at the end, or the optional's tensor), and for an
     * optional {@code present}, a bool scalar.
     */
    record Carrier(String output, ValueKind kind, DType elementType, String value, String present) {
        /** The element type a carried sequence crosses into Java as ({@link #wire(DType)}). */
        DType wire() {
            return kind.isSequence() ? ModelSignature.wire(elementType) : elementType;
        }
    }

    final List<Declared> inputs;
    final List<Declared> outputs;
    /** The ai.onnx opset the model imports, -1 when none. */
    final long onnxOpset;

    private final int graphTag;
    private final int graphStart;
    private final int graphEnd;
    private final Set<String> names;

    private ModelSignature(
            List<Declared> inputs,
            List<Declared> outputs,
            long onnxOpset,
            int graphTag,
            int graphStart,
            int graphEnd,
            Set<String> names) {
        this.inputs = inputs;
        this.outputs = outputs;
        this.onnxOpset = onnxOpset;
        this.graphTag = graphTag;
        this.graphStart = graphStart;
        this.graphEnd = graphEnd;
        this.names = names;
    }

    // ============================================================== reading

    /** Reads the signature of a model the validator accepted. */
    static ModelSignature read(byte[] model, String sourceName) {
        try {
            return new Reader(model).model();
        } catch (Problem p) {
            throw new ModelLoadException("Cannot load model " + sourceName + ": " + p.getMessage());
        }
    }

    /** The type of a value: a tensor (elemType, dims), or a container around {@code inner}. */
    private static final class Ty {
        String container = "tensor";
        Ty inner;
        int elemType;
        long[] dims = new long[0];
        String[] dimNames = new String[0];

        String text() {
            switch (container) {
                case "tensor":
                case "sparse_tensor":
                    return container + "(" + DataType.name(elemType) + ")";
                case "none":
                    return "no type";
                default:
                    return container + "(" + (inner == null ? "?" : inner.text()) + ")";
            }
        }

        /** The tensor at the bottom of a supported container, or null. */
        Ty tensor() {
            return "tensor".equals(container) ? this : null;
        }

        ValueKind kind() {
            switch (container) {
                case "tensor":
                    return ValueKind.TENSOR;
                case "sequence":
                    return inner != null && inner.tensor() != null ? ValueKind.SEQUENCE : null;
                case "optional":
                    if (inner == null) {
                        return null;
                    }
                    if (inner.tensor() != null) {
                        return ValueKind.OPTIONAL_TENSOR;
                    }
                    return inner.kind() == ValueKind.SEQUENCE ? ValueKind.OPTIONAL_SEQUENCE : null;
                default:
                    return null;
            }
        }

        Ty bottom() {
            return inner == null ? this : inner.bottom();
        }
    }

    private static final class Reader extends WireReader {
        Reader(byte[] b) {
            super(b);
        }

        ModelSignature model() throws Problem {
            int end = b.length;
            long opset = -1;
            int tag = -1;
            int start = -1;
            int stop = -1;
            List<Declared> inputs = new ArrayList<>();
            List<Declared> outputs = new ArrayList<>();
            Set<String> names = new HashSet<>();
            while (true) {
                int at = pos;
                if (!next(end)) {
                    break;
                }
                switch (field) {
                    case ModelProto.GRAPH -> {
                        stop = message("ModelProto", "graph");
                        tag = at;
                        start = pos;
                        graph(stop, inputs, outputs, names);
                    }
                    case ModelProto.OPSET_IMPORT -> {
                        int s = message("ModelProto", "opset_import");
                        String domain = "";
                        long version = -1;
                        while (next(s)) {
                            switch (field) {
                                case OperatorSetIdProto.DOMAIN -> domain = text(string("OperatorSetIdProto", "domain"));
                                case OperatorSetIdProto.VERSION -> version = uint64("OperatorSetIdProto", "version");
                                default -> skipField();
                            }
                        }
                        if (domain.isEmpty() || domain.equals("ai.onnx")) {
                            opset = version;
                        }
                    }
                    default -> skipField();
                }
            }
            if (tag < 0) {
                throw malformed("the model has no graph");
            }
            return new ModelSignature(
                    Collections.unmodifiableList(inputs),
                    Collections.unmodifiableList(outputs),
                    opset,
                    tag,
                    start,
                    stop,
                    names);
        }

        void graph(int end, List<Declared> inputs, List<Declared> outputs, Set<String> names) throws Problem {
            while (true) {
                int at = pos;
                if (!next(end)) {
                    break;
                }
                switch (field) {
                    case GraphProto.INPUT, GraphProto.OUTPUT -> {
                        boolean input = field == GraphProto.INPUT;
                        int stop = message("GraphProto", input ? "input" : "output");
                        Declared d = valueInfo(stop, at);
                        names.add(d.name);
                        (input ? inputs : outputs).add(d);
                    }
                    case GraphProto.INITIALIZER -> {
                        int stop = message("GraphProto", "initializer");
                        while (next(stop)) {
                            if (field == TensorProto.NAME) {
                                names.add(text(string("TensorProto", "name")));
                            } else {
                                skipField();
                            }
                        }
                    }
                    case GraphProto.NODE -> {
                        int stop = message("GraphProto", "node");
                        while (next(stop)) {
                            if (field == NodeProto.OUTPUT) {
                                names.add(text(string("NodeProto", "output")));
                            } else {
                                skipField();
                            }
                        }
                    }
                    default -> skipField();
                }
            }
        }

        Declared valueInfo(int end, int start) throws Problem {
            String name = "";
            Ty ty = new Ty();
            ty.container = "none";
            while (next(end)) {
                switch (field) {
                    case ValueInfoProto.NAME -> name = text(string("ValueInfoProto", "name"));
                    case ValueInfoProto.TYPE -> ty = type(message("ValueInfoProto", "type"), 0);
                    default -> skipField();
                }
            }
            ValueKind kind = ty.kind();
            Ty t = ty.bottom();
            return new Declared(name, kind, ty.text(), t.elemType, t.dims, t.dimNames, start, end);
        }

        Ty type(int end, int depth) throws Problem {
            Ty ty = new Ty();
            ty.container = "none";
            if (depth > 16) {
                throw refused("a type nested more than 16 deep");
            }
            while (next(end)) {
                switch (field) {
                    case TypeProto.TENSOR_TYPE, TypeProto.SPARSE_TENSOR_TYPE -> {
                        ty.container = field == TypeProto.TENSOR_TYPE ? "tensor" : "sparse_tensor";
                        int stop = message("TypeProto", ty.container);
                        while (next(stop)) {
                            switch (field) {
                                case TypeProto.Tensor.ELEM_TYPE ->
                                    ty.elemType = (int) uint64("TypeProto.Tensor", "elem_type");
                                case TypeProto.Tensor.SHAPE -> shape(message("TypeProto.Tensor", "shape"), ty);
                                default -> skipField();
                            }
                        }
                    }
                    case TypeProto.SEQUENCE_TYPE, TypeProto.OPTIONAL_TYPE, TypeProto.MAP_TYPE -> {
                        ty.container = field == TypeProto.SEQUENCE_TYPE
                                ? "sequence"
                                : field == TypeProto.OPTIONAL_TYPE ? "optional" : "map";
                        int inner =
                                field == TypeProto.MAP_TYPE ? TypeProto.Map.VALUE_TYPE : TypeProto.Sequence.ELEM_TYPE;
                        int stop = message("TypeProto", ty.container);
                        while (next(stop)) {
                            if (field == inner) {
                                ty.inner = type(message("TypeProto", "elem_type"), depth + 1);
                            } else {
                                skipField();
                            }
                        }
                    }
                    default -> skipField();
                }
            }
            return ty;
        }

        void shape(int end, Ty ty) throws Problem {
            List<Long> dims = new ArrayList<>();
            List<String> dimNames = new ArrayList<>();
            while (next(end)) {
                if (field != TensorShapeProto.DIM) {
                    skipField();
                    continue;
                }
                int stop = message("TensorShapeProto", "dim");
                long dim = -1;
                String param = null;
                while (next(stop)) {
                    switch (field) {
                        case TensorShapeProto.Dimension.DIM_VALUE -> dim = uint64("Dimension", "dim_value");
                        case TensorShapeProto.Dimension.DIM_PARAM -> param = text(string("Dimension", "dim_param"));
                        default -> skipField();
                    }
                }
                dims.add(dim < 0 ? -1 : dim);
                dimNames.add(dim < 0 ? param : null);
            }
            ty.dims = dims.stream().mapToLong(Long::longValue).toArray();
            ty.dimNames = dimNames.toArray(new String[0]);
        }
    }

    // ============================================================== the plan

    /** The declared spec of an output (or input) this runtime can carry. */
    static TensorSpec spec(Declared d) {
        DType dtype = DataType.dtype(d.elemType);
        return new TensorSpec(d.name, dtype, d.dims, d.dimNames, d.kind);
    }

    /**
     * Refuses inputs that are not tensors (ONNX Runtime's Java API cannot feed them) and outputs it cannot
     * carry, and plans the carriers of the sequence and optional outputs; empty when every output is a
     * tensor.
     */
    Map<String, Carrier> carriers(String sourceName) {
        for (Declared in : inputs) {
            if (in.kind != ValueKind.TENSOR && in.kind != null) {
                throw new ModelLoadException("Cannot load model " + sourceName + ": input '" + in.name + "' has type "
                        + in.typeText + ", and ONNX Runtime's Java API (1.29) can feed tensors only"
                        + " (OrtSession.run takes OnnxTensorLike values; OnnxSequence has no public factory and"
                        + " there is no Java type for an optional); pass the tensors as separate inputs and build"
                        + " the "
                        + (in.kind.isOptional()
                                ? "optional with an Optional node"
                                : "sequence with" + " SequenceConstruct")
                        + " inside the model");
            }
            if (in.kind == null && !"no type".equals(in.typeText)) {
                throw new ModelLoadException("Cannot load model " + sourceName + ": input '" + in.name + "' has type "
                        + in.typeText + "; this runtime feeds tensors only");
            }
        }
        Map<String, Carrier> carriers = new LinkedHashMap<>();
        Set<String> taken = new HashSet<>(names);
        for (Declared out : outputs) {
            if (out.kind == ValueKind.TENSOR || (out.kind == null && "no type".equals(out.typeText))) {
                continue; // ONNX Runtime describes tensors (and untyped outputs) itself
            }
            if (out.kind == null) {
                throw new ModelLoadException("Cannot load model " + sourceName + ": output '" + out.name + "' has type "
                        + out.typeText + "; this runtime returns tensors, sequences of tensors and optionals of"
                        + " either (what ONNX Runtime's Java API can carry), not maps, sparse tensors or deeper"
                        + " nestings");
            }
            DType dtype = DataType.dtype(out.elemType);
            if (dtype == null) {
                throw new ModelLoadException("Cannot load model " + sourceName + ": output '" + out.name + "' has type "
                        + out.typeText + ", whose element type " + DataType.name(out.elemType)
                        + " this runtime does not support; supported: " + DType.supportedNames());
            }
            // a sequence of a type Java cannot read is widened in a Loop over sequences: Loop 13
            long needed =
                    out.kind.isOptional() ? OPTIONAL_OPSET : wire(dtype) != dtype ? WIDENING_OPSET : SEQUENCE_OPSET;
            if (onnxOpset < needed) {
                throw new ModelLoadException("Cannot load model " + sourceName + ": output '" + out.name + "' has type "
                        + out.typeText + " but the model imports ai.onnx opset " + onnxOpset + "; "
                        + (out.kind.isOptional() ? "optionals" : "sequences") + " need opset " + needed
                        + " or later");
            }
            String value = fresh(taken, "forge::" + out.name + "::value");
            String present = out.kind.isOptional() ? fresh(taken, "forge::" + out.name + "::present") : null;
            carriers.put(out.name, new Carrier(out.name, out.kind, dtype, value, present));
        }
        return Collections.unmodifiableMap(carriers);
    }

    /** A name no main-graph value has or extends (the carrier's inner values add {@code ::} suffixes). */
    private static String fresh(Set<String> taken, String base) {
        String name = base;
        for (int i = 1; clashes(taken, name); i++) {
            name = base + "#" + i;
        }
        taken.add(name);
        return name;
    }

    private static boolean clashes(Set<String> taken, String name) {
        for (String t : taken) {
            if (t.equals(name) || t.startsWith(name + "::")) {
                return true;
            }
        }
        return false;
    }

    // ============================================================== the rewrite

    /**
     * The model with each carried output replaced by its carrier outputs: the original output fields are
     * cut out of the graph and the carrier nodes and outputs appended to it; every other byte is kept.
     */
    byte[] rewrite(byte[] model, Map<String, Carrier> carriers) {
        Proto graph = new Proto();
        int at = graphStart;
        for (Declared out : outputs) {
            if (carriers.containsKey(out.name)) {
                graph.raw(model, at, out.start);
                at = out.end;
            }
        }
        graph.raw(model, at, graphEnd);
        for (Carrier c : carriers.values()) {
            appendCarrier(graph, c);
        }
        byte[] g = graph.toBytes();
        Proto m = new Proto();
        m.raw(model, 0, graphTag);
        m.bytes(ModelProto.GRAPH, g);
        m.raw(model, graphEnd, model.length);
        return m.toBytes();
    }

    private static void appendCarrier(Proto graph, Carrier c) {
        String base = c.value();
        switch (c.kind()) {
            case SEQUENCE -> {
                padded(graph, c.output(), c, c.value());
                graph.bytes(GraphProto.OUTPUT, sequenceInfo(c.value(), c.wire()));
            }
            case OPTIONAL_TENSOR, OPTIONAL_SEQUENCE -> {
                boolean seq = c.kind() == ValueKind.OPTIONAL_SEQUENCE;
                graph.bytes(
                        GraphProto.NODE,
                        node("OptionalHasElement", c.present(), List.of(c.output()), c.present(), null));
                // then: the content (a sequence padded as above); else: an empty stand-in of the same type
                Proto then = new Proto();
                String got = base + "::got";
                String thenOut = got + "::out";
                then.bytes(
                        GraphProto.NODE,
                        node("OptionalGetElement", got, List.of(c.output()), seq ? got : thenOut, null));
                if (seq) {
                    padded(then, got, c, thenOut);
                }
                then.string(GraphProto.NAME, base + "::then");
                then.bytes(
                        GraphProto.OUTPUT,
                        seq ? sequenceInfo(thenOut, c.wire()) : tensorInfo(thenOut, c.elementType()));
                Proto otherwise = new Proto();
                String none = base + "::none";
                String pad = base + "::else::empty";
                otherwise.bytes(GraphProto.NODE, emptyConstant(seq ? pad : none, seq ? c.wire() : c.elementType()));
                if (seq) {
                    otherwise.bytes(GraphProto.NODE, node("SequenceConstruct", none, List.of(pad), none, null));
                }
                otherwise.string(GraphProto.NAME, base + "::else");
                otherwise.bytes(
                        GraphProto.OUTPUT, seq ? sequenceInfo(none, c.wire()) : tensorInfo(none, c.elementType()));
                Proto attrs = new Proto();
                attrs.bytes(NodeProto.ATTRIBUTE, graphAttribute("then_branch", then.toBytes()));
                attrs.bytes(NodeProto.ATTRIBUTE, graphAttribute("else_branch", otherwise.toBytes()));
                graph.bytes(GraphProto.NODE, node("If", base, List.of(c.present()), c.value(), attrs.toBytes()));
                graph.bytes(GraphProto.OUTPUT, tensorInfo(c.present(), DType.BOOL));
                graph.bytes(
                        GraphProto.OUTPUT,
                        seq ? sequenceInfo(c.value(), c.wire()) : tensorInfo(c.value(), c.elementType()));
            }
            default -> throw new IllegalStateException("no carrier for a " + c.kind());
        }
    }

    /**
     * Nodes in {@code g} that make {@code out}, the sequence {@code seq} with an empty tensor appended, of
     * the carrier's wire type: when that differs from the element type (ONNX Runtime's Java API reads
     * sequences of float, double, int64 and string only), a Loop first casts every tensor to it (exactly:
     * int64 holds every narrower integer and bool, float every float16 and bfloat16; uint64 keeps its bits).
     */
    private static void padded(Proto g, String seq, Carrier c, String out) {
        String src = seq;
        if (c.wire() != c.elementType()) {
            String n = out + "::count";
            String none = out + "::start";
            src = out + "::wide";
            g.bytes(GraphProto.NODE, node("SequenceLength", n, List.of(seq), n, null));
            Proto dtype = new Proto();
            dtype.string(AttributeProto.NAME, "dtype");
            dtype.varint(AttributeProto.I, c.wire().onnxElementType());
            dtype.varint(AttributeProto.TYPE, AttributeProto.AttributeType.INT);
            Proto emptyAttrs = new Proto();
            emptyAttrs.bytes(NodeProto.ATTRIBUTE, dtype.toBytes());
            g.bytes(GraphProto.NODE, node("SequenceEmpty", none, List.of(), none, emptyAttrs.toBytes()));
            String i = out + "::i";
            String condIn = out + "::cond";
            String accIn = out + "::acc";
            String t = out + "::at";
            String x = out + "::cast";
            String condOut = out + "::cond_out";
            String accOut = out + "::acc_out";
            Proto body = new Proto();
            body.bytes(GraphProto.NODE, node("SequenceAt", t, List.of(seq, i), t, null));
            Proto to = new Proto();
            to.string(AttributeProto.NAME, "to");
            to.varint(AttributeProto.I, c.wire().onnxElementType());
            to.varint(AttributeProto.TYPE, AttributeProto.AttributeType.INT);
            Proto castAttrs = new Proto();
            castAttrs.bytes(NodeProto.ATTRIBUTE, to.toBytes());
            body.bytes(GraphProto.NODE, node("Cast", x, List.of(t), x, castAttrs.toBytes()));
            body.bytes(GraphProto.NODE, node("SequenceInsert", accOut, List.of(accIn, x), accOut, null));
            body.bytes(GraphProto.NODE, node("Identity", condOut, List.of(condIn), condOut, null));
            body.string(GraphProto.NAME, out + "::body");
            // ONNX Runtime's Loop wants the iteration number and condition declared as scalars
            body.bytes(GraphProto.INPUT, scalarInfo(i, DType.INT64));
            body.bytes(GraphProto.INPUT, scalarInfo(condIn, DType.BOOL));
            body.bytes(GraphProto.INPUT, sequenceInfo(accIn, c.wire()));
            body.bytes(GraphProto.OUTPUT, tensorInfo(condOut, DType.BOOL));
            body.bytes(GraphProto.OUTPUT, sequenceInfo(accOut, c.wire()));
            Proto loopAttrs = new Proto();
            loopAttrs.bytes(NodeProto.ATTRIBUTE, graphAttribute("body", body.toBytes()));
            g.bytes(GraphProto.NODE, node("Loop", src, List.of(n, "", none), src, loopAttrs.toBytes()));
        }
        String pad = out + "::empty";
        g.bytes(GraphProto.NODE, emptyConstant(pad, c.wire()));
        g.bytes(GraphProto.NODE, node("SequenceInsert", out, List.of(src, pad), out, null));
    }

    /** The type a sequence's tensors cross into Java as: ONNX Runtime's Java API reads these four only. */
    static DType wire(DType elementType) {
        switch (elementType) {
            case FLOAT32:
            case FLOAT64:
            case INT64:
            case STRING:
                return elementType;
            case FLOAT16:
            case BFLOAT16:
                return DType.FLOAT32;
            default:
                return DType.INT64;
        }
    }

    private static byte[] node(String op, String name, List<String> inputs, String output, byte[] attributes) {
        Proto n = new Proto();
        for (String in : inputs) {
            n.string(NodeProto.INPUT, in);
        }
        n.string(NodeProto.OUTPUT, output);
        n.string(NodeProto.NAME, name + "::" + op);
        n.string(NodeProto.OP_TYPE, op);
        if (attributes != null) {
            n.raw(attributes, 0, attributes.length);
        }
        return n.toBytes();
    }

    /** A Constant node whose value is an empty ({@code [0]}) tensor of the element type. */
    private static byte[] emptyConstant(String output, DType type) {
        Proto t = new Proto();
        t.varint(TensorProto.DIMS, 0);
        t.varint(TensorProto.DATA_TYPE, type.onnxElementType());
        Proto a = new Proto();
        a.string(AttributeProto.NAME, "value");
        a.bytes(AttributeProto.T, t.toBytes());
        a.varint(AttributeProto.TYPE, AttributeProto.AttributeType.TENSOR);
        Proto attrs = new Proto();
        attrs.bytes(NodeProto.ATTRIBUTE, a.toBytes());
        return node("Constant", output, List.of(), output, attrs.toBytes());
    }

    private static byte[] graphAttribute(String name, byte[] graph) {
        Proto a = new Proto();
        a.string(AttributeProto.NAME, name);
        a.bytes(AttributeProto.G, graph);
        a.varint(AttributeProto.TYPE, AttributeProto.AttributeType.GRAPH);
        return a.toBytes();
    }

    private static byte[] tensorType(DType type) {
        Proto tensor = new Proto();
        tensor.varint(TypeProto.Tensor.ELEM_TYPE, type.onnxElementType());
        Proto t = new Proto();
        t.bytes(TypeProto.TENSOR_TYPE, tensor.toBytes());
        return t.toBytes();
    }

    private static byte[] scalarInfo(String name, DType type) {
        Proto tensor = new Proto();
        tensor.varint(TypeProto.Tensor.ELEM_TYPE, type.onnxElementType());
        tensor.bytes(TypeProto.Tensor.SHAPE, new byte[0]);
        Proto t = new Proto();
        t.bytes(TypeProto.TENSOR_TYPE, tensor.toBytes());
        Proto vi = new Proto();
        vi.string(ValueInfoProto.NAME, name);
        vi.bytes(ValueInfoProto.TYPE, t.toBytes());
        return vi.toBytes();
    }

    private static byte[] tensorInfo(String name, DType type) {
        Proto vi = new Proto();
        vi.string(ValueInfoProto.NAME, name);
        vi.bytes(ValueInfoProto.TYPE, tensorType(type));
        return vi.toBytes();
    }

    private static byte[] sequenceInfo(String name, DType type) {
        Proto seq = new Proto();
        seq.bytes(TypeProto.Sequence.ELEM_TYPE, tensorType(type));
        Proto t = new Proto();
        t.bytes(TypeProto.SEQUENCE_TYPE, seq.toBytes());
        Proto vi = new Proto();
        vi.string(ValueInfoProto.NAME, name);
        vi.bytes(ValueInfoProto.TYPE, t.toBytes());
        return vi.toBytes();
    }

    /** A protobuf message being written: fields in the order given. */
    private static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        void varint(int field, long value) {
            tag(field, WireReader.VARINT);
            rawVarint(value);
        }

        void string(int field, String s) {
            bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        void bytes(int field, byte[] value) {
            tag(field, WireReader.LEN);
            rawVarint(value.length);
            out.write(value, 0, value.length);
        }

        void raw(byte[] b, int from, int to) {
            out.write(b, from, to - from);
        }

        private void tag(int field, int wireType) {
            rawVarint((long) field << 3 | wireType);
        }

        private void rawVarint(long v) {
            while ((v & ~0x7fL) != 0) {
                out.write((int) ((v & 0x7f) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }
}
