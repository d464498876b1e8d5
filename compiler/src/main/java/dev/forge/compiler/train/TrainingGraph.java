package dev.forge.compiler.train;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.autodiff.Emitter.attrInts;

import dev.forge.compiler.autodiff.Autodiff;
import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The training-step graph of a model: one ONNX graph that runs the forward pass in training mode,
 * the loss, the backward pass and the optimizer update, made of standard ONNX operators only.
 *
 * <p>Its inputs are the data, the target, the optimizer's scalars (learning rate, bias corrections), and
 * every piece of state: parameters ({@code conv1/W}), optimizer state ({@code conv1/W.exp_avg}) and
 * BatchNorm running statistics ({@code bn1/mean}). For each state input {@code s} it outputs the next
 * value {@code s.next}, so a trainer can keep two sets of state tensors and swap them every step.
 * It also outputs {@code loss} and the model's prediction.
 *
 * <p>Training mode changes two layers: BatchNormalization normalizes with the batch's statistics
 * (written out of ReduceMean, Sub, Mul, Sqrt and Reciprocal, so backward reuses the mean and inverse
 * standard deviation) and updates its running statistics as PyTorch does (momentum 0.1, unbiased
 * variance); Dropout multiplies by a mask input {@code <node>/mask} (0 or 1/(1-p)) that the trainer draws
 * from its seeded generator, which keeps runs exactly reproducible.
 */
public final class TrainingGraph {
    /** The target input (class indices for cross-entropy, else values shaped like the prediction). */
    public static final String TARGET = "target";
    /** The scalar loss output. */
    public static final String LOSS = "loss";
    /** Suffix of the output that carries a state input's next value. */
    public static final String NEXT = ".next";

    private final Graph graph;
    private final Graph eval;
    private final String dataInput;
    private final String prediction;
    private final List<String> parameters;
    private final LinkedHashMap<String, Tensor> initialState;
    private final List<String> scalars;
    private final Map<String, Shape> dropoutMasks;
    private final Map<String, Float> dropoutRatios;
    private final Loss loss;
    private final Optimizer optimizer;

    private TrainingGraph(Graph graph, Graph eval, String dataInput, String prediction, List<String> parameters,
            LinkedHashMap<String, Tensor> initialState, List<String> scalars, Map<String, Shape> dropoutMasks,
            Map<String, Float> dropoutRatios, Loss loss, Optimizer optimizer) {
        this.graph = graph;
        this.eval = eval;
        this.dataInput = dataInput;
        this.prediction = prediction;
        this.parameters = parameters;
        this.initialState = initialState;
        this.scalars = scalars;
        this.dropoutMasks = dropoutMasks;
        this.dropoutRatios = dropoutRatios;
        this.loss = loss;
        this.optimizer = optimizer;
    }

    /**
     * Builds the training-step graph of {@code forward} (a model with one data input and whose first
     * output is the prediction; its {@link Graph#parameters() parameters} are trained).
     */
    public static TrainingGraph build(Graph forward, Loss loss, Optimizer optimizer) {
        return build(forward, loss, optimizer, false);
    }

    /**
     * A graph for checking gradients: the training-mode forward pass and loss, with outputs {@code loss},
     * the prediction, {@code <param>.grad} for every parameter (and {@code <input>.grad} when asked) and
     * the running statistics' next values; no optimizer.
     */
    public static TrainingGraph gradients(Graph forward, Loss loss, boolean withInputGradient) {
        return build(forward, loss, null, withInputGradient);
    }

    private static TrainingGraph build(Graph forward, Loss loss, Optimizer optimizer, boolean withInputGradient) {
        if (forward.inputs().size() != 1) {
            throw new IllegalArgumentException("training needs a model with one data input, '" + forward.name() + "' has "
                    + forward.inputs().size() + ": " + forward.inputs());
        }
        if (forward.parameters().isEmpty()) {
            throw new IllegalArgumentException("model '" + forward.name() + "' has no trainable parameters");
        }
        if (forward.opset() > Graph.DEFAULT_OPSET) {
            throw new IllegalArgumentException("model '" + forward.name() + "' uses opset " + forward.opset()
                    + "; training supports opsets up to " + Graph.DEFAULT_OPSET);
        }
        Graph g = new Graph(forward.name() + "_training_step");
        g.setProducerName("forge");
        String dataInput = forward.inputs().get(0).name();
        String prediction = forward.outputs().get(0).name();
        g.addInput(forward.inputs().get(0));
        LinkedHashMap<String, Tensor> state = new LinkedHashMap<>();
        List<String> params = new ArrayList<>(forward.parameters());
        for (String p : params) {
            Tensor value = forward.initializers().get(p);
            g.addInput(new ValueInfo(p, new ValueType(value.dtype(), Shape.fixed(value.shape()))));
            state.put(p, value);
        }
        Set<String> runningStats = runningStatistics(forward);
        for (String s : runningStats) {
            Tensor value = forward.initializers().get(s);
            g.addInput(new ValueInfo(s, new ValueType(value.dtype(), Shape.fixed(value.shape()))));
            state.put(s, value);
        }
        for (Map.Entry<String, Tensor> e : forward.initializers().entrySet()) {
            if (!state.containsKey(e.getKey())) {
                g.addInitializer(e.getKey(), e.getValue());
            }
        }
        Emitter emit = new Emitter(g, "train");
        Map<String, Shape> masks = new LinkedHashMap<>();
        Map<String, Float> ratios = new LinkedHashMap<>();
        List<String> statOutputs = new ArrayList<>();
        Map<String, Autodiff.BlockRule> blocks = new LinkedHashMap<>();
        Set<Node> movedPools = new HashSet<>();
        for (Node n : forward.nodes()) {
            if (movedPools.contains(n)) {
                continue;
            }
            Node pool = maxPoolAfterRelu(forward, n);
            if (pool != null) {
                poolBeforeRelu(g, forward, n, pool);
                movedPools.add(pool);
                continue;
            }
            switch (n.opType()) {
                case "BatchNormalization" -> statOutputs.addAll(batchNormTraining(emit, forward, n, blocks));
                case "Dropout" -> dropout(emit, forward, n, masks, ratios);
                default -> {
                    List<ValueType> types = new ArrayList<>();
                    for (String out : n.outputs()) {
                        types.add(forward.type(out));
                    }
                    g.addNode(n, types);
                }
            }
        }
        ValueType predType = g.type(prediction);
        g.addInput(new ValueInfo(TARGET, loss.targetType(predType)));
        emit.prefix("loss");
        String lossValue = loss.emit(emit, prediction, TARGET);
        g.renameValue(lossValue, LOSS);
        List<String> wrt = new ArrayList<>(params);
        if (withInputGradient) {
            wrt.add(dataInput);
        }
        Map<String, String> grads = Autodiff.gradients(g, LOSS, wrt, blocks);
        if (optimizer == null) {
            g.addOutput(new ValueInfo(LOSS, g.type(LOSS)));
            g.addOutput(new ValueInfo(prediction, g.type(prediction)));
            for (String w : wrt) {
                g.addOutput(new ValueInfo(grads.get(w), g.type(grads.get(w))));
            }
            for (String s : statOutputs) {
                g.addOutput(new ValueInfo(s, g.type(s)));
            }
            return new TrainingGraph(g, evalGraph(forward, state.keySet()), dataInput, prediction, params, state, List.of(),
                    masks, ratios, loss, null);
        }

        List<String> scalarNames = new ArrayList<>(optimizer.scalars(1, optimizer.lr()).keySet());
        for (String s : scalarNames) {
            g.addInput(new ValueInfo(s, new ValueType(DType.FLOAT32, Shape.fixed())));
        }
        List<String> nextOutputs = new ArrayList<>();
        for (String p : params) {
            Map<String, String> stateIn = new LinkedHashMap<>();
            for (String s : optimizer.stateNames()) {
                String name = p + "." + s;
                Tensor zeros = Tensor.zeros(DType.FLOAT32, state.get(p).shape());
                g.addInput(new ValueInfo(name, new ValueType(DType.FLOAT32, Shape.fixed(zeros.shape()))));
                state.put(name, zeros);
                stateIn.put(s, name);
            }
            emit.prefix(p + "/update");
            Map<String, String> out = optimizer.emit(emit, p, grads.get(p), stateIn);
            for (Map.Entry<String, String> e : out.entrySet()) {
                String target = (e.getKey().isEmpty() ? p : p + "." + e.getKey()) + NEXT;
                g.renameValue(e.getValue(), target);
                nextOutputs.add(target);
            }
        }
        g.addOutput(new ValueInfo(LOSS, g.type(LOSS)));
        g.addOutput(new ValueInfo(prediction, g.type(prediction)));
        for (String s : nextOutputs) {
            g.addOutput(new ValueInfo(s, g.type(s)));
        }
        for (String s : statOutputs) {
            g.addOutput(new ValueInfo(s, g.type(s)));
        }
        Graph eval = evalGraph(forward, state.keySet());
        return new TrainingGraph(g, eval, dataInput, prediction, params, state, scalarNames, masks, ratios, loss, optimizer);
    }

    /**
     * The MaxPool that is the only consumer of Relu node {@code n}'s output, or null. Max-pooling and ReLU
     * commute exactly (both are monotone: max(relu(x)) = relu(max(x)), and MaxPool's padding is -inf),
     * so the training graph pools first and applies the ReLU and its gradient to the pooled tensor, a
     * quarter of the size for a 2x2 pool.
     */
    private static Node maxPoolAfterRelu(Graph forward, Node n) {
        if (!n.opType().equals("Relu") || forward.outputs().stream().anyMatch(o -> o.name().equals(n.output(0)))) {
            return null;
        }
        List<Node> consumers = forward.consumers(n.output(0));
        if (consumers.size() != 1) {
            return null;
        }
        Node pool = consumers.get(0);
        boolean oneOutput = pool.outputs().size() == 1 || pool.outputs().subList(1, pool.outputs().size()).stream().allMatch(String::isEmpty);
        return pool.opType().equals("MaxPool") && oneOutput && pool.inputs().size() == 1 ? pool : null;
    }

    /** Emits Relu(x) -> MaxPool as MaxPool(x) -> Relu, keeping both nodes' names and the pool's output name. */
    private static void poolBeforeRelu(Graph g, Graph forward, Node relu, Node pool) {
        String pooled = pool.output(0) + "/before_relu";
        ValueType type = forward.type(pool.output(0));
        g.addNode(new Node("MaxPool", pool.name(), pool.domain(), List.of(relu.input(0)), List.of(pooled), pool.attributes()),
                List.of(type));
        g.addNode(new Node("Relu", relu.name(), relu.domain(), List.of(pooled), List.of(pool.output(0)), relu.attributes()),
                List.of(type));
    }

    /** Initializers that hold BatchNorm running statistics (inputs 3 and 4 of each BatchNormalization). */
    private static Set<String> runningStatistics(Graph forward) {
        Set<String> out = new java.util.LinkedHashSet<>();
        for (Node n : forward.nodes()) {
            if (n.opType().equals("BatchNormalization")) {
                for (int i = 3; i <= 4; i++) {
                    if (!forward.initializers().containsKey(n.input(i))) {
                        throw new IllegalArgumentException(n.label() + ": running statistic '" + n.input(i)
                                + "' must be an initializer to be trained");
                    }
                    out.add(n.input(i));
                }
            }
        }
        return out;
    }

    /*
     * Training-mode batch normalization over axes (0, 2, ...):
     *   mean = E[x]; xc = x - mean; var = E[xc^2] (biased); inv = 1/sqrt(var + eps)
     *   y = xc * inv * scale + B
     *   running_mean' = (1 - m) running_mean + m mean
     *   running_var'  = (1 - m) running_var + m var * n/(n-1)      (m = PyTorch momentum = 1 - ONNX momentum)
     */
    private static List<String> batchNormTraining(Emitter e, Graph forward, Node n, Map<String, Autodiff.BlockRule> blocks) {
        if (n.outputs().size() > 1) {
            throw new IllegalArgumentException(n.label() + ": a BatchNormalization with training outputs cannot be trained again");
        }
        e.prefix(n.name() + "/train");
        Shape xs = forward.type(n.input(0)).shape();
        int rank = xs.rank();
        long channels = xs.dim(1).value();
        long[] axes = new long[rank - 1];
        long[] bshape = new long[rank];
        java.util.Arrays.fill(bshape, 1);
        bshape[1] = channels;
        for (int i = 0, k = 0; i < rank; i++) {
            if (i != 1) {
                axes[k++] = i;
            }
        }
        float eps = n.attrFloat("epsilon", 1e-5f);
        float momentum = 1f - n.attrFloat("momentum", 0.9f);
        Map<String, dev.forge.compiler.ir.Attribute> reduce = Map.of("axes", attrInts(axes), "keepdims", attrInt(1));
        Map<String, dev.forge.compiler.ir.Attribute> toFloat = Map.of("to", attrInt(1));
        String x = n.input(0);
        String c = e.ints(channels);
        // statistics: E[x] and E[x^2]; var = E[x^2] - E[x]^2 (clamped at 0). E[x^2] is ReduceMean(x * x):
        // ONNX Runtime's ReduceSumSquare has no fast path for these axes (0.96 ms against 0.28 ms for
        // Mul + ReduceMean on the MNIST CNN's 64x32x28x28 activations)
        String invM = e.op("Div", e.scalar((float) channels), e.op("Cast", List.of(e.op("Size", x)), toFloat));
        String mean = e.op("ReduceMean", List.of(x), reduce);
        String meanSq = e.op("ReduceMean", List.of(e.op("Mul", x, x)), reduce);
        String var = e.op("Relu", e.op("Sub", meanSq, e.op("Mul", mean, mean)));
        String meanC = e.op("Reshape", mean, c);
        String varC = e.op("Reshape", var, c);
        // normalization, scale and shift in one pass: ONNX's BatchNormalization fed the batch statistics
        Map<String, dev.forge.compiler.ir.Attribute> bnAttrs = Map.of("epsilon", new dev.forge.compiler.ir.Attribute.Float(eps));
        e.opNamed(n.output(0), "BatchNormalization", List.of(x, n.input(1), n.input(2), meanC, varC), bnAttrs);
        String bs = e.ints(bshape);
        String inv = e.op("Reciprocal", e.op("Sqrt", e.op("Add", var, e.scalar(eps))));
        String a = e.op("Mul", inv, e.op("Reshape", n.input(1), bs));      // per-channel factor scale * inv
        String x0 = n.input(0);
        String scale = n.input(1);
        String shift = n.input(2);
        long c0 = channels;
        float[] zeros = new float[(int) channels];
        float[] ones = new float[(int) channels];
        java.util.Arrays.fill(ones, 1f);
        /*
         * Backward of the whole block in closed form (M = elements per channel, sums over axes 0, 2, ...;
         * xc = x - mean, so sum(dy * xc) = sum(dy * x) - mean * sum(dy)):
         *   dB = sum(dy);  dscale = inv * sum(dy * xc)
         *   dx = a * (dy - sum(dy)/M - xc * inv^2 * sum(dy * xc)/M)
         *      = a * dy + x * p + q      with per-channel p = -a k2, q = a (k2 mean - k1)
         * where k1 = sum(dy)/M and k2 = inv^2 sum(dy * xc)/M. x * p + q is one pass of an inference
         * BatchNormalization (mean 0, variance 1, epsilon 0); about six passes in all.
         */
        blocks.put(e.graph().producer(n.output(0)).name(), (em, dy, needs) -> {
            Map<String, String> out = new LinkedHashMap<>();
            Map<String, dev.forge.compiler.ir.Attribute> keep = Map.of("keepdims", attrInt(1));
            String sumDy = em.op("ReduceSum", List.of(dy, em.ints(axes)), keep);
            String sumDyX = em.op("ReduceSum", List.of(em.op("Mul", dy, x0), em.ints(axes)), keep);
            String sumDyXc = em.op("Sub", sumDyX, em.op("Mul", mean, sumDy));
            String cs = em.ints(c0);
            if (needs.test(shift)) {
                out.put(shift, em.op("Reshape", sumDy, cs));
            }
            if (needs.test(scale)) {
                out.put(scale, em.op("Reshape", em.op("Mul", sumDyXc, inv), cs));
            }
            if (needs.test(x0)) {
                String k1 = em.op("Mul", sumDy, invM);
                String k2 = em.op("Mul", em.op("Mul", em.op("Mul", inv, inv), sumDyXc), invM);
                String p = em.op("Neg", em.op("Mul", a, k2));
                String q = em.op("Mul", a, em.op("Sub", em.op("Mul", k2, mean), k1));
                String affine = em.op("BatchNormalization", List.of(x0, em.op("Reshape", p, cs), em.op("Reshape", q, cs),
                        em.tensor(n.name() + "/grad/zeros", dev.forge.runtime.Tensor.of(zeros, c0)),
                        em.tensor(n.name() + "/grad/ones", dev.forge.runtime.Tensor.of(ones, c0))),
                        Map.of("epsilon", new dev.forge.compiler.ir.Attribute.Float(0f)));
                out.put(x0, em.op("Add", em.op("Mul", dy, a), affine));
            }
            return out;
        });

        String m = e.scalar(momentum);
        String keep = e.scalar(1f - momentum);
        String meanNext = n.input(3) + NEXT;
        e.opNamed(meanNext, "Add", List.of(e.op("Mul", n.input(3), keep), e.op("Mul", meanC, m)), Map.of());
        // unbiased: var * count / (count - 1), count = elements per channel = Size(x) / C
        String count = e.op("Div", e.op("Cast", List.of(e.op("Size", x)), toFloat), e.scalar((float) channels));
        String unbias = e.op("Div", count, e.op("Sub", count, e.scalar(1f)));
        String varUnbiased = e.op("Mul", varC, unbias);
        String varNext = n.input(4) + NEXT;
        e.opNamed(varNext, "Add", List.of(e.op("Mul", n.input(4), keep), e.op("Mul", varUnbiased, m)), Map.of());
        return List.of(meanNext, varNext);
    }

    private static void dropout(Emitter e, Graph forward, Node n, Map<String, Shape> masks, Map<String, Float> ratios) {
        if (n.outputs().size() > 1 && !n.output(1).isEmpty() && !forward.consumers(n.output(1)).isEmpty()) {
            throw new IllegalArgumentException(n.label() + ": Dropout's mask output is used by another node; cannot train it");
        }
        float ratio = 0.5f;
        if (n.hasInput(1)) {
            Tensor r = ShapeInference.constantOf(forward, n.input(1));
            if (r == null) {
                throw new IllegalArgumentException(n.label() + ": the dropout ratio must be a constant");
            }
            ratio = (float) r.getDouble(0);
        }
        ValueType xt = forward.type(n.input(0));
        e.prefix(n.name() + "/train");
        if (ratio == 0f) {
            e.opNamed(n.output(0), "Identity", List.of(n.input(0)), Map.of());
            return;
        }
        String mask = n.name() + "/mask";
        e.graph().addInput(new ValueInfo(mask, xt));
        masks.put(mask, xt.shape());
        ratios.put(mask, ratio);
        e.opNamed(n.output(0), "Mul", List.of(n.input(0), mask), Map.of());
    }

    /** The forward graph with state (parameters, running statistics) as inputs instead of initializers. */
    private static Graph evalGraph(Graph forward, Set<String> stateNames) {
        Graph g = new Graph(forward.name() + "_eval");
        g.opsets().clear();
        g.opsets().putAll(forward.opsets());
        for (ValueInfo in : forward.inputs()) {
            g.addInput(in);
        }
        for (Map.Entry<String, Tensor> e : forward.initializers().entrySet()) {
            if (stateNames.contains(e.getKey())) {
                g.addInput(new ValueInfo(e.getKey(), new ValueType(e.getValue().dtype(), Shape.fixed(e.getValue().shape()))));
            } else {
                g.addInitializer(e.getKey(), e.getValue());
            }
        }
        for (Node n : forward.nodes()) {
            List<ValueType> types = new ArrayList<>();
            for (String out : n.outputs()) {
                types.add(forward.type(out));
            }
            g.addNode(n, types);
        }
        for (ValueInfo out : forward.outputs()) {
            g.addOutput(out);
        }
        return g;
    }

    /** The training-step graph. */
    public Graph graph() {
        return graph;
    }

    /** The inference graph with state as inputs, for evaluation on the current weights. */
    public Graph evalGraph() {
        return eval;
    }

    /** The model's data input name. */
    public String dataInput() {
        return dataInput;
    }

    /** The prediction output name. */
    public String prediction() {
        return prediction;
    }

    /** The trained parameters. */
    public List<String> parameters() {
        return Collections.unmodifiableList(parameters);
    }

    /**
     * Every state input in order (parameters, running statistics, optimizer state) with its initial value;
     * the step graph outputs each one's next value as {@code name + NEXT}.
     */
    public Map<String, Tensor> initialState() {
        return Collections.unmodifiableMap(initialState);
    }

    /** The names of the scalar inputs (see {@link Optimizer#scalars}). */
    public List<String> scalarInputs() {
        return Collections.unmodifiableList(scalars);
    }

    /** Dropout mask inputs and their shapes. */
    public Map<String, Shape> dropoutMasks() {
        return Collections.unmodifiableMap(dropoutMasks);
    }

    /** The drop probability of each mask input. */
    public Map<String, Float> dropoutRatios() {
        return Collections.unmodifiableMap(dropoutRatios);
    }

    public Loss loss() {
        return loss;
    }

    public Optimizer optimizer() {
        return optimizer;
    }
}
