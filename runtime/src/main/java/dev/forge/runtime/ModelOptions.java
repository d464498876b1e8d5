package dev.forge.runtime;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * How {@link Model#load} builds an ONNX Runtime session: the device, thread counts, graph
 * optimization level, an optional optimized-model cache, the {@link ModelLimits} a model must respect,
 * and whether inputs holding NaN or infinities are refused. Immutable; build with {@link #builder()}.
 *
 * <h2>NaN and infinite inputs</h2>
 *
 * <p>NaN and ±infinity are valid float values, so by default {@link Model#run} passes them to the
 * model like any other value (most operators propagate them to the outputs). A service that would
 * rather refuse them sets {@link Builder#rejectNonFiniteInputs(boolean)}: then a float input holding one
 * gives an {@link InvalidInputException} naming the input, the first bad element and how many there
 * are — at the cost of one pass over every float input.
 *
 * <h2>The optimized-model cache</h2>
 *
 * <p>With {@link Builder#optimizedModelCache(Path)} set, the first load asks ONNX Runtime to write the
 * graph it built after optimization to that path ({@code SessionOptions.setOptimizedModelFilePath}),
 * and later loads of the same source model read that file instead, with graph optimizations switched
 * off because they were already applied — this saves the optimization time at start-up. Beside the
 * cache file a small sidecar ({@code <cache>.key}) records the SHA-256 of the source model bytes, the
 * optimization level, the ONNX Runtime version, the CPU it was made on and the SHA-256 of the cache
 * file. On any mismatch — a different model, level, ORT version or machine, or a damaged cache — the
 * cache is ignored and rebuilt. Both files are written to temporary files and moved into place
 * atomically.
 *
 * <p>The cache is for the CPU only. A model optimized with the CUDA provider has nodes fused and
 * assigned for that provider, and ONNX Runtime documents the saved file as valid only for the same
 * providers and hardware it was made with; a CPU-optimized file at level {@link
 * OptimizationLevel#ALL} is likewise tied to this CPU's vector width (NCHWc blocking), hence the CPU in
 * the key. So {@link Device#cuda(int)} with a cache is refused by {@link Builder#build()}, and with
 * {@link Device#auto()} the cache is used only when the model ends up on the CPU.
 */
public final class ModelOptions {
    private static final ModelOptions DEFAULTS = builder().build();

    private final Device device;
    private final int intraOpThreads;
    private final int interOpThreads;
    private final OptimizationLevel optimizationLevel;
    private final Path optimizedModelCache;
    private final ModelLimits limits;
    private final boolean rejectNonFiniteInputs;
    private final boolean normalizeInputs;

    private ModelOptions(Builder b) {
        this.device = b.device;
        this.intraOpThreads = b.intraOpThreads;
        this.interOpThreads = b.interOpThreads;
        this.optimizationLevel = b.optimizationLevel;
        this.optimizedModelCache = b.optimizedModelCache;
        this.limits = b.limits;
        this.rejectNonFiniteInputs = b.rejectNonFiniteInputs;
        this.normalizeInputs = b.normalizeInputs;
    }

    /**
     * CPU, one intra-op thread per available processor, ONNX Runtime's default inter-op threads, {@link OptimizationLevel#ALL}, no cache, {@link
     * ModelLimits#defaults()}, NaN and infinities accepted.
     *
     * @return the default options
     */
    public static ModelOptions defaults() {
        return DEFAULTS;
    }

    /**
     * A builder starting from the defaults.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder starting from these options.
     *
     * @return a new builder
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.device = device;
        b.intraOpThreads = intraOpThreads;
        b.interOpThreads = interOpThreads;
        b.optimizationLevel = optimizationLevel;
        b.optimizedModelCache = optimizedModelCache;
        b.limits = limits;
        b.rejectNonFiniteInputs = rejectNonFiniteInputs;
        b.normalizeInputs = normalizeInputs;
        return b;
    }

    /**
     * The requested device; {@link Model#device()} tells which one is in use.
     *
     * @return the device
     */
    public Device device() {
        return device;
    }

    /**
     * Threads used inside one operator as requested; 0 means one per processor available to the JVM
     * (see {@link #effectiveIntraOpThreads()}).
     *
     * @return the requested intra-op thread count
     */
    public int intraOpThreads() {
        return intraOpThreads;
    }

    /**
     * The intra-op thread count sessions are created with: the requested count, or for 0 {@link
     * Runtime#availableProcessors()}. Forge always sets the count explicitly because with ONNX Runtime's
     * own default a 2-core virtual machine ran as fast as with one thread: the CIFAR-10 net at batch 64
     * took 6.7 ms per call with the default or 1 thread and 3.9 ms with 2 set explicitly.
     *
     * @return the thread count passed to ONNX Runtime, at least 1
     */
    public int effectiveIntraOpThreads() {
        return resolveIntraOpThreads(intraOpThreads);
    }

    /**
     * The intra-op thread count Forge gives ONNX Runtime for a requested count: the count itself, or for
     * 0 one per processor available to the JVM. The trainer and the CLI use it too.
     *
     * @param requested 0 or more
     * @return at least 1
     */
    public static int resolveIntraOpThreads(int requested) {
        return requested > 0 ? requested : Runtime.getRuntime().availableProcessors();
    }

    /**
     * Threads used to run independent operators in parallel; 0 means ONNX Runtime's default.
     *
     * @return the inter-op thread count
     */
    public int interOpThreads() {
        return interOpThreads;
    }

    /**
     * The graph optimization level.
     *
     * @return the level
     */
    public OptimizationLevel optimizationLevel() {
        return optimizationLevel;
    }

    /**
     * Where the optimized model is cached, if anywhere.
     *
     * @return the cache file path
     */
    public Optional<Path> optimizedModelCache() {
        return Optional.ofNullable(optimizedModelCache);
    }

    /**
     * The size limits a model must respect to be loaded.
     *
     * @return the limits
     */
    public ModelLimits limits() {
        return limits;
    }

    /**
     * Whether {@link Model#run} refuses float inputs holding NaN or an infinity.
     *
     * @return true to refuse them
     */
    public boolean rejectNonFiniteInputs() {
        return rejectNonFiniteInputs;
    }

    /**
     * Whether {@link Model#run} normalizes the input with the model's stored per-channel normalization,
     * {@code (x - mean[c]) / std[c]} from {@link ModelMetadata#INPUT_MEAN} and {@link ModelMetadata#INPUT_STD}.
     *
     * @return true to normalize
     */
    public boolean normalizeInputs() {
        return normalizeInputs;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ModelOptions)) {
            return false;
        }
        ModelOptions m = (ModelOptions) o;
        return device.equals(m.device)
                && intraOpThreads == m.intraOpThreads
                && interOpThreads == m.interOpThreads
                && optimizationLevel == m.optimizationLevel
                && Objects.equals(optimizedModelCache, m.optimizedModelCache)
                && limits.equals(m.limits)
                && rejectNonFiniteInputs == m.rejectNonFiniteInputs
                && normalizeInputs == m.normalizeInputs;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                device,
                intraOpThreads,
                interOpThreads,
                optimizationLevel,
                optimizedModelCache,
                limits,
                rejectNonFiniteInputs,
                normalizeInputs);
    }

    @Override
    public String toString() {
        return "ModelOptions[device=" + device + ", intraOpThreads=" + intraOpThreads + ", interOpThreads="
                + interOpThreads
                + ", optimizationLevel=" + optimizationLevel + ", optimizedModelCache=" + optimizedModelCache
                + ", limits=" + limits
                + ", rejectNonFiniteInputs=" + rejectNonFiniteInputs + ", normalizeInputs=" + normalizeInputs + "]";
    }

    /** Builds {@link ModelOptions}; every setter checks its argument. */
    public static final class Builder {
        private Device device = Device.cpu();
        private int intraOpThreads;
        private int interOpThreads;
        private OptimizationLevel optimizationLevel = OptimizationLevel.ALL;
        private Path optimizedModelCache;
        private ModelLimits limits = ModelLimits.defaults();
        private boolean rejectNonFiniteInputs;
        private boolean normalizeInputs;

        private Builder() {}

        /**
         * The device to run on (default CPU).
         *
         * @param device the device
         * @return this builder
         */
        public Builder device(Device device) {
            this.device = Objects.requireNonNull(device, "device");
            return this;
        }

        /**
         * Threads inside one operator (default 0 = one per processor available to the JVM).
         *
         * @param threads 0 or more
         * @return this builder
         * @throws IllegalArgumentException if negative
         */
        public Builder intraOpThreads(int threads) {
            if (threads < 0) {
                throw new IllegalArgumentException(
                        "intraOpThreads must be >= 0 (0 = one per available processor), got " + threads);
            }
            this.intraOpThreads = threads;
            return this;
        }

        /**
         * Threads across independent operators (default 0 = ONNX Runtime's choice).
         *
         * @param threads 0 or more
         * @return this builder
         * @throws IllegalArgumentException if negative
         */
        public Builder interOpThreads(int threads) {
            if (threads < 0) {
                throw new IllegalArgumentException(
                        "interOpThreads must be >= 0 (0 = ONNX Runtime default), got " + threads);
            }
            this.interOpThreads = threads;
            return this;
        }

        /**
         * The graph optimization level (default {@link OptimizationLevel#ALL}).
         *
         * @param level the level
         * @return this builder
         */
        public Builder optimizationLevel(OptimizationLevel level) {
            this.optimizationLevel = Objects.requireNonNull(level, "level");
            return this;
        }

        /**
         * Caches the optimized model at this path (CPU only; see the class documentation). Pass null to
         * turn the cache off.
         *
         * @param cacheFile the cache file; its directory is created on first use
         * @return this builder
         */
        public Builder optimizedModelCache(Path cacheFile) {
            this.optimizedModelCache = cacheFile;
            return this;
        }

        /**
         * The size limits a model must respect (default {@link ModelLimits#defaults()}).
         *
         * @param limits the limits
         * @return this builder
         */
        public Builder limits(ModelLimits limits) {
            this.limits = Objects.requireNonNull(limits, "limits");
            return this;
        }

        /**
         * Refuse float inputs holding NaN or ±infinity with an {@link InvalidInputException} (default
         * false: they are valid values and are passed on).
         *
         * @param reject true to refuse them
         * @return this builder
         */
        public Builder rejectNonFiniteInputs(boolean reject) {
            this.rejectNonFiniteInputs = reject;
            return this;
        }

        /**
         * Normalize the model's input as it was normalized in training: {@code (x - mean[c]) / std[c]} per
         * channel (axis 1), with the values stored in the model's metadata ({@link ModelMetadata#INPUT_MEAN},
         * {@link ModelMetadata#INPUT_STD}), so callers pass raw inputs (default false). Loading a model
         * without that metadata then fails with a {@link ModelLoadException} saying so.
         *
         * @param normalize true to normalize
         * @return this builder
         */
        public Builder normalizeInputs(boolean normalize) {
            this.normalizeInputs = normalize;
            return this;
        }

        /**
         * Builds the options.
         *
         * @return the options
         * @throws IllegalArgumentException if a cache is combined with a CUDA device
         */
        public ModelOptions build() {
            if (optimizedModelCache != null && device.kind() == Device.Kind.CUDA) {
                throw new IllegalArgumentException(
                        "optimizedModelCache works only on the CPU, but the device is " + device
                                + ": a model optimized for CUDA is tied to that provider and GPU; drop the cache or use Device.cpu()");
            }
            return new ModelOptions(this);
        }
    }
}
