package dev.forge.compiler.train;

import dev.forge.compiler.onnx.OnnxTensorFile;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A training checkpoint: every state tensor (parameters, optimizer state, running statistics), the
 * number of completed epochs and steps, and the run's settings and history.
 *
 * <p>Stored as an ONNX {@code ModelProto} with an empty graph whose initializers are the state tensors
 * and whose {@code metadata_props} hold the rest, so any ONNX tool can inspect it. Written atomically
 * (temporary file, fsync, rename): a crash leaves either the previous checkpoint or the new one, never
 * a partial file. The shuffle order depends only on (seed, epoch) and dropout masks on (seed, step), so
 * epoch, step and seed are the whole random state: resuming continues exactly.
 *
 * @param state state tensors by name
 * @param epoch completed epochs
 * @param step completed optimizer steps
 * @param info settings and history (text), e.g. {@code seed}, {@code optimizer}, {@code history}
 */
public record Checkpoint(Map<String, Tensor> state, int epoch, long step, Map<String, String> info) {
    /** Marks a file as a Forge checkpoint. */
    public static final String FORMAT = "forge-checkpoint-v1";
    /** {@link #info()} key: the run's seed (shuffling and dropout). */
    public static final String SEED = "seed";
    /** {@link #info()} key: the optimizer, as {@link Optimizer#describe()}. */
    public static final String OPTIMIZER = "optimizer";
    /** {@link #info()} key: the loss, as {@link Loss#cliName()}. */
    public static final String LOSS = "loss";
    /** {@link #info()} key: the mini-batch size. */
    public static final String BATCH = "batch";
    /** {@link #info()} key: what the training data was (sample count, shape, classes), checked on resume. */
    public static final String DATA = "data";
    /** {@link #info()} key: the history so far as CSV ({@link EpochStats#csv}). */
    public static final String HISTORY = "history";

    /** Copies the maps. */
    public Checkpoint {
        state = Collections.unmodifiableMap(new LinkedHashMap<>(state));
        info = Collections.unmodifiableMap(new LinkedHashMap<>(info));
    }

    /** Writes the checkpoint atomically. */
    public void write(Path path) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("epoch", Integer.toString(epoch));
        meta.put("step", Long.toString(step));
        meta.putAll(info);
        OnnxWriter.writeAtomically(path, OnnxTensorFile.toBytes("checkpoint", FORMAT, state, meta));
    }

    /**
     * Reads a checkpoint.
     *
     * @throws IllegalArgumentException naming the file when it is missing, truncated or not a checkpoint
     */
    public static Checkpoint read(Path path) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(path + ": checkpoint not found");
        } catch (IOException e) {
            throw new IllegalArgumentException(path + ": cannot read checkpoint: " + e.getMessage(), e);
        }
        OnnxTensorFile file;
        try {
            file = OnnxTensorFile.parse(bytes);
        } catch (IOException e) {
            throw new IllegalArgumentException(
                    path + ": not a Forge checkpoint (corrupt or truncated: " + e.getMessage() + ")", e);
        }
        Map<String, String> meta = new LinkedHashMap<>(file.metadata());
        if (!FORMAT.equals(meta.get("format"))) {
            throw new IllegalArgumentException(path + ": not a Forge checkpoint (no '" + FORMAT + "' marker)");
        }
        Map<String, Tensor> state;
        try {
            state = file.tensors(path.toString());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(path + ": corrupt checkpoint: " + e.getMessage(), e);
        }
        int epoch = Integer.parseInt(meta.remove("epoch"));
        long step = Long.parseLong(meta.remove("step"));
        meta.remove("format");
        return new Checkpoint(state, epoch, step, meta);
    }
}
