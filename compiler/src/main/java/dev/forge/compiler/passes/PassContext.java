package dev.forge.compiler.passes;

import dev.forge.compiler.autodiff.Autodiff;
import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the passes of one pipeline run share: the {@link Emitter} that names new nodes and shares
 * constants across passes, and what one pass finds that a later pass needs. Each field says which pass
 * fills it. One context serves one pipeline run.
 */
public final class PassContext {
    private Emitter emitter;
    private String dataInput;
    private final List<String> modelOutputs = new ArrayList<>();
    private final List<String> parameters = new ArrayList<>();
    private final LinkedHashMap<String, Tensor> state = new LinkedHashMap<>();
    private final List<String> statisticOutputs = new ArrayList<>();
    private final java.util.Set<String> inferenceModeNodes = new java.util.LinkedHashSet<>();
    private final Map<String, Autodiff.BlockRule> blockRules = new LinkedHashMap<>();
    private final Map<String, Shape> dropoutMasks = new LinkedHashMap<>();
    private final Map<String, Float> dropoutRatios = new LinkedHashMap<>();
    private final List<String> differentiated = new ArrayList<>();
    private final Map<String, String> gradients = new LinkedHashMap<>();
    private final List<String> scalarInputs = new ArrayList<>();
    private final LinkedHashMap<String, Double> lrGroups = new LinkedHashMap<>();
    private final List<String> nextOutputs = new ArrayList<>();

    /**
     * The emitter appending to {@code graph}, shared by every pass that emits into it: its shared scalar
     * and shape constants ({@code const/1.0}) and its node counters keep names deterministic across passes.
     * A new one (prefix {@code train}) is made when the graph changes.
     */
    public Emitter emitter(Graph graph) {
        if (emitter == null || emitter.graph() != graph) {
            emitter = new Emitter(graph, "train");
        }
        return emitter;
    }

    /** The model's data input (set by {@link StateAsInputs}). */
    public String dataInput() {
        return dataInput;
    }

    /** The prediction: the forward model's first output (set by {@link StateAsInputs}). */
    public String prediction() {
        return modelOutputs.isEmpty() ? null : modelOutputs.get(0);
    }

    /**
     * Every output of the forward model (set by {@link StateAsInputs}); the step graph declares its own
     * outputs only at the end, and rewrites must leave these values in place.
     */
    public List<String> modelOutputs() {
        return modelOutputs;
    }

    void setModelIo(String dataInput, List<String> modelOutputs) {
        this.dataInput = dataInput;
        this.modelOutputs.clear();
        this.modelOutputs.addAll(modelOutputs);
    }

    /** The trained parameters in order (set by {@link StateAsInputs}). */
    public List<String> parameters() {
        return parameters;
    }

    /**
     * Every state input with its initial value, in input order: parameters and running statistics
     * ({@link StateAsInputs}), then optimizer state ({@link OptimizerUpdate}).
     */
    public LinkedHashMap<String, Tensor> state() {
        return state;
    }

    /**
     * Nodes that keep their inference form in the training step (set by {@link StateAsInputs}): each
     * BatchNormalization whose scale and bias are both frozen.
     */
    public java.util.Set<String> inferenceModeNodes() {
        return inferenceModeNodes;
    }

    /** The running statistics' next values, {@code bn1/mean.next} (set by {@link TrainingForms}). */
    public List<String> statisticOutputs() {
        return statisticOutputs;
    }

    /**
     * Closed-form backward rules of composite blocks, by the name of the node that ends each block (set by
     * {@link TrainingForms}, used by {@link Differentiate}).
     */
    public Map<String, Autodiff.BlockRule> blockRules() {
        return blockRules;
    }

    /** Dropout mask inputs and their shapes (set by {@link DropoutMasks}). */
    public Map<String, Shape> dropoutMasks() {
        return dropoutMasks;
    }

    /** The drop probability of each mask input (set by {@link DropoutMasks}). */
    public Map<String, Float> dropoutRatios() {
        return dropoutRatios;
    }

    /** The values differentiated, in order: the parameters, then the data input if asked (set by {@link Differentiate}). */
    public List<String> differentiated() {
        return differentiated;
    }

    /** The gradient value of each differentiated value (set by {@link Differentiate}). */
    public Map<String, String> gradients() {
        return gradients;
    }

    /** The optimizer's scalar inputs: learning rate, bias corrections (set by {@link OptimizerUpdate}). */
    public List<String> scalarInputs() {
        return scalarInputs;
    }

    /**
     * The learning-rate groups by name ({@code ""} for the default group) with their factors (set by
     * {@link OptimizerUpdate}); group {@code k}'s scalar inputs are named by {@link OptimizerUpdate#groupScalar}.
     */
    public LinkedHashMap<String, Double> lrGroups() {
        return lrGroups;
    }

    /** The updated state's outputs, {@code conv1/W.next} (set by {@link OptimizerUpdate}). */
    public List<String> nextOutputs() {
        return nextOutputs;
    }
}
