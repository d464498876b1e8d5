package dev.forge.runtime;

import dev.forge.runtime.OnnxProto.AttributeProto;
import dev.forge.runtime.OnnxProto.DataType;
import dev.forge.runtime.OnnxProto.FunctionProto;
import dev.forge.runtime.OnnxProto.GraphProto;
import dev.forge.runtime.OnnxProto.ModelProto;
import dev.forge.runtime.OnnxProto.NodeProto;
import dev.forge.runtime.OnnxProto.OperatorSetIdProto;
import dev.forge.runtime.OnnxProto.StringStringEntryProto;
import dev.forge.runtime.OnnxProto.TensorProto;
import dev.forge.runtime.OnnxProto.TensorShapeProto;
import dev.forge.runtime.OnnxProto.TrainingInfoProto;
import dev.forge.runtime.OnnxProto.TypeProto;
import dev.forge.runtime.OnnxProto.ValueInfoProto;
import dev.forge.runtime.WireReader.Problem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Checks a serialized ONNX model before ONNX Runtime sees it, with a small protobuf wire-format reader
 * of its own (the runtime does not depend on protobuf-java). It walks {@code ModelProto → GraphProto →
 * NodeProto / TensorProto / ValueInfoProto}, subgraphs and functions included, and refuses:
 *
 * <ul>
 *   <li>bytes that are not a well-formed ModelProto: random or truncated data, bad tags or wire types,
 *       lengths that run past their message, a missing graph;
 *   <li>IR versions outside [{@value #MIN_IR_VERSION}, {@value #MAX_IR_VERSION}] and {@code ai.onnx}
 *       opsets outside [{@value #MIN_OPSET}, {@value #MAX_OPSET}] (what ONNX Runtime 1.29 runs);
 *   <li>tensors whose data does not match their declared shape and type (raw bytes or typed values),
 *       negative or overflowing dimensions, unknown element types, segmented and sparse tensors;
 *   <li>anything over a {@link ModelLimits} limit: the model size, one tensor, all initializers, the
 *       node count, and tensors whose size is fixed by constants in the model ({@code
 *       ConstantOfShape}, {@code Expand}, {@code Tile}, {@code Range}, {@code Resize}, {@code OneHot},
 *       {@code RandomNormal}, {@code RandomUniform}), which ONNX Runtime would allocate while
 *       constant-folding at load time or on the first run;
 *   <li>graphs with cycles, values defined twice, node inputs or graph outputs that nothing defines,
 *       and nodes of a domain the model does not import;
 *   <li>external data that is not a plain relative path inside the model's directory: absolute paths,
 *       {@code ..}, symbolic links that resolve outside it, ONNX Runtime's in-memory-address form, files
 *       too short for the tensor — and any external data at all when the model was given as bytes.
 *       External files are never opened; only their path and size are examined.
 * </ul>
 *
 * <p>The reader never allocates according to a size the model declares: every length is checked
 * against the bytes that are really there, names are kept as offsets into the model bytes, and only
 * constants of at most {@value #SMALL_CONSTANT} elements are decoded. Its memory is a few bytes per
 * name in the model. Passing this check does not make a model valid — ONNX Runtime stays the real
 * parser and checks operator semantics — but what it refuses, ONNX Runtime never sees.
 *
 * <p>The wire format is read by {@link WireReader} (one loop shape for every message), with the field
 * numbers of onnx.proto named in {@link OnnxProto}; this class reads the messages, {@link GraphChecks}
 * checks the graphs, and {@link SizeBounds} holds the allocation bounds.
 */
public final class ModelValidator {
    /** The oldest IR version accepted (the first with opset imports). */
    public static final long MIN_IR_VERSION = 3;
    /** The newest IR version accepted (ONNX Runtime 1.29 supports up to 13). */
    public static final long MAX_IR_VERSION = 13;
    /**
     * The oldest {@code ai.onnx} opset accepted: 1. ONNX Runtime only guarantees 7 and later but runs
     * older models whose operators it still has kernels for (Elu, Selu at 6; Identity, Softplus,
     * GlobalAveragePool at 1) and refuses the others itself; {@code OpsetBoundaryTest} checks that
     * this validator accepts exactly the opsets ONNX Runtime does.
     */
    public static final long MIN_OPSET = 1;
    /** The newest {@code ai.onnx} opset accepted (ONNX Runtime 1.29 supports up to 26). */
    public static final long MAX_OPSET = 26;
    /** How deeply graphs may nest inside node attributes (If, Loop, Scan bodies). */
    public static final int MAX_GRAPH_DEPTH = 16;
    /** The most dimensions a tensor may have. */
    public static final int MAX_RANK = 64;
    /** Constants up to this many elements are decoded to follow shapes through the graph. */
    static final int SMALL_CONSTANT = 16;

    private static final int MAX_TYPE_DEPTH = 16;
    private static final int MAX_OPSET_IMPORTS = 1000;
    private static final int MAX_LOCATION_BYTES = 4096;
    private static final String ORT_MEMORY_ADDRESS = "_ORT_MEM_ADDR_";

    private ModelValidator() {}

    /**
     * Checks a model. Loading through {@link Model#load} does this already; call it to vet a model
     * without starting ONNX Runtime.
     *
     * @param model the serialized ModelProto (not modified, not retained)
     * @param sourceName the name used in messages
     * @param modelDir the directory external data is resolved against, or null when the model came as
     *     bytes (then external data is refused)
     * @param limits the size limits
     * @throws ModelLoadException naming the problem, when the model is malformed, unsupported or over a
     *     limit
     */
    public static void validate(byte[] model, String sourceName, Path modelDir, ModelLimits limits) {
        inspect(model, sourceName, modelDir, limits);
    }

    /** Validates and returns what was counted (for tests and diagnostics). */
    static Summary inspect(byte[] model, String sourceName, Path modelDir, ModelLimits limits) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(limits, "limits");
        String name = sourceName == null ? "<" + model.length + " bytes>" : sourceName;
        try {
            return new Walk(model, modelDir, limits).run();
        } catch (Problem p) {
            throw new ModelLoadException("Cannot load model " + name + ": " + p.getMessage());
        }
    }

    /** What a valid model contains. */
    static final class Summary {
        final long irVersion;
        final Map<String, Long> opsets;
        final int nodes;
        final long initializerBytes;
        final int externalTensors;
        /** Name-table lookups and insertions, and the slots they examined: the cost of the hash tables. */
        final long nameLookups;

        final long nameProbes;

        Summary(
                long irVersion,
                Map<String, Long> opsets,
                int nodes,
                long initializerBytes,
                int externalTensors,
                long nameLookups,
                long nameProbes) {
            this.irVersion = irVersion;
            this.opsets = opsets;
            this.nodes = nodes;
            this.initializerBytes = initializerBytes;
            this.externalTensors = externalTensors;
            this.nameLookups = nameLookups;
            this.nameProbes = nameProbes;
        }
    }

    // ============================================================== the walk

    /** One validation: the wire reader over the model's bytes, the counts, and the graphs read. */
    static final class Walk extends WireReader {
        final Path modelDir;
        final ModelLimits limits;
        int nodes;
        /** What the validator keeps per model, each bounded by maxNodes (see {@link ModelLimits#maxNodes()}). */
        long initializerCount;

        long graphValues;
        long edges;
        /** The dims (-1 symbolic) and element type of the last tensor type read, for graph inputs. */
        double[] capturedDims;

        long capturedType;
        /** Whether the last type read was a sequence, optional, map or sparse tensor (no tensor shape to follow). */
        boolean capturedContainer;
        /** Values in each typed field of the tensor being read, by field number (float_data ... uint64_data). */
        final long[] typedCounts = new long[TensorProto.UINT64_DATA + 1];

        long initializerBytes;
        int externalTensors;
        Path realModelDir;
        /** Lookups and insertions in the name tables, and the slots they examined (for tests of their cost). */
        long nameLookups;

        long nameProbes;

        Walk(byte[] b, Path modelDir, ModelLimits limits) {
            super(b);
            this.modelDir = modelDir;
            this.limits = limits;
        }

        // ------------------------------------------------------------ ModelProto

        Summary run() throws Problem {
            if (b.length == 0) {
                throw new Problem("not a valid ONNX model: it is empty (0 bytes)");
            }
            if (b.length > limits.maxModelBytes()) {
                throw new Problem("refused: the model is " + b.length + " bytes, more than ModelLimits.maxModelBytes ("
                        + limits.maxModelBytes()
                        + "); raise it with ModelOptions.builder().limits(...) if you trust the model");
            }
            firstFieldLooksLikeAModel();
            int end = b.length;
            long ir = -1;
            Map<String, Long> opsets = new LinkedHashMap<>();
            GraphInfo graph = null;
            List<GraphInfo> functions = new ArrayList<>();
            List<GraphInfo> trainingGraphs = new ArrayList<>();
            int imports = 0;
            int trainingInfos = 0;
            while (next(end)) {
                switch (field) {
                    case ModelProto.IR_VERSION -> ir = uint64("ModelProto", "ir_version");
                    case ModelProto.GRAPH -> {
                        int stop = message("ModelProto", "graph");
                        if (graph != null) {
                            throw malformed("the model has two graph fields");
                        }
                        enter("graph", -1);
                        graph = graph(stop, 0, true);
                        leave();
                    }
                    case ModelProto.OPSET_IMPORT -> {
                        int stop = message("ModelProto", "opset_import");
                        if (++imports > MAX_OPSET_IMPORTS) {
                            throw refused("more than " + MAX_OPSET_IMPORTS + " opset imports");
                        }
                        enter("opset_import", imports - 1);
                        opsetImport(stop, opsets);
                        leave();
                    }
                    case ModelProto.TRAINING_INFO -> {
                        int stop = message("ModelProto", "training_info");
                        enter("training_info", trainingInfos++);
                        trainingInfo(stop, trainingGraphs);
                        leave();
                    }
                    case ModelProto.FUNCTIONS -> {
                        int stop = message("ModelProto", "functions");
                        enter("function", functions.size());
                        functions.add(function(stop));
                        leave();
                    }
                    case ModelProto.PRODUCER_NAME,
                            ModelProto.PRODUCER_VERSION,
                            ModelProto.DOMAIN,
                            ModelProto.DOC_STRING,
                            ModelProto.METADATA_PROPS,
                            ModelProto.CONFIGURATION -> skipBytes("ModelProto", "field " + field);
                    case ModelProto.MODEL_VERSION -> uint64("ModelProto", "model_version");
                    default -> skipField();
                }
            }
            if (ir < 0) {
                throw malformed("ir_version is missing");
            }
            if (ir < MIN_IR_VERSION || ir > MAX_IR_VERSION) {
                throw new Problem(
                        "unsupported: ir_version " + ir + " is outside [" + MIN_IR_VERSION + ", " + MAX_IR_VERSION
                                + "], the IR versions this runtime (ONNX Runtime 1.29) runs; re-export the model with a supported version");
            }
            if (opsets.isEmpty()) {
                throw malformed("opset_import is empty; the model must say which operator sets it uses");
            }
            Long onnx = opsets.get("");
            if (onnx != null && (onnx < MIN_OPSET || onnx > MAX_OPSET)) {
                throw new Problem(
                        "unsupported: the model imports ai.onnx opset " + onnx + ", outside [" + MIN_OPSET + ", "
                                + MAX_OPSET
                                + "], the opsets this runtime (ONNX Runtime 1.29) runs; re-export the model with opset 17, for example");
            }
            if (graph == null) {
                throw malformed("the model has no graph");
            }
            Map<String, Boolean> functionDomains = new HashMap<>();
            for (GraphInfo f : functions) {
                functionDomains.put(domainKey(text(f.domain)), Boolean.TRUE);
            }
            enter("graph", -1);
            new GraphChecks(this).check(graph, null, opsets, functionDomains, true);
            leave();
            for (int i = 0; i < functions.size(); i++) {
                GraphInfo f = functions.get(i);
                Map<String, Long> visible = opsets;
                if (f.localOpsets != null) {
                    visible = new HashMap<>(opsets);
                    visible.putAll(f.localOpsets);
                }
                enter("function " + show(f.name), -1);
                new GraphChecks(this).check(f, null, visible, functionDomains, false);
                leave();
            }
            return new Summary(
                    ir,
                    Collections.unmodifiableMap(opsets),
                    nodes,
                    initializerBytes,
                    externalTensors,
                    nameLookups,
                    nameProbes);
        }

        /** The first field must be a ModelProto field with its wire type, else this is not a model at all. */
        void firstFieldLooksLikeAModel() throws Problem {
            try {
                next(b.length);
            } catch (Problem p) {
                throw notAModel();
            }
            pos = 0;
            boolean varintField = field == ModelProto.IR_VERSION || field == ModelProto.MODEL_VERSION;
            boolean bytesField = field == ModelProto.PRODUCER_NAME
                    || field == ModelProto.PRODUCER_VERSION
                    || field == ModelProto.DOMAIN
                    || field == ModelProto.DOC_STRING
                    || field == ModelProto.GRAPH
                    || field == ModelProto.OPSET_IMPORT
                    || field == ModelProto.METADATA_PROPS
                    || field == ModelProto.TRAINING_INFO
                    || field == ModelProto.FUNCTIONS
                    || field == ModelProto.CONFIGURATION;
            if (!(varintField && wireType == VARINT) && !(bytesField && wireType == LEN)) {
                throw notAModel();
            }
        }

        Problem notAModel() {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < Math.min(b.length, 8); i++) {
                sb.append(String.format("%02x", b[i] & 0xff));
            }
            return new Problem("not a valid ONNX model: its bytes do not start like an ONNX ModelProto (first bytes 0x"
                    + sb + ")");
        }

        void opsetImport(int end, Map<String, Long> opsets) throws Problem {
            int domain = -1;
            long version = -1;
            while (next(end)) {
                switch (field) {
                    case OperatorSetIdProto.DOMAIN -> domain = string("OperatorSetIdProto", "domain");
                    case OperatorSetIdProto.VERSION -> version = uint64("OperatorSetIdProto", "version");
                    default -> skipField();
                }
            }
            if (domain >= 0 && nameLength(domain) > 256) {
                throw malformed("an opset domain name is longer than 256 bytes");
            }
            String d = domainKey(text(domain));
            if (version < 1) {
                throw malformed("opset_import of domain '" + (d.isEmpty() ? "ai.onnx" : d) + "' has version " + version
                        + "; versions start at 1");
            }
            if (opsets.put(d, version) != null) {
                throw malformed("opset_import lists domain '" + (d.isEmpty() ? "ai.onnx" : d) + "' twice");
            }
        }

        void trainingInfo(int end, List<GraphInfo> graphs) throws Problem {
            while (next(end)) {
                switch (field) {
                    case TrainingInfoProto.INITIALIZATION, TrainingInfoProto.ALGORITHM -> {
                        String what = field == TrainingInfoProto.INITIALIZATION ? "initialization" : "algorithm";
                        int stop = message("TrainingInfoProto", what);
                        // each graph kept counts like a subgraph, so that empty ones cannot pile up unbounded
                        if (++nodes > limits.maxNodes()) {
                            throw refused("the model has more than ModelLimits.maxNodes (" + limits.maxNodes()
                                    + ") nodes and subgraphs");
                        }
                        enter(what, -1);
                        graphs.add(graph(stop, 0, false));
                        leave();
                    }
                    default -> skipField();
                }
            }
        }

        // ------------------------------------------------------------ GraphProto

        GraphInfo graph(int end, int depth, boolean structural) throws Problem {
            if (depth > MAX_GRAPH_DEPTH) {
                throw refused("graphs nested more than " + MAX_GRAPH_DEPTH + " deep inside node attributes");
            }
            if (depth > 0 && ++nodes > limits.maxNodes()) {
                throw refused(
                        "the model has more than ModelLimits.maxNodes (" + limits.maxNodes() + ") nodes and subgraphs");
            }
            GraphInfo g = new GraphInfo(structural, this);
            while (next(end)) {
                switch (field) {
                    case GraphProto.NODE -> {
                        int stop = message("GraphProto", "node");
                        enter("node", g.nodeCount());
                        node(stop, g, depth);
                        leave();
                    }
                    case GraphProto.NAME -> g.name = string("GraphProto", "name");
                    case GraphProto.INITIALIZER -> {
                        int stop = message("GraphProto", "initializer");
                        if (++initializerCount > limits.maxNodes()) {
                            throw refused("the model has more than ModelLimits.maxNodes (" + limits.maxNodes()
                                    + ") initializers");
                        }
                        enter("initializer", g.initializers.size());
                        TensorInfo t = tensor(stop);
                        leave();
                        g.addInitializer(t, this);
                    }
                    case GraphProto.INPUT, GraphProto.OUTPUT, GraphProto.VALUE_INFO -> {
                        int kind = field;
                        String what = kind == GraphProto.INPUT
                                ? "input"
                                : kind == GraphProto.OUTPUT ? "output" : "value_info";
                        int stop = message("GraphProto", what);
                        IntList list =
                                kind == GraphProto.INPUT ? g.inputs : kind == GraphProto.OUTPUT ? g.outputs : null;
                        if (list != null && ++graphValues > limits.maxNodes()) {
                            throw refused("the model has more than ModelLimits.maxNodes (" + limits.maxNodes()
                                    + ") graph inputs and outputs");
                        }
                        enter(what, list == null ? -1 : list.size());
                        capturedDims = null;
                        capturedType = 0;
                        capturedContainer = false;
                        int name = valueInfo(stop);
                        leave();
                        if (list != null) {
                            list.add(name);
                        }
                        if (kind == GraphProto.INPUT) {
                            // a sequence's element shape is not the shape of a tensor the size bounds follow
                            g.inputDims.add(capturedContainer ? null : capturedDims);
                            g.inputTypes.add((int) capturedType);
                        }
                    }
                    case GraphProto.SPARSE_INITIALIZER -> {
                        message("GraphProto", "sparse_initializer");
                        throw refused(
                                "sparse initializers are not supported (ONNX Runtime would expand them to dense tensors while"
                                        + " loading); store the initializer dense");
                    }
                    case GraphProto.DOC_STRING, GraphProto.QUANTIZATION_ANNOTATION, GraphProto.METADATA_PROPS ->
                        skipBytes("GraphProto", "field " + field);
                    default -> skipField();
                }
            }
            return g;
        }

        // ------------------------------------------------------------ NodeProto

        void node(int end, GraphInfo g, int depth) throws Problem {
            if (++nodes > limits.maxNodes()) {
                throw refused("the model has more than ModelLimits.maxNodes (" + limits.maxNodes() + ") nodes");
            }
            int index = g.nodeCount();
            int name = -1;
            int op = -1;
            int domain = -1;
            g.inStart.add(g.edges.size());
            IntList outs = null;
            NodeAttrs attrs = null;
            List<GraphInfo> subgraphs = null;
            int attributes = 0;
            while (next(end)) {
                switch (field) {
                    case NodeProto.INPUT -> {
                        countEdge();
                        g.edges.add(string("NodeProto", "input"));
                    }
                    case NodeProto.OUTPUT -> {
                        countEdge();
                        if (outs == null) {
                            outs = new IntList();
                        }
                        outs.add(string("NodeProto", "output"));
                    }
                    case NodeProto.NAME -> name = string("NodeProto", "name");
                    case NodeProto.OP_TYPE -> op = string("NodeProto", "op_type");
                    case NodeProto.DOMAIN -> domain = string("NodeProto", "domain");
                    case NodeProto.ATTRIBUTE -> {
                        int stop = message("NodeProto", "attribute");
                        enter("attribute", attributes++);
                        if (subgraphs == null) {
                            subgraphs = new ArrayList<>(0);
                        }
                        attrs = attribute(stop, attrs, depth, g.structural, subgraphs);
                        leave();
                    }
                    case NodeProto.DOC_STRING,
                            NodeProto.OVERLOAD,
                            NodeProto.METADATA_PROPS,
                            NodeProto.DEVICE_CONFIGURATIONS -> skipBytes("NodeProto", "field " + field);
                    default -> skipField();
                }
            }
            int inCount = g.edges.size() - g.inStart.get(index);
            g.inCount.add(inCount);
            int outCount = outs == null ? 0 : outs.size();
            for (int i = 0; i < outCount; i++) {
                g.edges.add(outs.get(i));
            }
            g.outCount.add(outCount);
            g.nodeName.add(name);
            g.nodeOp.add(op);
            g.nodeDomain.add(domain);
            if (op < 0 || isEmpty(op)) {
                throw malformed("node " + show(name) + " has no op_type");
            }
            if (attrs != null) {
                g.attrs.put(index, attrs);
            }
            if (subgraphs != null && !subgraphs.isEmpty()) {
                g.subgraphs.put(index, subgraphs);
            }
        }

        void countEdge() throws Problem {
            if (++edges > 16L * limits.maxNodes()) {
                throw refused("the model's nodes have more than 16 x ModelLimits.maxNodes (" + 16L * limits.maxNodes()
                        + ") inputs and outputs in total");
            }
        }

        // ------------------------------------------------------------ AttributeProto

        NodeAttrs attribute(int end, NodeAttrs attrs, int depth, boolean structural, List<GraphInfo> subgraphs)
                throws Problem {
            int name = -1;
            Attr a = new Attr();
            int listCount = 0;
            boolean hasGraph = false;
            while (next(end)) {
                switch (field) {
                    case AttributeProto.NAME -> name = string("AttributeProto", "name");
                    case AttributeProto.F -> {
                        a.f = float32("AttributeProto", "f");
                        a.hasF = true;
                    }
                    case AttributeProto.I -> {
                        a.i = uint64("AttributeProto", "i");
                        a.hasI = true;
                    }
                    case AttributeProto.S -> a.s = string("AttributeProto", "s");
                    case AttributeProto.T -> {
                        int stop = message("AttributeProto", "t");
                        if (a.t != null) {
                            throw malformed("attribute has two t fields");
                        }
                        enter("tensor", -1);
                        a.t = tensor(stop);
                        leave();
                    }
                    case AttributeProto.TENSORS -> {
                        int stop = message("AttributeProto", "tensors");
                        enter("tensors", -1);
                        tensor(stop);
                        leave();
                    }
                    case AttributeProto.G, AttributeProto.GRAPHS -> {
                        boolean single = field == AttributeProto.G;
                        int stop = message("AttributeProto", single ? "g" : "graphs");
                        if (single && hasGraph) {
                            // protobuf would merge the two into one graph that neither check below has seen
                            throw malformed("attribute has two g fields");
                        }
                        hasGraph |= single;
                        enter("subgraph", subgraphs.size());
                        subgraphs.add(graph(stop, depth + 1, structural));
                        leave();
                    }
                    case AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS -> {
                        message("AttributeProto", "sparse_tensor");
                        throw refused(
                                "sparse tensor attributes are not supported (ONNX Runtime would expand them to dense tensors);"
                                        + " store the constant dense");
                    }
                    case AttributeProto.FLOATS, AttributeProto.INTS -> {
                        // floats (fixed32) or ints (varint), packed or not; the first few are kept for size inference
                        a.listIsFloat = field == AttributeProto.FLOATS;
                        int fixed = a.listIsFloat ? 4 : 0;
                        int before = pos;
                        long n = countScalars(fixed);
                        if (!a.listOverflow && listCount + n <= SMALL_CONSTANT) {
                            a.list =
                                    a.list == null ? new double[(int) n] : Arrays.copyOf(a.list, (int) (listCount + n));
                            int after = pos;
                            pos = before;
                            listCount = decodeScalars(fixed, a.list, listCount);
                            pos = after;
                        } else {
                            a.listOverflow = true;
                            a.list = null;
                        }
                    }
                    case AttributeProto.STRINGS,
                            AttributeProto.DOC_STRING,
                            AttributeProto.TP,
                            AttributeProto.TYPE_PROTOS,
                            AttributeProto.REF_ATTR_NAME -> skipBytes("AttributeProto", "field " + field);
                    case AttributeProto.TYPE -> a.type = uint64("AttributeProto", "type");
                    default -> skipField();
                }
            }
            if (attrs == null) {
                attrs = new NodeAttrs();
            }
            if (attrs.first == null) {
                attrs.first = a;
            }
            if (name < 0) {
                return attrs;
            }
            for (String k : NodeAttrs.KEYS) {
                if (nameEquals(name, k)) {
                    attrs.map.put(k, a);
                    break;
                }
            }
            return attrs;
        }

        // ------------------------------------------------------------ TensorProto

        /** Checks a tensor: type, dims, limits, and that its data matches; decodes it when small. */
        TensorInfo tensor(int end) throws Problem {
            int start = pos;
            int name = -1;
            long dataType = DataType.UNDEFINED;
            int rank = 0;
            long count = 1;
            boolean overflow = false;
            double[] dims = new double[0];
            long rawLength = -1;
            long[] typed = typedCounts;
            Arrays.fill(typed, 0);
            long location = TensorProto.LOCATION_DEFAULT;
            int externalEntries = 0;
            int locationHandle = -1;
            String offsetText = null;
            String lengthText = null;
            while (next(end)) {
                switch (field) {
                    case TensorProto.DIMS -> {
                        // count first (checks the field), then decode this occurrence's dims one by one
                        int before = pos;
                        long n = countScalars(0);
                        if (rank + n > MAX_RANK) {
                            throw refused("tensor " + show(name) + " has more than " + MAX_RANK + " dimensions");
                        }
                        int after = pos;
                        pos = before;
                        int stop = wireType == LEN ? lengthEnd(end, field) : after;
                        while (pos < stop) {
                            long d = varint(stop);
                            rank++;
                            dims = Arrays.copyOf(dims, rank);
                            dims[rank - 1] = d;
                            if (d < 0) {
                                throw malformed("tensor " + show(name) + " has a negative dimension " + d);
                            }
                            if (!overflow && d != 0 && count > Long.MAX_VALUE / d) {
                                overflow = true;
                            }
                            count = overflow ? count : count * d;
                        }
                        pos = after;
                    }
                    case TensorProto.DATA_TYPE -> dataType = uint64("TensorProto", "data_type");
                    case TensorProto.SEGMENT -> {
                        message("TensorProto", "segment");
                        throw refused("tensor " + show(name) + " is segmented; segmented tensors are not supported");
                    }
                    case TensorProto.FLOAT_DATA -> typed[field] += countScalars(4);
                    case TensorProto.INT32_DATA, TensorProto.INT64_DATA, TensorProto.UINT64_DATA ->
                        typed[field] += countScalars(0);
                    case TensorProto.DOUBLE_DATA -> typed[field] += countScalars(8);
                    case TensorProto.STRING_DATA -> {
                        skipBytes("TensorProto", "string_data");
                        typed[TensorProto.STRING_DATA]++;
                    }
                    case TensorProto.NAME -> name = string("TensorProto", "name");
                    case TensorProto.RAW_DATA -> {
                        int stop = message("TensorProto", "raw_data");
                        rawLength = stop - pos; // the last occurrence wins, as in protobuf
                        pos = stop;
                    }
                    case TensorProto.EXTERNAL_DATA -> {
                        int stop = message("TensorProto", "external_data");
                        externalEntries++;
                        int key = -1;
                        int value = -1;
                        while (next(stop)) {
                            switch (field) {
                                case StringStringEntryProto.KEY -> key = string("StringStringEntryProto", "key");
                                case StringStringEntryProto.VALUE -> value = string("StringStringEntryProto", "value");
                                default -> skipField();
                            }
                        }
                        if (key >= 0 && nameEquals(key, "location")) {
                            locationHandle = value;
                        } else if (key >= 0 && nameEquals(key, "offset")) {
                            offsetText = value < 0 || nameLength(value) > 32 ? "?" : text(value);
                        } else if (key >= 0 && nameEquals(key, "length")) {
                            lengthText = value < 0 || nameLength(value) > 32 ? "?" : text(value);
                        }
                    }
                    case TensorProto.DATA_LOCATION -> location = uint64("TensorProto", "data_location");
                    case TensorProto.DOC_STRING, TensorProto.METADATA_PROPS ->
                        skipBytes("TensorProto", "field " + field);
                    default -> skipField();
                }
            }
            String what = "tensor " + show(name);
            if (!DataType.known(dataType)) {
                throw malformed(what + " has "
                        + (dataType == DataType.UNDEFINED ? "no data_type" : "unknown data_type " + dataType));
            }
            int type = (int) dataType;
            if (overflow) {
                throw refused(what + " declares an element count that overflows 64 bits");
            }
            long bytes = DataType.bytesFor(count, type);
            if (bytes < 0 || bytes > limits.maxTensorBytes()) {
                throw refused(what + " declares " + count + " elements of " + DataType.name(type) + " ("
                        + (bytes < 0 ? "more than 2^63" : bytes) + " bytes), more than ModelLimits.maxTensorBytes ("
                        + limits.maxTensorBytes() + ")");
            }
            long typedTotal = 0;
            for (long t : typed) {
                typedTotal += t;
            }
            if (location != TensorProto.LOCATION_DEFAULT && location != TensorProto.LOCATION_EXTERNAL) {
                throw malformed(what + " has data_location " + location + "; expected 0 (DEFAULT) or 1 (EXTERNAL)");
            }
            if (location == TensorProto.LOCATION_EXTERNAL) {
                if (rawLength >= 0 || typedTotal > 0) {
                    throw malformed(what + " has both external data and data of its own");
                }
                if (type == DataType.STRING) {
                    throw malformed(what + " is a string tensor with external data");
                }
                externalData(what, locationHandle, offsetText, lengthText, bytes);
                externalTensors++;
            } else {
                if (externalEntries > 0) {
                    throw malformed(what + " has external_data entries but data_location is not EXTERNAL");
                }
                if (rawLength >= 0 && typedTotal > 0) {
                    throw malformed(what + " has both raw_data and typed values");
                }
                if (rawLength >= 0) {
                    if (type == DataType.STRING) {
                        throw malformed(what + " is a string tensor with raw_data; strings go in string_data");
                    }
                    if (rawLength != bytes) {
                        throw malformed(what + " has " + rawLength + " bytes of raw_data but its shape holds " + count
                                + " elements of " + DataType.name(type) + " = " + bytes + " bytes");
                    }
                } else if (typedTotal > 0 || count > 0) {
                    long have = typed[DataType.typedField(type)];
                    long want = DataType.typedValuesFor(count, type);
                    if (typedTotal != have) {
                        throw malformed(what + " of type " + DataType.name(type)
                                + " keeps its values in the wrong typed field");
                    }
                    if (have != want) {
                        throw malformed(what + " holds " + have + " values but its shape needs " + want + " (" + count
                                + " elements of " + DataType.name(type) + ")");
                    }
                }
            }
            if (initializerBytes > limits.maxTotalInitializerBytes() - bytes) {
                throw refused("initializers and constants add up to more than ModelLimits.maxTotalInitializerBytes ("
                        + limits.maxTotalInitializerBytes() + " bytes) at " + what);
            }
            initializerBytes += bytes;
            TensorInfo info = new TensorInfo(name, type, count, dims);
            if (count <= SMALL_CONSTANT
                    && type != DataType.STRING
                    && location != TensorProto.LOCATION_EXTERNAL
                    && DataType.bits(type) >= 8) {
                info.values = decodeSmall(start, end, type, (int) count, rawLength >= 0);
            }
            return info;
        }

        /** Decodes a small numeric tensor's values (second pass over its message). */
        double[] decodeSmall(int start, int end, int type, int count, boolean raw) throws Problem {
            boolean supported = switch (type) {
                case DataType.FLOAT,
                        DataType.DOUBLE,
                        DataType.INT32,
                        DataType.INT64,
                        DataType.UINT8,
                        DataType.INT8,
                        DataType.UINT16,
                        DataType.INT16,
                        DataType.BOOL,
                        DataType.UINT32,
                        DataType.UINT64 -> true;
                default -> false;
            };
            if (!supported) {
                return null;
            }
            int save = pos;
            pos = start;
            double[] out = new double[count];
            int n = 0;
            boolean floatRaw = type == DataType.FLOAT || type == DataType.DOUBLE;
            int width = DataType.bits(type) / 8;
            int typedField = DataType.typedField(type);
            while (next(end)) {
                if (raw && field == TensorProto.RAW_DATA) {
                    int stop = message("TensorProto", "raw_data");
                    for (int i = 0; i < count; i++) {
                        int p = pos + i * width;
                        if (floatRaw) {
                            out[i] = width == 4 ? Float.intBitsToFloat(le32(p)) : Double.longBitsToDouble(le64(p));
                        } else if (width == 8) {
                            out[i] = le64(p);
                        } else if (width == 4) {
                            out[i] = type == DataType.UINT32 ? le32(p) & 0xffffffffL : le32(p);
                        } else if (width == 2) {
                            int v = (b[p] & 0xff) | (b[p + 1] & 0xff) << 8;
                            out[i] = type == DataType.INT16 ? (short) v : v;
                        } else {
                            out[i] = type == DataType.INT8 ? b[p] : b[p] & 0xff;
                        }
                    }
                    pos = stop;
                } else if (!raw && field == typedField) {
                    int fixed = field == TensorProto.FLOAT_DATA ? 4 : field == TensorProto.DOUBLE_DATA ? 8 : 0;
                    n = decodeScalars(fixed, out, n);
                } else {
                    skipField();
                }
            }
            pos = save;
            return out;
        }

        // ------------------------------------------------------------ external data

        void externalData(String what, int locationHandle, String offsetText, String lengthText, long bytes)
                throws Problem {
            if (locationHandle < 0 || isEmpty(locationHandle)) {
                throw malformed(what + " has external data without a location");
            }
            if (nameLength(locationHandle) > MAX_LOCATION_BYTES) {
                throw refused(what + " has an external data location longer than " + MAX_LOCATION_BYTES + " bytes");
            }
            String location = text(locationHandle);
            String shown = show(locationHandle);
            if (location.contains(ORT_MEMORY_ADDRESS)) {
                throw refused(
                        what + " points at external data " + shown + ", ONNX Runtime's form for raw memory addresses");
            }
            if (modelDir == null) {
                throw refused(what + " keeps its data in the external file " + shown
                        + "; external data is only read for models"
                        + " loaded from a file (Model.load(Path)), from that file's directory");
            }
            if (location.indexOf('\0') >= 0) {
                throw refused(what + " has an external data location with a NUL character");
            }
            boolean absolute =
                    location.startsWith("/") || location.startsWith("\\") || location.matches("^[A-Za-z]:.*");
            boolean parent = false;
            for (String part : location.split("[/\\\\]")) {
                if (part.equals("..")) {
                    parent = true;
                }
            }
            if (absolute || parent) {
                throw refused(what + " points at external data " + shown + " outside the model's directory ("
                        + (absolute ? "an absolute path" : "'..' in the path") + "); only files inside " + modelDir
                        + " are read");
            }
            long offset = parseDecimal(offsetText, what, "offset");
            long length = parseDecimal(lengthText, what, "length");
            Path base;
            try {
                if (realModelDir == null) {
                    realModelDir = modelDir.toAbsolutePath().toRealPath();
                }
                base = realModelDir;
            } catch (IOException | RuntimeException e) {
                throw refused(what + " has external data but the model's directory " + modelDir
                        + " cannot be resolved (" + e + ")");
            }
            Path file;
            try {
                file = base.resolve(location);
            } catch (InvalidPathException e) {
                throw refused(what + " has an invalid external data location " + shown);
            }
            if (!file.normalize().startsWith(base)) {
                throw refused(what + " points at external data " + shown + " outside the model's directory");
            }
            Path real;
            try {
                real = file.toRealPath();
            } catch (IOException e) {
                throw refused(what + " points at external data " + shown + ", which does not exist in " + base);
            }
            if (!real.startsWith(base)) {
                throw refused(
                        what + " points at external data " + shown + ", which resolves through a symbolic link to "
                                + real + " outside the model's directory " + base);
            }
            long size;
            try {
                if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
                    throw refused(what + " points at external data " + shown + ", which is not a regular file");
                }
                size = Files.size(real);
            } catch (IOException e) {
                throw refused(what + " points at external data " + shown + ", which cannot be examined (" + e + ")");
            }
            if (length >= 0 && length != bytes) {
                throw malformed(
                        what + " says its external data is " + length + " bytes long but its shape needs " + bytes);
            }
            if (offset > size || size - Math.max(offset, 0) < bytes) {
                throw malformed(what + " needs " + bytes + " bytes at offset " + Math.max(offset, 0)
                        + " of external data " + shown + ", which has " + size + " bytes");
            }
        }

        long parseDecimal(String text, String what, String key) throws Problem {
            if (text == null) {
                return key.equals("offset") ? 0 : -1;
            }
            if (!text.matches("[0-9]{1,18}")) {
                throw malformed(what + " has external data " + key + " '" + text + "', not a non-negative number");
            }
            return Long.parseLong(text);
        }

        // ------------------------------------------------------------ ValueInfoProto and TypeProto

        /** Checks a ValueInfoProto and returns its name handle. */
        int valueInfo(int end) throws Problem {
            int name = -1;
            boolean typed = false;
            while (next(end)) {
                switch (field) {
                    case ValueInfoProto.NAME -> name = string("ValueInfoProto", "name");
                    case ValueInfoProto.TYPE -> {
                        int stop = message("ValueInfoProto", "type");
                        if (typed) {
                            throw malformed("value " + show(name) + " has two type fields");
                        }
                        typed = true;
                        type(stop, 0, name);
                    }
                    case ValueInfoProto.DOC_STRING, ValueInfoProto.METADATA_PROPS ->
                        skipBytes("ValueInfoProto", "field " + field);
                    default -> skipField();
                }
            }
            return name;
        }

        void type(int end, int depth, int name) throws Problem {
            if (depth > MAX_TYPE_DEPTH) {
                throw refused("the type of value " + show(name) + " is nested more than " + MAX_TYPE_DEPTH + " deep");
            }
            int kinds = 0;
            while (next(end)) {
                switch (field) {
                    case TypeProto.TENSOR_TYPE, TypeProto.SPARSE_TENSOR_TYPE -> {
                        int stop = message(
                                "TypeProto", field == TypeProto.TENSOR_TYPE ? "tensor_type" : "sparse_tensor_type");
                        kinds++;
                        capturedContainer |= field == TypeProto.SPARSE_TENSOR_TYPE;
                        tensorType(stop, name);
                    }
                    case TypeProto.SEQUENCE_TYPE, TypeProto.OPTIONAL_TYPE, TypeProto.MAP_TYPE -> {
                        // Sequence and Optional hold their element type in field 1, Map its value type in field 2
                        int inner =
                                field == TypeProto.MAP_TYPE ? TypeProto.Map.VALUE_TYPE : TypeProto.Sequence.ELEM_TYPE;
                        int stop = message(
                                "TypeProto",
                                field == TypeProto.SEQUENCE_TYPE
                                        ? "sequence_type"
                                        : field == TypeProto.OPTIONAL_TYPE ? "optional_type" : "map_type");
                        kinds++;
                        capturedContainer = true;
                        while (next(stop)) {
                            if (field == inner) {
                                int s2 = message(
                                        "TypeProto", inner == TypeProto.Map.VALUE_TYPE ? "value_type" : "elem_type");
                                type(s2, depth + 1, name);
                            } else {
                                skipField();
                            }
                        }
                    }
                    default -> skipField();
                }
            }
            if (kinds > 1) {
                throw malformed("value " + show(name) + " has more than one type");
            }
        }

        void tensorType(int end, int name) throws Problem {
            boolean shaped = false;
            while (next(end)) {
                switch (field) {
                    case TypeProto.Tensor.ELEM_TYPE -> capturedType = uint64("TypeProto.Tensor", "elem_type");
                    case TypeProto.Tensor.SHAPE -> {
                        int stop = message("TypeProto.Tensor", "shape");
                        if (shaped) {
                            // protobuf would merge them, appending the second shape's dims to the first's
                            throw malformed("value " + show(name) + " has two shape fields");
                        }
                        shaped = true;
                        capturedDims = shape(stop, name);
                    }
                    default -> skipField();
                }
            }
        }

        /** A TensorShapeProto's dims: the value of each, or -1 when symbolic or unknown. */
        double[] shape(int end, int name) throws Problem {
            int rank = 0;
            double[] dims = new double[0];
            while (next(end)) {
                if (field != TensorShapeProto.DIM) {
                    skipField();
                    continue;
                }
                int stop = message("TensorShapeProto", "dim");
                if (++rank > MAX_RANK) {
                    throw refused("value " + show(name) + " has more than " + MAX_RANK + " dimensions");
                }
                double dim = -1;
                while (next(stop)) {
                    if (field == TensorShapeProto.Dimension.DIM_VALUE) {
                        long d = uint64("Dimension", "dim_value");
                        if (d < 0) {
                            throw malformed("value " + show(name) + " declares dimension " + d
                                    + "; dimensions must be >= 0 or symbolic");
                        }
                        dim = d;
                    } else {
                        skipField();
                    }
                }
                dims = Arrays.copyOf(dims, rank);
                dims[rank - 1] = dim;
            }
            return dims;
        }

        // ------------------------------------------------------------ FunctionProto

        GraphInfo function(int end) throws Problem {
            // each function kept counts like a subgraph, so that empty ones cannot pile up unbounded
            if (++nodes > limits.maxNodes()) {
                throw refused("the model has more than ModelLimits.maxNodes (" + limits.maxNodes()
                        + ") nodes, subgraphs and functions");
            }
            GraphInfo f = new GraphInfo(true, this);
            f.isFunction = true;
            while (next(end)) {
                switch (field) {
                    case FunctionProto.NAME -> f.name = string("FunctionProto", "name");
                    case FunctionProto.DOMAIN -> f.domain = string("FunctionProto", "domain");
                    case FunctionProto.INPUT, FunctionProto.OUTPUT -> {
                        if (++graphValues > limits.maxNodes()) {
                            throw refused("the model has more than ModelLimits.maxNodes (" + limits.maxNodes()
                                    + ") graph inputs and outputs");
                        }
                        boolean input = field == FunctionProto.INPUT;
                        (input ? f.inputs : f.outputs).add(string("FunctionProto", input ? "input" : "output"));
                    }
                    case FunctionProto.NODE -> {
                        int stop = message("FunctionProto", "node");
                        enter("node", f.nodeCount());
                        node(stop, f, 0);
                        leave();
                    }
                    case FunctionProto.ATTRIBUTE_PROTO -> {
                        int stop = message("FunctionProto", "attribute_proto");
                        enter("attribute_proto", -1);
                        attribute(stop, null, 0, false, new ArrayList<>());
                        leave();
                    }
                    case FunctionProto.VALUE_INFO -> valueInfo(message("FunctionProto", "value_info"));
                    case FunctionProto.OPSET_IMPORT -> {
                        int stop = message("FunctionProto", "opset_import");
                        if (f.localOpsets == null) {
                            f.localOpsets = new HashMap<>();
                        }
                        if (f.localOpsets.size() >= MAX_OPSET_IMPORTS) {
                            throw refused("more than " + MAX_OPSET_IMPORTS + " opset imports in a function");
                        }
                        opsetImport(stop, f.localOpsets);
                    }
                    case FunctionProto.ATTRIBUTE,
                            FunctionProto.DOC_STRING,
                            FunctionProto.OVERLOAD,
                            FunctionProto.METADATA_PROPS -> skipBytes("FunctionProto", "field " + field);
                    default -> skipField();
                }
            }
            return f;
        }

        // ------------------------------------------------------------ names for messages

        static String domainKey(String domain) {
            return domain.equals("ai.onnx") ? "" : domain;
        }

        String label(GraphInfo g, int k) {
            int name = g.nodeName.get(k);
            String op = g.nodeOp.get(k) < 0 ? "?" : text(g.nodeOp.get(k));
            if (op.length() > 40) {
                op = op.substring(0, 40) + "...";
            }
            return (name < 0 || isEmpty(name) ? "#" + k : show(name)) + " (" + op.replaceAll("[\\p{Cntrl}]", "?") + ")";
        }
    }

    // ============================================================== small structures

    /** A tensor's name, type, element count and, when small, its values. */
    static final class TensorInfo {
        final int name;
        final int dataType;
        final long count;
        final double[] dims;
        double[] values;

        TensorInfo(int name, int dataType, long count, double[] dims) {
            this.name = name;
            this.dataType = dataType;
            this.count = count;
            this.dims = dims;
        }
    }

    /** One captured attribute: its scalar, its first few list values, its string and its tensor. */
    static final class Attr {
        long type;
        boolean hasI;
        long i;
        boolean hasF;
        double f;
        double[] list;
        boolean listIsFloat;
        boolean listOverflow;
        int s = -1;
        TensorInfo t;
    }

    /** The node attributes the size inference reads, by name. */
    static final class NodeAttrs {
        static final String[] KEYS = {
            "value",
            "value_int",
            "value_ints",
            "value_float",
            "value_floats",
            "shape",
            "dtype",
            "kernel_shape",
            "pads",
            "strides",
            "dilations",
            "auto_pad",
            "ceil_mode",
            "group",
            "output_padding",
            "output_shape",
            "axis",
            "axes",
            "perm",
            "keepdims",
            "transA",
            "transB",
            "to",
            "scales",
            "noop_with_empty_axes",
            "allowzero"
        };
        final Map<String, Attr> map = new HashMap<>(4);
        /** The node's first attribute whatever its name: ONNX Runtime takes a Constant's value from it. */
        Attr first;
    }

    /** A graph or function body, with names kept as handles (offsets of their length prefix). */
    static final class GraphInfo {
        final boolean structural;
        boolean isFunction;
        int name = -1;
        int domain = -1;
        final IntList inputs = new IntList();
        /** Declared dims of each graph input (-1 symbolic), or null when it declares no shape. */
        final List<double[]> inputDims = new ArrayList<>(0);

        final IntList inputTypes = new IntList();
        final IntList outputs = new IntList();
        final IntList initializers = new IntList();
        final List<TensorInfo> initializerInfo = new ArrayList<>();
        final NameTable initializerNames;
        /** A function's own opset imports. */
        Map<String, Long> localOpsets;

        final IntList edges = new IntList();
        final IntList inStart = new IntList();
        final IntList inCount = new IntList();
        final IntList outCount = new IntList();
        final IntList nodeName = new IntList();
        final IntList nodeOp = new IntList();
        final IntList nodeDomain = new IntList();
        final Map<Integer, NodeAttrs> attrs = new HashMap<>();
        final Map<Integer, List<GraphInfo>> subgraphs = new HashMap<>();

        GraphInfo(boolean structural, Walk w) {
            this.structural = structural;
            this.initializerNames = new NameTable(w);
        }

        int nodeCount() {
            return nodeOp.size();
        }

        void addInitializer(TensorInfo t, Walk w) throws Problem {
            if (t.name >= 0 && !w.isEmpty(t.name)) {
                if (initializerNames.index(t.name) >= 0) {
                    throw w.malformed("initializer " + w.show(t.name) + " is defined twice");
                }
                initializerNames.add(t.name);
            }
            initializers.add(t.name);
            initializerInfo.add(t);
        }
    }

    /** The names visible from a subgraph: its enclosing graphs' inputs, initializers and node outputs. */
    static final class Scope {
        final NameTable defined;
        final NameTable produced;
        final Scope outer;

        Scope(NameTable defined, NameTable produced, Scope outer) {
            this.defined = defined;
            this.produced = produced;
            this.outer = outer;
        }

        boolean contains(int handle) {
            for (Scope s = this; s != null; s = s.outer) {
                if (s.defined.index(handle) >= 0 || s.produced.index(handle) >= 0) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A growable int array. */
    static final class IntList {
        private static final int[] EMPTY = {};
        private int[] a = EMPTY;
        private int n;

        void add(int v) {
            if (n == a.length) {
                a = Arrays.copyOf(a, Math.max(4, n * 2));
            }
            a[n++] = v;
        }

        int get(int i) {
            return a[i];
        }

        void set(int i, int v) {
            a[i] = v;
        }

        int size() {
            return n;
        }
    }

    /**
     * A hash set of names, insertion-ordered and indexed, keyed by the bytes a handle points at; it
     * holds handles only (4 bytes each) and compares names byte by byte, so collisions are harmless.
     */
    static final class NameTable {
        private static final long MERSENNE_61 = (1L << 61) - 1;
        /**
         * Drawn per process so that no one can choose names that collide; not final only so that the fuzz
         * test (this package) can draw it from its seed, which makes its probe loops, and so its coverage
         * and its inputs, repeat when a seed is replayed.
         */
        static long HASH_BASE = 256 + Math.floorMod(new java.security.SecureRandom().nextLong(), MERSENNE_61 - 512);

        private final Walk w;
        private int[] slots = IntList.EMPTY;
        private final IntList handles = new IntList();

        NameTable(Walk w) {
            this.w = w;
        }

        int size() {
            return handles.size();
        }

        int handle(int i) {
            return handles.get(i);
        }

        /**
         * A polynomial hash modulo the prime 2^61 - 1 with a random base chosen once per JVM, so that a
         * hostile model cannot be built to make every name collide (which would make lookups quadratic).
         */
        private int hash(int handle) {
            int s = w.nameStart(handle);
            int len = w.nameLength(handle);
            long h = 0;
            for (int i = 0; i < len; i++) {
                h = mulMod(h, HASH_BASE) + (w.b[s + i] & 0xff) + 1;
                if (h >= MERSENNE_61) {
                    h -= MERSENNE_61;
                }
            }
            h ^= h >>> 29;
            return (int) (h ^ (h >>> 32));
        }

        private static long mulMod(long a, long b) {
            long hi = Math.multiplyHigh(a, b);
            long lo = a * b;
            // a * b = hi * 2^64 + lo; 2^61 = 1 (mod p), so fold the bits above 61
            long folded = (lo & MERSENNE_61) + ((lo >>> 61) | (hi << 3));
            folded = (folded & MERSENNE_61) + (folded >>> 61);
            return folded >= MERSENNE_61 ? folded - MERSENNE_61 : folded;
        }

        private boolean same(int h1, int h2) {
            int l1 = w.nameLength(h1);
            if (l1 != w.nameLength(h2)) {
                return false;
            }
            return Arrays.equals(
                    w.b, w.nameStart(h1), w.nameStart(h1) + l1, w.b, w.nameStart(h2), w.nameStart(h2) + l1);
        }

        /** The index of the name, or -1. */
        int index(int handle) {
            if (slots.length == 0) {
                return -1;
            }
            int mask = slots.length - 1;
            w.nameLookups++;
            for (int i = hash(handle) & mask; ; i = (i + 1) & mask) {
                w.nameProbes++;
                int s = slots[i];
                if (s == 0) {
                    return -1;
                }
                if (same(handles.get(s - 1), handle)) {
                    return s - 1;
                }
            }
        }

        /** Adds the name if absent; returns its index. */
        int add(int handle) {
            int found = index(handle);
            if (found >= 0) {
                return found;
            }
            if (2 * (handles.size() + 1) > slots.length) {
                int[] old = slots;
                slots = new int[Math.max(8, old.length * 2)];
                for (int s : old) {
                    if (s != 0) {
                        place(s);
                    }
                }
            }
            handles.add(handle);
            place(handles.size());
            return handles.size() - 1;
        }

        private void place(int slotValue) {
            int mask = slots.length - 1;
            int i = hash(handles.get(slotValue - 1)) & mask;
            w.nameLookups++;
            w.nameProbes++;
            while (slots[i] != 0) {
                i = (i + 1) & mask;
                w.nameProbes++;
            }
            slots[i] = slotValue;
        }
    }
}
