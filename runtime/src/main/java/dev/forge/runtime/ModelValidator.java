package dev.forge.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
import java.util.Locale;
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
 */
public final class ModelValidator {
    /** The oldest IR version accepted (the first with opset imports). */
    public static final long MIN_IR_VERSION = 3;
    /** The newest IR version accepted (ONNX Runtime 1.29 supports up to 13). */
    public static final long MAX_IR_VERSION = 13;
    /**
     * The oldest {@code ai.onnx} opset accepted: 1, since ONNX Runtime 1.29 loads and runs opset-1 and
     * opset-6 models (the ONNX node suite's Elu, Not, Softplus, ... cases; docs/CONFORMANCE.md).
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

        Summary(long irVersion, Map<String, Long> opsets, int nodes, long initializerBytes, int externalTensors) {
            this.irVersion = irVersion;
            this.opsets = opsets;
            this.nodes = nodes;
            this.initializerBytes = initializerBytes;
            this.externalTensors = externalTensors;
        }
    }

    /** A reason to refuse; the message already says which kind (malformed, unsupported, refused). */
    private static final class Problem extends Exception {
        private static final long serialVersionUID = 1L;

        Problem(String message) {
            super(message, null, false, false);
        }
    }

    // ============================================================== element types

    /** Bits per element by ONNX data type (index), 0 = unknown; STRING (8) has no fixed size. */
    private static final int[] BITS = {
        0, 32, 8, 8, 16, 16, 32, 64, 0, 8, 16, 64, 32, 64, 64, 128, 16, 8, 8, 8, 8, 4, 4, 4, 8, 2, 2
    };

    private static final int STRING = 8;
    private static final String[] TYPE_NAMES = {
        "undefined",
        "float",
        "uint8",
        "int8",
        "uint16",
        "int16",
        "int32",
        "int64",
        "string",
        "bool",
        "float16",
        "double",
        "uint32",
        "uint64",
        "complex64",
        "complex128",
        "bfloat16",
        "float8e4m3fn",
        "float8e4m3fnuz",
        "float8e5m2",
        "float8e5m2fnuz",
        "uint4",
        "int4",
        "float4e2m1",
        "float8e8m0",
        "uint2",
        "int2"
    };

    private static boolean knownType(long t) {
        return t == STRING || (t > 0 && t < BITS.length && BITS[(int) t] > 0);
    }

    private static String typeName(long t) {
        return t >= 0 && t < TYPE_NAMES.length ? TYPE_NAMES[(int) t] : "type " + t;
    }

    /** Bytes for {@code count} elements (sub-byte types are packed), or -1 on overflow. */
    private static long bytesFor(long count, int type) {
        int bits = type == STRING ? 8 : BITS[type];
        if (count > Long.MAX_VALUE / bits) {
            return -1;
        }
        return (count * bits + 7) / 8;
    }

    /** The typed field that holds values of this type: 4 float, 5 int32, 6 string, 7 int64, 10 double, 11 uint64. */
    private static int typedField(int type) {
        switch (type) {
            case 1:
            case 14:
                return 4;
            case 7:
                return 7;
            case 8:
                return 6;
            case 11:
            case 15:
                return 10;
            case 12:
            case 13:
                return 11;
            default:
                return 5;
        }
    }

    /** How many typed values hold {@code count} elements (complex types take two; sub-byte types pack). */
    private static long typedValuesFor(long count, int type) {
        if (type == 14 || type == 15) {
            return count > Long.MAX_VALUE / 2 ? -1 : 2 * count;
        }
        if (BITS[type] < 8 && type != STRING) {
            return bytesFor(count, type);
        }
        return count;
    }

    // ============================================================== the walk

    /** One validation: the bytes, the position, the counts, and where in the model we are. */
    private static final class Walk {
        final byte[] b;
        final Path modelDir;
        final ModelLimits limits;
        int pos;
        int nodes;
        /** What the validator keeps per model, each bounded by maxNodes (see {@link ModelLimits#maxNodes()}). */
        long initializerCount;

        long graphValues;
        long edges;
        /** The dims (-1 symbolic) and element type of the last tensor type read, for graph inputs. */
        double[] capturedDims;

        long capturedType;
        long initializerBytes;
        int externalTensors;
        Path realModelDir;
        /** Where we are, for messages: labels and indexes, innermost last. */
        final String[] whereLabel = new String[512];

        final int[] whereIndex = new int[512];
        int whereDepth;

        Walk(byte[] b, Path modelDir, ModelLimits limits) {
            this.b = b;
            this.modelDir = modelDir;
            this.limits = limits;
        }

        // ------------------------------------------------------------ wire format

        Problem malformed(String what) {
            return new Problem("not a valid ONNX model: " + what + where());
        }

        Problem refused(String what) {
            return new Problem("refused: " + what + where());
        }

        String where() {
            if (whereDepth == 0) {
                return "";
            }
            StringBuilder sb = new StringBuilder(" (in ");
            for (int i = 0; i < whereDepth; i++) {
                if (i > 0) {
                    sb.append(" > ");
                }
                sb.append(whereLabel[i]);
                if (whereIndex[i] >= 0) {
                    sb.append(" #").append(whereIndex[i]);
                }
            }
            return sb.append(')').toString();
        }

        void enter(String label, int index) throws Problem {
            if (whereDepth == whereLabel.length) {
                throw malformed("messages nested more than " + whereLabel.length + " deep");
            }
            whereLabel[whereDepth] = label;
            whereIndex[whereDepth] = index;
            whereDepth++;
        }

        void leave() {
            whereDepth--;
        }

        long varint(int end) throws Problem {
            long value = 0;
            for (int i = 0; i < 10; i++) {
                if (pos >= end) {
                    throw malformed("truncated: a number runs past the end of its message at byte " + pos);
                }
                int x = b[pos++] & 0xff;
                value |= (long) (x & 0x7f) << (7 * i);
                if ((x & 0x80) == 0) {
                    return value;
                }
            }
            throw malformed("corrupt: a number longer than 10 bytes at byte " + (pos - 10));
        }

        /** Reads a tag; returns field number << 3 | wire type. */
        long tag(int end) throws Problem {
            int at = pos;
            long tag = varint(end);
            long field = tag >>> 3;
            if (field == 0 || field > 536_870_911L) {
                throw malformed("corrupt: invalid field number " + field + " at byte " + at);
            }
            return tag;
        }

        /** Reads the length of a length-delimited field and returns the end of its payload. */
        int lengthEnd(int end, long field) throws Problem {
            int at = pos;
            long n = varint(end);
            if (n < 0 || n > end - pos) {
                throw malformed("truncated: field " + field + " at byte " + at + " declares "
                        + (n < 0 ? "a negative length" : n + " bytes") + " but only " + (end - pos)
                        + " remain in its message");
            }
            return pos + (int) n;
        }

        void expect(int wireType, int wanted, long field, String message, String name) throws Problem {
            if (wireType != wanted) {
                throw malformed("corrupt: " + message + " field " + field + " (" + name + ") has wire type " + wireType
                        + ", expected " + wanted);
            }
        }

        void skip(int wireType, int end, long field) throws Problem {
            switch (wireType) {
                case 0:
                    varint(end);
                    break;
                case 1:
                    need(8, end, field);
                    break;
                case 2:
                    pos = lengthEnd(end, field);
                    break;
                case 5:
                    need(4, end, field);
                    break;
                default:
                    throw malformed("corrupt: wire type " + wireType + " of field " + field + " at byte " + pos
                            + " is not used by ONNX");
            }
        }

        void need(int n, int end, long field) throws Problem {
            if (end - pos < n) {
                throw malformed("truncated: field " + field + " needs " + n + " bytes at byte " + pos + " but only "
                        + (end - pos) + " remain");
            }
            pos += n;
        }

        /** A string field: checks it and returns the offset of its length prefix (a name handle). */
        int string(int wireType, int end, long field, String message, String name) throws Problem {
            expect(wireType, 2, field, message, name);
            int handle = pos;
            pos = lengthEnd(end, field);
            return handle;
        }

        /** Counts the values of a repeated scalar field, packed (wire type 2) or not. */
        long countScalars(int wireType, int end, long field, int fixedBytes) throws Problem {
            if (wireType == 2) {
                int stop = lengthEnd(end, field);
                int len = stop - pos;
                if (fixedBytes > 0) {
                    if (len % fixedBytes != 0) {
                        throw malformed("corrupt: packed field " + field + " has " + len + " bytes, not a multiple of "
                                + fixedBytes);
                    }
                    pos = stop;
                    return len / fixedBytes;
                }
                long count = 0;
                for (int i = pos; i < stop; i++) {
                    if ((b[i] & 0x80) == 0) {
                        count++;
                    }
                }
                if (len > 0 && (b[stop - 1] & 0x80) != 0) {
                    throw malformed("truncated: packed field " + field + " ends inside a number");
                }
                pos = stop;
                return count;
            }
            int wanted = fixedBytes == 4 ? 5 : fixedBytes == 8 ? 1 : 0;
            if (wireType != wanted) {
                throw malformed("corrupt: repeated field " + field + " has wire type " + wireType + ", expected "
                        + wanted + " or 2");
            }
            skip(wireType, end, field);
            return 1;
        }

        // ------------------------------------------------------------ names (offsets into the bytes)

        int nameStart(int handle) {
            int p = handle;
            while ((b[p] & 0x80) != 0) {
                p++;
            }
            return p + 1;
        }

        int nameLength(int handle) {
            long value = 0;
            int p = handle;
            for (int i = 0; i < 10; i++) {
                int x = b[p++] & 0xff;
                value |= (long) (x & 0x7f) << (7 * i);
                if ((x & 0x80) == 0) {
                    break;
                }
            }
            return (int) value;
        }

        boolean isEmpty(int handle) {
            return handle < 0 || b[handle] == 0;
        }

        String text(int handle) {
            if (handle < 0) {
                return "";
            }
            return new String(b, nameStart(handle), nameLength(handle), StandardCharsets.UTF_8);
        }

        /** A name for messages: quoted, control characters escaped, at most 80 characters. */
        String show(int handle) {
            if (handle < 0) {
                return "''";
            }
            int len = nameLength(handle);
            String s = new String(b, nameStart(handle), Math.min(len, 240), StandardCharsets.UTF_8);
            StringBuilder sb = new StringBuilder("'");
            for (int i = 0; i < s.length() && sb.length() < 81; i++) {
                char c = s.charAt(i);
                sb.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
            }
            if (sb.length() >= 81 || len > 240) {
                sb.append("...");
            }
            return sb.append('\'').toString();
        }

        boolean nameEquals(int handle, String ascii) {
            int len = nameLength(handle);
            if (len != ascii.length()) {
                return false;
            }
            int s = nameStart(handle);
            for (int i = 0; i < len; i++) {
                if (b[s + i] != (byte) ascii.charAt(i)) {
                    return false;
                }
            }
            return true;
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
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                switch ((int) field) {
                    case 1:
                        expect(wt, 0, field, "ModelProto", "ir_version");
                        ir = varint(end);
                        break;
                    case 7: {
                        expect(wt, 2, field, "ModelProto", "graph");
                        if (graph != null) {
                            throw malformed("the model has two graph fields");
                        }
                        int stop = lengthEnd(end, field);
                        enter("graph", -1);
                        graph = graph(stop, 0, true);
                        leave();
                        break;
                    }
                    case 8: {
                        expect(wt, 2, field, "ModelProto", "opset_import");
                        if (++imports > MAX_OPSET_IMPORTS) {
                            throw refused("more than " + MAX_OPSET_IMPORTS + " opset imports");
                        }
                        int stop = lengthEnd(end, field);
                        enter("opset_import", imports - 1);
                        opsetImport(stop, opsets);
                        leave();
                        break;
                    }
                    case 20: {
                        expect(wt, 2, field, "ModelProto", "training_info");
                        int stop = lengthEnd(end, field);
                        enter("training_info", trainingGraphs.size());
                        trainingInfo(stop, trainingGraphs);
                        leave();
                        break;
                    }
                    case 25: {
                        expect(wt, 2, field, "ModelProto", "functions");
                        int stop = lengthEnd(end, field);
                        enter("function", functions.size());
                        functions.add(function(stop));
                        leave();
                        break;
                    }
                    case 2:
                    case 3:
                    case 4:
                    case 6:
                    case 14:
                    case 26:
                        expect(wt, 2, field, "ModelProto", "field " + field);
                        pos = lengthEnd(end, field);
                        break;
                    case 5:
                        expect(wt, 0, field, "ModelProto", "model_version");
                        varint(end);
                        break;
                    default:
                        skip(wt, end, field);
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
            checkGraph(graph, null, opsets, functionDomains, true);
            leave();
            for (int i = 0; i < functions.size(); i++) {
                GraphInfo f = functions.get(i);
                Map<String, Long> visible = opsets;
                if (f.localOpsets != null) {
                    visible = new HashMap<>(opsets);
                    visible.putAll(f.localOpsets);
                }
                enter("function " + show(f.name), -1);
                checkGraph(f, null, visible, functionDomains, false);
                leave();
            }
            return new Summary(ir, Collections.unmodifiableMap(opsets), nodes, initializerBytes, externalTensors);
        }

        /** The first field must be a ModelProto field with its wire type, else this is not a model at all. */
        void firstFieldLooksLikeAModel() throws Problem {
            int save = pos;
            long tag;
            try {
                tag = tag(b.length);
            } catch (Problem p) {
                throw notAModel();
            }
            pos = save;
            long field = tag >>> 3;
            int wt = (int) (tag & 7);
            boolean varintField = field == 1 || field == 5;
            boolean bytesField = field == 2
                    || field == 3
                    || field == 4
                    || field == 6
                    || field == 7
                    || field == 8
                    || field == 14
                    || field == 20
                    || field == 25
                    || field == 26;
            if (!(varintField && wt == 0) && !(bytesField && wt == 2)) {
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
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                if (field == 1) {
                    domain = string(wt, end, field, "OperatorSetIdProto", "domain");
                } else if (field == 2) {
                    expect(wt, 0, field, "OperatorSetIdProto", "version");
                    version = varint(end);
                } else {
                    skip(wt, end, field);
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
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                if (field == 1 || field == 2) {
                    expect(wt, 2, field, "TrainingInfoProto", field == 1 ? "initialization" : "algorithm");
                    int stop = lengthEnd(end, field);
                    enter(field == 1 ? "initialization" : "algorithm", -1);
                    graphs.add(graph(stop, 0, false));
                    leave();
                } else {
                    skip(wt, end, field);
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
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                switch ((int) field) {
                    case 1: {
                        expect(wt, 2, field, "GraphProto", "node");
                        int stop = lengthEnd(end, field);
                        enter("node", g.nodeCount());
                        node(stop, g, depth);
                        leave();
                        break;
                    }
                    case 2:
                        g.name = string(wt, end, field, "GraphProto", "name");
                        break;
                    case 5: {
                        expect(wt, 2, field, "GraphProto", "initializer");
                        if (++initializerCount > limits.maxNodes()) {
                            throw refused("the model has more than ModelLimits.maxNodes (" + limits.maxNodes()
                                    + ") initializers");
                        }
                        int stop = lengthEnd(end, field);
                        enter("initializer", g.initializers.size());
                        TensorInfo t = tensor(stop, true);
                        leave();
                        g.addInitializer(t, this);
                        break;
                    }
                    case 11:
                    case 12:
                    case 13: {
                        String what = field == 11 ? "input" : field == 12 ? "output" : "value_info";
                        expect(wt, 2, field, "GraphProto", what);
                        int stop = lengthEnd(end, field);
                        IntList list = field == 11 ? g.inputs : field == 12 ? g.outputs : null;
                        if (list != null && ++graphValues > limits.maxNodes()) {
                            throw refused("the model has more than ModelLimits.maxNodes (" + limits.maxNodes()
                                    + ") graph inputs and outputs");
                        }
                        enter(what, list == null ? -1 : list.size());
                        capturedDims = null;
                        capturedType = 0;
                        int name = valueInfo(stop);
                        leave();
                        if (list != null) {
                            list.add(name);
                        }
                        if (field == 11) {
                            g.inputDims.add(capturedDims);
                            g.inputTypes.add((int) capturedType);
                        }
                        break;
                    }
                    case 15:
                        expect(wt, 2, field, "GraphProto", "sparse_initializer");
                        throw refused(
                                "sparse initializers are not supported (ONNX Runtime would expand them to dense tensors while"
                                        + " loading); store the initializer dense");
                    case 10:
                    case 14:
                    case 16:
                        expect(wt, 2, field, "GraphProto", "field " + field);
                        pos = lengthEnd(end, field);
                        break;
                    default:
                        skip(wt, end, field);
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
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                switch ((int) field) {
                    case 1:
                        countEdge();
                        g.edges.add(string(wt, end, field, "NodeProto", "input"));
                        break;
                    case 2:
                        countEdge();
                        if (outs == null) {
                            outs = new IntList();
                        }
                        outs.add(string(wt, end, field, "NodeProto", "output"));
                        break;
                    case 3:
                        name = string(wt, end, field, "NodeProto", "name");
                        break;
                    case 4:
                        op = string(wt, end, field, "NodeProto", "op_type");
                        break;
                    case 7:
                        domain = string(wt, end, field, "NodeProto", "domain");
                        break;
                    case 5: {
                        expect(wt, 2, field, "NodeProto", "attribute");
                        int stop = lengthEnd(end, field);
                        enter("attribute", attributes++);
                        if (subgraphs == null) {
                            subgraphs = new ArrayList<>(0);
                        }
                        attrs = attribute(stop, attrs, depth, g.structural, subgraphs);
                        leave();
                        break;
                    }
                    case 6:
                    case 8:
                    case 9:
                    case 10:
                        expect(wt, 2, field, "NodeProto", "field " + field);
                        pos = lengthEnd(end, field);
                        break;
                    default:
                        skip(wt, end, field);
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
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                switch ((int) field) {
                    case 1:
                        name = string(wt, end, field, "AttributeProto", "name");
                        break;
                    case 2:
                        expect(wt, 5, field, "AttributeProto", "f");
                        a.f = Float.intBitsToFloat(le32(pos));
                        need(4, end, field);
                        a.hasF = true;
                        break;
                    case 3:
                        expect(wt, 0, field, "AttributeProto", "i");
                        a.i = varint(end);
                        a.hasI = true;
                        break;
                    case 4:
                        a.s = string(wt, end, field, "AttributeProto", "s");
                        break;
                    case 5: {
                        expect(wt, 2, field, "AttributeProto", "t");
                        if (a.t != null) {
                            throw malformed("attribute has two t fields");
                        }
                        int stop = lengthEnd(end, field);
                        enter("tensor", -1);
                        a.t = tensor(stop, false);
                        leave();
                        break;
                    }
                    case 10: {
                        expect(wt, 2, field, "AttributeProto", "tensors");
                        int stop = lengthEnd(end, field);
                        enter("tensors", -1);
                        tensor(stop, false);
                        leave();
                        break;
                    }
                    case 6:
                    case 11: {
                        expect(wt, 2, field, "AttributeProto", field == 6 ? "g" : "graphs");
                        int stop = lengthEnd(end, field);
                        enter("subgraph", subgraphs.size());
                        subgraphs.add(graph(stop, depth + 1, structural));
                        leave();
                        break;
                    }
                    case 22:
                    case 23:
                        expect(wt, 2, field, "AttributeProto", "sparse_tensor");
                        throw refused(
                                "sparse tensor attributes are not supported (ONNX Runtime would expand them to dense tensors);"
                                        + " store the constant dense");
                    case 7:
                    case 8: {
                        // floats (fixed32) or ints (varint), packed or not; the first few are kept for size inference
                        a.listIsFloat = field == 7;
                        int before = pos;
                        long n = countScalars(wt, end, field, field == 7 ? 4 : 0);
                        if (!a.listOverflow && listCount + n <= SMALL_CONSTANT) {
                            a.list =
                                    a.list == null ? new double[(int) n] : Arrays.copyOf(a.list, (int) (listCount + n));
                            int save = pos;
                            pos = before;
                            listCount = decodeScalars(wt, end, field == 7 ? 4 : 0, a.list, listCount);
                            pos = save;
                        } else {
                            a.listOverflow = true;
                            a.list = null;
                        }
                        break;
                    }
                    case 9:
                    case 13:
                    case 14:
                    case 15:
                    case 21:
                        expect(wt, 2, field, "AttributeProto", "field " + field);
                        pos = lengthEnd(end, field);
                        break;
                    case 20:
                        expect(wt, 0, field, "AttributeProto", "type");
                        a.type = varint(end);
                        break;
                    default:
                        skip(wt, end, field);
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

        /** Decodes a repeated scalar field occurrence (at pos) into dst from index n; returns the new n. */
        int decodeScalars(int wireType, int end, int fixedBytes, double[] dst, int n) throws Problem {
            if (wireType == 2) {
                int stop = lengthEnd(end, 0);
                while (pos < stop && n < dst.length) {
                    if (fixedBytes == 4) {
                        dst[n++] = Float.intBitsToFloat(le32(pos));
                        pos += 4;
                    } else if (fixedBytes == 8) {
                        dst[n++] = Double.longBitsToDouble(le64(pos));
                        pos += 8;
                    } else {
                        dst[n++] = varint(stop);
                    }
                }
                pos = stop;
                return n;
            }
            if (n >= dst.length) {
                skip(wireType, end, 0);
                return n;
            }
            if (fixedBytes == 4) {
                dst[n++] = Float.intBitsToFloat(le32(pos));
                pos += 4;
            } else if (fixedBytes == 8) {
                dst[n++] = Double.longBitsToDouble(le64(pos));
                pos += 8;
            } else {
                dst[n++] = varint(end);
            }
            return n;
        }

        int le32(int p) {
            return (b[p] & 0xff) | (b[p + 1] & 0xff) << 8 | (b[p + 2] & 0xff) << 16 | (b[p + 3] & 0xff) << 24;
        }

        long le64(int p) {
            return (le32(p) & 0xffffffffL) | ((long) le32(p + 4)) << 32;
        }

        // ------------------------------------------------------------ TensorProto

        /** Checks a tensor: type, dims, limits, and that its data matches; decodes it when small. */
        TensorInfo tensor(int end, boolean initializer) throws Problem {
            int start = pos;
            int name = -1;
            long dataType = 0;
            int rank = 0;
            long count = 1;
            boolean overflow = false;
            double[] dims = new double[0];
            long rawLength = -1;
            long floats = 0;
            long int32s = 0;
            long strings = 0;
            long int64s = 0;
            long doubles = 0;
            long uint64s = 0;
            long location = 0;
            int externalEntries = 0;
            int locationHandle = -1;
            String offsetText = null;
            String lengthText = null;
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                switch ((int) field) {
                    case 1: {
                        int before = pos;
                        long n = countScalars(wt, end, field, 0);
                        int save = pos;
                        pos = before;
                        // decode the dims of this occurrence one by one
                        if (wt == 2) {
                            int stop = lengthEnd(end, field);
                            while (pos < stop) {
                                long d = varint(stop);
                                rank++;
                                if (rank > MAX_RANK) {
                                    throw refused(
                                            "tensor " + show(name) + " has more than " + MAX_RANK + " dimensions");
                                }
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
                        } else {
                            long d = varint(end);
                            rank++;
                            if (rank > MAX_RANK) {
                                throw refused("tensor " + show(name) + " has more than " + MAX_RANK + " dimensions");
                            }
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
                        pos = save;
                        if (rank > MAX_RANK || n > MAX_RANK) {
                            throw refused("tensor " + show(name) + " has more than " + MAX_RANK + " dimensions");
                        }
                        break;
                    }
                    case 2:
                        expect(wt, 0, field, "TensorProto", "data_type");
                        dataType = varint(end);
                        break;
                    case 3:
                        expect(wt, 2, field, "TensorProto", "segment");
                        throw refused("tensor " + show(name) + " is segmented; segmented tensors are not supported");
                    case 4:
                        floats += countScalars(wt, end, field, 4);
                        break;
                    case 5:
                        int32s += countScalars(wt, end, field, 0);
                        break;
                    case 7:
                        int64s += countScalars(wt, end, field, 0);
                        break;
                    case 11:
                        uint64s += countScalars(wt, end, field, 0);
                        break;
                    case 10:
                        doubles += countScalars(wt, end, field, 8);
                        break;
                    case 6:
                        expect(wt, 2, field, "TensorProto", "string_data");
                        pos = lengthEnd(end, field);
                        strings++;
                        break;
                    case 8:
                        name = string(wt, end, field, "TensorProto", "name");
                        break;
                    case 9: {
                        expect(wt, 2, field, "TensorProto", "raw_data");
                        int stop = lengthEnd(end, field);
                        rawLength = stop - pos; // the last occurrence wins, as in protobuf
                        pos = stop;
                        break;
                    }
                    case 13: {
                        expect(wt, 2, field, "TensorProto", "external_data");
                        int stop = lengthEnd(end, field);
                        externalEntries++;
                        int key = -1;
                        int value = -1;
                        while (pos < stop) {
                            long t2 = tag(stop);
                            long f2 = t2 >>> 3;
                            int w2 = (int) (t2 & 7);
                            if (f2 == 1) {
                                key = string(w2, stop, f2, "StringStringEntryProto", "key");
                            } else if (f2 == 2) {
                                value = string(w2, stop, f2, "StringStringEntryProto", "value");
                            } else {
                                skip(w2, stop, f2);
                            }
                        }
                        if (key >= 0 && nameEquals(key, "location")) {
                            locationHandle = value;
                        } else if (key >= 0 && nameEquals(key, "offset")) {
                            offsetText = value < 0 || nameLength(value) > 32 ? "?" : text(value);
                        } else if (key >= 0 && nameEquals(key, "length")) {
                            lengthText = value < 0 || nameLength(value) > 32 ? "?" : text(value);
                        }
                        break;
                    }
                    case 14:
                        expect(wt, 0, field, "TensorProto", "data_location");
                        location = varint(end);
                        break;
                    case 12:
                    case 16:
                        expect(wt, 2, field, "TensorProto", "field " + field);
                        pos = lengthEnd(end, field);
                        break;
                    default:
                        skip(wt, end, field);
                }
            }
            String what = "tensor " + show(name);
            if (!knownType(dataType)) {
                throw malformed(what + " has " + (dataType == 0 ? "no data_type" : "unknown data_type " + dataType));
            }
            int type = (int) dataType;
            if (overflow) {
                throw refused(what + " declares an element count that overflows 64 bits");
            }
            long bytes = bytesFor(count, type);
            if (bytes < 0 || bytes > limits.maxTensorBytes()) {
                throw refused(what + " declares " + count + " elements of " + typeName(type) + " ("
                        + (bytes < 0 ? "more than 2^63" : bytes) + " bytes), more than ModelLimits.maxTensorBytes ("
                        + limits.maxTensorBytes() + ")");
            }
            long typedTotal = floats + int32s + strings + int64s + doubles + uint64s;
            if (location != 0 && location != 1) {
                throw malformed(what + " has data_location " + location + "; expected 0 (DEFAULT) or 1 (EXTERNAL)");
            }
            if (location == 1) {
                if (rawLength >= 0 || typedTotal > 0) {
                    throw malformed(what + " has both external data and data of its own");
                }
                if (type == STRING) {
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
                    if (type == STRING) {
                        throw malformed(what + " is a string tensor with raw_data; strings go in string_data");
                    }
                    if (rawLength != bytes) {
                        throw malformed(what + " has " + rawLength + " bytes of raw_data but its shape holds " + count
                                + " elements of " + typeName(type) + " = " + bytes + " bytes");
                    }
                } else if (typedTotal > 0 || count > 0) {
                    int fieldNo = typedField(type);
                    long have = fieldNo == 4
                            ? floats
                            : fieldNo == 5
                                    ? int32s
                                    : fieldNo == 6
                                            ? strings
                                            : fieldNo == 7 ? int64s : fieldNo == 10 ? doubles : uint64s;
                    long want = typedValuesFor(count, type);
                    if (typedTotal != have) {
                        throw malformed(
                                what + " of type " + typeName(type) + " keeps its values in the wrong typed field");
                    }
                    if (have != want) {
                        throw malformed(what + " holds " + have + " values but its shape needs " + want + " (" + count
                                + " elements of " + typeName(type) + ")");
                    }
                }
            }
            if (initializerBytes > limits.maxTotalInitializerBytes() - bytes) {
                throw refused("initializers and constants add up to more than ModelLimits.maxTotalInitializerBytes ("
                        + limits.maxTotalInitializerBytes() + " bytes) at " + what);
            }
            initializerBytes += bytes;
            TensorInfo info = new TensorInfo(name, type, count, dims);
            if (count <= SMALL_CONSTANT && type != STRING && location != 1 && BITS[type] >= 8) {
                info.values = decodeSmall(start, end, type, (int) count, rawLength >= 0);
            }
            return info;
        }

        /** Decodes a small numeric tensor's values (second pass over its message). */
        double[] decodeSmall(int start, int end, int type, int count, boolean raw) throws Problem {
            int save = pos;
            pos = start;
            double[] out = new double[count];
            int n = 0;
            boolean floatRaw = type == 1 || type == 11;
            int width = BITS[type] / 8;
            boolean supported = type == 1
                    || type == 11
                    || type == 6
                    || type == 7
                    || type == 2
                    || type == 3
                    || type == 4
                    || type == 5
                    || type == 9
                    || type == 12
                    || type == 13;
            if (!supported) {
                pos = save;
                return null;
            }
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                if (raw && field == 9) {
                    int stop = lengthEnd(end, field);
                    n = 0;
                    for (int i = 0; i < count; i++) {
                        int p = pos + i * width;
                        if (floatRaw) {
                            out[i] = width == 4 ? Float.intBitsToFloat(le32(p)) : Double.longBitsToDouble(le64(p));
                        } else if (width == 8) {
                            out[i] = le64(p);
                        } else if (width == 4) {
                            out[i] = type == 12 ? le32(p) & 0xffffffffL : le32(p);
                        } else if (width == 2) {
                            int v = (b[p] & 0xff) | (b[p + 1] & 0xff) << 8;
                            out[i] = type == 5 ? (short) v : v;
                        } else {
                            out[i] = type == 3 ? b[p] : b[p] & 0xff;
                        }
                        n++;
                    }
                    pos = stop;
                } else if (!raw && field == typedField(type)) {
                    int fixed = field == 4 ? 4 : field == 10 ? 8 : 0;
                    n = decodeScalars(wt, end, fixed, out, n);
                } else {
                    skip(wt, end, field);
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
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                if (field == 1) {
                    name = string(wt, end, field, "ValueInfoProto", "name");
                } else if (field == 2) {
                    expect(wt, 2, field, "ValueInfoProto", "type");
                    if (typed) {
                        throw malformed("value " + show(name) + " has two type fields");
                    }
                    typed = true;
                    int stop = lengthEnd(end, field);
                    type(stop, 0, name);
                } else if (field == 3 || field == 4) {
                    expect(wt, 2, field, "ValueInfoProto", "field " + field);
                    pos = lengthEnd(end, field);
                } else {
                    skip(wt, end, field);
                }
            }
            return name;
        }

        void type(int end, int depth, int name) throws Problem {
            if (depth > MAX_TYPE_DEPTH) {
                throw refused("the type of value " + show(name) + " is nested more than " + MAX_TYPE_DEPTH + " deep");
            }
            int kinds = 0;
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                switch ((int) field) {
                    case 1:
                    case 8: {
                        expect(wt, 2, field, "TypeProto", field == 1 ? "tensor_type" : "sparse_tensor_type");
                        kinds++;
                        int stop = lengthEnd(end, field);
                        tensorType(stop, name);
                        break;
                    }
                    case 4:
                    case 9: {
                        expect(wt, 2, field, "TypeProto", field == 4 ? "sequence_type" : "optional_type");
                        kinds++;
                        int stop = lengthEnd(end, field);
                        while (pos < stop) {
                            long t2 = tag(stop);
                            long f2 = t2 >>> 3;
                            int w2 = (int) (t2 & 7);
                            if (f2 == 1) {
                                expect(w2, 2, f2, "TypeProto", "elem_type");
                                int s2 = lengthEnd(stop, f2);
                                type(s2, depth + 1, name);
                            } else {
                                skip(w2, stop, f2);
                            }
                        }
                        break;
                    }
                    case 5: {
                        expect(wt, 2, field, "TypeProto", "map_type");
                        kinds++;
                        int stop = lengthEnd(end, field);
                        while (pos < stop) {
                            long t2 = tag(stop);
                            long f2 = t2 >>> 3;
                            int w2 = (int) (t2 & 7);
                            if (f2 == 2) {
                                expect(w2, 2, f2, "TypeProto", "value_type");
                                int s2 = lengthEnd(stop, f2);
                                type(s2, depth + 1, name);
                            } else {
                                skip(w2, stop, f2);
                            }
                        }
                        break;
                    }
                    default:
                        skip(wt, end, field);
                }
            }
            if (kinds > 1) {
                throw malformed("value " + show(name) + " has more than one type");
            }
        }

        void tensorType(int end, int name) throws Problem {
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                if (field == 1) {
                    expect(wt, 0, field, "TypeProto.Tensor", "elem_type");
                    capturedType = varint(end);
                } else if (field == 2) {
                    expect(wt, 2, field, "TypeProto.Tensor", "shape");
                    int stop = lengthEnd(end, field);
                    int rank = 0;
                    double[] dims = new double[0];
                    while (pos < stop) {
                        long t2 = tag(stop);
                        long f2 = t2 >>> 3;
                        int w2 = (int) (t2 & 7);
                        if (f2 == 1) {
                            expect(w2, 2, f2, "TensorShapeProto", "dim");
                            if (++rank > MAX_RANK) {
                                throw refused("value " + show(name) + " has more than " + MAX_RANK + " dimensions");
                            }
                            int s2 = lengthEnd(stop, f2);
                            double dim = -1;
                            while (pos < s2) {
                                long t3 = tag(s2);
                                long f3 = t3 >>> 3;
                                int w3 = (int) (t3 & 7);
                                if (f3 == 1) {
                                    expect(w3, 0, f3, "Dimension", "dim_value");
                                    long d = varint(s2);
                                    if (d < 0) {
                                        throw malformed("value " + show(name) + " declares dimension " + d
                                                + "; dimensions must be >= 0 or symbolic");
                                    }
                                    dim = d;
                                } else {
                                    skip(w3, s2, f3);
                                }
                            }
                            dims = Arrays.copyOf(dims, rank);
                            dims[rank - 1] = dim;
                        } else {
                            skip(w2, stop, f2);
                        }
                    }
                    capturedDims = dims;
                } else {
                    skip(wt, end, field);
                }
            }
        }

        // ------------------------------------------------------------ FunctionProto

        GraphInfo function(int end) throws Problem {
            GraphInfo f = new GraphInfo(true, this);
            f.isFunction = true;
            while (pos < end) {
                long tag = tag(end);
                long field = tag >>> 3;
                int wt = (int) (tag & 7);
                switch ((int) field) {
                    case 1:
                        f.name = string(wt, end, field, "FunctionProto", "name");
                        break;
                    case 10:
                        f.domain = string(wt, end, field, "FunctionProto", "domain");
                        break;
                    case 4:
                    case 5:
                        if (++graphValues > limits.maxNodes()) {
                            throw refused("the model has more than ModelLimits.maxNodes (" + limits.maxNodes()
                                    + ") graph inputs and outputs");
                        }
                        (field == 4 ? f.inputs : f.outputs)
                                .add(string(wt, end, field, "FunctionProto", field == 4 ? "input" : "output"));
                        break;
                    case 7: {
                        expect(wt, 2, field, "FunctionProto", "node");
                        int stop = lengthEnd(end, field);
                        enter("node", f.nodeCount());
                        node(stop, f, 0);
                        leave();
                        break;
                    }
                    case 11: {
                        expect(wt, 2, field, "FunctionProto", "attribute_proto");
                        int stop = lengthEnd(end, field);
                        enter("attribute_proto", -1);
                        attribute(stop, null, 0, false, new ArrayList<>());
                        leave();
                        break;
                    }
                    case 12: {
                        expect(wt, 2, field, "FunctionProto", "value_info");
                        int stop = lengthEnd(end, field);
                        valueInfo(stop);
                        break;
                    }
                    case 9: {
                        expect(wt, 2, field, "FunctionProto", "opset_import");
                        int stop = lengthEnd(end, field);
                        if (f.localOpsets == null) {
                            f.localOpsets = new HashMap<>();
                        }
                        if (f.localOpsets.size() >= MAX_OPSET_IMPORTS) {
                            throw refused("more than " + MAX_OPSET_IMPORTS + " opset imports in a function");
                        }
                        opsetImport(stop, f.localOpsets);
                        break;
                    }
                    case 6:
                    case 8:
                    case 13:
                    case 14:
                        expect(wt, 2, field, "FunctionProto", "field " + field);
                        pos = lengthEnd(end, field);
                        break;
                    default:
                        skip(wt, end, field);
                }
            }
            return f;
        }

        // ------------------------------------------------------------ graph structure

        static String domainKey(String domain) {
            return domain.equals("ai.onnx") ? "" : domain;
        }

        /**
         * Checks one graph: unique definitions, every input defined here or in an enclosing graph, no
         * cycle, every output defined, known domains, and sizes fixed by constants. Returns the names it
         * takes from enclosing graphs.
         */
        NameTable checkGraph(
                GraphInfo g,
                Scope outer,
                Map<String, Long> opsets,
                Map<String, Boolean> functionDomains,
                boolean amplification)
                throws Problem {
            NameTable free = new NameTable(this);
            if (!g.structural) {
                for (List<GraphInfo> subs : g.subgraphs.values()) {
                    for (GraphInfo s : subs) {
                        checkGraph(s, null, opsets, functionDomains, false);
                    }
                }
                return free;
            }
            NameTable defined = new NameTable(this);
            for (int i = 0; i < g.inputs.size(); i++) {
                int in = g.inputs.get(i);
                if (isEmpty(in)) {
                    throw malformed("graph input #" + i + " has no name");
                }
                if (defined.index(in) >= 0) {
                    throw malformed("graph input " + show(in) + " is declared twice");
                }
                defined.add(in);
            }
            NameTable initializers = g.initializerNames;
            for (int i = 0; i < g.initializers.size(); i++) {
                int in = g.initializers.get(i);
                if (!g.isFunction && isEmpty(in)) {
                    throw malformed("initializer #" + i + " has no name");
                }
                defined.add(in);
            }
            int n = g.nodeCount();
            NameTable produced = new NameTable(this);
            IntList producer = new IntList();
            for (int k = 0; k < n; k++) {
                int op = g.nodeOp.get(k);
                int domain = g.nodeDomain.get(k);
                String d = domainKey(text(domain));
                if (!opsets.containsKey(d) && !functionDomains.containsKey(d)) {
                    throw malformed("node " + label(g, k) + " uses domain '" + d
                            + "', which the model does not import (opset_import: " + opsets.keySet() + ")");
                }
                int outStart = g.inStart.get(k) + g.inCount.get(k);
                for (int j = 0; j < g.outCount.get(k); j++) {
                    int out = g.edges.get(outStart + j);
                    if (isEmpty(out)) {
                        continue;
                    }
                    int prev = produced.index(out);
                    if (prev >= 0) {
                        throw malformed("value " + show(out) + " is produced by two nodes, "
                                + label(g, producer.get(prev)) + " and " + label(g, k));
                    }
                    if (defined.index(out) >= 0) {
                        throw malformed("node " + label(g, k) + " produces " + show(out)
                                + ", which is already a graph input or initializer");
                    }
                    produced.add(out);
                    producer.add(k);
                }
            }
            Scope here = new Scope(defined, produced, outer);
            // edges producer -> consumer, and the names this graph takes from enclosing graphs
            IntList from = new IntList();
            IntList to = new IntList();
            for (int k = 0; k < n; k++) {
                int start = g.inStart.get(k);
                for (int j = 0; j < g.inCount.get(k); j++) {
                    int in = g.edges.get(start + j);
                    if (isEmpty(in)) {
                        continue;
                    }
                    resolve(g, k, in, defined, produced, producer, outer, free, from, to, false);
                }
                List<GraphInfo> subs = g.subgraphs.get(k);
                if (subs != null) {
                    for (int s = 0; s < subs.size(); s++) {
                        enter("node " + label(g, k) + " subgraph", s);
                        NameTable subFree = checkGraph(subs.get(s), here, opsets, functionDomains, amplification);
                        leave();
                        for (int h = 0; h < subFree.size(); h++) {
                            resolve(g, k, subFree.handle(h), defined, produced, producer, outer, free, from, to, true);
                        }
                    }
                }
            }
            int[] order = topologicalOrder(g, n, from, to);
            for (int i = 0; i < g.outputs.size(); i++) {
                int out = g.outputs.get(i);
                if (isEmpty(out)) {
                    throw malformed("graph output #" + i + " has no name");
                }
                if (defined.index(out) < 0 && produced.index(out) < 0) {
                    if (outer != null && outer.contains(out)) {
                        free.add(out);
                    } else {
                        throw malformed("graph output " + show(out)
                                + " is not produced by any node, nor a graph input or initializer");
                    }
                }
            }
            if (amplification && !g.isFunction) {
                checkSizes(g, order);
            }
            return free;
        }

        void resolve(
                GraphInfo g,
                int k,
                int in,
                NameTable defined,
                NameTable produced,
                IntList producer,
                Scope outer,
                NameTable free,
                IntList from,
                IntList to,
                boolean implicit)
                throws Problem {
            int p = produced.index(in);
            if (p >= 0) {
                from.add(producer.get(p));
                to.add(k);
            } else if (defined.index(in) < 0) {
                if (outer != null && outer.contains(in)) {
                    free.add(in);
                } else {
                    throw malformed(
                            "node " + label(g, k) + (implicit ? " has a subgraph that reads " : " reads ") + show(in)
                                    + ", which is not a graph input, an initializer, any node's output or a value of an enclosing graph");
                }
            }
        }

        int[] topologicalOrder(GraphInfo g, int n, IntList from, IntList to) throws Problem {
            int[] indegree = new int[n];
            int[] firstOut = new int[n + 1];
            for (int e = 0; e < from.size(); e++) {
                indegree[to.get(e)]++;
                firstOut[from.get(e) + 1]++;
            }
            for (int k = 0; k < n; k++) {
                firstOut[k + 1] += firstOut[k];
            }
            int[] fill = Arrays.copyOf(firstOut, n);
            int[] succ = new int[from.size()];
            for (int e = 0; e < from.size(); e++) {
                succ[fill[from.get(e)]++] = to.get(e);
            }
            int[] order = new int[n];
            int head = 0;
            int tail = 0;
            for (int k = 0; k < n; k++) {
                if (indegree[k] == 0) {
                    order[tail++] = k;
                }
            }
            while (head < tail) {
                int k = order[head++];
                for (int e = firstOut[k]; e < firstOut[k + 1]; e++) {
                    if (--indegree[succ[e]] == 0) {
                        order[tail++] = succ[e];
                    }
                }
            }
            if (tail < n) {
                List<String> stuck = new ArrayList<>();
                for (int k = 0; k < n && stuck.size() < 5; k++) {
                    if (indegree[k] > 0) {
                        stuck.add(label(g, k));
                    }
                }
                throw malformed("the graph has a cycle through " + (n - tail) + " node" + (n - tail == 1 ? "" : "s")
                        + ", among them " + stuck);
            }
            return order;
        }

        String label(GraphInfo g, int k) {
            int name = g.nodeName.get(k);
            String op = g.nodeOp.get(k) < 0 ? "?" : text(g.nodeOp.get(k));
            if (op.length() > 40) {
                op = op.substring(0, 40) + "...";
            }
            return (name < 0 || isEmpty(name) ? "#" + k : show(name)) + " (" + op.replaceAll("[\\p{Cntrl}]", "?") + ")";
        }

        // ------------------------------------------------------------ size inference

        /**
         * Infers a lower bound of every tensor's shape, node by node, from the declared input shapes
         * (symbolic dimensions such as the batch count as 1), the initializers, small constants and the
         * attributes, and refuses a node whose output would exceed {@link ModelLimits#maxTensorBytes()}:
         * such a model makes ONNX Runtime allocate that much while constant-folding at load time or on its
         * first run, whatever its inputs. Every rule is monotone in its inputs' sizes, so a lower bound in
         * gives a lower bound out and a refusal is never a false alarm; an operator without a rule here
         * (or outside ai.onnx) ends the inference along its outputs.
         */
        void checkSizes(GraphInfo g, int[] order) throws Problem {
            Values v = new Values(this);
            for (int i = 0; i < g.inputs.size(); i++) {
                int in = g.inputs.get(i);
                double[] dims = g.inputDims.get(i);
                if (isEmpty(in) || dims == null) {
                    continue;
                }
                boolean exact = true;
                double[] lower = dims.clone();
                for (int d = 0; d < lower.length; d++) {
                    if (lower[d] < 0) {
                        lower[d] = 1;
                        exact = false;
                    }
                }
                v.put(in, lower, g.inputTypes.get(i), exact, null);
            }
            for (TensorInfo t : g.initializerInfo) {
                if (!isEmpty(t.name)) {
                    v.put(t.name, t.dims, t.dataType, true, t.values);
                }
            }
            for (int k : order) {
                int dom = g.nodeDomain.get(k);
                if (dom >= 0 && !isEmpty(dom) && !nameEquals(dom, "ai.onnx")) {
                    continue;
                }
                Node n = new Node(g, k, v);
                inferNode(n);
                for (int j = 0; j < n.outShapes.length; j++) {
                    double[] shape = n.outShapes[j];
                    int out = n.output(j);
                    if (shape == null || out < 0 || isEmpty(out)) {
                        continue;
                    }
                    int type = n.outTypes[j];
                    double elements = 1;
                    for (double d : shape) {
                        elements *= d;
                    }
                    int bits = type > 0 && type < BITS.length && BITS[type] > 0 ? BITS[type] : 8;
                    double bytes = Math.ceil(elements * bits / 8);
                    if (bytes > limits.maxTensorBytes()) {
                        throw refused("node " + label(g, k) + " would make a tensor of " + shapeText(shape) + " = "
                                + String.format(Locale.ROOT, "%.0f", elements) + " elements of "
                                + (type > 0 ? typeName(type) : "at least 1 byte") + " ("
                                + String.format(Locale.ROOT, "%.0f", bytes) + " bytes"
                                + (n.exact ? "" : ", counting every symbolic dimension as 1")
                                + "), more than ModelLimits.maxTensorBytes (" + limits.maxTensorBytes() + ")");
                    }
                    v.put(out, shape, type, n.exact, n.outValues[j]);
                }
            }
        }

        String shapeText(double[] shape) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < shape.length; i++) {
                sb.append(i == 0 ? "" : " x ").append(String.format(Locale.ROOT, "%.0f", shape[i]));
            }
            return shape.length == 0 ? "a scalar" : sb.toString();
        }

        /** One node during inference: its inputs' shapes, types and constants, and what it outputs. */
        final class Node {
            final GraphInfo g;
            final int k;
            final Values v;
            final String op;
            final NodeAttrs attrs;
            final int inCount;
            final double[][] outShapes;
            final int[] outTypes;
            final double[][] outValues;
            boolean exact = true;

            Node(GraphInfo g, int k, Values v) {
                this.g = g;
                this.k = k;
                this.v = v;
                this.op = text(g.nodeOp.get(k));
                NodeAttrs a = g.attrs.get(k);
                this.attrs = a == null ? new NodeAttrs() : a;
                this.inCount = g.inCount.get(k);
                int outs = Math.min(g.outCount.get(k), 2);
                this.outShapes = new double[outs][];
                this.outTypes = new int[outs];
                this.outValues = new double[outs][];
            }

            int output(int j) {
                return g.edges.get(g.inStart.get(k) + inCount + j);
            }

            int inputIndex(int j) {
                if (j >= inCount) {
                    return -1;
                }
                int h = g.edges.get(g.inStart.get(k) + j);
                return isEmpty(h) ? -1 : v.index(h);
            }

            boolean has(int j) {
                return j < inCount && !isEmpty(g.edges.get(g.inStart.get(k) + j));
            }

            double[] shape(int j) {
                int i = inputIndex(j);
                if (i >= 0 && !v.exact(i)) {
                    exact = false;
                }
                return i < 0 ? null : v.shape(i);
            }

            int type(int j) {
                int i = inputIndex(j);
                return i < 0 ? 0 : v.type(i);
            }

            double[] constant(int j) {
                int i = inputIndex(j);
                return i < 0 ? null : v.constant(i);
            }

            Attr attr(String key) {
                return attrs.map.get(key);
            }

            long i(String key, long otherwise) {
                Attr a = attr(key);
                return a != null && a.hasI ? a.i : otherwise;
            }

            /** A list attribute, or null when absent or too long to keep. */
            double[] ints(String key) {
                Attr a = attr(key);
                return a == null ? null : a.list;
            }

            boolean present(String key) {
                return attr(key) != null;
            }

            String str(String key) {
                Attr a = attr(key);
                return a == null || a.s < 0 ? null : text(a.s);
            }

            void out(double[] shape, int type) {
                if (outShapes.length > 0 && shape != null) {
                    for (int d = 0; d < shape.length; d++) {
                        double x = shape[d];
                        shape[d] = Double.isNaN(x) || x < 0 ? 0 : Math.min(x, 1e300);
                    }
                    outShapes[0] = shape;
                    outTypes[0] = type;
                }
            }

            void value(double[] values) {
                if (outValues.length > 0 && values != null && values.length <= SMALL_CONSTANT && exact) {
                    outValues[0] = values;
                }
            }
        }

        /** Shape rules; each leaves the outputs unknown when something it needs is unknown or odd. */
        void inferNode(Node n) {
            double[] x = n.has(0) ? n.shape(0) : null;
            int t = n.type(0);
            switch (n.op) {
                case "Constant": {
                    // like ONNX Runtime: the first attribute, read according to its declared type, whatever its name
                    Attr a = n.attrs.first;
                    if (a == null) {
                        return;
                    }
                    if (a.type == 4 && a.t != null) {
                        n.out(a.t.dims.clone(), a.t.dataType);
                        n.value(a.t.values);
                    } else if ((a.type == 6 || a.type == 7) && a.list != null) {
                        n.out(new double[] {a.list.length}, a.type == 6 ? 1 : 7);
                        n.value(a.list);
                    } else if (a.type == 6 || a.type == 7) {
                        n.out(new double[] {a.listOverflow ? SMALL_CONSTANT + 1 : 0}, a.type == 6 ? 1 : 7);
                    } else if (a.type == 1 || a.type == 2) {
                        n.out(new double[0], a.type == 1 ? 1 : 7);
                        n.value(new double[] {a.type == 1 ? a.f : a.i});
                    }
                    return;
                }
                case "Identity":
                case "Relu":
                case "LeakyRelu":
                case "Sigmoid":
                case "Tanh":
                case "Abs":
                case "Neg":
                case "Exp":
                case "Log":
                case "Sqrt":
                case "Reciprocal":
                case "Floor":
                case "Ceil":
                case "Round":
                case "Erf":
                case "Softplus":
                case "Softsign":
                case "Elu":
                case "Selu":
                case "Celu":
                case "HardSigmoid":
                case "HardSwish":
                case "Clip":
                case "Softmax":
                case "LogSoftmax":
                case "Hardmax":
                case "Sign":
                case "Sin":
                case "Cos":
                case "Tan":
                case "Asin":
                case "Acos":
                case "Atan":
                case "Sinh":
                case "Cosh":
                case "Asinh":
                case "Acosh":
                case "Atanh":
                case "Mish":
                case "Gelu":
                case "ThresholdedRelu":
                case "Shrink":
                case "LRN":
                case "InstanceNormalization":
                case "BatchNormalization":
                case "LayerNormalization":
                case "GroupNormalization":
                case "MeanVarianceNormalization":
                case "EyeLike":
                case "RandomNormalLike":
                case "RandomUniformLike":
                case "Bernoulli":
                case "CumSum":
                    if (x != null) {
                        n.out(x.clone(), t);
                        if (n.op.equals("Identity")) {
                            n.value(n.constant(0));
                        }
                    }
                    return;
                case "Cast":
                case "CastLike":
                    if (x != null) {
                        n.out(x.clone(), n.op.equals("Cast") ? (int) n.i("to", 0) : n.type(1));
                        n.value(n.constant(0));
                    }
                    return;
                case "Dropout":
                    if (x != null) {
                        n.out(x.clone(), t);
                        if (n.outShapes.length > 1) {
                            n.outShapes[1] = x.clone();
                            n.outTypes[1] = 9;
                        }
                    }
                    return;
                case "Not":
                case "IsNaN":
                case "IsInf":
                    if (x != null) {
                        n.out(x.clone(), 9);
                    }
                    return;
                case "Add":
                case "Sub":
                case "Mul":
                case "Div":
                case "Pow":
                case "Mod":
                case "PRelu":
                case "Max":
                case "Min":
                case "Sum":
                case "Mean":
                case "BitShift":
                case "Where":
                case "Equal":
                case "Greater":
                case "Less":
                case "GreaterOrEqual":
                case "LessOrEqual":
                case "And":
                case "Or":
                case "Xor": {
                    double[] out = new double[0];
                    for (int j = 0; j < n.inCount; j++) {
                        double[] s = n.has(j) ? n.shape(j) : null;
                        if (s == null) {
                            return;
                        }
                        out = broadcast(out, s);
                    }
                    boolean logical = n.op.matches("Equal|Greater|Less|GreaterOrEqual|LessOrEqual|And|Or|Xor");
                    n.out(out, logical ? 9 : n.op.equals("Where") ? n.type(1) : t);
                    return;
                }
                case "Conv":
                case "ConvInteger": {
                    double[] w = n.shape(1);
                    if (x == null || w == null || x.length < 3 || w.length != x.length) {
                        return;
                    }
                    double[] kernel = n.ints("kernel_shape") != null
                            ? n.ints("kernel_shape")
                            : Arrays.copyOfRange(w, 2, w.length);
                    n.out(spatial(n, x, kernel, false, w[0]), t);
                    return;
                }
                case "ConvTranspose": {
                    double[] w = n.shape(1);
                    if (x == null || w == null || x.length < 3 || w.length != x.length) {
                        return;
                    }
                    int sp = x.length - 2;
                    double[] kernel = n.ints("kernel_shape") != null
                            ? n.ints("kernel_shape")
                            : Arrays.copyOfRange(w, 2, w.length);
                    double[] strides = n.ints("strides");
                    double[] dil = n.ints("dilations");
                    double[] outPad = n.ints("output_padding");
                    double[] outShape = n.ints("output_shape");
                    double[] pads = n.ints("pads");
                    if (kernel.length != sp) {
                        return;
                    }
                    double[] out = new double[x.length];
                    out[0] = x[0];
                    out[1] = w[1] * Math.max(1, n.i("group", 1));
                    for (int d = 0; d < sp; d++) {
                        if (outShape != null && outShape.length == sp) {
                            out[d + 2] = outShape[d];
                            continue;
                        }
                        double s = strides != null && strides.length == sp ? strides[d] : 1;
                        double dl = dil != null && dil.length == sp ? dil[d] : 1;
                        double op = outPad != null && outPad.length == sp ? outPad[d] : 0;
                        double p = pads != null && pads.length == 2 * sp ? pads[d] + pads[d + sp] : 0;
                        if (s < 1 || dl < 1) {
                            return;
                        }
                        out[d + 2] = s * (x[d + 2] - 1) + op + (kernel[d] - 1) * dl + 1 - p;
                    }
                    n.out(out, t);
                    return;
                }
                case "MaxPool":
                case "AveragePool":
                case "LpPool": {
                    double[] kernel = n.ints("kernel_shape");
                    if (x == null || kernel == null || x.length < 3) {
                        return;
                    }
                    n.out(spatial(n, x, kernel, n.i("ceil_mode", 0) != 0, x[1]), t);
                    if (n.outShapes.length > 1 && n.outShapes[0] != null) {
                        n.outShapes[1] = n.outShapes[0].clone();
                        n.outTypes[1] = 7;
                    }
                    return;
                }
                case "GlobalAveragePool":
                case "GlobalMaxPool":
                case "GlobalLpPool":
                    if (x != null && x.length >= 2) {
                        double[] out = x.clone();
                        for (int d = 2; d < out.length; d++) {
                            out[d] = 1;
                        }
                        n.out(out, t);
                    }
                    return;
                case "Pad": {
                    double[] pads = n.has(1) ? n.constant(1) : n.ints("pads");
                    if (x == null || pads == null) {
                        return;
                    }
                    double[] axes = n.has(3) ? n.constant(3) : null;
                    if (n.has(3) && axes == null) {
                        return;
                    }
                    int count = axes == null ? x.length : axes.length;
                    if (pads.length != 2 * count) {
                        return;
                    }
                    double[] out = x.clone();
                    for (int j = 0; j < count; j++) {
                        int axis = axes == null ? j : axis(axes[j], x.length);
                        if (axis < 0) {
                            return;
                        }
                        out[axis] += pads[j] + pads[j + count];
                    }
                    n.out(out, t);
                    return;
                }
                case "Resize":
                case "Upsample": {
                    if (x == null) {
                        return;
                    }
                    double[] sizes = n.op.equals("Resize") && n.has(3) ? n.constant(3) : null;
                    double[] scales = n.op.equals("Resize")
                            ? (n.has(2) ? n.constant(2) : n.inCount == 2 ? n.constant(1) : null)
                            : n.has(1) ? n.constant(1) : n.present("scales") ? n.ints("scales") : null;
                    double[] axes = n.ints("axes");
                    double[] out = x.clone();
                    double[] by = sizes != null ? sizes : scales;
                    if (by == null) {
                        return;
                    }
                    int count = axes == null ? x.length : axes.length;
                    if (by.length != count) {
                        return;
                    }
                    for (int j = 0; j < count; j++) {
                        int axis = axes == null ? j : axis(axes[j], x.length);
                        if (axis < 0) {
                            return;
                        }
                        out[axis] = sizes != null ? sizes[j] : Math.floor(x[axis] * scales[j]);
                    }
                    n.out(out, t);
                    return;
                }
                case "Tile": {
                    double[] repeats = n.constant(1);
                    if (x == null || repeats == null || repeats.length != x.length) {
                        return;
                    }
                    double[] out = x.clone();
                    for (int d = 0; d < out.length; d++) {
                        out[d] *= repeats[d];
                    }
                    n.out(out, t);
                    return;
                }
                case "Expand": {
                    double[] shape = n.constant(1);
                    if (shape != null) {
                        n.out(broadcast(x != null ? x : new double[0], shape.clone()), x != null ? t : 0);
                    }
                    return;
                }
                case "ConstantOfShape": {
                    double[] shape = n.constant(0);
                    if (shape != null) {
                        Attr value = n.attr("value");
                        n.out(shape.clone(), value != null && value.t != null ? value.t.dataType : 1);
                    }
                    return;
                }
                case "RandomNormal":
                case "RandomUniform": {
                    double[] shape = n.ints("shape");
                    Attr a = n.attr("shape");
                    if (a != null && a.listOverflow) {
                        n.out(new double[] {Double.POSITIVE_INFINITY}, 1);
                    } else if (shape != null) {
                        n.out(shape.clone(), (int) n.i("dtype", 1));
                    }
                    return;
                }
                case "Range": {
                    double[] s = n.constant(0);
                    double[] l = n.constant(1);
                    double[] d = n.constant(2);
                    if (s != null
                            && l != null
                            && d != null
                            && s.length == 1
                            && l.length == 1
                            && d.length == 1
                            && d[0] != 0) {
                        n.out(new double[] {Math.ceil((l[0] - s[0]) / d[0])}, t);
                    }
                    return;
                }
                case "OneHot": {
                    double[] depth = n.constant(1);
                    if (x == null || depth == null || depth.length != 1) {
                        return;
                    }
                    int axis = axis(n.i("axis", -1), x.length + 1);
                    if (axis < 0) {
                        return;
                    }
                    double[] out = new double[x.length + 1];
                    for (int d = 0, j = 0; d < out.length; d++) {
                        out[d] = d == axis ? depth[0] : x[j++];
                    }
                    n.out(out, n.type(2));
                    return;
                }
                case "Concat": {
                    double[] out = null;
                    int axis = -1;
                    double[] values = new double[0];
                    for (int j = 0; j < n.inCount; j++) {
                        double[] s = n.has(j) ? n.shape(j) : null;
                        if (s == null) {
                            return;
                        }
                        if (out == null) {
                            out = s.clone();
                            axis = axis(n.i("axis", 0), s.length);
                            if (axis < 0) {
                                return;
                            }
                        } else {
                            if (s.length != out.length) {
                                return;
                            }
                            for (int d = 0; d < out.length; d++) {
                                out[d] = d == axis ? out[d] + s[d] : Math.max(out[d], s[d]);
                            }
                        }
                        double[] c = n.constant(j);
                        values = values == null || c == null || values.length + c.length > SMALL_CONSTANT
                                ? null
                                : concat(values, c);
                    }
                    if (out != null) {
                        n.out(out, t);
                        n.value(out.length == 1 ? values : null);
                    }
                    return;
                }
                case "Gemm": {
                    double[] a = x;
                    double[] b = n.shape(1);
                    if (a == null || b == null || a.length != 2 || b.length != 2) {
                        return;
                    }
                    n.out(new double[] {n.i("transA", 0) != 0 ? a[1] : a[0], n.i("transB", 0) != 0 ? b[0] : b[1]}, t);
                    return;
                }
                case "MatMul":
                case "MatMulInteger": {
                    double[] a = x;
                    double[] b = n.shape(1);
                    if (a == null || b == null || a.length == 0 || b.length == 0) {
                        return;
                    }
                    double[] a2 = a.length == 1 ? new double[] {1, a[0]} : a;
                    double[] b2 = b.length == 1 ? new double[] {b[0], 1} : b;
                    double[] batch = broadcast(Arrays.copyOf(a2, a2.length - 2), Arrays.copyOf(b2, b2.length - 2));
                    double[] out = Arrays.copyOf(batch, batch.length + 2);
                    out[batch.length] = a2[a2.length - 2];
                    out[batch.length + 1] = b2[b2.length - 1];
                    if (a.length == 1 || b.length == 1) {
                        out = Arrays.copyOf(batch, batch.length + (a.length == 1 && b.length == 1 ? 0 : 1));
                        if (out.length > batch.length) {
                            out[batch.length] = a.length == 1 ? b2[b2.length - 1] : a2[a2.length - 2];
                        }
                    }
                    n.out(out, n.op.equals("MatMul") ? t : 6);
                    return;
                }
                case "Flatten": {
                    if (x == null) {
                        return;
                    }
                    int axis = axis(n.i("axis", 1), x.length + 1);
                    if (axis < 0) {
                        return;
                    }
                    double outer = 1;
                    double inner = 1;
                    for (int d = 0; d < x.length; d++) {
                        if (d < axis) {
                            outer *= x[d];
                        } else {
                            inner *= x[d];
                        }
                    }
                    n.out(new double[] {outer, inner}, t);
                    n.value(n.constant(0));
                    return;
                }
                case "Reshape": {
                    double[] shape = n.constant(1);
                    if (x == null || shape == null) {
                        return;
                    }
                    boolean exactIn = n.exact;
                    double total = 1;
                    for (double d : x) {
                        total *= d;
                    }
                    double known = 1;
                    int infer = -1;
                    double[] out = shape.clone();
                    for (int d = 0; d < out.length; d++) {
                        if (out[d] == 0 && n.i("allowzero", 0) == 0) {
                            if (d >= x.length) {
                                return;
                            }
                            out[d] = x[d];
                        }
                        if (out[d] == -1) {
                            if (infer >= 0) {
                                return;
                            }
                            infer = d;
                        } else if (out[d] < 0) {
                            return;
                        } else {
                            known *= out[d];
                        }
                    }
                    if (infer >= 0) {
                        out[infer] = exactIn && known > 0 ? Math.floor(total / known) : 1;
                    }
                    n.out(out, t);
                    n.value(n.constant(0));
                    return;
                }
                case "Transpose": {
                    if (x == null) {
                        return;
                    }
                    double[] perm = n.ints("perm");
                    double[] out = new double[x.length];
                    for (int d = 0; d < x.length; d++) {
                        int from = perm == null
                                ? x.length - 1 - d
                                : perm.length == x.length ? axis(perm[d], x.length) : -1;
                        if (from < 0) {
                            return;
                        }
                        out[d] = x[from];
                    }
                    n.out(out, t);
                    return;
                }
                case "Squeeze":
                case "Unsqueeze": {
                    double[] axes = n.has(1) ? n.constant(1) : n.ints("axes");
                    if (x == null || (axes == null && (n.has(1) || n.op.equals("Unsqueeze")))) {
                        return;
                    }
                    double[] out;
                    if (n.op.equals("Squeeze")) {
                        boolean[] drop = new boolean[x.length];
                        for (int d = 0; d < x.length; d++) {
                            drop[d] = axes == null && x[d] == 1;
                        }
                        if (axes != null) {
                            for (double a : axes) {
                                int ax = axis(a, x.length);
                                if (ax < 0) {
                                    return;
                                }
                                drop[ax] = true;
                            }
                        }
                        out = new double[0];
                        for (int d = 0; d < x.length; d++) {
                            if (!drop[d]) {
                                out = concat(out, new double[] {x[d]});
                            }
                        }
                    } else {
                        int rank = x.length + axes.length;
                        boolean[] added = new boolean[rank];
                        for (double a : axes) {
                            int ax = axis(a, rank);
                            if (ax < 0) {
                                return;
                            }
                            added[ax] = true;
                        }
                        out = new double[rank];
                        for (int d = 0, j = 0; d < rank; d++) {
                            out[d] = added[d] ? 1 : j < x.length ? x[j++] : 1;
                        }
                    }
                    n.out(out, t);
                    n.value(n.constant(0));
                    return;
                }
                case "Shape": {
                    if (x != null) {
                        n.out(new double[] {x.length}, 7);
                        n.value(x.clone());
                    }
                    return;
                }
                case "Size":
                    n.out(new double[0], 7);
                    return;
                case "Gather": {
                    double[] idx = n.shape(1);
                    if (x == null || idx == null || x.length == 0) {
                        return;
                    }
                    int axis = axis(n.i("axis", 0), x.length);
                    if (axis < 0) {
                        return;
                    }
                    double[] out =
                            concat(concat(Arrays.copyOf(x, axis), idx), Arrays.copyOfRange(x, axis + 1, x.length));
                    n.out(out, t);
                    double[] data = n.constant(0);
                    double[] at = n.constant(1);
                    if (data != null && at != null && x.length == 1) {
                        double[] picked = new double[at.length];
                        for (int j = 0; j < at.length; j++) {
                            int i = (int) (at[j] < 0 ? at[j] + data.length : at[j]);
                            if (i < 0 || i >= data.length) {
                                return;
                            }
                            picked[j] = data[i];
                        }
                        n.value(picked);
                    }
                    return;
                }
                case "ReduceMean":
                case "ReduceSum":
                case "ReduceMax":
                case "ReduceMin":
                case "ReduceProd":
                case "ReduceL1":
                case "ReduceL2":
                case "ReduceLogSum":
                case "ReduceLogSumExp":
                case "ReduceSumSquare":
                case "ArgMax":
                case "ArgMin": {
                    if (x == null) {
                        return;
                    }
                    boolean keep = n.i("keepdims", 1) != 0;
                    boolean arg = n.op.startsWith("Arg");
                    double[] axes = arg ? new double[] {n.i("axis", 0)} : n.has(1) ? n.constant(1) : n.ints("axes");
                    if (axes == null && (n.has(1) || n.attr("axes") != null)) {
                        if (!keep) {
                            return;
                        }
                        double[] ones = x.clone();
                        Arrays.fill(ones, 1);
                        n.exact = false;
                        n.out(ones, arg ? 7 : t);
                        return;
                    }
                    boolean[] reduce = new boolean[x.length];
                    if (axes == null || axes.length == 0) {
                        if (n.i("noop_with_empty_axes", 0) != 0) {
                            n.out(x.clone(), t);
                            return;
                        }
                        Arrays.fill(reduce, true);
                    } else {
                        for (double a : axes) {
                            int ax = axis(a, x.length);
                            if (ax < 0) {
                                return;
                            }
                            reduce[ax] = true;
                        }
                    }
                    double[] out = new double[0];
                    for (int d = 0; d < x.length; d++) {
                        if (!reduce[d]) {
                            out = concat(out, new double[] {x[d]});
                        } else if (keep) {
                            out = concat(out, new double[] {1});
                        }
                    }
                    n.out(out, arg ? 7 : t);
                    return;
                }
                default:
                    return;
            }
        }

        /** Output shape of a convolution or pooling window sweep, as ONNX defines it. */
        double[] spatial(Node n, double[] x, double[] kernel, boolean ceil, double channels) {
            int sp = x.length - 2;
            if (kernel.length != sp) {
                return null;
            }
            double[] strides = n.ints("strides");
            double[] dil = n.ints("dilations");
            double[] pads = n.ints("pads");
            String autoPad = n.str("auto_pad");
            double[] out = new double[x.length];
            out[0] = x[0];
            out[1] = channels;
            for (int d = 0; d < sp; d++) {
                double s = strides != null && strides.length == sp ? strides[d] : 1;
                double dl = dil != null && dil.length == sp ? dil[d] : 1;
                double p = pads != null && pads.length == 2 * sp ? pads[d] + pads[d + sp] : 0;
                if (s < 1 || dl < 1 || kernel[d] < 1) {
                    return null;
                }
                double window = (kernel[d] - 1) * dl + 1;
                double in = x[d + 2];
                if ("SAME_UPPER".equals(autoPad) || "SAME_LOWER".equals(autoPad)) {
                    out[d + 2] = Math.ceil(in / s);
                } else if ("VALID".equals(autoPad)) {
                    out[d + 2] = Math.ceil((in - window + 1) / s);
                } else {
                    double span = (in + p - window) / s;
                    out[d + 2] = (ceil ? Math.ceil(span) : Math.floor(span)) + 1;
                }
            }
            return out;
        }

        /** An axis in [-rank, rank) as an index, or -1. */
        int axis(double a, int rank) {
            if (a != Math.floor(a) || a < -rank || a >= rank) {
                return -1;
            }
            return (int) (a < 0 ? a + rank : a);
        }

        /** Numpy-style broadcast of two lower-bound shapes: the larger of each aligned pair. */
        double[] broadcast(double[] a, double[] b) {
            double[] out = new double[Math.max(a.length, b.length)];
            for (int d = 0; d < out.length; d++) {
                double x = d < out.length - a.length ? 1 : a[d - (out.length - a.length)];
                double y = d < out.length - b.length ? 1 : b[d - (out.length - b.length)];
                out[d] = x == 0 || y == 0 ? 0 : Math.max(x, y);
            }
            return out;
        }

        double[] concat(double[] a, double[] b) {
            double[] out = Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, out, a.length, b.length);
            return out;
        }
    }

    /** What the size inference knows of each value: a lower bound of its shape, its type, a small constant. */
    private static final class Values {
        private final NameTable names;
        private final List<double[]> shapes = new ArrayList<>();
        private final IntList types = new IntList();
        private final List<double[]> constants = new ArrayList<>();
        private final List<Boolean> exact = new ArrayList<>();

        Values(Walk w) {
            this.names = new NameTable(w);
        }

        void put(int handle, double[] shape, int type, boolean isExact, double[] constant) {
            int i = names.add(handle);
            if (i == shapes.size()) {
                shapes.add(shape);
                types.add(type);
                constants.add(constant);
                exact.add(isExact);
            } else {
                shapes.set(i, shape);
                types.set(i, type);
                constants.set(i, constant);
                exact.set(i, isExact);
            }
        }

        int index(int handle) {
            return names.index(handle);
        }

        double[] shape(int i) {
            return shapes.get(i);
        }

        int type(int i) {
            return types.get(i);
        }

        double[] constant(int i) {
            return constants.get(i);
        }

        boolean exact(int i) {
            return exact.get(i);
        }
    }

    // ============================================================== small structures

    /** A tensor's name, type, element count and, when small, its values. */
    private static final class TensorInfo {
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
    private static final class Attr {
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
    private static final class NodeAttrs {
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
    private static final class GraphInfo {
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
    private static final class Scope {
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
    private static final class IntList {
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
    private static final class NameTable {
        private static final long MERSENNE_61 = (1L << 61) - 1;
        private static final long HASH_BASE =
                256 + Math.floorMod(new java.security.SecureRandom().nextLong(), MERSENNE_61 - 512);
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
            for (int i = hash(handle) & mask; ; i = (i + 1) & mask) {
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
            while (slots[i] != 0) {
                i = (i + 1) & mask;
            }
            slots[i] = slotValue;
        }
    }
}
