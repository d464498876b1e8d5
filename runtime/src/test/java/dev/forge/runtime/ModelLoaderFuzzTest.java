package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing of the model loader with Jazzer. Every input goes through {@link
 * ModelValidator} (with a model directory, so external-data paths are resolved too); what it accepts
 * is loaded by ONNX Runtime through {@link Model#load} and run on small inputs, as a service would.
 *
 * <p>A finding is any exception other than a {@link ForgeRuntimeException}, a JVM crash, an input that
 * takes longer than 20 s ({@code -timeout}), a validation that allocates more than {@value
 * #ALLOCATION_PER_BYTE} bytes per input byte plus 16 MiB, or a process whose resident memory passes
 * 2.5 GB ({@code -rss_limit_mb}, native memory included). Seeds are real models (PyTorch's exports from
 * testdata/golden, Forge-written ones, the hand-made test models) and a few hostile ones, in {@code
 * src/test/resources/dev/forge/runtime/ModelLoaderFuzzTestInputs/fuzzModelLoader}.
 *
 * <p>{@code mvn install} fuzzes for 45 s in its own JVM (the {@code fuzz-model-loader} surefire
 * execution sets {@code JAZZER_FUZZ}); {@code -Dforge.fuzz.time=SECONDS} runs longer. Without {@code
 * JAZZER_FUZZ} (an IDE, {@code -Dtest} in the default execution) it replays the seeds as regression
 * tests. Counts are appended to {@code target/jazzer/fuzz-stats.txt}.
 */
class ModelLoaderFuzzTest {
    /** Validation may allocate this many bytes per input byte (names are kept as 4-byte offsets). */
    static final long ALLOCATION_PER_BYTE = 64;

    private static final ModelLimits LIMITS = ModelLimits.builder()
            .maxModelBytes(4L << 20)
            .maxTensorBytes(16L << 20)
            .maxTotalInitializerBytes(64L << 20)
            .maxNodes(20_000)
            .build();
    private static final ModelOptions OPTIONS =
            ModelOptions.builder().limits(LIMITS).intraOpThreads(1).build();

    private static final AtomicLong INPUTS = new AtomicLong();
    private static final AtomicLong REFUSED = new AtomicLong();
    private static final AtomicLong LOADED = new AtomicLong();
    private static final AtomicLong ORT_REFUSED = new AtomicLong();
    private static final AtomicLong RAN = new AtomicLong();
    private static final AtomicLong MAX_ALLOCATION = new AtomicLong();
    private static final long START = System.nanoTime();
    private static long maxRssKb;
    private static Path modelDir;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @BeforeAll
    static void quietOnnxRuntimeAndAModelDirectory() throws IOException {
        // ONNX Runtime logs a warning per odd model; keep the fuzzer's output readable
        OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, "forge-fuzz");
        modelDir = Files.createTempDirectory("forge-fuzz-model");
        Files.write(modelDir.resolve("w.bin"), new byte[4096]);
        Files.createDirectories(modelDir.resolve("data"));
        Files.write(modelDir.resolve("data/w.bin"), new byte[64]);
    }

    @FuzzTest(maxDuration = "10m")
    void fuzzModelLoader(byte[] data) {
        long n = INPUTS.incrementAndGet();
        long allocated = validationAllocation(data);
        boolean valid = allocated >= 0;
        allocated = Math.abs(allocated);
        long bound = ALLOCATION_PER_BYTE * data.length + (16L << 20);
        if (allocated > bound) {
            // the first pass through new code loads and initializes classes; a second pass tells
            allocated = Math.abs(validationAllocation(data));
            if (allocated > bound) {
                throw new AssertionError("validating " + data.length + " bytes allocated " + allocated + " bytes");
            }
        }
        MAX_ALLOCATION.accumulateAndGet(allocated, Math::max);
        if (!valid) {
            REFUSED.incrementAndGet();
        }
        if (valid) {
            // what a service would do next; bytes carry no directory, so external data is refused here
            try (Model m = Model.load(data, "fuzz", OPTIONS)) {
                LOADED.incrementAndGet();
                if (runWithSmallInputs(m)) {
                    RAN.incrementAndGet();
                }
            } catch (ForgeRuntimeException e) {
                ORT_REFUSED.incrementAndGet();
            }
        }
        if (n % 256 == 0) {
            long rss = rssKb();
            maxRssKb = Math.max(maxRssKb, rss);
            if (rss > 2_500_000) {
                throw new AssertionError("resident memory reached " + rss / 1024 + " MB after " + n + " inputs");
            }
        }
    }

    /** Validates; returns the bytes allocated meanwhile, negated when the model was refused. */
    private static long validationAllocation(byte[] data) {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        boolean valid;
        try {
            ModelValidator.validate(data, "fuzz", modelDir, LIMITS);
            valid = true;
        } catch (ModelLoadException e) {
            valid = false;
        }
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        return valid ? allocated : -Math.max(1, allocated);
    }

    /** Zeros of the declared shapes (symbolic dimensions = 2); any Forge exception is a fine answer. */
    private static boolean runWithSmallInputs(Model model) {
        Map<String, Tensor> inputs = new HashMap<>();
        for (TensorSpec spec : model.inputs()) {
            long[] shape = spec.shape().clone();
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shape[i] < 0 ? 2 : shape[i];
                count *= Math.max(1, shape[i]);
                if (shape[i] > 4096 || count > 1 << 16) {
                    return false;
                }
            }
            if (shape.length > 8) {
                return false;
            }
            inputs.put(spec.name(), Tensor.zeros(spec.dtype(), shape));
        }
        try {
            model.run(inputs);
            return true;
        } catch (ForgeRuntimeException e) {
            return false;
        }
    }

    static long rssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: no resident-memory check
        }
        return 0;
    }

    @AfterAll
    static void report() throws IOException {
        double seconds = (System.nanoTime() - START) / 1e9;
        boolean fuzzing = System.getenv("JAZZER_FUZZ") != null
                && !System.getenv("JAZZER_FUZZ").isEmpty();
        maxRssKb = Math.max(maxRssKb, rssKb());
        String line = String.format(
                Locale.ROOT,
                "%s %s: %d inputs in %.0f s (%.0f/s): %d refused by the validator, %d accepted; of those %d loaded by ONNX Runtime"
                        + " (%d ran) and %d refused by it; largest validation allocation %d bytes; peak RSS %d MB; open native objects %d",
                java.time.Instant.now(),
                fuzzing ? "fuzz" : "regression",
                INPUTS.get(),
                seconds,
                INPUTS.get() / seconds,
                REFUSED.get(),
                INPUTS.get() - REFUSED.get(),
                LOADED.get(),
                RAN.get(),
                ORT_REFUSED.get(),
                MAX_ALLOCATION.get(),
                maxRssKb / 1024,
                Model.openNativeObjects());
        System.out.println("ModelLoaderFuzzTest " + line);
        String stats = System.getProperty("forge.fuzz.stats");
        if (stats != null) {
            Path p = Path.of(stats);
            Files.createDirectories(p.getParent());
            Files.writeString(
                    p, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        assertTrue(
                Model.openNativeObjects() == 0, "every session, tensor and result closed: " + NativeObjects.describe());
        if (fuzzing) {
            assertTrue(INPUTS.get() > 1000, "the fuzzer ran only " + INPUTS.get() + " inputs");
            assertTrue(LOADED.get() > 0 && REFUSED.get() > 0, "inputs both refused and loaded");
        }
    }
}
