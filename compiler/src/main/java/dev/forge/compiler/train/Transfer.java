package dev.forge.compiler.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Transfer learning on a trained network: find its classifier and put a fresh one in its place, for a new
 * number of classes, keeping every other layer and weight.
 *
 * <pre>{@code
 * Graph net = Transfer.replaceHead(OnnxReader.read(Path.of("backbone.onnx")), 5, 0);
 * Training.of(net).freeze(Transfer.backbone(net)).fit(train, test);
 * }</pre>
 */
public final class Transfer {
    /**
     * Ops a classifier's output may pass through on the way to the graph output: they keep the class axis
     * (flattening, global pooling of a 1x1-Conv classifier as in SqueezeNet, a final ReLU, dropout, softmax).
     */
    static final Set<String> AFTER_HEAD = Set.of(
            "Flatten",
            "Reshape",
            "Squeeze",
            "GlobalAveragePool",
            "GlobalMaxPool",
            "ReduceMean",
            "Relu",
            "Dropout",
            "Identity",
            "Softmax",
            "LogSoftmax");

    private Transfer() {}

    /**
     * A network's classifier: the node, its weight and bias initializers (bias null when it has none), the
     * number of input features and of classes.
     *
     * @param node the Gemm, MatMul or Conv node
     * @param weight its weight initializer
     * @param bias its bias initializer (a Gemm's or Conv's third input, or the Add after a MatMul), or null
     * @param inFeatures features (or channels) into the classifier
     * @param classes outputs (or channels) out of it
     */
    public record Head(String node, String weight, String bias, long inFeatures, long classes) {}

    /**
     * Finds the classifier of {@code g}: walking back from the first graph output through the ops of
     * {@link #AFTER_HEAD} (Flatten, Reshape, GlobalAveragePool, Relu, Dropout, Softmax, ...), the first
     * {@code Gemm}, {@code MatMul} (with or without a bias {@code Add}) or 1x1 {@code Conv} whose weights are
     * initializers.
     *
     * @throws IllegalArgumentException when the walk reaches anything else, saying what it found
     */
    public static Head findHead(Graph g) {
        String value = g.outputs().get(0).name();
        List<String> passed = new ArrayList<>();
        while (true) {
            Node n = g.producer(value);
            if (n == null) {
                throw noHead(g, passed, "the graph input or a constant '" + value + "'");
            }
            switch (n.opType()) {
                case "Gemm" -> {
                    String w = n.input(1);
                    requireInitializer(g, n, w, passed);
                    long[] s = g.initializers().get(w).shape();
                    boolean transB = n.attrInt("transB", 0) != 0;
                    String b = n.inputs().size() > 2 && !n.input(2).isEmpty() ? n.input(2) : null;
                    if (b != null) {
                        requireInitializer(g, n, b, passed);
                    }
                    return new Head(n.name(), w, b, transB ? s[1] : s[0], transB ? s[0] : s[1]);
                }
                case "MatMul" -> {
                    return matMulHead(g, n, null, passed);
                }
                case "Add" -> {
                    Node mm = g.producer(n.input(0));
                    String b = n.input(1);
                    if (mm == null || !mm.opType().equals("MatMul")) {
                        mm = g.producer(n.input(1));
                        b = n.input(0);
                    }
                    if (mm == null
                            || !mm.opType().equals("MatMul")
                            || !g.initializers().containsKey(b)) {
                        throw noHead(g, passed, n.label() + ", an Add that is not the bias of a MatMul");
                    }
                    return matMulHead(g, mm, b, passed);
                }
                case "Conv" -> {
                    String w = n.input(1);
                    requireInitializer(g, n, w, passed);
                    long[] s = g.initializers().get(w).shape();
                    if (s.length != 4 || s[2] != 1 || s[3] != 1 || n.attrInt("group", 1) != 1) {
                        throw noHead(
                                g,
                                passed,
                                n.label() + " with a " + (s.length == 4 ? s[2] + "x" + s[3] : "non-2-D")
                                        + " kernel (a classifier Conv is 1x1 and ungrouped)");
                    }
                    String b = n.inputs().size() > 2 && !n.input(2).isEmpty() ? n.input(2) : null;
                    if (b != null) {
                        requireInitializer(g, n, b, passed);
                    }
                    return new Head(n.name(), w, b, s[1], s[0]);
                }
                default -> {
                    if (!AFTER_HEAD.contains(n.opType())) {
                        throw noHead(g, passed, n.label());
                    }
                    passed.add(n.opType());
                    value = n.input(0);
                }
            }
        }
    }

    /**
     * The pattern that freezes everything before the classifier ({@code upto:} the value the classifier
     * reads): the whole backbone, leaving only the head to train.
     *
     * @throws IllegalArgumentException when no classifier can be identified
     */
    public static String backbone(Graph g) {
        Head head = findHead(g);
        return ParameterPattern.UP_TO + g.node(head.node()).input(0);
    }

    private static Head matMulHead(Graph g, Node mm, String bias, List<String> passed) {
        String w = mm.input(1);
        requireInitializer(g, mm, w, passed);
        long[] s = g.initializers().get(w).shape();
        if (s.length != 2) {
            throw noHead(
                    g, passed, mm.label() + " with a weight of rank " + s.length + " (a classifier's is [in, out])");
        }
        return new Head(mm.name(), w, bias, s[0], s[1]);
    }

    private static void requireInitializer(Graph g, Node n, String name, List<String> passed) {
        if (!g.initializers().containsKey(name)) {
            throw noHead(g, passed, n.label() + " whose weight '" + name + "' is computed, not an initializer");
        }
    }

    private static IllegalArgumentException noHead(Graph g, List<String> passed, String found) {
        return new IllegalArgumentException("no classifier found in '" + g.name() + "': walking back from output '"
                + g.outputs().get(0).name() + "'" + (passed.isEmpty() ? "" : " through " + passed) + " reached "
                + found + "; a replaceable head is a Gemm, a MatMul (+ bias Add) or a 1x1 Conv, followed only by "
                + AFTER_HEAD.stream().sorted().toList());
    }

    /**
     * A copy of {@code g} whose classifier ({@link #findHead}) is replaced by a freshly initialized one with
     * {@code classes} outputs: same node, same parameter names, new shapes; everything else (weights,
     * BatchNorm statistics, names) is kept, the output types are inferred again, and stale class labels
     * are dropped from the metadata. The new weights are drawn like the builder's {@code linear} and
     * {@code conv2d} (PyTorch's default: Kaiming-uniform with {@code a = sqrt(5)}, i.e. uniform in
     * +-1/sqrt(fan_in), the same bound for the bias) from a generator seeded with {@code seed}, weight first.
     *
     * <p>An imported model without marked parameters is first prepared ({@link Trainable#prepare}), so tied
     * parameters are untied before the head is cut out. The new weight and bias are trainable parameters.
     *
     * @param classes the new number of classes, at least 1
     * @throws IllegalArgumentException when no classifier can be identified (the message says what was found)
     */
    public static Graph replaceHead(Graph g, int classes, long seed) {
        if (classes < 1) {
            throw new IllegalArgumentException("a new head needs at least 1 class, got " + classes);
        }
        Graph out = g.copy();
        if (out.parameters().isEmpty()) {
            Trainable.prepare(out);
        }
        Head head = findHead(out);
        Node n = out.node(head.node());
        SplittableRandom random = new SplittableRandom(seed);
        double bound = 1.0 / Math.sqrt(head.inFeatures());
        long[] weightShape;
        switch (n.opType()) {
            case "Gemm" ->
                weightShape = n.attrInt("transB", 0) != 0
                        ? new long[] {classes, head.inFeatures()}
                        : new long[] {head.inFeatures(), classes};
            case "Conv" -> weightShape = new long[] {classes, head.inFeatures(), 1, 1};
            default -> weightShape = new long[] {head.inFeatures(), classes};
        }
        replace(out, head.weight(), uniform(random, bound, weightShape));
        if (head.bias() != null) {
            long[] old = out.initializers().get(head.bias()).shape();
            long[] biasShape = old.clone();
            // [out] or [1, out]: the class axis is the last one
            biasShape[biasShape.length - 1] = classes;
            replace(out, head.bias(), uniform(random, bound, biasShape));
        }
        ShapeInference.run(out);
        List<ValueInfo> outputs = new ArrayList<>(out.outputs());
        out.clearOutputs();
        for (ValueInfo o : outputs) {
            out.addOutput(new ValueInfo(o.name(), out.type(o.name())));
        }
        out.metadata().remove(ModelMetadata.CLASS_LABELS);
        return out;
    }

    private static void replace(Graph g, String name, Tensor value) {
        g.removeInitializer(name);
        g.addInitializer(name, value);
        g.markParameter(name);
    }

    private static Tensor uniform(SplittableRandom random, double bound, long... shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        float[] data = new float[Math.toIntExact(n)];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        return Tensor.of(data, shape);
    }
}
