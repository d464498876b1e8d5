package dev.forge.compiler.quant;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.DType;
import dev.forge.runtime.Device;
import dev.forge.runtime.HalfFloats;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Asks ONNX Runtime whether an execution provider computes an operator in a given low-precision float type
 * (float16 or bfloat16), by running it: a one-node model with the node's attributes and constant integer
 * inputs, its float inputs in the low-precision type, a session on that provider, and one run on zeros.
 *
 * <p>Session creation alone does not answer the question on the CPU: where the CPU provider has no
 * float16 kernel, ONNX Runtime's {@code InsertCastTransformer} silently wraps the node in Casts to float32
 * and back. So the probe has ONNX Runtime save the graph it actually runs
 * ({@code SessionOptions.setOptimizedModelFilePath}) and counts its Cast nodes: more Casts than the probe
 * model had means the node runs in float32, and so does a failed session or run.
 *
 * <p>A kernel that exists must also be accurate: the probe runs the node on test values in [0.5, 1.5)
 * that are exact in the low-precision type, once in that type and once in float32, and accepts the
 * kernel only when every output is within two units in the last place of the float32 result, which a
 * kernel that accumulates in float32 meets. (ONNX Runtime 1.29's CPU float16 Gemm accumulates in
 * float16 and fails this; see {@code docs/QUANTIZATION.md}.) Answers are cached for the process by
 * provider, operator, opset and input types.
 */
public final class Float16KernelProbe {
    private static final Map<String, Result> CACHE = new ConcurrentHashMap<>();

    /** What a probe found: whether the node runs in the low-precision type, and why not if it does not. */
    public record Result(boolean supported, String reason) {}

    private final Device device;

    private Float16KernelProbe(Device device) {
        this.device = device;
    }

    /**
     * A probe for one device's execution provider.
     *
     * @param device {@link Device#cpu()} or a CUDA device (needs the {@code -Pcuda} build)
     * @return the probe
     */
    public static Float16KernelProbe on(Device device) {
        if (device.kind() == Device.Kind.AUTO) {
            throw new IllegalArgumentException(
                    "Float16KernelProbe: probe a concrete device (Device.cpu() or Device.cuda(n)), not AUTO:"
                            + " the answer depends on the execution provider");
        }
        return new Float16KernelProbe(device);
    }

    /**
     * Whether this device runs {@code node} of {@code graph} with its float32 inputs and outputs in {@code
     * lowType}.
     *
     * @param graph the graph holding the node (for input types, shapes and integer constants)
     * @param node the node
     * @param lowType {@link DType#FLOAT16} or {@link DType#BFLOAT16}
     * @return the cached or freshly probed answer
     */
    public Result probe(Graph graph, Node node, DType lowType) {
        StringBuilder key = new StringBuilder(device.toString())
                .append('|')
                .append(node.domain())
                .append(':')
                .append(node.opType())
                .append('@')
                .append(graph.opsets().getOrDefault(node.domain(), (long) graph.opset()))
                .append('|');
        for (String in : node.inputs()) {
            // the shape too: whether a kernel is exact enough can depend on it (the length of a dot product)
            ValueType t = in.isEmpty() ? null : graph.type(in);
            key.append(t == null ? "-" : low(t.dtype(), lowType).typeName() + (t.shape() == null ? "" : t.shape()))
                    .append(',');
        }
        key.append('|').append(node.outputs().size());
        return CACHE.computeIfAbsent(key.toString(), k -> run(graph, node, lowType));
    }

    /** Every answer found so far in this process, by key (provider|domain:op@opset|input types and shapes|outputs). */
    public static Map<String, Result> answers() {
        return new LinkedHashMap<>(new java.util.TreeMap<>(CACHE));
    }

    private static DType low(DType t, DType lowType) {
        return t == DType.FLOAT32 ? lowType : t;
    }

    /** The one-node probe model with float32 values in {@code floatType}, and its inputs' shapes. */
    private record Probe(byte[] model, Map<String, long[]> inputs, Map<String, DType> inputTypes, boolean isCast) {}

    private static Probe build(Graph graph, Node node, DType floatType) {
        Graph p = new Graph("probe_" + node.opType());
        p.opsets().clear();
        p.opsets().putAll(graph.opsets());
        List<String> inputs = new ArrayList<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        for (int i = 0; i < node.inputs().size(); i++) {
            String in = node.inputs().get(i);
            if (in.isEmpty()) {
                inputs.add("");
                continue;
            }
            String name = "in" + i;
            inputs.add(name);
            ValueType t = graph.type(in);
            Tensor constant = graph.initializers().get(in);
            if (t == null) {
                throw new IllegalArgumentException("input '" + in + "' has no known type");
            }
            if (constant != null && !constant.dtype().isFloatingPoint()) {
                p.addInitializer(name, constant); // shapes, axes, indices: the real values
            } else {
                // float inputs (weights too) get test values, computed integers zeros
                long[] dims = concrete(t.shape(), constant);
                if (dims == null) {
                    throw new IllegalArgumentException("input '" + in + "' has no known rank");
                }
                DType dt = low(t.dtype(), floatType);
                p.addInput(new ValueInfo(name, new ValueType(dt, Shape.fixed(dims))));
                shapes.put(name, dims);
                types.put(name, dt);
            }
        }
        List<String> outputs = new ArrayList<>();
        List<ValueType> outTypes = new ArrayList<>();
        for (int i = 0; i < node.outputs().size(); i++) {
            String out = node.outputs().get(i);
            if (out.isEmpty()) {
                outputs.add("");
                outTypes.add(null);
                continue;
            }
            ValueType t = graph.type(out);
            if (t == null) {
                throw new IllegalArgumentException("output '" + out + "' has no known type");
            }
            outputs.add("out" + i);
            outTypes.add(new ValueType(low(t.dtype(), floatType), null));
        }
        Map<String, Attribute> attrs = new LinkedHashMap<>(node.attributes());
        boolean isCast = node.opType().equals("Cast");
        if (isCast && node.attrInt("to", 0) == DType.FLOAT32.onnxElementType()) {
            attrs.put("to", new Attribute.Int(floatType.onnxElementType()));
        }
        p.addNode(new Node(node.opType(), "probe", node.domain(), inputs, outputs, attrs), outTypes);
        for (int i = 0; i < outputs.size(); i++) {
            if (!outputs.get(i).isEmpty()) {
                p.addOutput(new ValueInfo(outputs.get(i), outTypes.get(i)));
            }
        }
        return new Probe(OnnxWriter.toBytes(p), shapes, types, isCast);
    }

    private Result run(Graph graph, Node node, DType lowType) {
        Probe low;
        Probe full;
        try {
            low = build(graph, node, lowType);
            full = build(graph, node, DType.FLOAT32);
        } catch (IllegalArgumentException e) {
            return new Result(false, e.getMessage());
        }
        // test values: low-precision numbers in [0.5, 1.5), so both models see exactly the same inputs
        // and sums do not cancel
        Random random = new Random(17);
        Map<String, Tensor> lowFeeds = new LinkedHashMap<>();
        Map<String, Tensor> fullFeeds = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : low.inputs().entrySet()) {
            long[] dims = e.getValue();
            DType t = low.inputTypes().get(e.getKey());
            if (t != lowType) {
                lowFeeds.put(e.getKey(), Tensor.zeros(t, dims));
                fullFeeds.put(e.getKey(), Tensor.zeros(t, dims));
                continue;
            }
            float[] v = new float[Math.toIntExact(count(dims))];
            for (int i = 0; i < v.length; i++) {
                v[i] = narrow(0.5f + random.nextFloat(), lowType);
            }
            lowFeeds.put(e.getKey(), lowType == DType.FLOAT16 ? Tensor.ofFloat16(v, dims) : Tensor.ofBFloat16(v, dims));
            fullFeeds.put(e.getKey(), Tensor.of(v, dims));
        }
        Path optimized = null;
        try {
            optimized = Files.createTempFile("forge-fp16-probe-", ".onnx");
            List<Tensor> lowOut = session(low.model(), lowFeeds, optimized);
            long casts = Onnx.ModelProto.parseFrom(Files.readAllBytes(optimized)).getGraph().getNodeList().stream()
                    .filter(n -> n.getOpType().equals("Cast"))
                    .count();
            if (casts > (low.isCast() ? 1 : 0)) {
                return new Result(
                        false,
                        "ONNX Runtime has no " + lowType.typeName() + " kernel and wraps the node in Casts to float32");
            }
            List<Tensor> fullOut = session(full.model(), fullFeeds, null);
            for (int o = 0; o < lowOut.size(); o++) {
                Tensor a = lowOut.get(o);
                Tensor b = fullOut.get(o);
                if (a.dtype() != lowType) {
                    continue;
                }
                float[] x = a.toFloatArray();
                float[] y = b.toFloatArray();
                for (int i = 0; i < x.length; i++) {
                    // a kernel that computes internally in float32 gives the float32 result of the same
                    // inputs rounded once (half an ulp); two ulps leave room for a different summation order
                    float err = Math.abs(x[i] - y[i]);
                    if (!(err <= 2 * ulp(y[i], lowType)) && !(Float.isNaN(x[i]) && Float.isNaN(y[i]))) {
                        return new Result(
                                false,
                                "the " + lowType.typeName() + " kernel is inexact: output " + o + " element " + i
                                        + " is " + x[i] + " where float32 gives " + y[i]
                                        + " from the same inputs (more than 2 ulps; float16 accumulation?)");
                    }
                }
            }
            return new Result(true, "");
        } catch (OrtException | IOException | RuntimeException e) {
            String m = String.valueOf(e.getMessage());
            return new Result(false, m.length() > 200 ? m.substring(0, 200) + "..." : m);
        } finally {
            if (optimized != null) {
                try {
                    Files.deleteIfExists(optimized);
                } catch (IOException ignored) {
                    // a stray temporary file is harmless
                }
            }
        }
    }

    /** Creates a session on this device (saving the graph it runs to {@code optimized}) and runs it once. */
    private List<Tensor> session(byte[] model, Map<String, Tensor> feeds, Path optimized) throws OrtException {
        OrtEnvironment env = dev.forge.runtime.OrtNativeLibraries.environment();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.BASIC_OPT);
            so.setIntraOpNumThreads(1);
            if (optimized != null) {
                so.setOptimizedModelFilePath(optimized.toString());
            }
            so.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            if (device.kind() == Device.Kind.CUDA) {
                so.addCUDA(device.deviceId());
            }
            try (OrtSession session = env.createSession(model, so)) {
                Map<String, OnnxTensor> ort = new LinkedHashMap<>();
                try {
                    for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
                        Tensor t = e.getValue();
                        ByteBuffer direct =
                                ByteBuffer.allocateDirect((int) t.byteSize()).order(ByteOrder.nativeOrder());
                        direct.put(t.buffer().order(ByteOrder.LITTLE_ENDIAN)).flip();
                        ort.put(
                                e.getKey(),
                                OnnxTensor.createTensor(
                                        env, direct, t.shape(), t.dtype().toOnnxJavaType()));
                    }
                    List<Tensor> out = new ArrayList<>();
                    try (OrtSession.Result r = session.run(ort)) {
                        for (Map.Entry<String, OnnxValue> v : r) {
                            OnnxTensor t = (OnnxTensor) v.getValue();
                            DType dt = DType.fromOnnxTensorType(t.getInfo().onnxType);
                            ByteBuffer bytes = t.getByteBuffer().order(ByteOrder.nativeOrder());
                            ByteBuffer copy =
                                    ByteBuffer.allocate(bytes.remaining()).order(ByteOrder.LITTLE_ENDIAN);
                            copy.put(bytes).flip(); // little-endian hosts only (x86-64, aarch64)
                            out.add(Tensor.wrap(dt, copy, t.getInfo().getShape()));
                        }
                    }
                    return out;
                } finally {
                    ort.values().forEach(OnnxTensor::close);
                }
            }
        }
    }

    private static float narrow(float f, DType lowType) {
        return lowType == DType.FLOAT16
                ? HalfFloats.fromFloat16(HalfFloats.toFloat16(f))
                : HalfFloats.fromBFloat16(HalfFloats.toBFloat16(f));
    }

    /** The spacing of the low-precision type at {@code v}: 2^(exponent - fraction bits), at least the smallest subnormal. */
    private static float ulp(float v, DType lowType) {
        float a = Math.abs(v);
        if (Float.isInfinite(a) || Float.isNaN(a)) {
            return 0;
        }
        int fractionBits = lowType == DType.FLOAT16 ? 10 : 7;
        float smallest = lowType == DType.FLOAT16 ? 0x1p-24f : Float.MIN_VALUE;
        return Math.max(smallest, Math.scalb(1f, Math.getExponent(Math.max(a, Float.MIN_NORMAL)) - fractionBits));
    }

    private static long count(long[] dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    /** A concrete shape: symbolic and unknown dimensions become 1; null when even the rank is unknown. */
    private static long[] concrete(Shape shape, Tensor constant) {
        if (constant != null) {
            return constant.shape();
        }
        if (shape == null) {
            return null;
        }
        long[] dims = new long[shape.rank()];
        for (int i = 0; i < dims.length; i++) {
            Dim d = shape.dim(i);
            dims[i] = d.isFixed() ? d.value() : 1;
        }
        return dims;
    }
}
