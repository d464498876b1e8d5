package dev.forge.compiler.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.IrType;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.compiler.ops.Ops;
import dev.forge.compiler.ops.ShapeException;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.DType;
import dev.forge.runtime.ModelLimits;
import dev.forge.runtime.ModelLoadException;
import dev.forge.runtime.ModelValidator;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a standard ONNX model into the Forge IR: initializers become constant tensors, declared value
 * types are kept, nodes are put in topological order, and shapes are inferred for every operator Forge
 * knows. The model's opset is kept so writing it back reproduces it.
 *
 * <p>Before protobuf parses anything, the bytes go through the runtime's {@link ModelValidator} with the
 * same {@link ModelLimits} a {@code Model.load} applies (by default {@link ModelLimits#defaults()}): a
 * truncated, oversized, cyclic or hostile model, or one whose external data leaves its directory, is
 * refused with the same message, so the compiler never allocates what a model merely declares. The
 * supported IR and opset ranges are therefore those of the runtime (IR 3 to 13, ai.onnx opsets 1 to 26).
 */
public final class OnnxReader {
    /** Models larger than this are refused (protobuf's own limit is 2 GiB). */
    public static final int MAX_MODEL_BYTES = Integer.MAX_VALUE - 8;

    private OnnxReader() {}

    /** Reads an ONNX file with the default limits; external tensor data is resolved relative to its directory. */
    public static Graph read(Path path) {
        return read(path, ModelLimits.defaults());
    }

    /** Reads an ONNX file within {@code limits}; external tensor data is resolved relative to its directory. */
    public static Graph read(Path path, ModelLimits limits) {
        byte[] bytes;
        try {
            long size = Files.size(path);
            if (size > limits.maxModelBytes()) {
                throw new OnnxFormatException(path + ": refused: the file is " + size
                        + " bytes, more than ModelLimits.maxModelBytes (" + limits.maxModelBytes() + ")");
            }
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new OnnxFormatException(path + ": file not found");
        } catch (IOException e) {
            throw new OnnxFormatException(path + ": cannot read: " + e.getMessage(), e);
        }
        Path dir = path.toAbsolutePath().getParent();
        return read(bytes, path.toString(), dir, limits);
    }

    /** Reads ONNX bytes with the default limits; {@code source} names them in errors; external data is refused. */
    public static Graph read(byte[] bytes, String source) {
        return read(bytes, source, null, ModelLimits.defaults());
    }

    /** Reads ONNX bytes within {@code limits}; {@code source} names them in errors; external data is refused. */
    public static Graph read(byte[] bytes, String source, ModelLimits limits) {
        return read(bytes, source, null, limits);
    }

    private static Graph read(byte[] bytes, String source, Path baseDir, ModelLimits limits) {
        if (bytes.length == 0) {
            throw new OnnxFormatException(source + ": empty file, not an ONNX model");
        }
        try {
            ModelValidator.validate(bytes, source, baseDir, limits);
        } catch (ModelLoadException e) {
            String prefix = "Cannot load model " + source + ": ";
            String m = e.getMessage();
            throw new OnnxFormatException(source + ": " + (m.startsWith(prefix) ? m.substring(prefix.length()) : m), e);
        }
        Onnx.ModelProto proto;
        try {
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            in.setSizeLimit(MAX_MODEL_BYTES);
            in.setRecursionLimit(64);
            proto = Onnx.ModelProto.parseFrom(in);
            in.checkLastTagWas(0);
        } catch (InvalidProtocolBufferException e) {
            throw new OnnxFormatException(source + ": not a valid ONNX model (protobuf: " + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw new OnnxFormatException(source + ": cannot parse: " + e.getMessage(), e);
        }
        return fromProto(proto, source, baseDir);
    }

    /**
     * Converts a parsed model.
     *
     * @param proto the model
     * @param source name for error messages
     * @param baseDir directory for external tensor data, or null to refuse external data
     */
    static Graph fromProto(Onnx.ModelProto proto, String source, Path baseDir) {
        if (!proto.hasGraph()) {
            throw new OnnxFormatException(source + ": not a valid ONNX model (no graph)");
        }
        Onnx.GraphProto gp = proto.getGraph();
        Graph g = new Graph(gp.getName().isEmpty() ? "graph" : gp.getName());
        g.setIrVersion(proto.getIrVersion());
        g.setProducerName(proto.getProducerName());
        g.setProducerVersion(proto.getProducerVersion());
        g.setModelVersion(proto.getModelVersion());
        g.setDocString(proto.getDocString());
        g.opsets().clear();
        for (Onnx.OperatorSetIdProto op : proto.getOpsetImportList()) {
            String domain = op.getDomain().equals("ai.onnx") ? "" : op.getDomain();
            g.opsets().put(domain, op.getVersion());
        }
        if (!g.opsets().containsKey("")) {
            throw new OnnxFormatException(source + ": the model imports no default ONNX opset (opset_import is empty)");
        }
        for (Onnx.StringStringEntryProto e : proto.getMetadataPropsList()) {
            g.metadata().put(e.getKey(), e.getValue());
        }
        Set<String> initializerNames = new HashSet<>();
        for (Onnx.TensorProto t : gp.getInitializerList()) {
            if (!initializerNames.add(t.getName())) {
                throw new OnnxFormatException(source + ": initializer '" + t.getName() + "' is defined twice");
            }
            g.addInitializer(t.getName(), tensor(t, source, baseDir));
        }
        if (gp.getSparseInitializerCount() > 0) {
            throw new OnnxFormatException(source + ": sparse initializers are not supported");
        }
        for (Onnx.ValueInfoProto vi : gp.getInputList()) {
            if (initializerNames.contains(vi.getName())) {
                continue; // IR < 4 lists initializers as inputs too
            }
            g.addInput(new ValueInfo(vi.getName(), irType(vi, source)));
        }
        Map<String, IrType> declared = new HashMap<>();
        for (Onnx.ValueInfoProto vi : gp.getValueInfoList()) {
            // intermediate types are hints: one the IR does not carry (a map) is left for inference
            if (vi.getType().hasTensorType()
                    || vi.getType().hasSequenceType()
                    || vi.getType().hasOptionalType()) {
                declared.put(vi.getName(), irType(vi, source));
            }
        }
        List<Node> ordered = topologicalOrder(gp, g, source);
        for (Node n : ordered) {
            g.addNode(n, null);
            for (String out : n.outputs()) {
                if (declared.containsKey(out)) {
                    g.setIrType(out, declared.get(out));
                }
            }
            List<? extends IrType> types;
            try {
                // ONNX Runtime refuses attributes its operator does not define; so does the import
                Ops.checkAttributes(n);
                types = ShapeInference.inferNodeTypes(g, n, false);
            } catch (ShapeException e) {
                throw new OnnxFormatException(source + ": " + e.getMessage(), e);
            }
            if (types != null) {
                for (int i = 0; i < types.size() && i < n.outputs().size(); i++) {
                    if (types.get(i) != null && !n.output(i).isEmpty()) {
                        g.setIrType(n.output(i), types.get(i));
                    }
                }
            }
        }
        for (Onnx.ValueInfoProto vi : gp.getOutputList()) {
            if (!g.hasValue(vi.getName())) {
                throw new OnnxFormatException(
                        source + ": graph output '" + vi.getName() + "' is not produced by any node");
            }
            IrType inferred = g.irType(vi.getName());
            boolean typed = vi.hasType() && vi.getType().getValueCase() != Onnx.TypeProto.ValueCase.VALUE_NOT_SET;
            IrType declaredType = typed ? irType(vi, source) : inferred;
            IrType type = preferDeclared(declaredType, inferred);
            if (type == null) {
                throw new OnnxFormatException(source + ": graph output '" + vi.getName()
                        + "' declares no type and its producer "
                        + g.producer(vi.getName()).label()
                        + " has no type rule; declare the output's type in the model");
            }
            g.addOutput(new ValueInfo(vi.getName(), type));
        }
        return g;
    }

    /** The declared output type, but with inferred dimensions where the declaration left them open. */
    private static IrType preferDeclared(IrType declared, IrType inferred) {
        if (declared == null) {
            return inferred;
        }
        if (declared instanceof ValueType d && d.shape() == null && inferred instanceof ValueType i) {
            return new ValueType(d.dtype(), i.shape());
        }
        return declared;
    }

    /** Nodes in an order where every input is defined first (Kahn's algorithm); cycles are errors. */
    private static List<Node> topologicalOrder(Onnx.GraphProto gp, Graph g, String source) {
        List<Node> nodes = new ArrayList<>();
        Set<String> names = new HashSet<>();
        Map<String, Integer> producerOf = new HashMap<>();
        for (int i = 0; i < gp.getNodeCount(); i++) {
            Onnx.NodeProto np = gp.getNode(i);
            String name = np.getName();
            if (name.isEmpty() || !names.add(name)) {
                name = (np.getOpType().isEmpty() ? "node" : np.getOpType()) + "_" + i;
                while (!names.add(name)) {
                    name = name + "_";
                }
            }
            Map<String, Attribute> attrs = new LinkedHashMap<>();
            for (Onnx.AttributeProto ap : np.getAttributeList()) {
                attrs.put(ap.getName(), attribute(ap, name, source));
            }
            Node n = new Node(np.getOpType(), name, np.getDomain(), np.getInputList(), np.getOutputList(), attrs);
            nodes.add(n);
            for (String out : np.getOutputList()) {
                if (out.isEmpty()) {
                    continue;
                }
                if (producerOf.put(out, i) != null
                        || g.initializers().containsKey(out)
                        || g.inputs().stream().anyMatch(in -> in.name().equals(out))) {
                    throw new OnnxFormatException(source + ": value '" + out
                            + "' is defined more than once (again by node " + n.label() + ")");
                }
            }
        }
        Set<String> available = new HashSet<>(g.initializers().keySet());
        g.inputs().forEach(in -> available.add(in.name()));
        int[] missing = new int[nodes.size()];
        Map<String, List<Integer>> waiting = new HashMap<>();
        // Lowest index first, so a graph that is already in order keeps its order exactly.
        java.util.PriorityQueue<Integer> ready = new java.util.PriorityQueue<>();
        for (int i = 0; i < nodes.size(); i++) {
            for (String in : new LinkedHashSet<>(nodes.get(i).inputs())) {
                if (in.isEmpty() || available.contains(in)) {
                    continue;
                }
                if (!producerOf.containsKey(in)) {
                    throw new OnnxFormatException(
                            source + ": node " + nodes.get(i).label() + " reads '" + in
                                    + "', which is not a graph input, an initializer or any node's output");
                }
                missing[i]++;
                waiting.computeIfAbsent(in, k -> new ArrayList<>()).add(i);
            }
            if (missing[i] == 0) {
                ready.add(i);
            }
        }
        List<Node> out = new ArrayList<>(nodes.size());
        while (!ready.isEmpty()) {
            int i = ready.poll();
            out.add(nodes.get(i));
            for (String o : nodes.get(i).outputs()) {
                for (int j : waiting.getOrDefault(o, List.of())) {
                    if (--missing[j] == 0) {
                        ready.add(j);
                    }
                }
            }
        }
        if (out.size() != nodes.size()) {
            List<String> stuck = new ArrayList<>();
            for (int i = 0; i < nodes.size(); i++) {
                if (missing[i] > 0) {
                    stuck.add(nodes.get(i).label());
                }
            }
            throw new OnnxFormatException(source + ": the graph has a cycle through " + stuck);
        }
        return out;
    }

    /** The declared type of a graph input, output or value_info entry (see {@link OnnxTypes#fromProto}). */
    private static IrType irType(Onnx.ValueInfoProto vi, String source) {
        return OnnxTypes.fromProto(vi.getType(), source + ": value '" + vi.getName() + "'");
    }

    /**
     * Reads one serialized {@code TensorProto} (a {@code .pb} file, the form the ONNX backend test suites
     * store inputs and outputs in). External data is refused.
     *
     * @param path the file
     * @return the tensor
     * @throws OnnxFormatException if the file cannot be read, is not a {@code TensorProto}, or holds a
     *     type or layout Forge cannot carry
     */
    public static Tensor readTensor(Path path) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new OnnxFormatException(path + ": file not found");
        } catch (IOException e) {
            throw new OnnxFormatException(path + ": cannot read: " + e.getMessage(), e);
        }
        Onnx.TensorProto proto;
        try {
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            in.setSizeLimit(MAX_MODEL_BYTES);
            proto = Onnx.TensorProto.parseFrom(in);
        } catch (IOException e) {
            throw new OnnxFormatException(path + ": not a TensorProto (protobuf: " + e.getMessage() + ")", e);
        }
        return tensor(proto, path.toString(), null);
    }

    /** Converts a {@code TensorProto}, from raw data, typed fields or (checked) external data. */
    static Tensor tensor(Onnx.TensorProto t, String source, Path baseDir) {
        String what = source + ": tensor '" + t.getName() + "'";
        DType dtype = OnnxTypes.fromOnnx(t.getDataType());
        if (dtype == null) {
            throw new OnnxFormatException(what + " has element type " + OnnxTypes.name(t.getDataType())
                    + ", which Forge does not support (supported: " + OnnxTypes.supportedNames() + ")");
        }
        long[] dims = new long[t.getDimsCount()];
        long count = 1;
        for (int i = 0; i < dims.length; i++) {
            dims[i] = t.getDims(i);
            if (dims[i] < 0) {
                throw new OnnxFormatException(what + " has a negative dimension " + dims[i]);
            }
            try {
                count = Math.multiplyExact(count, dims[i]);
            } catch (ArithmeticException e) {
                throw new OnnxFormatException(
                        what + " declares an element count that overflows: " + Shape.format(dims));
            }
        }
        long expectedBytes = count * dtype.byteSize();
        if (expectedBytes > Integer.MAX_VALUE - 8) {
            throw new OnnxFormatException(what + " declares " + count + " elements (" + expectedBytes
                    + " bytes), more than a Java array holds");
        }
        boolean external = t.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL;
        if (dtype == DType.STRING) {
            if (external || t.hasRawData()) {
                throw new OnnxFormatException(what + " is a string tensor with " + (external ? "external" : "raw")
                        + " data; ONNX keeps strings in string_data");
            }
            check(t.getStringDataCount(), count, what);
            String[] values = new String[t.getStringDataCount()];
            for (int i = 0; i < values.length; i++) {
                values[i] = t.getStringData(i).toString(StandardCharsets.UTF_8);
            }
            return Tensor.ofStrings(values, dims);
        }
        // the data must be there before anything is allocated for it
        if (!external && t.hasRawData() && t.getRawData().size() != expectedBytes) {
            throw new OnnxFormatException(what + " has " + t.getRawData().size() + " bytes of raw data but its shape "
                    + Shape.format(dims) + " of " + dtype + " needs " + expectedBytes);
        }
        if (!external && !t.hasRawData()) {
            check(typedCount(t, dtype), count, what);
        }
        ByteBuffer buf = ByteBuffer.allocate((int) expectedBytes).order(ByteOrder.LITTLE_ENDIAN);
        if (external) {
            readExternal(t, what, baseDir, buf);
        } else if (t.hasRawData()) {
            t.getRawData().copyTo(buf);
        } else {
            fillTyped(t, dtype, count, what, buf);
        }
        buf.flip();
        return Tensor.wrap(dtype, buf, dims);
    }

    private static int typedCount(Onnx.TensorProto t, DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> t.getFloatDataCount();
            case FLOAT64 -> t.getDoubleDataCount();
            case INT64 -> t.getInt64DataCount();
            case UINT32, UINT64 -> t.getUint64DataCount();
            default -> t.getInt32DataCount();
        };
    }

    private static void fillTyped(Onnx.TensorProto t, DType dtype, long count, String what, ByteBuffer buf) {
        int n;
        switch (dtype) {
            case FLOAT32 -> {
                n = t.getFloatDataCount();
                check(n, count, what);
                for (int i = 0; i < n; i++) {
                    buf.putFloat(t.getFloatData(i));
                }
            }
            case FLOAT64 -> {
                n = t.getDoubleDataCount();
                check(n, count, what);
                for (int i = 0; i < n; i++) {
                    buf.putDouble(t.getDoubleData(i));
                }
            }
            case INT64 -> {
                n = t.getInt64DataCount();
                check(n, count, what);
                for (int i = 0; i < n; i++) {
                    buf.putLong(t.getInt64Data(i));
                }
            }
            case INT32 -> {
                n = t.getInt32DataCount();
                check(n, count, what);
                for (int i = 0; i < n; i++) {
                    buf.putInt(t.getInt32Data(i));
                }
            }
            case UINT8, INT8, BOOL -> {
                n = t.getInt32DataCount();
                check(n, count, what);
                for (int i = 0; i < n; i++) {
                    buf.put((byte) t.getInt32Data(i));
                }
            }
            case UINT32 -> {
                n = t.getUint64DataCount();
                check(n, count, what);
                for (int i = 0; i < n; i++) {
                    buf.putInt((int) t.getUint64Data(i));
                }
            }
            case UINT64 -> {
                n = t.getUint64DataCount();
                check(n, count, what);
                for (int i = 0; i < n; i++) {
                    buf.putLong(t.getUint64Data(i));
                }
            }
            case FLOAT16, BFLOAT16, INT16, UINT16 -> {
                // ONNX keeps 16-bit floats' raw bits (and 16-bit integers) one per int32_data entry
                n = t.getInt32DataCount();
                check(n, count, what);
                for (int i = 0; i < n; i++) {
                    buf.putShort((short) t.getInt32Data(i));
                }
            }
            default -> throw new OnnxFormatException(what + ": unsupported element type " + dtype);
        }
    }

    private static void check(int actual, long expected, String what) {
        if (actual != expected) {
            throw new OnnxFormatException(what + " holds " + actual + " values but its shape needs " + expected);
        }
    }

    /**
     * Reads external data, refusing any location that leaves the model's directory (absolute paths,
     * {@code ..}, symbolic links pointing out).
     */
    private static void readExternal(Onnx.TensorProto t, String what, Path baseDir, ByteBuffer buf) {
        if (baseDir == null) {
            throw new OnnxFormatException(what
                    + " keeps its data in an external file, which is only allowed when the model is read from a file");
        }
        String location = null;
        long offset = 0;
        long length = -1;
        for (Onnx.StringStringEntryProto e : t.getExternalDataList()) {
            switch (e.getKey()) {
                case "location" -> location = e.getValue();
                case "offset" -> offset = parseLong(e.getValue(), what, "offset");
                case "length" -> length = parseLong(e.getValue(), what, "length");
                default -> {}
            }
        }
        if (location == null || location.isEmpty()) {
            throw new OnnxFormatException(what + " has external data without a location");
        }
        Path base;
        Path file;
        try {
            base = baseDir.toRealPath();
            Path candidate = base.resolve(location).normalize();
            if (Path.of(location).isAbsolute() || !candidate.startsWith(base)) {
                throw new OnnxFormatException(
                        what + " points at external data '" + location + "' outside the model's directory; refused");
            }
            file = candidate.toRealPath();
            if (!file.startsWith(base)) {
                throw new OnnxFormatException(what + " points at external data '" + location
                        + "' that resolves (through a link) outside the model's directory; refused");
            }
        } catch (IOException e) {
            throw new OnnxFormatException(
                    what + ": external data file '" + location + "' cannot be opened: " + e.getMessage(), e);
        }
        long need = buf.capacity();
        if (length >= 0 && length != need) {
            throw new OnnxFormatException(
                    what + ": external data length " + length + " does not match its shape (" + need + " bytes)");
        }
        try (var ch = java.nio.channels.FileChannel.open(file)) {
            if (offset < 0 || offset + need > ch.size()) {
                throw new OnnxFormatException(what + ": external data '" + location + "' has " + ch.size()
                        + " bytes, too few for offset " + offset + " + " + need + " bytes");
            }
            ch.position(offset);
            while (buf.hasRemaining()) {
                if (ch.read(buf) < 0) {
                    throw new OnnxFormatException(what + ": external data '" + location + "' ended early");
                }
            }
        } catch (IOException e) {
            throw new OnnxFormatException(
                    what + ": cannot read external data '" + location + "': " + e.getMessage(), e);
        }
    }

    private static long parseLong(String v, String what, String key) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new OnnxFormatException(what + ": external data " + key + " '" + v + "' is not a number");
        }
    }

    private static Attribute attribute(Onnx.AttributeProto ap, String nodeName, String source) {
        return switch (ap.getType()) {
            case INT -> new Attribute.Int(ap.getI());
            case FLOAT -> new Attribute.Float(ap.getF());
            case STRING -> new Attribute.Str(ap.getS().toString(StandardCharsets.UTF_8));
            case INTS ->
                new Attribute.Ints(
                        ap.getIntsList().stream().mapToLong(Long::longValue).toArray());
            case FLOATS -> {
                float[] f = new float[ap.getFloatsCount()];
                for (int i = 0; i < f.length; i++) {
                    f[i] = ap.getFloats(i);
                }
                yield new Attribute.Floats(f);
            }
            case STRINGS ->
                new Attribute.Strs(ap.getStringsList().stream()
                        .map(b -> b.toString(StandardCharsets.UTF_8))
                        .toList());
            case TENSOR -> {
                if (OnnxTypes.fromOnnx(ap.getT().getDataType()) == null) {
                    yield new Attribute.Opaque(ap.toByteArray());
                }
                yield new Attribute.TensorValue(tensor(ap.getT(), source + ": node '" + nodeName + "'", null));
            }
            default -> new Attribute.Opaque(ap.toByteArray());
        };
    }

    private static final class LinkedHashSet<T> extends java.util.LinkedHashSet<T> {
        private static final long serialVersionUID = 1L;

        LinkedHashSet(java.util.Collection<T> c) {
            super(c);
        }
    }
}
