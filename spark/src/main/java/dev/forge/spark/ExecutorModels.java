package dev.forge.spark;

import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The runtime models of this JVM (an executor's, or the driver's in local mode), one per model content and thread
 * count, shared by every task that scores with it: {@link Model} is thread-safe ({@code OrtSession.run} runs
 * concurrently under a read lock), so the tasks of an executor run their batches on one ONNX Runtime session and
 * the model's weights are in memory once.
 *
 * <p>A model is keyed by the SHA-256 of its bytes, so the key travels with the task and the bytes themselves (a
 * broadcast) are read only by the first task of the JVM that needs them. Models stay loaded for the life of the
 * JVM: an executor ends with its application, and closing a model that another task is still running would fail
 * that task.
 */
public final class ExecutorModels {
    private static final Map<String, Model> MODELS = new ConcurrentHashMap<>();
    private static final AtomicLong LOADS = new AtomicLong();

    private ExecutorModels() {}

    /**
     * The model with this content and thread count, loaded on first use. Concurrent first uses wait for one
     * load.
     *
     * @param sha256 the hex SHA-256 of the model bytes ({@link #sha256(byte[])})
     * @param intraOpThreads ONNX Runtime's intra-op threads for the session
     * @param bytes the model bytes, asked for only when the model is not loaded yet
     * @return the shared model
     */
    public static Model get(String sha256, int intraOpThreads, Supplier<byte[]> bytes) {
        return MODELS.computeIfAbsent(sha256 + "/" + intraOpThreads, key -> {
            byte[] b = bytes.get();
            if (!sha256(b).equals(sha256)) {
                throw new IllegalStateException("model bytes do not match their hash " + sha256 + " (got " + sha256(b)
                        + "); the broadcast was damaged");
            }
            Model m = Model.load(
                    b,
                    "model " + sha256.substring(0, 12),
                    ModelOptions.builder().intraOpThreads(intraOpThreads).build());
            LOADS.incrementAndGet();
            return m;
        });
    }

    /**
     * How many models this JVM has loaded so far (a diagnostic: with one model, one load per executor).
     *
     * @return the number of loads
     */
    public static long loads() {
        return LOADS.get();
    }

    /**
     * The hex SHA-256 of model bytes, the cache key.
     *
     * @param bytes the bytes
     * @return 64 hex digits
     */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every Java platform has SHA-256", e);
        }
    }
}
