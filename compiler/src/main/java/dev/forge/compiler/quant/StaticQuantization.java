package dev.forge.compiler.quant;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.compiler.passes.FoldBatchNorm;
import dev.forge.compiler.passes.Pass;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.RemoveUnusedInitializers;
import dev.forge.compiler.passes.UntieParameters;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Post-training static INT8 quantization in the QDQ format (docs/QUANTIZATION.md): the float graph gets
 * {@code QuantizeLinear -> DequantizeLinear} pairs on the activations that quantized layers read and write,
 * with the calibrated ranges, and its layers read their weights through {@code DequantizeLinear} of int8
 * initializers. The model stays a standard ONNX graph any runtime can read; ONNX Runtime fuses each
 * {@code DQ -> Conv -> Q} group into {@code QLinearConv}, each Gemm group into {@code QGemm} and each MatMul
 * group into {@code QLinearMatMul} (or {@code MatMulIntegerToFloat} with a float output), which run in int8.
 *
 * <ul>
 *   <li>parameters a PyTorch export tied through Identity nodes are untied ({@link UntieParameters}) and
 *       BatchNormalization is folded ({@link FoldBatchNorm}) first;
 *   <li>Conv (weights per output channel, axis 0), Gemm (axis 0 with {@code transB}, else 1) and MatMul with
 *       a constant 2-D B (axis 1) get int8 symmetric per-channel weights, stored already quantized, and an
 *       int32 bias with scale {@code s_x * s_w[c]};
 *   <li>a Relu or Clip right after such a layer takes the layer's output quantization (no Q/DQ between them,
 *       so ONNX Runtime drops the activation into the fused kernel): the Relu output's range is used;
 *   <li>data-movement operators (MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, and Concat of
 *       tensors with one quantization) keep their input's quantization instead of requantizing;
 *   <li>every other operator runs in float and is reported with the reason; {@code keepFloat} names nodes or
 *       their outputs to keep in float.
 * </ul>
 *
 * <pre>{@code
 * StaticQuantization q = StaticQuantization.builder().keepFloat(Set.of("conv2")).build();
 * Set<String> names = q.tensorsToCalibrate(graph);                      // ranges to measure
 * StaticQuantization.Result r = q.apply(graph, ranges);                 // ranges keyed by tensor name
 * OnnxWriter.write(r.graph(), Path.of("model.int8.onnx"));
 * }</pre>
 */
public final class StaticQuantization {
    /** Operators that only move or select elements: their output keeps the quantization of their input. */
    private static final Set<String> DATA_MOVEMENT =
            Set.of("MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat");

    private static final String NAME = "StaticQuantization";

    private final QuantType activationType;
    private final boolean reduceRange;
    private final Set<String> keepFloat;
    private final long minConvDepth;
    private final long minMacsPerInput;
    private final boolean weightOnly;

    private StaticQuantization(Builder b) {
        this.activationType = b.activationType;
        this.reduceRange = b.reduceRange;
        this.keepFloat = Set.copyOf(b.keepFloat);
        this.minConvDepth = b.minConvDepth;
        this.minMacsPerInput = b.minMacsPerInput;
        this.weightOnly = b.weightOnly;
    }

    /**
     * A builder with the defaults: uint8 activations (U8S8), 7-bit weights (see {@link Builder#reduceRange}
     * and docs/QUANTIZATION.md), nothing kept float, no speed rule: every layer that can be quantized is.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The activation tensors the default quantization needs ranges for; see {@link #calibrationTensors}.
     *
     * @param graph a float model
     * @return tensor names in graph order
     */
    public static Set<String> tensorsToCalibrate(Graph graph) {
        return builder().build().calibrationTensors(graph);
    }

    /**
     * The activation tensors this quantization needs ranges for, in graph order: the inputs of quantized
     * layers and their (activation-fused) outputs. Names are those of {@code graph}, so the float model can
     * be run to measure them; outputs of data-movement operators inherit their input's range and are absent.
     *
     * @param graph a float model
     * @return tensor names in graph order
     */
    public Set<String> calibrationTensors(Graph graph) {
        Graph g = prepare(graph);
        return Collections.unmodifiableSet(plan(g).calibrate);
    }

    /**
     * Quantizes a float model.
     *
     * @param graph a float model (not changed)
     * @param activationRanges the range of every tensor {@link #calibrationTensors} lists (more are ignored)
     * @return the QDQ graph and what was quantized and what stayed float
     * @throws IllegalArgumentException if the graph is already quantized, below opset 13, or a range is missing
     */
    public Result apply(Graph graph, Map<String, TensorRange> activationRanges) {
        Objects.requireNonNull(activationRanges, "activationRanges");
        Graph g = prepare(graph);
        Plan plan = plan(g);
        List<String> missing = new ArrayList<>();
        for (String t : plan.calibrate) {
            if (!activationRanges.containsKey(t)) {
                missing.add(t);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(NAME + ": no activation range for " + missing + " of graph '" + g.name()
                    + "'; calibrate every tensor calibrationTensors(graph) lists");
        }
        new Rewriter(g, plan, activationRanges).run();
        new RemoveUnusedInitializers().run(g, new PassContext());
        ShapeInference.run(g);
        return new Result(g, plan.quantized, plan.keptFloat);
    }

    /**
     * This quantization as a pipeline pass with fixed ranges (its name in dumps: {@code StaticQuantization}).
     *
     * @param activationRanges the calibrated ranges
     * @return the pass
     */
    public Pass pass(Map<String, TensorRange> activationRanges) {
        Map<String, TensorRange> ranges = Map.copyOf(activationRanges);
        return new Pass() {
            @Override
            public String name() {
                return NAME;
            }

            @Override
            public Graph run(Graph graph, PassContext context) {
                return apply(graph, ranges).graph();
            }
        };
    }

    /**
     * The result of {@link #apply}.
     *
     * @param graph the QDQ model
     * @param quantized node name to how it runs quantized, in graph order
     * @param keptFloat node name to why it stays float, in graph order
     */
    public record Result(Graph graph, Map<String, String> quantized, Map<String, String> keptFloat) {
        /** Copies the maps. */
        public Result {
            quantized = Collections.unmodifiableMap(new LinkedHashMap<>(quantized));
            keptFloat = Collections.unmodifiableMap(new LinkedHashMap<>(keptFloat));
        }
    }

    /** Settings of a {@link StaticQuantization}. */
    public static final class Builder {
        private QuantType activationType = QuantType.UINT8;
        private boolean reduceRange = true;
        private Set<String> keepFloat = Set.of();
        private long minConvDepth;
        private long minMacsPerInput;
        private boolean weightOnly;

        private Builder() {}

        /**
         * The type of quantized activations: {@link QuantType#UINT8} (U8S8 kernels, the default) or
         * {@link QuantType#INT8} (S8S8). Weights are always int8.
         *
         * @param type the activation type
         * @return this builder
         */
        public Builder activationType(QuantType type) {
            this.activationType = Objects.requireNonNull(type, "type");
            return this;
        }

        /**
         * Whether weights are stored in 7 bits ({@code -63..63}, the default) rather than 8. ONNX Runtime's
         * x86 kernels without AVX-512 VNNI (AVX2, AVX-512 core) multiply u8 x s8 with {@code vpmaddubsw}, which
         * adds pairs of products in saturating int16: {@code 2 * 255 * 127} overflows it, {@code 2 * 255 * 63}
         * does not. Measured on this project's AVX2 machine, full 8-bit weights made the outputs of a PyTorch
         * CNN 10x less accurate than 7-bit ones (docs/QUANTIZATION.md). Turn it off only for models served on
         * VNNI hardware.
         *
         * @param reduceRange true for 7-bit weights, false for 8-bit
         * @return this builder
         */
        public Builder reduceRange(boolean reduceRange) {
            this.reduceRange = reduceRange;
            return this;
        }

        /**
         * Nodes to keep in float, by node name or by the name of one of their outputs.
         *
         * @param names node or output names
         * @return this builder
         */
        public Builder keepFloat(Set<String> names) {
            this.keepFloat = Set.copyOf(names);
            return this;
        }

        /**
         * Keeps a Conv float when its GEMM depth {@code C_in / groups * kH * kW} is below {@code depth}, and every
         * depthwise Conv: ONNX Runtime's int8 convolution is slower than its float one there (measured by
         * benchmarks ConvInt8Sweep; {@code Quantizer.MIN_INT8_CONV_DEPTH}). Default 0: no Conv is kept for this.
         *
         * @param depth the smallest depth to quantize; 0 turns the rule off
         * @return this builder
         */
        public Builder minConvDepth(long depth) {
            if (depth < 0) {
                throw new IllegalArgumentException("minConvDepth must be >= 0, got " + depth);
            }
            this.minConvDepth = depth;
            return this;
        }

        /**
         * Keeps a Conv, Gemm or MatMul float when it does fewer than {@code macs} multiply-adds per element of
         * the input it quantizes (a Gemm's or MatMul's output width N; a Conv's {@code C_out / groups * kH * kW}
         * times its output-to-input area ratio): the int8 product then saves less time than quantizing that
         * input costs (measured by benchmarks GemmInt8Sweep; {@code Quantizer.MIN_INT8_MACS_PER_INPUT}). Default
         * 0: no layer is kept for this.
         *
         * @param macs the smallest count to quantize; 0 turns the rule off
         * @return this builder
         */
        public Builder minMacsPerInput(long macs) {
            if (macs < 0) {
                throw new IllegalArgumentException("minMacsPerInput must be >= 0, got " + macs);
            }
            this.minMacsPerInput = macs;
            return this;
        }

        /**
         * Layers kept float by {@link #minConvDepth} or {@link #minMacsPerInput} still store their weights int8
         * (symmetric per output channel, 8 bits: the product runs in float, so nothing saturates), restored by
         * {@code Mul(Cast(W_int8), scale)}, which ONNX Runtime folds once at load (it never folds a {@code
         * DequantizeLinear}), with no activation Q/DQ: the file stays about 4x smaller while the layer runs the
         * float kernel. Default false: such layers keep float weights. Layers kept
         * float by {@link #keepFloat} (for accuracy) always keep their float weights.
         *
         * @param weightOnly whether speed-kept layers store int8 weights
         * @return this builder
         */
        public Builder weightOnly(boolean weightOnly) {
            this.weightOnly = weightOnly;
            return this;
        }

        /**
         * The quantization.
         *
         * @return a quantization with these settings
         */
        public StaticQuantization build() {
            return new StaticQuantization(this);
        }
    }

    // ---------------------------------------------------------------- planning

    /** A copy of the graph, checked, with BatchNormalization folded and types inferred. */
    private static Graph prepare(Graph graph) {
        Graph g = graph.copy();
        QuantGraphs.requireFloatModel(g, NAME);
        // a PyTorch export ties equal parameters through Identity nodes; untied, they are constants again
        new UntieParameters().run(g, new PassContext());
        new FoldBatchNorm().run(g, new PassContext());
        ShapeInference.run(g);
        return g;
    }

    /** One quantized layer: its node, the weight axis, and the activation fused into it (or null). */
    private record Layer(Node node, int weightAxis, Node activation, String output) {}

    /** Which tensors are quantized and how, decided before anything is rewritten. */
    private static final class Plan {
        final LinkedHashSet<String> calibrate = new LinkedHashSet<>();
        final Map<String, String> inherit = new HashMap<>();
        final Set<String> quantizedTensors = new LinkedHashSet<>();
        final Map<String, Layer> layers = new HashMap<>();
        final LinkedHashMap<String, String> quantized = new LinkedHashMap<>();
        final LinkedHashMap<String, String> keptFloat = new LinkedHashMap<>();
        /** Layers kept float for speed whose weights are stored int8 (weight-only), by node name. */
        final Map<String, Node> weightOnly = new HashMap<>();

        /** The tensor whose calibrated range a quantized tensor uses (itself unless inherited). */
        String root(String t) {
            String r = t;
            while (inherit.containsKey(r)) {
                r = inherit.get(r);
            }
            return r;
        }
    }

    private Plan plan(Graph g) {
        QuantGraphs.requireKnownNames(g, keepFloat, NAME);
        Plan p = new Plan();
        Set<String> fused = new HashSet<>();
        for (Node n : g.nodes()) {
            if (fused.contains(n.name())) {
                continue;
            }
            if (keptByRequest(n)) {
                p.keptFloat.put(n.name(), "kept float as asked (keepFloat)");
                continue;
            }
            String op = n.opType();
            if (op.equals("Conv") || op.equals("Gemm") || op.equals("MatMul")) {
                String problem = layerProblem(g, n);
                if (problem != null) {
                    p.keptFloat.put(n.name(), problem);
                    continue;
                }
                String slow = speedProblem(g, n);
                if (slow != null) {
                    if (weightOnly) {
                        p.weightOnly.put(n.name(), n);
                        slow += "; weights stored int8 (weight-only, restored at load)";
                    }
                    p.keptFloat.put(n.name(), slow);
                    continue;
                }
                Node act = fusableActivation(g, n);
                String out = act == null ? n.output(0) : act.output(0);
                boolean graphOutput = QuantGraphs.isGraphOutput(g, out);
                if (op.equals("Conv") && graphOutput) {
                    p.keptFloat.put(
                            n.name(),
                            "its output '" + out + "' is a graph output; ONNX Runtime's QLinearConv writes only"
                                    + " quantized outputs");
                    continue;
                }
                String x = n.input(0);
                if (!p.quantizedTensors.contains(x)) {
                    p.calibrate.add(x);
                    p.quantizedTensors.add(x);
                }
                // Conv needs its output quantized to become QLinearConv; Gemm and MatMul fuse with a float
                // output too, so their output is quantized only when an integer consumer reads it, or when a
                // Relu/Clip follows: ONNX Runtime fuses a float-output Gemm with its Relu into a float FusedGemm
                // first (measured in SpeedRulesTest), so the group needs its Q to become a QGemm
                boolean quantizeOutput = !graphOutput
                        && (op.equals("Conv") ? !g.consumers(out).isEmpty() : act != null || readInIntegers(g, out));
                if (quantizeOutput) {
                    p.calibrate.add(out);
                    p.quantizedTensors.add(out);
                }
                p.layers.put(n.name(), new Layer(n, weightAxis(n), act, quantizeOutput ? out : null));
                p.quantized.put(
                        n.name(),
                        "int8 per-channel weights, " + activationType.name().toLowerCase(java.util.Locale.ROOT)
                                + " input" + (quantizeOutput ? " and output" : ", float output"));
                if (act != null) {
                    fused.add(act.name());
                    p.quantized.put(act.name(), "fused into " + n.label() + " (takes its output quantization)");
                }
            } else if (DATA_MOVEMENT.contains(op)) {
                String problem = movementProblem(g, n, p);
                if (problem != null) {
                    p.keptFloat.put(n.name(), problem);
                    continue;
                }
                p.inherit.put(n.output(0), n.input(0));
                p.quantizedTensors.add(n.output(0));
                p.quantized.put(n.name(), "moves quantized values (keeps the quantization of '" + n.input(0) + "')");
            } else {
                p.keptFloat.put(
                        n.name(),
                        op + " has no integer form in the QDQ scheme here; it runs in float on dequantized values");
            }
        }
        return p;
    }

    private boolean keptByRequest(Node n) {
        if (keepFloat.contains(n.name())) {
            return true;
        }
        for (String o : n.outputs()) {
            if (keepFloat.contains(o)) {
                return true;
            }
        }
        return false;
    }

    /** Why a Conv, Gemm or MatMul cannot be quantized, or null if it can. */
    private static String layerProblem(Graph g, Node n) {
        ValueType xt = g.type(n.input(0));
        if (xt == null || xt.dtype() != DType.FLOAT32) {
            return "its input '" + n.input(0) + "' is not a float32 tensor of known type";
        }
        Tensor w = QuantGraphs.floatConstant(g, n.input(1));
        if (w == null) {
            return "its weights '" + n.input(1) + "' are not a float32 constant (computed at run time)";
        }
        switch (n.opType()) {
            case "Conv" -> {
                if (n.hasInput(2) && QuantGraphs.floatConstant(g, n.input(2)) == null) {
                    return "its bias '" + n.input(2) + "' is not a float32 constant";
                }
            }
            case "Gemm" -> {
                if (w.rank() != 2 || n.attrInt("transA", 0) != 0) {
                    return "only Gemm with transA = 0 and a matrix B is quantized";
                }
                if (n.attrFloat("alpha", 1f) != 1f || (n.hasInput(2) && n.attrFloat("beta", 1f) != 1f)) {
                    return "alpha and beta must be 1 (the int32 bias is added to the accumulator as it is)";
                }
                if (n.hasInput(2)) {
                    Tensor c = QuantGraphs.floatConstant(g, n.input(2));
                    long outputs = n.attrInt("transB", 0) != 0 ? w.dim(0) : w.dim(1);
                    if (c == null || c.size() != outputs || c.shape()[c.rank() - 1] != outputs) {
                        return "its bias C must be a float32 constant with one value per output (" + outputs + ")";
                    }
                }
            }
            default -> {
                if (w.rank() != 2 || xt.shape() == null || xt.shape().rank() < 2) {
                    return "only MatMul of an activation of rank >= 2 by a constant matrix is quantized";
                }
            }
        }
        return null;
    }

    /**
     * Why a quantizable layer is kept float for speed ({@link Builder#minConvDepth}, {@link
     * Builder#minMacsPerInput}), or null. Decided from the layer's shapes alone, so the same answer holds wherever
     * it is asked (planning the layer, or its producer asking whether it reads integers).
     */
    private String speedProblem(Graph g, Node n) {
        Tensor w = QuantGraphs.floatConstant(g, n.input(1));
        if (n.opType().equals("Conv") && minConvDepth > 0 && w.rank() >= 3) {
            long depth = 1;
            for (int i = 1; i < w.rank(); i++) {
                depth *= w.shape()[i];
            }
            if (n.attrInt("group", 1) > 1 && w.shape()[1] == 1) {
                return "depthwise: ONNX Runtime's int8 depthwise Conv is slower than the float one here"
                        + " (everyConv / --every-conv to quantize it)";
            }
            if (depth < minConvDepth) {
                return "GEMM depth " + depth + " < " + minConvDepth + ": ONNX Runtime's int8 Conv is slower than"
                        + " the float one at this depth (everyConv / --every-conv to quantize it)";
            }
        }
        if (minMacsPerInput > 0) {
            double macs = macsPerInput(g, n, w);
            if (macs >= 0 && macs < minMacsPerInput) {
                return String.format(
                        java.util.Locale.ROOT,
                        "%s multiply-adds per input element < %d: quantizing its input costs more than the int8"
                                + " product saves (everyLayer / --every-layer to quantize it)",
                        macs == Math.rint(macs)
                                ? String.valueOf((long) macs)
                                : String.format(java.util.Locale.ROOT, "%.1f", macs),
                        minMacsPerInput);
            }
        }
        return null;
    }

    /**
     * A layer's multiply-adds per element of its input: the output width N for Gemm and MatMul; for Conv
     * {@code C_out / groups * kH * kW * (output area / input area)}. -1 when the shapes are not known.
     */
    private static double macsPerInput(Graph g, Node n, Tensor w) {
        if (!n.opType().equals("Conv")) {
            return w.shape()[weightAxis(n)];
        }
        ValueType in = g.type(n.input(0));
        ValueType out = g.type(n.output(0));
        if (w.rank() < 3 || in == null || out == null || in.shape() == null || out.shape() == null) {
            return -1;
        }
        Shape si = in.shape();
        Shape so = out.shape();
        if (si.rank() != w.rank() || so.rank() != w.rank()) {
            return -1;
        }
        double area = 1;
        for (int i = 2; i < w.rank(); i++) {
            if (!si.dim(i).isFixed() || !so.dim(i).isFixed()) {
                return -1;
            }
            area *= (double) so.dim(i).value() / si.dim(i).value();
        }
        double perOutput = 1;
        for (int i = 2; i < w.rank(); i++) {
            perOutput *= w.shape()[i];
        }
        long groups = n.attrInt("group", 1);
        return (double) w.shape()[0] / groups * perOutput * area;
    }

    /** True if a reader of {@code t} can take it quantized: a quantizable layer or a data-movement operator. */
    private boolean readInIntegers(Graph g, String t) {
        for (Node r : g.consumers(t)) {
            if (keptByRequest(r)) {
                continue;
            }
            String op = r.opType();
            if (DATA_MOVEMENT.contains(op)
                    || ((op.equals("Conv") || op.equals("Gemm") || op.equals("MatMul"))
                            && r.input(0).equals(t)
                            && layerProblem(g, r) == null
                            && speedProblem(g, r) == null)) {
                return true;
            }
        }
        return false;
    }

    /** The axis of the weight tensor that indexes output channels. */
    private static int weightAxis(Node n) {
        return switch (n.opType()) {
            case "Conv" -> 0;
            case "Gemm" -> n.attrInt("transB", 0) != 0 ? 0 : 1;
            default -> 1;
        };
    }

    /** The Relu or Clip that alone reads a layer's output and can take its quantization, or null. */
    private Node fusableActivation(Graph g, Node layer) {
        String y = layer.output(0);
        List<Node> readers = g.consumers(y);
        if (readers.size() != 1 || QuantGraphs.isGraphOutput(g, y)) {
            return null;
        }
        Node a = readers.get(0);
        if (keptByRequest(a) || a.input(0).isEmpty() || !a.input(0).equals(y)) {
            return null;
        }
        if (a.opType().equals("Relu")) {
            return a;
        }
        if (a.opType().equals("Clip")) {
            // Clip's bounds (opset 11+ inputs) must be constants for its range to be the quantization's
            for (int i = 1; i < a.inputs().size(); i++) {
                if (a.hasInput(i) && QuantGraphs.floatConstant(g, a.input(i)) == null) {
                    return null;
                }
            }
            return a;
        }
        return null;
    }

    /** Why a data-movement node cannot keep its input's quantization, or null if it can. */
    private static String movementProblem(Graph g, Node n, Plan p) {
        if (n.outputs().size() != 1 || n.output(0).isEmpty()) {
            return "it has more than one output (MaxPool's Indices)";
        }
        if (QuantGraphs.isGraphOutput(g, n.output(0))) {
            return "its output is a graph output and stays float";
        }
        if (n.opType().equals("Concat")) {
            Set<String> roots = new TreeSet<>();
            for (String in : n.inputs()) {
                if (!p.quantizedTensors.contains(in)) {
                    return "not every input is quantized";
                }
                roots.add(p.root(in));
            }
            return roots.size() == 1 ? null : "its inputs are quantized with different parameters";
        }
        return p.quantizedTensors.contains(n.input(0)) ? null : "its input '" + n.input(0) + "' is not quantized";
    }

    // ---------------------------------------------------------------- rewriting

    /** Emits the QDQ graph from a plan: one forward sweep over the nodes. */
    private final class Rewriter {
        private final Graph g;
        private final Plan plan;
        private final Map<String, TensorRange> ranges;
        private final List<Node> out = new ArrayList<>();
        /** Quantized float tensor -> the name its consumers read (the DequantizeLinear output). */
        private final Map<String, String> dequantized = new HashMap<>();
        /** Quantized float tensor -> its parameters and their initializer names (shared by inheritors). */
        private final Map<String, Activation> params = new HashMap<>();

        Rewriter(Graph g, Plan plan, Map<String, TensorRange> ranges) {
            this.g = g;
            this.plan = plan;
            this.ranges = ranges;
        }

        void run() {
            List<Node> nodes = new ArrayList<>(g.nodes());
            g.inputs().forEach(in -> quantizeIfPlanned(in.name()));
            for (Node n : nodes) {
                Layer layer = plan.layers.get(n.name());
                if (layer != null) {
                    emitLayer(layer);
                } else if (plan.weightOnly.containsKey(n.name())) {
                    emitWeightOnly(n);
                } else {
                    out.add(rewire(n, n.inputs()));
                }
                n.outputs().forEach(this::quantizeIfPlanned);
            }
            g.setNodes(out);
        }

        /** The node reading the dequantized form of every quantized input. */
        private Node rewire(Node n, List<String> inputs) {
            List<String> ins = new ArrayList<>();
            for (String in : inputs) {
                ins.add(dequantized.getOrDefault(in, in));
            }
            return new Node(n.opType(), n.name(), n.domain(), ins, n.outputs(), n.attributes());
        }

        private void quantizeIfPlanned(String t) {
            if (!plan.quantizedTensors.contains(t)) {
                return;
            }
            Activation a = activation(t);
            ValueType type = g.type(t);
            Shape shape = type == null ? null : type.shape();
            String q = QuantGraphs.fresh(g, t + "/quantized");
            g.setType(q, new ValueType(activationType.dtype(), shape));
            out.add(new Node("QuantizeLinear", q, List.of(t, a.scale, a.zeroPoint), List.of(q), Map.of()));
            String dq = QuantGraphs.fresh(g, t + "/dequantized");
            g.setType(dq, new ValueType(DType.FLOAT32, shape));
            out.add(new Node("DequantizeLinear", dq, List.of(q, a.scale, a.zeroPoint), List.of(dq), Map.of()));
            dequantized.put(t, dq);
        }

        /** The parameters of a quantized tensor: calibrated, or its input's for data movement. */
        private Activation activation(String t) {
            Activation a = params.get(t);
            if (a != null) {
                return a;
            }
            String from = plan.inherit.get(t);
            if (from != null) {
                a = activation(from);
            } else {
                QuantParams qp = QuantMath.activation(ranges.get(t), activationType);
                String scale = QuantGraphs.fresh(g, t + "/scale");
                g.addInitializer(scale, Tensor.of(new float[] {qp.scale()}));
                String zp = QuantGraphs.fresh(g, t + "/zero_point");
                g.addInitializer(zp, QuantGraphs.zeroPoint(activationType, qp.zeroPoint()));
                a = new Activation(qp, scale, zp);
            }
            params.put(t, a);
            return a;
        }

        /**
         * A quantized layer: weights (and bias) through DequantizeLinear of stored int8 (int32) values, then the
         * layer on the dequantized input. A bias is quantized at {@code s_x * s_w[c]}; weight scales whose
         * product with {@code s_x} would push the bias past int32 are raised first.
         */
        private void emitLayer(Layer layer) {
            Node n = layer.node();
            Activation x = activation(n.input(0));
            Tensor w = g.initializers().get(n.input(1));
            int qmax = reduceRange ? QuantMath.INT7_SYMMETRIC_MAX : QuantMath.INT8_SYMMETRIC_MAX;
            float[] ws = QuantMath.symmetricScales(w, layer.weightAxis(), qmax);
            Tensor bias = n.hasInput(2) ? g.initializers().get(n.input(2)) : null;
            if (bias != null) {
                float[] floor = QuantMath.weightScaleFloorForBias(bias, x.params.scale());
                for (int c = 0; c < ws.length; c++) {
                    ws[c] = Math.max(ws[c], floor[c]);
                }
            }
            List<String> inputs = new ArrayList<>(n.inputs());
            inputs.set(
                    1,
                    dequantizeConstant(
                            n.input(1),
                            "int8",
                            QuantMath.quantizeWeights(w, layer.weightAxis(), ws, qmax),
                            ws,
                            layer.weightAxis(),
                            Tensor.ofInt8(new byte[ws.length], ws.length)));
            if (bias != null) {
                float[] bs = QuantMath.biasScales(x.params.scale(), ws);
                inputs.set(
                        2,
                        dequantizeConstant(
                                n.input(2), "int32", QuantMath.quantizeBias(bias, bs), bs, bias.rank() - 1, null));
            }
            out.add(rewire(n, inputs));
        }

        /**
         * A layer kept float for speed with its weights stored int8: symmetric per output channel with 8 bits
         * (the product runs in float, so the 7-bit limit of the integer kernels does not apply), restored as
         * {@code Mul(Cast(W_int8, float), scale[c])}; its input, bias and output stay float. Not a
         * {@code DequantizeLinear}, which computes the same values: ONNX Runtime keeps every DequantizeLinear for
         * its QDQ fusions and never constant-folds it, so it would dequantize the weights at every call, while
         * it folds Cast and Mul of constants once at load and runs the float kernel on the result
         * (docs/QUANTIZATION.md, measured).
         */
        private void emitWeightOnly(Node n) {
            Tensor w = g.initializers().get(n.input(1));
            int axis = weightAxis(n);
            int qmax = QuantMath.INT8_SYMMETRIC_MAX;
            float[] ws = QuantMath.symmetricScales(w, axis, qmax);
            String stored = QuantGraphs.fresh(g, n.input(1) + "/int8");
            g.addInitializer(stored, QuantMath.quantizeWeights(w, axis, ws, qmax));
            long[] scaleShape = new long[w.rank()];
            java.util.Arrays.fill(scaleShape, 1);
            scaleShape[axis] = ws.length;
            String scale = QuantGraphs.fresh(g, stored + "/scale");
            g.addInitializer(scale, Tensor.of(ws, scaleShape));
            Shape shape = Shape.fixed(w.shape());
            String cast = QuantGraphs.fresh(g, n.input(1) + "/float");
            g.setType(cast, new ValueType(DType.FLOAT32, shape));
            out.add(new Node(
                    "Cast",
                    cast,
                    List.of(stored),
                    List.of(cast),
                    Map.of("to", new Attribute.Int(DType.FLOAT32.onnxElementType()))));
            String dq = QuantGraphs.fresh(g, n.input(1) + "/dequantized");
            g.setType(dq, new ValueType(DType.FLOAT32, shape));
            out.add(new Node("Mul", dq, List.of(cast, scale), List.of(dq), Map.of()));
            List<String> inputs = new ArrayList<>(n.inputs());
            inputs.set(1, dq);
            out.add(rewire(n, inputs));
        }

        /** Stores {@code q} as an initializer and returns the output of its DequantizeLinear. */
        private String dequantizeConstant(
                String floatName, String suffix, Tensor q, float[] scales, int axis, Tensor zeroPoints) {
            String stored = QuantGraphs.fresh(g, floatName + "/" + suffix);
            g.addInitializer(stored, q);
            String scale = QuantGraphs.fresh(g, stored + "/scale");
            g.addInitializer(scale, Tensor.of(scales, scales.length));
            List<String> dqInputs = new ArrayList<>(List.of(stored, scale));
            if (zeroPoints != null) {
                String zp = QuantGraphs.fresh(g, stored + "/zero_point");
                g.addInitializer(zp, zeroPoints);
                dqInputs.add(zp);
            }
            String dq = QuantGraphs.fresh(g, floatName + "/dequantized");
            g.setType(dq, new ValueType(DType.FLOAT32, Shape.fixed(q.shape())));
            Map<String, Attribute> attrs = new LinkedHashMap<>();
            attrs.put("axis", new Attribute.Int(axis));
            out.add(new Node("DequantizeLinear", dq, dqInputs, List.of(dq), attrs));
            return dq;
        }
    }

    /** A quantized activation's parameters and the initializers holding them. */
    private record Activation(QuantParams params, String scale, String zeroPoint) {}
}
