package dev.forge.compiler.builder;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.ops.ConvArithmetic;
import dev.forge.compiler.ops.Ops;
import dev.forge.compiler.ops.ShapeException;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Builds a {@link Graph} layer by layer, inferring and checking every shape as it goes, so a wrong
 * configuration fails at the line that introduces it with the op, the node, the arithmetic and the fix.
 *
 * <pre>{@code
 * GraphBuilder b = new GraphBuilder("mnist_cnn").seed(0);
 * Value x = b.input("input", Shape.of("N", 1, 28, 28));
 * x = b.conv2d("conv1", x, Conv2d.of(32, 5).padding(2));
 * x = b.batchNorm("bn1", x);
 * x = b.relu(x);
 * x = b.maxPool("pool", x, Pool2d.of(2));
 * x = b.linear("fc", b.flatten(x), 10);
 * Graph g = b.output(x, "logits").build();
 * }</pre>
 *
 * <p>Parameters are created with PyTorch's default initialization (Kaiming-uniform with
 * {@code a = sqrt(5)} for Conv and Linear weights, which is uniform in +-1/sqrt(fan_in), the same bound
 * for biases; BatchNorm scale 1, shift 0, running mean 0 and variance 1), drawn from a seeded generator
 * in the order the layers are added, so the same code and seed always give the same weights. Parameter
 * names are {@code <layer>/W}, {@code <layer>/B}; a single-output node's value has the node's name.
 *
 * <p>Convolution and pooling sizes must come out whole (the seed's rule): a configuration such as a 5x5
 * filter with stride 2 on 32 pixels is rejected unless {@link #roundDown()} asks for PyTorch's flooring.
 */
public final class GraphBuilder {
    private final Graph graph;
    private final Map<String, Integer> counters = new HashMap<>();
    private SplittableRandom random = new SplittableRandom(0);
    private boolean strict = true;

    /** A builder for a graph with the given name, targeting the default opset (17). */
    public GraphBuilder(String name) {
        this.graph = new Graph(name);
    }

    /** Seeds the parameter initializer (default 0). */
    public GraphBuilder seed(long seed) {
        random = new SplittableRandom(seed);
        return this;
    }

    /** Floors fractional convolution/pooling output sizes (PyTorch's behavior) instead of rejecting them. */
    public GraphBuilder roundDown() {
        strict = false;
        return this;
    }

    /** Sets the default-domain opset (13 to 17 are supported by every layer helper). */
    public GraphBuilder opset(int opset) {
        if (opset < 13) {
            throw new IllegalArgumentException("the builder emits opset 13 or later, got " + opset);
        }
        graph.opsets().put("", (long) opset);
        return this;
    }

    /** Adds a metadata entry to the model. */
    public GraphBuilder metadata(String key, String value) {
        graph.metadata().put(key, value);
        return this;
    }

    /** Declares a float32 graph input, e.g. {@code input("input", Shape.of("N", 1, 28, 28))}. */
    public Value input(String name, Shape shape) {
        return input(name, DType.FLOAT32, shape);
    }

    /** Declares a graph input of any element type. */
    public Value input(String name, DType dtype, Shape shape) {
        ValueType t = new ValueType(dtype, shape);
        graph.addInput(new ValueInfo(name, t));
        return new Value(name, t, this);
    }

    /** Declares {@code v} a graph output under {@code name} (renaming the value if needed). */
    public GraphBuilder output(Value v, String name) {
        own(v);
        if (!v.name().equals(name)) {
            graph.renameValue(v.name(), name);
        }
        graph.addOutput(new ValueInfo(name, v.type()));
        return this;
    }

    /** Declares {@code v} a graph output under its own name. */
    public GraphBuilder output(Value v) {
        return output(v, v.name());
    }

    /** The finished graph. The builder must not be used afterwards. */
    public Graph build() {
        if (graph.outputs().isEmpty()) {
            throw new IllegalStateException("graph '" + graph.name() + "' has no outputs; call output(value, name)");
        }
        return graph;
    }

    /** The graph under construction (read-only use). */
    public Graph graph() {
        return graph;
    }

    // ---- generic nodes -------------------------------------------------------------------------

    /** Adds a single-output node; its output value gets the node's name. */
    public Value node(String opType, String name, List<Value> inputs, Map<String, Attribute> attributes) {
        return node(opType, name, inputs, attributes, 1).get(0);
    }

    /**
     * Adds a node with {@code outputs} outputs, infers their types, and returns their handles. The first
     * output is named like the node, further ones {@code <node>.<i>}. A null input is an omitted optional
     * input. A null name gives the node a fresh {@code <Op>_<k>} name (k counts per op type from 1).
     *
     * @throws dev.forge.compiler.ops.AttributeException when an attribute is unknown for the operator (the
     *     message names the valid ones), of the wrong type, or a required one is missing
     * @throws ShapeException when the shapes or attributes are inconsistent
     */
    public List<Value> node(
            String opType, String name, List<Value> inputs, Map<String, Attribute> attributes, int outputs) {
        String nodeName = name == null ? fresh(opType) : name;
        List<String> inNames = new ArrayList<>();
        for (Value v : inputs) {
            if (v == null) {
                inNames.add("");
            } else {
                own(v);
                inNames.add(v.name());
            }
        }
        List<String> outNames = new ArrayList<>();
        for (int i = 0; i < outputs; i++) {
            outNames.add(i == 0 ? nodeName : nodeName + "." + i);
        }
        Node node = new Node(opType, nodeName, inNames, outNames, attributes);
        Ops.checkAttributes(node);
        List<ValueType> types = ShapeInference.inferNode(graph, node, strict);
        if (types == null
                || types.size() < outputs
                || types.subList(0, outputs).stream().anyMatch(java.util.Objects::isNull)) {
            throw new ShapeException(
                    node.label() + ": cannot infer output shapes (unknown op or unknown input shapes)");
        }
        graph.addNode(node, types);
        List<Value> out = new ArrayList<>();
        for (int i = 0; i < outputs; i++) {
            out.add(new Value(outNames.get(i), types.get(i), this));
        }
        return out;
    }

    /** Adds a constant tensor (not trained), e.g. a shape for Reshape. */
    public Value constant(String name, Tensor value) {
        graph.addInitializer(name, value);
        return new Value(name, graph.type(name), this);
    }

    /** Adds a trainable parameter with the given initial value. */
    public Value parameter(String name, Tensor value) {
        Value v = constant(name, value);
        graph.markParameter(name);
        return v;
    }

    // ---- layers --------------------------------------------------------------------------------

    /**
     * A 2-D convolution layer: {@code spec.filters} filters over the channels of {@code x} [N, C, H, W],
     * giving [N, K, H2, W2] with {@code H2 = (H - F + 2P)/S + 1}.
     */
    public Value conv2d(String name, Value x, Conv2d spec) {
        own(x);
        Shape s = x.shape();
        if (s.rank() != 4) {
            throw new ShapeException("Conv(" + name + "): input must be [N, C, H, W], got " + s
                    + "; feed NCHW tensors (add a channel axis of size 1 for grayscale)");
        }
        Dim c = s.dim(1);
        if (!c.isFixed()) {
            throw new ShapeException("Conv(" + name + "): the channel count of input " + s + " must be fixed");
        }
        if (c.value() % spec.groups != 0 || spec.filters % spec.groups != 0) {
            throw new ShapeException(
                    "Conv(" + name + "): groups " + spec.groups + " must divide both the input channels " + c.value()
                            + " and the filters " + spec.filters + "; choose groups that divide both");
        }
        long cPerGroup = c.value() / spec.groups;
        long fanIn = cPerGroup * spec.kernelH * spec.kernelW;
        Value w = parameter(
                name + "/W", uniform(1.0 / Math.sqrt(fanIn), spec.filters, cPerGroup, spec.kernelH, spec.kernelW));
        List<Value> inputs = new ArrayList<>(List.of(x, w));
        if (spec.bias) {
            inputs.add(parameter(name + "/B", uniform(1.0 / Math.sqrt(fanIn), spec.filters)));
        }
        long[] pads = resolvePads(
                "Conv",
                name,
                s,
                spec.padding,
                new long[] {spec.kernelH, spec.kernelW},
                new long[] {spec.strideH, spec.strideW},
                new long[] {spec.dilationH, spec.dilationW});
        Map<String, Attribute> a = new LinkedHashMap<>();
        a.put("kernel_shape", ints(spec.kernelH, spec.kernelW));
        a.put("strides", ints(spec.strideH, spec.strideW));
        a.put("pads", ints(pads));
        a.put("dilations", ints(spec.dilationH, spec.dilationW));
        a.put("group", new Attribute.Int(spec.groups));
        return node("Conv", name, inputs, a);
    }

    /**
     * Batch normalization over the channels (axis 1) in inference form, with parameters
     * {@code <name>/scale}, {@code <name>/B} and running statistics {@code <name>/mean},
     * {@code <name>/var}; epsilon 1e-5 and PyTorch's momentum 0.1 (ONNX momentum 0.9).
     */
    public Value batchNorm(String name, Value x) {
        return batchNorm(name, x, 1e-5f, 0.1f);
    }

    /**
     * Batch normalization with the given epsilon and PyTorch-convention momentum (the weight of the new
     * batch statistic in the running average).
     */
    public Value batchNorm(String name, Value x, float epsilon, float momentum) {
        own(x);
        if (x.shape().rank() < 2 || !x.shape().dim(1).isFixed()) {
            throw new ShapeException(
                    "BatchNormalization(" + name + "): input must be [N, C, ...] with a fixed C, got " + x.shape());
        }
        int c = (int) x.shape().dim(1).value();
        float[] ones = new float[c];
        java.util.Arrays.fill(ones, 1f);
        Value scale = parameter(name + "/scale", Tensor.of(ones, c));
        Value bias = parameter(name + "/B", Tensor.of(new float[c], c));
        Value mean = constant(name + "/mean", Tensor.of(new float[c], c));
        Value var = constant(name + "/var", Tensor.of(ones.clone(), c));
        Map<String, Attribute> a = new LinkedHashMap<>();
        a.put("epsilon", new Attribute.Float(epsilon));
        a.put("momentum", new Attribute.Float(1f - momentum));
        return node("BatchNormalization", name, List.of(x, scale, bias, mean, var), a);
    }

    /** ReLU: max(0, x). */
    public Value relu(Value x) {
        return node("Relu", null, List.of(x), Map.of());
    }

    /**
     * ReLU6: min(max(0, x), 6), MobileNet's activation, emitted as PyTorch exports it: {@code Clip} with
     * constant bounds as inputs.
     */
    public Value relu6(Value x) {
        own(x);
        String name = fresh("Clip");
        Value min = constant(name + "/min", Tensor.of(new float[] {0f}));
        Value max = constant(name + "/max", Tensor.of(new float[] {6f}));
        return node("Clip", name, List.of(x, min, max), Map.of());
    }

    /** Sigmoid: 1 / (1 + exp(-x)). */
    public Value sigmoid(Value x) {
        return node("Sigmoid", null, List.of(x), Map.of());
    }

    /** Tanh. */
    public Value tanh(Value x) {
        return node("Tanh", null, List.of(x), Map.of());
    }

    /** Leaky ReLU: x for x >= 0, alpha * x otherwise. */
    public Value leakyRelu(Value x, float alpha) {
        return node("LeakyRelu", null, List.of(x), Map.of("alpha", new Attribute.Float(alpha)));
    }

    /** Max pooling; the value's name is {@code name}. */
    public Value maxPool(String name, Value x, Pool2d spec) {
        return pool("MaxPool", name, x, spec);
    }

    /** Max pooling with a square window and stride equal to its size. */
    public Value maxPool(Value x, long kernel) {
        return pool("MaxPool", null, x, Pool2d.of(kernel));
    }

    /** Average pooling (PyTorch's default: padded zeros counted). */
    public Value avgPool(String name, Value x, Pool2d spec) {
        return pool("AveragePool", name, x, spec);
    }

    /** Average pooling with a square window and stride equal to its size. */
    public Value avgPool(Value x, long kernel) {
        return pool("AveragePool", null, x, Pool2d.of(kernel));
    }

    private Value pool(String op, String name, Value x, Pool2d spec) {
        own(x);
        String nodeName = name == null ? fresh(op) : name;
        if (x.shape().rank() != 4) {
            throw new ShapeException(op + "(" + nodeName + "): input must be [N, C, H, W], got " + x.shape());
        }
        long[] pads = resolvePads(
                op,
                nodeName,
                x.shape(),
                spec.padding,
                new long[] {spec.kernelH, spec.kernelW},
                new long[] {spec.strideH, spec.strideW},
                new long[] {1, 1});
        Map<String, Attribute> a = new LinkedHashMap<>();
        a.put("kernel_shape", ints(spec.kernelH, spec.kernelW));
        a.put("strides", ints(spec.strideH, spec.strideW));
        a.put("pads", ints(pads));
        if (spec.ceilMode) {
            a.put("ceil_mode", new Attribute.Int(1));
        }
        if (op.equals("AveragePool")) {
            a.put("count_include_pad", new Attribute.Int(spec.countIncludePad ? 1 : 0));
        }
        return node(op, nodeName, List.of(x), a);
    }

    /** Global average pooling: [N, C, H, W] to [N, C, 1, 1]. */
    public Value globalAvgPool(Value x) {
        return node("GlobalAveragePool", null, List.of(x), Map.of());
    }

    /** Flattens [N, d1, d2, ...] to [N, d1*d2*...]. */
    public Value flatten(Value x) {
        return node("Flatten", null, List.of(x), Map.of("axis", new Attribute.Int(1)));
    }

    /**
     * A fully connected layer {@code y = x W^T + b} (PyTorch's {@code nn.Linear}) on [N, in] inputs, with
     * W [out, in] emitted as {@code Gemm(transB=1)}.
     */
    public Value linear(String name, Value x, long outFeatures) {
        return linear(name, x, outFeatures, true);
    }

    /** A fully connected layer, with or without bias. */
    public Value linear(String name, Value x, long outFeatures, boolean bias) {
        own(x);
        Shape s = x.shape();
        if (s.rank() != 2) {
            throw new ShapeException(
                    "Gemm(" + name + "): a linear layer takes [N, features], got " + s + "; flatten(x) first");
        }
        if (!s.dim(1).isFixed()) {
            throw new ShapeException("Gemm(" + name + "): the feature count of input " + s + " must be fixed");
        }
        long in = s.dim(1).value();
        double bound = 1.0 / Math.sqrt(in);
        Value w = parameter(name + "/W", uniform(bound, outFeatures, in));
        List<Value> inputs = new ArrayList<>(List.of(x, w));
        if (bias) {
            inputs.add(parameter(name + "/B", uniform(bound, outFeatures)));
        }
        return node("Gemm", name, inputs, Map.of("transB", new Attribute.Int(1)));
    }

    /** Matrix product with numpy semantics. */
    public Value matMul(Value a, Value b) {
        return node("MatMul", null, List.of(a, b), Map.of());
    }

    /** Elementwise sum with broadcasting. */
    public Value add(Value a, Value b) {
        return node("Add", null, List.of(a, b), Map.of());
    }

    /** Elementwise product with broadcasting. */
    public Value mul(Value a, Value b) {
        return node("Mul", null, List.of(a, b), Map.of());
    }

    /** Concatenation along {@code axis} (1 is the channel axis of NCHW tensors). */
    public Value concat(long axis, Value... values) {
        return node("Concat", null, List.of(values), Map.of("axis", new Attribute.Int(axis)));
    }

    /** Reshape to {@code shape}; 0 copies the input dimension, -1 is inferred (e.g. {@code 0, -1}). */
    public Value reshape(Value x, long... shape) {
        String name = fresh("Reshape");
        Value target = constant(name + "/shape", Tensor.of(shape.clone(), shape.length));
        return node("Reshape", name, List.of(x, target), Map.of());
    }

    /** Softmax along {@code axis}. */
    public Value softmax(Value x, long axis) {
        return node("Softmax", null, List.of(x), Map.of("axis", new Attribute.Int(axis)));
    }

    /** Log-softmax along {@code axis}. */
    public Value logSoftmax(Value x, long axis) {
        return node("LogSoftmax", null, List.of(x), Map.of("axis", new Attribute.Int(axis)));
    }

    /**
     * Dropout with drop probability {@code ratio}; the identity in the inference graph (training graphs
     * turn it on).
     */
    public Value dropout(Value x, float ratio) {
        if (ratio < 0f || ratio >= 1f) {
            throw new IllegalArgumentException("Dropout ratio must be in [0, 1), got " + ratio);
        }
        String name = fresh("Dropout");
        Value r = constant(name + "/ratio", Tensor.of(new float[] {ratio}));
        return node("Dropout", name, List.of(x, r), Map.of());
    }

    // ---- helpers -------------------------------------------------------------------------------

    private long[] resolvePads(
            String op, String name, Shape s, Padding padding, long[] kernel, long[] strides, long[] dilations) {
        long[] explicit = padding.explicit();
        if (explicit != null) {
            return explicit;
        }
        long[] pads = new long[4];
        for (int i = 0; i < 2; i++) {
            Dim d = s.dim(2 + i);
            if (!d.isFixed()) {
                throw new ShapeException(op + "(" + name + "): SAME padding needs a fixed input size, but "
                        + (i == 0 ? "height" : "width") + " of " + s + " is " + d + "; give explicit padding");
            }
            long[] be = ConvArithmetic.samePadding(d.value(), kernel[i], strides[i], dilations[i]);
            pads[i] = be[0];
            pads[i + 2] = be[1];
        }
        return pads;
    }

    private Tensor uniform(double bound, long... shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("parameter of shape " + Shape.format(shape) + " is too large");
        }
        float[] data = new float[(int) n];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        return Tensor.of(data, shape);
    }

    private static Attribute.Ints ints(long... v) {
        return new Attribute.Ints(v);
    }

    private String fresh(String opType) {
        String name;
        do {
            int k = counters.merge(opType, 1, Integer::sum);
            name = opType + "_" + k;
        } while (graph.hasValue(name) || graph.node(name) != null);
        return name;
    }

    private void own(Value v) {
        if (v.owner() != this) {
            throw new IllegalArgumentException(
                    "value '" + v.name() + "' belongs to another builder; values cannot be shared between graphs");
        }
    }
}
