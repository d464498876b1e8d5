package dev.forge.compiler.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.Pipeline;
import dev.forge.compiler.passes.Pipelines;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Collections;
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
 * <p>Training mode changes two layers: BatchNormalization normalizes with the batch's statistics and
 * updates its running statistics as PyTorch does (momentum 0.1, unbiased variance), through its training
 * form ({@code NormalizationOps}), which brings a closed-form backward for the whole block; Dropout multiplies by a mask input {@code <node>/mask} (0 or 1/(1-p)) that the trainer draws
 * from its seeded generator, which keeps runs exactly reproducible.
 *
 * <p>The graph is made by {@link Pipelines#training} (or {@link Pipelines#gradients}), a list of named
 * passes; {@code docs/PASSES.md} lists them.
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
    private final Map<String, Double> lrGroups;
    private final Map<String, Shape> dropoutMasks;
    private final Map<String, Float> dropoutRatios;
    private final Loss loss;
    private final Optimizer optimizer;
    private final Graph forward;
    private final Map<String, Double> lrFactors;

    private TrainingGraph(
            Graph graph,
            Graph eval,
            String dataInput,
            String prediction,
            List<String> parameters,
            LinkedHashMap<String, Tensor> initialState,
            List<String> scalars,
            Map<String, Double> lrGroups,
            Map<String, Shape> dropoutMasks,
            Map<String, Float> dropoutRatios,
            Loss loss,
            Optimizer optimizer,
            Graph forward,
            Map<String, Double> lrFactors) {
        this.graph = graph;
        this.eval = eval;
        this.dataInput = dataInput;
        this.prediction = prediction;
        this.parameters = parameters;
        this.initialState = initialState;
        this.scalars = scalars;
        this.lrGroups = lrGroups;
        this.dropoutMasks = dropoutMasks;
        this.dropoutRatios = dropoutRatios;
        this.loss = loss;
        this.optimizer = optimizer;
        this.forward = forward;
        this.lrFactors = lrFactors;
    }

    /**
     * Builds the training-step graph of {@code forward} (a model with one data input and whose first
     * output is the prediction; its {@link Graph#parameters() parameters} are trained).
     */
    public static TrainingGraph build(Graph forward, Loss loss, Optimizer optimizer) {
        return build(forward, loss, optimizer, Map.of(), false);
    }

    /**
     * Refuses a model with a sequence or optional input or output (imported models only): training feeds a
     * tensor batch and compares a tensor prediction with the labels.
     *
     * @throws IllegalArgumentException naming the value and its type
     */
    public static void requireTensorModel(Graph forward) {
        for (List<ValueInfo> values : List.of(forward.inputs(), forward.outputs())) {
            for (ValueInfo v : values) {
                if (!v.isTensor()) {
                    throw new IllegalArgumentException("the model's "
                            + (values == forward.inputs() ? "input" : "output")
                            + " '" + v.name() + "' is a " + v.irType() + "; training needs a model whose inputs and"
                            + " outputs are tensors (a batch in, a prediction out): export the model with tensor"
                            + " inputs and outputs (e.g. take the sequence's element with SequenceAt)");
                }
            }
        }
    }

    /**
     * Like {@link #build(Graph, Loss, Optimizer)}, with discriminative learning rates: each parameter in
     * {@code lrFactors} is updated at {@code factor} times the step's rate (a parameter group of its own).
     */
    public static TrainingGraph build(Graph forward, Loss loss, Optimizer optimizer, Map<String, Double> lrFactors) {
        return build(forward, loss, optimizer, lrFactors, false);
    }

    /**
     * A graph for checking gradients: the training-mode forward pass and loss, with outputs {@code loss},
     * the prediction, {@code <param>.grad} for every parameter (and {@code <input>.grad} when asked) and
     * the running statistics' next values; no optimizer.
     */
    public static TrainingGraph gradients(Graph forward, Loss loss, boolean withInputGradient) {
        return build(forward, loss, null, Map.of(), withInputGradient);
    }

    private static TrainingGraph build(
            Graph forward, Loss loss, Optimizer optimizer, Map<String, Double> lrFactors, boolean withInputGradient) {
        requireTensorModel(forward);
        Pipeline pipeline = optimizer == null
                ? Pipelines.gradients(loss, withInputGradient)
                : Pipelines.training(loss, optimizer, lrFactors);
        PassContext c = new PassContext();
        Graph g = pipeline.run(forward, c);
        LinkedHashMap<String, Tensor> state = new LinkedHashMap<>(c.state());
        return new TrainingGraph(
                g,
                evalGraph(forward, state.keySet()),
                c.dataInput(),
                c.prediction(),
                new ArrayList<>(c.parameters()),
                state,
                new ArrayList<>(c.scalarInputs()),
                c.lrGroups().isEmpty() ? Map.of("", 1.0) : new LinkedHashMap<>(c.lrGroups()),
                c.dropoutMasks(),
                c.dropoutRatios(),
                loss,
                optimizer,
                forward.copy(),
                Map.copyOf(lrFactors));
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
                g.addInput(new ValueInfo(
                        e.getKey(),
                        new ValueType(
                                e.getValue().dtype(), Shape.fixed(e.getValue().shape()))));
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

    /**
     * The learning-rate groups ({@code ""} is the default group, factor 1) and their factors: group
     * {@code k} takes the optimizer's scalars at {@code factor * lr}, under the names
     * {@link dev.forge.compiler.passes.OptimizerUpdate#groupScalar}.
     */
    public Map<String, Double> lrGroups() {
        return Collections.unmodifiableMap(lrGroups);
    }

    /** Dropout mask inputs and their shapes. */
    public Map<String, Shape> dropoutMasks() {
        return Collections.unmodifiableMap(dropoutMasks);
    }

    /** The drop probability of each mask input. */
    public Map<String, Float> dropoutRatios() {
        return Collections.unmodifiableMap(dropoutRatios);
    }

    /**
     * The forward model this graph was built from (a copy): {@link ReplicatedTrainer} builds the gradient
     * graph of its replicas from it.
     */
    public Graph forward() {
        return forward.copy();
    }

    /** The learning-rate factor of every parameter outside the default group (empty when there is one group). */
    public Map<String, Double> lrFactors() {
        return lrFactors;
    }

    public Loss loss() {
        return loss;
    }

    public Optimizer optimizer() {
        return optimizer;
    }
}
