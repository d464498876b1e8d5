package dev.forge.compiler.quant;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Runs a float model in ONNX Runtime with some of its intermediate tensors made graph outputs, batch by
 * batch over a dataset, and hands each batch's values to a consumer, so statistics (calibration histograms,
 * SQNR sums) are gathered without keeping the activations: memory is one batch of every tensor asked for.
 *
 * <p>The model must have one float input taking the dataset's samples with a batch axis in front. The
 * dataset is fed as {@link dev.forge.compiler.train.Evaluation} feeds it: {@link Dataset#copySample} values as they
 * are, so a model exported with a normalization in its metadata is given the dataset wrapped in that
 * {@link dev.forge.compiler.data.Normalize} (as {@code Datasets.open(spec, shape, -1, normalization)} does
 * for {@code forge eval}).
 *
 * <p>Asked for more samples than the dataset has, it uses all of them and says so through {@link
 * #samplesUsed}; the samples are spread evenly over the dataset ({@link #sampleIndices}), because datasets
 * read from folders are sorted by class and their first samples would all be one class.
 */
public final class ActivationCollector implements AutoCloseable {
    /** What receives each batch. */
    @FunctionalInterface
    public interface BatchConsumer {
        /**
         * Receives one batch.
         *
         * @param indices the dataset indices of the batch's samples, in batch order
         * @param values every collected tensor and every graph output by name, batch axis first
         */
        void accept(int[] indices, Map<String, Tensor> values);
    }

    private final String name;
    private final String input;
    private final long[] sampleShape;
    private final Shape inputShape;
    private final List<String> tensors;
    private final List<String> outputs;
    private final Model model;

    private ActivationCollector(Graph graph, Collection<String> tensors, ModelOptions options) {
        this.name = graph.name();
        if (graph.inputs().size() != 1) {
            throw new IllegalArgumentException("ActivationCollector(" + name + "): the model has "
                    + graph.inputs().size() + " inputs " + names(graph.inputs())
                    + "; calibration feeds one dataset, so it needs a model with one input");
        }
        ValueInfo in = graph.inputs().get(0);
        this.input = in.name();
        if (in.type().dtype() != DType.FLOAT32
                || in.type().shape() == null
                || in.type().shape().rank() < 1) {
            throw new IllegalArgumentException("ActivationCollector(" + name + "): input '" + input + "' is "
                    + in.type() + "; calibration needs a float32 input with a batch axis");
        }
        this.inputShape = in.type().shape();
        this.sampleShape = new long[inputShape.rank() - 1];
        for (int i = 1; i < inputShape.rank(); i++) {
            Dim d = inputShape.dim(i);
            sampleShape[i - 1] = d.isFixed() ? d.value() : -1;
        }
        List<String> list = new ArrayList<>();
        for (String t : tensors) {
            if (!graph.hasValue(t) || graph.initializers().containsKey(t)) {
                throw new IllegalArgumentException("ActivationCollector(" + name + "): '" + t
                        + "' is not an input or a node output of the model; collect one of "
                        + abbreviated(defaultTensors(graph)));
            }
            ValueType type = graph.type(t);
            // float16 values (of a converted model, compared in a report) are widened to float
            if (type == null || !type.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException("ActivationCollector(" + name + "): tensor '" + t + "' is " + type
                        + "; only floating-point tensors are collected");
            }
            if (!list.contains(t)) {
                list.add(t);
            }
        }
        this.tensors = Collections.unmodifiableList(list);
        Graph copy = graph.copy();
        List<ValueInfo> declared = new ArrayList<>(copy.outputs());
        copy.clearOutputs();
        List<String> outs = new ArrayList<>();
        for (ValueInfo o : declared) {
            copy.addOutput(o);
            outs.add(o.name());
        }
        for (String t : list) {
            if (!outs.contains(t) && !t.equals(input)) {
                copy.addOutput(new ValueInfo(t, graph.type(t)));
                outs.add(t);
            }
        }
        this.outputs = List.copyOf(outs);
        this.model = Model.load(OnnxWriter.toBytes(copy), name + " (with intermediate outputs)", options);
    }

    /**
     * Opens a collector on the graph: serializes a copy whose outputs include the tensors and loads it in
     * ONNX Runtime with default options.
     *
     * @param graph the float model, one float input
     * @param tensors names of float inputs or node outputs to collect ({@link #defaultTensors} for all)
     * @return the collector; close it to free the session
     * @throws IllegalArgumentException if the model has not one float input, or a name is not a float value
     */
    public static ActivationCollector open(Graph graph, Collection<String> tensors) {
        return open(graph, tensors, ModelOptions.defaults());
    }

    /**
     * {@link #open(Graph, Collection)} with ONNX Runtime options (device, threads).
     *
     * @param graph the float model, one float input
     * @param tensors names of float inputs or node outputs to collect
     * @param options how to load the model
     * @return the collector; close it to free the session
     */
    public static ActivationCollector open(Graph graph, Collection<String> tensors, ModelOptions options) {
        Objects.requireNonNull(graph, "graph");
        Objects.requireNonNull(tensors, "tensors");
        Objects.requireNonNull(options, "options");
        return new ActivationCollector(graph, tensors, options);
    }

    /**
     * The activations worth calibrating: the float graph inputs and every float node output that depends on
     * an input (values computed from initializers alone are weights, quantized as such), in graph order.
     *
     * @param graph the model
     * @return the names, in the order the graph computes them
     */
    public static Set<String> defaultTensors(Graph graph) {
        Set<String> out = new LinkedHashSet<>();
        Set<String> live = new HashSet<>();
        for (ValueInfo in : graph.inputs()) {
            if (graph.initializers().containsKey(in.name())) {
                continue; // an initializer also listed as an input (old exporters): a weight
            }
            live.add(in.name());
            if (in.type().dtype() == DType.FLOAT32) {
                out.add(in.name());
            }
        }
        for (Node n : graph.nodes()) {
            boolean fed = n.inputs().stream().anyMatch(live::contains);
            if (!fed) {
                continue;
            }
            for (String o : n.outputs()) {
                if (o.isEmpty()) {
                    continue;
                }
                live.add(o);
                ValueType t = graph.type(o);
                if (t != null && t.dtype() == DType.FLOAT32) {
                    out.add(o);
                }
            }
        }
        return out;
    }

    /**
     * Which samples a run over {@code samples} of {@code size} samples reads: {@code min(samples, size)}
     * indices spread evenly ({@code floor(k * size / used)}), the same on every run.
     *
     * @param size the dataset's size
     * @param samples the samples asked for, at least 1
     * @return increasing indices
     */
    public static int[] sampleIndices(int size, int samples) {
        if (samples < 1) {
            throw new IllegalArgumentException("the number of samples must be at least 1, got " + samples);
        }
        int used = Math.min(size, samples);
        int[] idx = new int[used];
        for (int k = 0; k < used; k++) {
            idx[k] = (int) ((long) k * size / used);
        }
        return idx;
    }

    /**
     * How many samples a run over {@code samples} of this dataset reads.
     *
     * @param data the dataset
     * @param samples the samples asked for
     * @return {@code min(samples, data.size())}
     */
    public static int samplesUsed(Dataset data, int samples) {
        return Math.min(samples, data.size());
    }

    /** The tensors collected, in graph order, without duplicates. */
    public List<String> tensors() {
        return tensors;
    }

    /** The graph outputs the model declares, then the collected tensors that are not inputs or outputs. */
    public List<String> outputs() {
        return outputs;
    }

    /** The name of the model's input. */
    public String inputName() {
        return input;
    }

    /**
     * Checks that the dataset can feed the model.
     *
     * @param data the dataset
     * @throws IllegalArgumentException if it is empty or its samples do not have the input's shape (both
     *     shapes are named)
     */
    public void check(Dataset data) {
        Objects.requireNonNull(data, "data");
        if (data.size() == 0) {
            throw new IllegalArgumentException("ActivationCollector(" + name + "): the dataset is empty; "
                    + "calibration and the quantization report need at least one sample");
        }
        long[] s = data.sampleShape();
        boolean ok = s.length == sampleShape.length;
        for (int i = 0; ok && i < s.length; i++) {
            ok = sampleShape[i] < 0 || sampleShape[i] == s[i];
        }
        if (!ok) {
            throw new IllegalArgumentException("ActivationCollector(" + name + "): the dataset's samples have shape "
                    + Arrays.toString(s) + " but input '" + input + "' takes " + inputShape + " (samples of "
                    + Shape.format(sampleShape).replace("-1", "?")
                    + " after the batch axis); give data of the model's sample shape");
        }
    }

    /**
     * Runs one batch.
     *
     * @param batch float32 {@code [n, ...sample shape]}
     * @return the collected tensors (the input as given) and the graph outputs, by name
     */
    public Map<String, Tensor> run(Tensor batch) {
        Map<String, Tensor> got = model.run(Map.of(input, batch), outputs);
        Map<String, Tensor> all = new LinkedHashMap<>();
        if (tensors.contains(input)) {
            all.put(input, batch);
        }
        all.putAll(got);
        return all;
    }

    /**
     * Runs the model over {@code min(samples, data.size())} samples ({@link #sampleIndices}) in batches.
     *
     * @param data the dataset, preprocessed as the model expects
     * @param samples samples asked for, at least 1
     * @param batchSize samples per run, at least 1
     * @param consumer receives every batch
     * @return the number of samples read
     * @throws IllegalArgumentException for an empty dataset, a shape mismatch, or counts below 1
     */
    public int forEachBatch(Dataset data, int samples, int batchSize, BatchConsumer consumer) {
        check(data);
        if (batchSize < 1) {
            throw new IllegalArgumentException("the batch size must be at least 1, got " + batchSize);
        }
        int[] idx = sampleIndices(data.size(), samples);
        for (int from = 0; from < idx.length; from += batchSize) {
            int[] batch = Arrays.copyOfRange(idx, from, Math.min(idx.length, from + batchSize));
            consumer.accept(batch, run(batch(data, batch)));
        }
        return idx.length;
    }

    /**
     * Stacks samples of a dataset into one batch.
     *
     * @param data the dataset
     * @param indices the samples, in batch order
     * @return float32 {@code [indices.length, ...sample shape]}
     */
    public static Tensor batch(Dataset data, int[] indices) {
        int size = data.sampleSize();
        float[] x = new float[indices.length * size];
        for (int r = 0; r < indices.length; r++) {
            data.copySample(indices[r], x, r * size);
        }
        long[] s = data.sampleShape();
        long[] shape = new long[s.length + 1];
        shape[0] = indices.length;
        System.arraycopy(s, 0, shape, 1, s.length);
        return Tensor.of(x, shape);
    }

    @Override
    public void close() {
        model.close();
    }

    private static String names(List<ValueInfo> infos) {
        List<String> n = new ArrayList<>();
        for (ValueInfo v : infos) {
            n.add(v.name());
        }
        return n.toString();
    }

    private static String abbreviated(Set<String> names) {
        List<String> l = new ArrayList<>(names);
        return l.size() <= 12 ? l.toString() : l.subList(0, 12) + " and " + (l.size() - 12) + " more";
    }
}
