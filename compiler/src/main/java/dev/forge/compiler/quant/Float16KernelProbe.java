package dev.forge.compiler.quant;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
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
 * model had means the node runs in float32, and so does a failed session or run. Answers are cached for
 * the process by provider, operator, opset and input types.
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
            ValueType t = in.isEmpty() ? null : graph.type(in);
            key.append(t == null ? "-" : low(t.dtype(), lowType).typeName()).append(',');
        }
        key.append('|').append(node.outputs().size());
        return CACHE.computeIfAbsent(key.toString(), k -> run(graph, node, lowType));
    }

    /** Every answer found so far in this process, by key (provider|domain:op@opset|input types|outputs). */
    public static Map<String, Result> answers() {
        return new LinkedHashMap<>(new java.util.TreeMap<>(CACHE));
    }

    private static DType low(DType t, DType lowType) {
        return t == DType.FLOAT32 ? lowType : t;
    }

    private Result run(Graph graph, Node node, DType lowType) {
        Graph p = new Graph("probe_" + node.opType());
        p.opsets().clear();
        p.opsets().putAll(graph.opsets());
        List<String> inputs = new ArrayList<>();
        Map<String, Tensor> feeds = new LinkedHashMap<>();
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
                return new Result(false, "input '" + in + "' has no known type");
            }
            if (constant != null && !constant.dtype().isFloatingPoint()) {
                p.addInitializer(name, constant); // shapes, axes, indices: the real values
            } else {
                // float inputs (weights too) and computed integers are fed zeros
                long[] dims = concrete(t.shape(), constant);
                if (dims == null) {
                    return new Result(false, "input '" + in + "' has no known rank");
                }
                DType dt = low(t.dtype(), lowType);
                p.addInput(new ValueInfo(name, new ValueType(dt, Shape.fixed(dims))));
                feeds.put(name, Tensor.zeros(dt, dims));
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
                return new Result(false, "output '" + out + "' has no known type");
            }
            outputs.add("out" + i);
            outTypes.add(new ValueType(low(t.dtype(), lowType), null));
        }
        Map<String, dev.forge.compiler.ir.Attribute> attrs = new LinkedHashMap<>(node.attributes());
        if (node.opType().equals("Cast") && node.attrInt("to", 0) == DType.FLOAT32.onnxElementType()) {
            attrs.put("to", new dev.forge.compiler.ir.Attribute.Int(lowType.onnxElementType()));
        }
        Node copy = new Node(node.opType(), "probe", node.domain(), inputs, outputs, attrs);
        p.addNode(copy, outTypes);
        for (int i = 0; i < outputs.size(); i++) {
            if (!outputs.get(i).isEmpty()) {
                p.addOutput(new ValueInfo(outputs.get(i), outTypes.get(i)));
            }
        }
        byte[] model = OnnxWriter.toBytes(p);
        long castsBefore = copy.opType().equals("Cast") ? 1 : 0;
        Path optimized = null;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            optimized = Files.createTempFile("forge-fp16-probe-", ".onnx");
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.BASIC_OPT);
            so.setIntraOpNumThreads(1);
            so.setOptimizedModelFilePath(optimized.toString());
            so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            if (device.kind() == Device.Kind.CUDA) {
                so.addCUDA(device.deviceId());
            }
            try (OrtSession session = env.createSession(model, so)) {
                Map<String, OnnxTensor> ort = new LinkedHashMap<>();
                try {
                    for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
                        ByteBuffer direct = ByteBuffer.allocateDirect(
                                        (int) e.getValue().byteSize())
                                .order(ByteOrder.nativeOrder());
                        ort.put(
                                e.getKey(),
                                OnnxTensor.createTensor(
                                        env,
                                        direct,
                                        e.getValue().shape(),
                                        e.getValue().dtype().toOnnxJavaType()));
                    }
                    session.run(ort).close();
                } finally {
                    ort.values().forEach(OnnxTensor::close);
                }
            }
            long casts = Onnx.ModelProto.parseFrom(Files.readAllBytes(optimized)).getGraph().getNodeList().stream()
                    .filter(n -> n.getOpType().equals("Cast"))
                    .count();
            if (casts > castsBefore) {
                return new Result(
                        false,
                        "ONNX Runtime has no " + lowType.typeName() + " kernel and wraps the node in Casts to float32");
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
