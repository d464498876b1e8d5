package dev.forge.spark.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.EpochStats;
import dev.forge.compiler.train.Export;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link SparkTrainer} run produced: the averaged state after the last round, the history by round and
 * by epoch, and the inference model ({@link #modelBytes()}, {@link #export(Path)}).
 */
public final class SparkTrainingResult {
    private final Graph forward;
    private final Map<String, Tensor> state;
    private final List<RoundStats> rounds;
    private final List<EpochStats> epochs;
    private final long steps;
    private final Map<String, String> metadata;

    SparkTrainingResult(
            Graph forward,
            Map<String, Tensor> state,
            List<RoundStats> rounds,
            List<EpochStats> epochs,
            long steps,
            Map<String, String> metadata) {
        this.forward = forward;
        this.state = Map.copyOf(state);
        this.rounds = List.copyOf(rounds);
        this.epochs = List.copyOf(epochs);
        this.steps = steps;
        this.metadata = new LinkedHashMap<>(metadata);
    }

    /** The trained state by name: parameters, running statistics and optimizer state. */
    public Map<String, Tensor> state() {
        return state;
    }

    /** One entry per round, including the rounds of a resumed run's earlier part. */
    public List<RoundStats> rounds() {
        return rounds;
    }

    /** One entry per completed epoch ({@code forge train}'s history format). */
    public List<EpochStats> history() {
        return epochs;
    }

    /** Optimizer steps taken by every worker in total. */
    public long steps() {
        return steps;
    }

    /** The held-out accuracy after the last round that was evaluated, or NaN. */
    public double heldOutAccuracy() {
        for (int i = rounds.size() - 1; i >= 0; i--) {
            if (!Double.isNaN(rounds.get(i).heldOutAccuracy())) {
                return rounds.get(i).heldOutAccuracy();
            }
        }
        return Double.NaN;
    }

    /**
     * The inference model: trained values as initializers, BatchNormalization folded, metadata (class labels,
     * a training summary).
     */
    public Graph exportedGraph() {
        return Export.inferenceModel(forward, state, metadata);
    }

    /** The inference model as ONNX bytes (what a scoring job broadcasts). */
    public byte[] modelBytes() {
        return OnnxWriter.toBytes(exportedGraph());
    }

    /** Writes the inference model atomically and returns the path. */
    public Path export(Path path) {
        OnnxWriter.write(exportedGraph(), path);
        return path;
    }

    /** The metadata the exported model carries ({@link ModelMetadata#TRAINING}, class labels). */
    public Map<String, String> metadata() {
        return Map.copyOf(metadata);
    }
}
