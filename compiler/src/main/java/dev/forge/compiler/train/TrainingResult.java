package dev.forge.compiler.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a {@link Training} run produced: the per-epoch history, the trained state, the final test
 * evaluation, and the inference model to export.
 */
public final class TrainingResult {
    private final Graph forward;
    private final Loss loss;
    private final Optimizer optimizer;
    private final int batchSize;
    private final int epochs;
    private final long seed;
    private final List<String> classNames;
    private final List<EpochStats> history;
    private final Map<String, Tensor> state;
    private final Evaluation evaluation;
    private final long steps;

    TrainingResult(
            Graph forward,
            Loss loss,
            Optimizer optimizer,
            int batchSize,
            int epochs,
            long seed,
            List<String> classNames,
            List<EpochStats> history,
            Map<String, Tensor> state,
            Evaluation evaluation,
            long steps) {
        this.forward = forward;
        this.loss = loss;
        this.optimizer = optimizer;
        this.batchSize = batchSize;
        this.epochs = epochs;
        this.seed = seed;
        this.classNames = classNames == null ? List.of() : List.copyOf(classNames);
        this.history = history;
        this.state = state;
        this.evaluation = evaluation;
        this.steps = steps;
    }

    /** One entry per epoch, including the epochs of a resumed run's earlier part. */
    public List<EpochStats> history() {
        return history;
    }

    /** The trained state: parameters, running statistics and optimizer state, by name. */
    public Map<String, Tensor> state() {
        return state;
    }

    /** The evaluation on the test set after the last epoch. */
    public Evaluation evaluation() {
        return evaluation;
    }

    /** Optimizer steps taken in total. */
    public long steps() {
        return steps;
    }

    /** The graph that was trained (frozen parameters as constants). */
    public Graph trainedGraph() {
        return forward;
    }

    /** The inference model with {@link ExportOptions#defaults()}. */
    public Graph exportedGraph() {
        return exportedGraph(ExportOptions.defaults());
    }

    /**
     * The inference model: trained values as initializers, Dropout removed, BatchNormalization folded,
     * metadata from {@code options}.
     */
    public Graph exportedGraph(ExportOptions options) {
        return Export.inferenceModel(forward, state, metadata(options));
    }

    /**
     * Writes the inference model (atomically) with {@link ExportOptions#defaults()}.
     *
     * @return the exported graph
     */
    public Graph export(Path path) {
        return export(path, ExportOptions.defaults());
    }

    /**
     * Writes the inference model (atomically) with the given metadata.
     *
     * @return the exported graph
     */
    public Graph export(Path path, ExportOptions options) {
        Graph g = exportedGraph(options);
        OnnxWriter.write(g, path);
        return g;
    }

    private Map<String, String> metadata(ExportOptions options) {
        Map<String, String> meta = new LinkedHashMap<>();
        List<String> labels = options.classLabels() != null
                ? options.classLabels()
                : loss == Loss.CROSS_ENTROPY ? classNames : List.of();
        if (!labels.isEmpty()) {
            meta.put(ModelMetadata.CLASS_LABELS, String.join(",", labels));
        }
        if (options.normalization() != null) {
            meta.put(
                    ModelMetadata.INPUT_MEAN,
                    ModelMetadata.join(options.normalization().mean()));
            meta.put(
                    ModelMetadata.INPUT_STD,
                    ModelMetadata.join(options.normalization().std()));
        }
        if (options.preprocessing() != null) {
            meta.putAll(options.preprocessing().toMetadata());
        }
        meta.put(ModelMetadata.TRAINING, options.trainingSummary() != null ? options.trainingSummary() : summary());
        meta.putAll(options.metadata());
        return meta;
    }

    private String summary() {
        EpochStats last = history.isEmpty() ? null : history.get(history.size() - 1);
        return String.format(
                Locale.ROOT,
                "%s, loss %s, batch %d, %d epochs, %d steps, seed %d%s",
                optimizer.describe(),
                loss.cliName(),
                batchSize,
                epochs,
                steps,
                seed,
                last == null ? "" : String.format(Locale.ROOT, ", final test loss %.4f", last.testLoss()));
    }
}
