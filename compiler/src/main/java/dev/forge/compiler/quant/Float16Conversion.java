package dev.forge.compiler.quant;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.compiler.passes.FoldBatchNorm;
import dev.forge.compiler.passes.GraphVerifier;
import dev.forge.compiler.passes.Pass;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.RemoveUnusedInitializers;
import dev.forge.runtime.DType;
import dev.forge.runtime.Device;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Converts a float32 inference model to float16 weights and float16 compute (issue 11, item 4).
 *
 * <ul>
 *   <li>BatchNormalization is folded first ({@link FoldBatchNorm}, in double precision), so its epsilon
 *       never meets float16 (1e-5 is a float16 subnormal); a BatchNormalization that cannot be folded stays
 *       float32.
 *   <li>Each node with float32 inputs or outputs computes in float16 when the execution provider has a
 *       float16 kernel for it, which {@link Float16KernelProbe} finds out by running the node in ONNX
 *       Runtime (not from a list), so the same pass is right for the CPU and for CUDA. Nodes without one
 *       stay float32, and a Cast is placed on each edge where the two precisions meet: at the boundary
 *       of each float32 island, not around every node, and once per value and target type.
 *   <li>float32 initializers are stored as float16 (round to nearest even) when a float16 node reads them
 *       or they hold at least {@value #SMALL_CONSTANT} values (weights, halving the model even where the
 *       compute stays float32: ONNX Runtime folds the Cast of a constant once, at load). Small constants
 *       read only by float32 nodes (scales, clip bounds) keep their exact value. Integer tensors (shapes,
 *       indices, ConstantOfShape) are not touched; Constant nodes' float tensors are converted with them.
 *   <li>The graph's float32 inputs and outputs stay float32 through Casts (same names) unless {@link
 *       #float16Io()} asks for float16 interfaces.
 * </ul>
 *
 * <p>After the rewrite the pass re-runs shape inference and checks that every inferred element type is
 * the one it assigned, then the {@link GraphVerifier}. {@link #float32Nodes()} says which nodes stayed
 * float32 and why.
 */
public final class Float16Conversion implements Pass {
    /** Constants at least this large are stored as float16 even when only float32 nodes read them. */
    public static final int SMALL_CONSTANT = 64;

    private final Device device;
    private final boolean float16Io;
    private final Set<String> keepFloat32;
    private final boolean probe;
    private final Map<String, String> float32Nodes = new LinkedHashMap<>();

    private Float16Conversion(Device device, boolean float16Io, Set<String> keepFloat32, boolean probe) {
        this.device = device;
        this.float16Io = float16Io;
        this.keepFloat32 = keepFloat32;
        this.probe = probe;
    }

    /**
     * The conversion for one device's execution provider, with float32 graph inputs and outputs.
     *
     * @param device {@link Device#cpu()} or a CUDA device
     * @return the pass
     */
    public static Float16Conversion forDevice(Device device) {
        Objects.requireNonNull(device, "device");
        return new Float16Conversion(device, false, Set.of(), true);
    }

    /**
     * The same conversion with float16 graph inputs and outputs (the caller feeds and reads float16).
     *
     * @return a new pass
     */
    public Float16Conversion float16Io() {
        return new Float16Conversion(device, true, keepFloat32, probe);
    }

    /**
     * The same conversion keeping these operator types in float32 even where a float16 kernel exists.
     *
     * @param opTypes ONNX operator types, e.g. {@code Softmax}
     * @return a new pass
     */
    public Float16Conversion keepFloat32(String... opTypes) {
        Set<String> s = new LinkedHashSet<>(keepFloat32);
        s.addAll(List.of(opTypes));
        return new Float16Conversion(device, float16Io, Set.copyOf(s), probe);
    }

    /**
     * The same conversion without probing: every node with float32 values computes in float16 (except
     * unfolded BatchNormalization and {@link #keepFloat32} types), whatever the provider has. For
     * measuring what the probe saves, or for a provider whose float16 coverage is known; on the CPU, ONNX
     * Runtime then wraps each node that lacks a float16 kernel in Casts of its own.
     *
     * @return a new pass
     */
    public Float16Conversion everyNode() {
        return new Float16Conversion(device, float16Io, keepFloat32, false);
    }

    /**
     * The nodes of the last run that stayed float32, by node label, with the reason.
     *
     * @return label to reason, in graph order
     */
    public Map<String, String> float32Nodes() {
        return new LinkedHashMap<>(float32Nodes);
    }

    @Override
    public String name() {
        return "Float16Conversion";
    }

    @Override
    public Graph run(Graph input, PassContext context) {
        float32Nodes.clear();
        Graph g = new FoldBatchNorm().run(input, context);
        Float16KernelProbe kernels = Float16KernelProbe.on(device);

        // 1. which nodes compute in float16
        Set<Node> half = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Node n : g.nodes()) {
            if (!touchesFloat32(g, n)) {
                continue;
            }
            String reason = null;
            if (n.opType().equals("BatchNormalization")) {
                reason = "not folded; its epsilon would be a float16 subnormal";
            } else if (keepFloat32.contains(n.opType())) {
                reason = "kept float32 on request";
            } else if (n.opType().equals("Constant")) {
                reason = n.attr("value") instanceof Attribute.TensorValue ? null : "value is not a tensor attribute";
            } else if (!readsFloat32(g, n) && !n.opType().equals("Cast")) {
                reason = "its float32 output type is fixed by an attribute";
            } else if (probe) {
                Float16KernelProbe.Result r = kernels.probe(g, n, DType.FLOAT16);
                reason = r.supported() ? null : r.reason();
            }
            if (reason == null) {
                half.add(n);
            } else {
                float32Nodes.put(n.label(), n.opType() + ": " + reason);
            }
        }

        // a float16-capable node with only float32 neighbours would cost two Casts and gain nothing
        for (boolean changed = probe; changed; ) {
            changed = false;
            for (Node n : g.nodes()) {
                if (half.contains(n) && isolated(g, n, half)) {
                    half.remove(n);
                    float32Nodes.put(n.label(), n.opType() + ": float16 would sit alone between float32 nodes");
                    changed = true;
                }
            }
        }

        // 2. the new type of every float32 value: float16 where a float16 node makes it
        Map<String, DType> now = new HashMap<>();
        Graph out = new Graph(g.name());
        copyModelFields(g, out);
        for (ValueInfo in : g.inputs()) {
            ValueType t = in.type();
            if (float16Io && t.dtype() == DType.FLOAT32) {
                t = new ValueType(DType.FLOAT16, t.shape());
            }
            out.addInput(new ValueInfo(in.name(), t));
            now.put(in.name(), t.dtype());
        }
        for (Map.Entry<String, Tensor> e : g.initializers().entrySet()) {
            Tensor t = e.getValue();
            if (t.dtype() == DType.FLOAT32 && storeAsFloat16(g, e.getKey(), t, half)) {
                t = Tensor.ofFloat16(t.toFloatArray(), t.shape());
            }
            out.addInitializer(e.getKey(), t);
            if (g.parameters().contains(e.getKey())) {
                out.markParameter(e.getKey());
            }
            now.put(e.getKey(), t.dtype());
        }

        // 3. the nodes, with a Cast wherever a value's type differs from what its reader computes in
        Map<String, String> casts = new HashMap<>();
        Set<String> names = new HashSet<>(g.valueNames());
        g.nodes().forEach(n -> names.add(n.name()));
        for (Node n : g.nodes()) {
            boolean h = half.contains(n);
            List<String> inputs = new ArrayList<>();
            for (String in : n.inputs()) {
                ValueType vt = in.isEmpty() ? null : g.type(in);
                DType was = vt == null ? null : vt.dtype();
                if (was != DType.FLOAT32) {
                    inputs.add(in);
                    continue;
                }
                DType want = h ? DType.FLOAT16 : DType.FLOAT32;
                inputs.add(now.get(in) == want ? in : cast(out, in, want, casts, names, now));
            }
            Map<String, Attribute> attrs = n.attributes();
            if (h && n.opType().equals("Cast") && n.attrInt("to", 0) == DType.FLOAT32.onnxElementType()) {
                attrs = new LinkedHashMap<>(attrs);
                attrs.put("to", new Attribute.Int(DType.FLOAT16.onnxElementType()));
            }
            if (h
                    && n.opType().equals("Constant")
                    && n.attr("value") instanceof Attribute.TensorValue tv
                    && tv.value().dtype() == DType.FLOAT32) {
                attrs = new LinkedHashMap<>(attrs);
                attrs.put(
                        "value",
                        new Attribute.TensorValue(Tensor.ofFloat16(
                                tv.value().toFloatArray(), tv.value().shape())));
            }
            List<ValueType> types = new ArrayList<>();
            for (String o : n.outputs()) {
                ValueType t = o.isEmpty() ? null : g.type(o);
                if (t != null && t.dtype() == DType.FLOAT32 && h) {
                    t = new ValueType(DType.FLOAT16, t.shape());
                }
                types.add(t);
                if (t != null) {
                    now.put(o, t.dtype());
                }
            }
            out.addNode(new Node(n.opType(), n.name(), n.domain(), inputs, n.outputs(), attrs), types);
        }

        // 4. graph outputs keep their name and get the interface type through a final Cast
        for (ValueInfo o : g.outputs()) {
            DType was = o.type().dtype();
            DType want = was == DType.FLOAT32 && float16Io ? DType.FLOAT16 : was;
            if (now.get(o.name()) != want) {
                String inner = fresh(o.name() + (now.get(o.name()) == DType.FLOAT16 ? "/fp16" : "/fp32"), names);
                out.renameValue(o.name(), inner);
                out.addNode(
                        new Node(
                                "Cast",
                                fresh("Cast_" + o.name(), names),
                                List.of(inner),
                                List.of(o.name()),
                                Map.of("to", new Attribute.Int(want.onnxElementType()))),
                        List.of(new ValueType(want, o.type().shape())));
                now.put(o.name(), want);
            }
            out.addOutput(new ValueInfo(o.name(), new ValueType(want, o.type().shape())));
        }
        // the folded BatchNormalizations' and replaced weights' old initializers
        new RemoveUnusedInitializers().run(out, context);
        checkTypes(out);
        GraphVerifier.verify(out);
        return out;
    }

    /** Re-infers every node's types and insists each element type is the one the pass assigned. */
    private static void checkTypes(Graph g) {
        Map<String, DType> assigned = new HashMap<>();
        for (Node n : g.nodes()) {
            for (String o : n.outputs()) {
                if (!o.isEmpty() && g.type(o) != null) {
                    assigned.put(o, g.type(o).dtype());
                }
            }
        }
        ShapeInference.run(g);
        for (Node n : g.nodes()) {
            for (String o : n.outputs()) {
                DType a = assigned.get(o);
                ValueType t = g.type(o);
                if (a != null && t != null && t.dtype() != a) {
                    throw new IllegalStateException("Float16Conversion(" + n.label() + "): output '" + o
                            + "' was assigned " + a.typeName() + " but shape inference gives "
                            + t.dtype().typeName()
                            + "; this is a bug in the pass");
                }
            }
        }
    }

    private static String cast(
            Graph out, String value, DType to, Map<String, String> casts, Set<String> names, Map<String, DType> now) {
        String key = value + "|" + to;
        String existing = casts.get(key);
        if (existing != null) {
            return existing;
        }
        String name = fresh(value + (to == DType.FLOAT16 ? "/fp16" : "/fp32"), names);
        ValueType t = out.type(value);
        out.addNode(
                new Node(
                        "Cast",
                        fresh("Cast_" + name, names),
                        List.of(value),
                        List.of(name),
                        Map.of("to", new Attribute.Int(to.onnxElementType()))),
                List.of(new ValueType(to, t == null ? null : t.shape())));
        casts.put(key, name);
        now.put(name, to);
        return name;
    }

    private static String fresh(String base, Set<String> names) {
        String name = base;
        for (int i = 1; !names.add(name); i++) {
            name = base + "_" + i;
        }
        return name;
    }

    /** True when no float32 value of {@code n} comes from or goes to float16 compute. */
    private boolean isolated(Graph g, Node n, Set<Node> half) {
        Set<String> graphInputs = new HashSet<>();
        g.inputs().forEach(i -> graphInputs.add(i.name()));
        Set<String> graphOutputs = new HashSet<>();
        g.outputs().forEach(o -> graphOutputs.add(o.name()));
        for (String in : n.inputs()) {
            if (isFloat32(g, in)) {
                Node p = g.producer(in);
                if ((p != null && half.contains(p)) || (float16Io && graphInputs.contains(in))) {
                    return false;
                }
            }
        }
        for (String o : n.outputs()) {
            if (isFloat32(g, o)) {
                if (float16Io && graphOutputs.contains(o)) {
                    return false;
                }
                for (Node c : g.consumers(o)) {
                    if (half.contains(c)) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private static boolean isFloat32(Graph g, String value) {
        return !value.isEmpty() && g.type(value) != null && g.type(value).dtype() == DType.FLOAT32;
    }

    private static boolean storeAsFloat16(Graph g, String name, Tensor t, Set<Node> half) {
        if (t.size() >= SMALL_CONSTANT) {
            return true;
        }
        for (Node c : g.consumers(name)) {
            if (half.contains(c)) {
                return true;
            }
        }
        return false;
    }

    private static boolean readsFloat32(Graph g, Node n) {
        for (String in : n.inputs()) {
            if (!in.isEmpty() && g.type(in) != null && g.type(in).dtype() == DType.FLOAT32) {
                return true;
            }
        }
        return false;
    }

    private static boolean touchesFloat32(Graph g, Node n) {
        if (readsFloat32(g, n)) {
            return true;
        }
        for (String o : n.outputs()) {
            if (!o.isEmpty() && g.type(o) != null && g.type(o).dtype() == DType.FLOAT32) {
                return true;
            }
        }
        return false;
    }

    private static void copyModelFields(Graph from, Graph to) {
        to.setDocString(from.docString());
        to.setProducerName(from.producerName());
        to.setProducerVersion(from.producerVersion());
        to.setModelVersion(from.modelVersion());
        to.setIrVersion(from.irVersion());
        to.opsets().clear();
        to.opsets().putAll(from.opsets());
        to.metadata().putAll(from.metadata());
    }
}
