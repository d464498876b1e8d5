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
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing of the model loader with Jazzer. Every input goes through {@link
 * ModelValidator} (with a model directory, so external-data paths are resolved too); what it accepts
 * is loaded by ONNX Runtime through {@link Model#load} and run on small inputs, as a service would.
 *
 * <p>A finding is any exception other than the documented refusals ({@link ModelLoadException} from
 * validation and loading, a {@link ForgeRuntimeException} from a run), a JVM crash, an input that
 * takes longer than 20 s ({@code -timeout}), a validation that allocates more than {@value
 * #ALLOCATION_PER_BYTE} bytes per input byte plus 16 MiB, or a process whose resident memory passes
 * 2.5 GB ({@code -rss_limit_mb}, native memory included). Seeds are real models (PyTorch's exports from
 * testdata/golden, Forge-written ones, the hand-made test models) and a few hostile ones, in {@code
 * src/test/resources/dev/forge/runtime/ModelLoaderFuzzTestInputs/fuzzModelLoader}.
 *
 * <p>{@code mvn install} fuzzes in its own JVM (the {@code fuzz-model-loader} surefire execution sets
 * {@code JAZZER_FUZZ}) for {@code forge.fuzz.runs} inputs (10,000), with {@code forge.fuzz.time}
 * seconds (300, at least {@value #MIN_TIME_BOUND}) as an upper bound; a run stopped by the time bound
 * passes if it ran at least {@value #MIN_INPUTS} inputs. Every run starts from the committed seeds alone (the corpus a previous run
 * generated is cleared) with libFuzzer's {@code -seed} set from {@code -Dforge.fuzz.seed} or drawn
 * fresh and printed first, so the same seed replays the same inputs, and a failure names the seed and
 * the case. Without {@code JAZZER_FUZZ} (an IDE, {@code -Dtest} in the default execution) it replays
 * the seeds as regression tests. Counts are appended to {@code target/jazzer/fuzz-stats.txt}.
 */
class ModelLoaderFuzzTest {
    /** Validation may allocate this many bytes per input byte (names are kept as 4-byte offsets). */
    static final long ALLOCATION_PER_BYTE = 64;
    /** A fuzzing run must execute at least this many inputs (or all of {@code forge.fuzz.runs} if fewer). */
    static final long MIN_INPUTS = 1000;
    /**
     * The time bound is at least this many seconds: a shorter one (as {@code -Dforge.fuzz.time=2} asked for
     * a short fuzz when a run was 45 s long) could end a run on a loaded machine before {@value
     * #MIN_INPUTS} inputs; a run is short now anyway, ending at {@code forge.fuzz.runs} inputs.
     */
    static final long MIN_TIME_BOUND = 60;

    private static final boolean FUZZING = System.getenv("JAZZER_FUZZ") != null
            && !System.getenv("JAZZER_FUZZ").isEmpty();
    private static final FuzzSeed SEED = FuzzSeed.of("ModelLoaderFuzzTest");

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
    /** A running hash of every input, in order: two runs with the same seed print the same value. */
    private static final AtomicLong INPUTS_HASH = new AtomicLong();

    private static final long START = System.nanoTime();
    private static long maxRssKb;
    private static Path modelDir;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @BeforeAll
    static void seedTheFuzzerFromTheCommittedSeedsOnly() throws IOException {
        if (!FUZZING) {
            System.out.println("ModelLoaderFuzzTest: replaying the committed seeds (no fuzzing, no seed)");
            return;
        }
        // libFuzzer's arguments are read when the fuzz test starts, after this: append the seed and time bound
        long asked = Long.parseLong(System.getProperty("forge.fuzz.time", "300").trim());
        long bound = Math.max(asked, MIN_TIME_BOUND);
        if (bound != asked) {
            System.out.println("ModelLoaderFuzzTest: -Dforge.fuzz.time=" + asked + " raised to " + bound
                    + " s, the least that gives a loaded machine time for " + MIN_INPUTS
                    + " inputs; -Dforge.fuzz.runs=N shortens a run");
        }
        int i = 0;
        while (System.getProperty("jazzer.internal.arg." + i) != null) {
            i++;
        }
        System.setProperty("jazzer.internal.arg." + i, "-seed=" + SEED.seed);
        System.setProperty("jazzer.internal.arg." + (i + 1), "-max_total_time=" + bound);
        System.setProperty("forge.fuzz.time", Long.toString(bound));
        // the validator's name hashing is keyed per process; key it by the seed so the coverage repeats too
        ModelValidator.NameTable.HASH_BASE = 256 + Math.floorMod(SEED.seed * 0x9E3779B97F4A7C15L, (1L << 61) - 512);
        // the corpus a previous run generated would change what this seed produces: start from the seeds
        String base = System.getProperty("jazzer.internal.basedir");
        if (base != null) {
            Path generated = Path.of(base, ".cifuzz-corpus", ModelLoaderFuzzTest.class.getName(), "fuzzModelLoader");
            if (Files.isDirectory(generated)) {
                try (Stream<Path> files = Files.list(generated)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        Files.delete(f);
                    }
                }
            }
        }
        System.out.println(SEED.banner("fuzzing " + System.getProperty("forge.fuzz.runs", "?") + " inputs (at most "
                + System.getProperty("forge.fuzz.time", "?") + " s)"));
    }

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
        INPUTS_HASH.accumulateAndGet(Arrays.hashCode(data), (h, x) -> h * 1_000_003L + x);
        try {
            check(data, n);
        } catch (RuntimeException | Error e) {
            // the documented refusals were caught in check: this is a finding, replayable from its message;
            // the input itself goes to the log too, as replaying a seed repeats a long run only nearly
            if (FUZZING) {
                System.out.println("ModelLoaderFuzzTest seed " + SEED.seed + " case " + n + " input (" + data.length
                        + " bytes, base64): " + Base64.getEncoder().encodeToString(data));
            }
            throw new AssertionError(
                    FUZZING
                            ? SEED.failure(n, data, "", e)
                            : "ModelLoaderFuzzTest committed input " + n + " (sha1 " + FuzzSeed.sha1(data) + "): " + e
                                    + (e.getStackTrace().length > 0 ? " at " + e.getStackTrace()[0] : ""),
                    e);
        }
    }

    private static void check(byte[] data, long n) {
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
            } catch (ModelLoadException e) {
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
        boolean fuzzing = FUZZING;
        maxRssKb = Math.max(maxRssKb, rssKb());
        String line = String.format(
                Locale.ROOT,
                "%s %s: %d inputs in %.0f s (%.0f/s, inputs hash %016x): %d refused by the validator, %d accepted; of those %d loaded by ONNX Runtime"
                        + " (%d ran) and %d refused by it; largest validation allocation %d bytes; peak RSS %d MB; open native objects %d",
                java.time.Instant.now(),
                fuzzing ? "fuzz seed " + SEED.seed : "regression",
                INPUTS.get(),
                seconds,
                INPUTS.get() / seconds,
                INPUTS_HASH.get(),
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
            long runs = Long.parseLong(System.getProperty("forge.fuzz.runs", "-1"));
            long required = runs > 0 ? Math.min(runs, MIN_INPUTS) : MIN_INPUTS;
            assertTrue(
                    INPUTS.get() >= required,
                    "the fuzzer ran only " + INPUTS.get() + " inputs (at least " + required + " required) before "
                            + System.getProperty("forge.fuzz.time") + " s (-Dforge.fuzz.time) ran out; seed "
                            + SEED.seed);
            assertTrue(
                    LOADED.get() > 0 && REFUSED.get() > 0, "inputs both refused and loaded (seed " + SEED.seed + ")");
        }
    }
}
