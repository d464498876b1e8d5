package dev.forge.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxModelMetadata;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A loaded ONNX model, ready to run on the CPU or a CUDA GPU through ONNX Runtime.
 *
 * <pre>{@code
 * try (Model model = Model.load(Path.of("mnist.onnx"))) {
 *   Tensor x = Tensor.of(pixels, 1, 1, 28, 28);
 *   List<Prediction> best = model.topK(x, 3).get(0);
 * }
 * }</pre>
 *
 * <p><b>Validation.</b> Every model goes through {@link ModelValidator} before ONNX Runtime sees it:
 * missing, empty, truncated, random and non-ONNX data, unsupported IR or opset versions, tensors whose
 * data does not match their shape, graphs with cycles or undefined inputs, external data outside the
 * model's directory, and anything over the {@link ModelLimits} of the options (model size, tensor size
 * including sizes fixed by constants and attributes, total initializer size, node count) give a {@link
 * ModelLoadException} naming the problem; ONNX Runtime's own reason is reported for anything else it
 * rejects. {@link #run} checks input names, element types, ranks and fixed dimensions against the
 * model's declared inputs (and that a symbolic dimension such as {@code N} has one value across all
 * inputs), and with {@link ModelOptions.Builder#rejectNonFiniteInputs} that float inputs hold no NaN or
 * infinity, and throws {@link InvalidInputException} before calling native code. See docs/SECURITY.md.
 *
 * <p><b>Memory.</b> A model holds a native session: close it. Inputs from tensors on direct buffers
 * are handed to ONNX Runtime without a copy; heap tensors are copied once into native memory. Outputs
 * are copied once into new heap tensors. Every native value made during a run is released before
 * {@code run} returns; {@link #openNativeObjects()} counts what is open.
 *
 * <p><b>Images.</b> A model that stores its {@link ImagePreprocessing} in its metadata classifies an
 * image file of any size in one call: {@link #predict(Path, int)}, {@link #runImage(Path)} (resize,
 * center crop, scale and normalize as torchvision's PIL pipeline, bit-identical to Pillow's resize).
 *
 * <p><b>Threads.</b> {@code run} and {@code topK} may be called from many threads at once (ONNX
 * Runtime sessions are thread-safe). {@link #close()} waits for runs in progress; afterwards every
 * method except {@code close}, {@code isClosed} and {@code toString} throws {@link
 * IllegalStateException}{@code ("Model is closed")}.
 *
 * <p><b>Devices.</b> {@link Device#cpu()} uses ONNX Runtime's CPU provider. {@link Device#cuda(int)}
 * needs a build with the CUDA provider (the Maven profile {@code -Pcuda}) and a working GPU, else a
 * {@link DeviceUnavailableException} says which is missing. {@link Device#auto()} tries CUDA and falls
 * back to the CPU, logging why once per JVM (System.Logger {@code dev.forge.runtime.Model}, level
 * INFO). {@link #device()} tells what is in use.
 */
public final class Model implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Model.class.getName());
    private static final AtomicBoolean AUTO_FALLBACK_LOGGED = new AtomicBoolean();
    /** A row of non-negative values is taken as probabilities when it sums to 1 within this. */
    private static final double PROBABILITY_SUM_TOLERANCE = 1e-3;

    private final OrtSession session;
    private final String sourceName;
    private final ModelOptions options;
    private final Device device;
    private final boolean loadedFromCache;
    private final List<TensorSpec> inputs;
    private final List<TensorSpec> outputs;
    private final Map<String, TensorSpec> inputByName;
    private final List<String> outputNames;
    private final Map<String, String> metadata;
    private final String producerName;
    private final String graphName;
    private final String description;
    private final long version;
    private final AtomicBoolean labelWarningLogged = new AtomicBoolean();
    /** {mean, std} per channel when {@link ModelOptions#normalizeInputs()} is set, else null. */
    private final float[][] normalization;

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile boolean closed;

    private Model(OrtSession session, String sourceName, ModelOptions options, Device device, boolean loadedFromCache) {
        this.session = session;
        this.sourceName = sourceName;
        this.options = options;
        this.device = device;
        this.loadedFromCache = loadedFromCache;
        try {
            this.inputs = specs(session.getInputInfo(), "input", sourceName);
            this.outputs = specs(session.getOutputInfo(), "output", sourceName);
            OnnxModelMetadata md = session.getMetadata();
            this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(md.getCustomMetadata()));
            this.producerName = nullToEmpty(md.getProducerName());
            this.graphName = nullToEmpty(md.getGraphName());
            this.description = nullToEmpty(md.getDescription());
            // ONNX Runtime reports INT64_MAX when the model sets no model_version
            this.version = md.getVersion() == Long.MAX_VALUE ? 0 : md.getVersion();
        } catch (OrtException e) {
            throw new ModelLoadException(
                    "Cannot load model " + sourceName + ": cannot read its inputs, outputs or metadata (" + ortReason(e)
                            + ")",
                    e);
        }
        Map<String, TensorSpec> byName = new LinkedHashMap<>();
        for (TensorSpec s : inputs) {
            byName.put(s.name(), s);
        }
        this.inputByName = Collections.unmodifiableMap(byName);
        List<String> outNames = new ArrayList<>();
        for (TensorSpec s : outputs) {
            outNames.add(s.name());
        }
        this.outputNames = Collections.unmodifiableList(outNames);
        this.normalization = options.normalizeInputs() ? normalizationOf(sourceName, metadata, inputs) : null;
    }

    /** The stored normalization, checked against the model's single float input [N, C, ...]. */
    private static float[][] normalizationOf(String sourceName, Map<String, String> metadata, List<TensorSpec> inputs) {
        float[][] ms;
        try {
            ms = ModelMetadata.normalization(metadata)
                    .orElseThrow(() -> new ModelLoadException("Cannot load model " + sourceName
                            + ": ModelOptions.normalizeInputs is set but the model's metadata has no "
                            + ModelMetadata.INPUT_MEAN + " and "
                            + ModelMetadata.INPUT_STD + " (metadata keys: " + metadata.keySet()
                            + "); normalize the inputs yourself or"
                            + " export the model with its normalization"));
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException("Cannot load model " + sourceName + ": " + e.getMessage(), e);
        }
        if (inputs.size() != 1
                || inputs.get(0).dtype() != DType.FLOAT32
                || inputs.get(0).shape().length < 2) {
            throw new ModelLoadException(
                    "Cannot load model " + sourceName + ": ModelOptions.normalizeInputs needs one float32"
                            + " input [N, C, ...], but the model has inputs " + inputs);
        }
        long channels = inputs.get(0).shape()[1];
        if (channels >= 0 && channels != ms[0].length) {
            throw new ModelLoadException("Cannot load model " + sourceName + ": its metadata normalizes " + ms[0].length
                    + " channels but input " + inputs.get(0) + " has " + channels + "; fix " + ModelMetadata.INPUT_MEAN
                    + "/"
                    + ModelMetadata.INPUT_STD);
        }
        return ms;
    }

    /** (x - mean[c]) / std[c] over axis 1 of a validated input, as a new tensor. */
    private Tensor normalized(Tensor t) {
        long[] shape = t.shape();
        int channels = normalization[0].length;
        if (shape[1] != channels) {
            throw new InvalidInputException(
                    "input '" + inputs.get(0).name() + "' has " + shape[1] + " channels, but the model's"
                            + " normalization (" + ModelMetadata.INPUT_MEAN + ") has " + channels);
        }
        float[] x = t.toFloatArray();
        long inner = 1;
        for (int i = 2; i < shape.length; i++) {
            inner *= shape[i];
        }
        for (int i = 0; i < x.length; i++) {
            int c = (int) ((i / inner) % channels);
            x[i] = (x[i] - normalization[0][c]) / normalization[1][c];
        }
        return Tensor.of(x, shape);
    }

    // ================================================================ loading

    /**
     * Loads a model file with {@link ModelOptions#defaults()}.
     *
     * @param path the {@code .onnx} file
     * @return the model
     * @throws ModelLoadException if the file is missing, unreadable, empty or not a valid ONNX model
     */
    public static Model load(Path path) {
        return load(path, ModelOptions.defaults());
    }

    /**
     * Loads a model file. The file is read once (at most {@link ModelLimits#maxModelBytes()}), validated,
     * and the same bytes go to ONNX Runtime, so the file cannot change between the check and the load;
     * external data files are resolved in the file's directory and must stay inside it.
     *
     * @param path the {@code .onnx} file
     * @param options device, threads, optimization level, cache
     * @return the model
     * @throws ModelLoadException if the file is missing, unreadable, empty, not a valid ONNX model, or
     *     refused by {@link ModelValidator}
     * @throws DeviceUnavailableException if the requested CUDA device cannot be used
     */
    public static Model load(Path path, ModelOptions options) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        Source src = Source.ofFile(path);
        return load(src, options);
    }

    /**
     * Loads a model from its serialized bytes.
     *
     * @param bytes the ONNX ModelProto bytes
     * @param options device, threads, optimization level, cache
     * @return the model
     * @throws ModelLoadException if the bytes are not a valid ONNX model
     * @throws DeviceUnavailableException if the requested CUDA device cannot be used
     */
    public static Model load(byte[] bytes, ModelOptions options) {
        return load(bytes, null, options);
    }

    /**
     * Loads a model from its serialized bytes, naming it for messages. Models with external data are
     * refused: there is no directory to read it from.
     *
     * @param bytes the ONNX ModelProto bytes (not modified, not retained)
     * @param sourceName a name for messages, such as the resource it came from; null for a generic one
     * @param options device, threads, optimization level, cache
     * @return the model
     * @throws ModelLoadException if the bytes are not a valid ONNX model
     * @throws DeviceUnavailableException if the requested CUDA device cannot be used
     */
    public static Model load(byte[] bytes, String sourceName, ModelOptions options) {
        Objects.requireNonNull(bytes, "bytes");
        Objects.requireNonNull(options, "options");
        String name = sourceName != null ? sourceName : "<" + bytes.length + " bytes>";
        return load(Source.ofBytes(bytes.clone(), name), options);
    }

    /**
     * The devices this ONNX Runtime build can use: always the CPU, and CUDA device 0 when the build has
     * the CUDA provider (the {@code -Pcuda} profile). A listed CUDA device can still fail to start when
     * the machine has no GPU or driver.
     *
     * @return the available devices, CPU first
     */
    public static List<Device> availableDevices() {
        List<Device> devices = new ArrayList<>();
        devices.add(Device.cpu());
        if (Ort.providers().contains(OrtProvider.CUDA)) {
            devices.add(Device.cuda(0));
        }
        return Collections.unmodifiableList(devices);
    }

    /** The ONNX Runtime version in use, e.g. {@code 1.29.0}. */
    static String onnxRuntimeVersion() {
        return Ort.env().getVersion();
    }

    private static Model load(Source src, ModelOptions options) {
        src.check(options.limits());
        Device requested = options.device();
        switch (requested.kind()) {
            case CPU:
                return loadCpu(src, options);
            case CUDA:
                requireCudaProvider(requested);
                return loadCuda(src, options, requested);
            case AUTO:
            default:
                EnumSet<OrtProvider> providers = Ort.providers();
                if (!providers.contains(OrtProvider.CUDA)) {
                    logAutoFallback("this ONNX Runtime build has no CUDA execution provider (available: " + providers
                            + "); build with the Maven profile -Pcuda to use a GPU");
                    return loadCpu(src, options);
                }
                try {
                    if (options.optimizedModelCache().isPresent()) {
                        LOG.log(
                                System.Logger.Level.INFO,
                                "Device auto: the optimized-model cache is not used on CUDA (" + src.name + ")");
                    }
                    return loadCuda(src, options, Device.cuda(requested.deviceId()));
                } catch (DeviceUnavailableException e) {
                    logAutoFallback(e.getMessage());
                    return loadCpu(src, options);
                }
        }
    }

    private static void logAutoFallback(String why) {
        if (AUTO_FALLBACK_LOGGED.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.INFO, "Device auto: using the CPU because " + why);
        }
    }

    private static void requireCudaProvider(Device requested) {
        EnumSet<OrtProvider> providers = Ort.providers();
        if (!providers.contains(OrtProvider.CUDA)) {
            throw new DeviceUnavailableException(
                    "CUDA requested (" + requested + ") but this ONNX Runtime build has no CUDA"
                            + " execution provider (available: " + providers
                            + "). Build with the Maven profile -Pcuda (onnxruntime_gpu)"
                            + " and install CUDA 12 and cuDNN 9 on a machine with an NVIDIA GPU.");
        }
    }

    private static Model loadCuda(Source src, ModelOptions options, Device cuda) {
        SessionOptions so = sessionOptions(options, options.optimizationLevel());
        try {
            try {
                so.addCUDA(cuda.deviceId());
            } catch (OrtException | RuntimeException e) {
                throw new DeviceUnavailableException(
                        "CUDA device " + cuda.deviceId() + " is not usable: " + ortReason(e)
                                + ". Check that an NVIDIA GPU is present, its driver loads (nvidia-smi), and CUDA 12 and cuDNN 9 are installed.",
                        e);
            }
            OrtSession session;
            try {
                session = src.open(so);
            } catch (ModelLoadException e) {
                // Was it the model or the GPU? A CPU session of the same model tells.
                if (cpuAccepts(src, options)) {
                    throw new DeviceUnavailableException(
                            "CUDA device " + cuda.deviceId() + " could not run " + src.name + ": "
                                    + ortReason(e.getCause())
                                    + " (the model loads on the CPU; check the GPU, driver, CUDA 12 and cuDNN 9)",
                            e);
                }
                throw e;
            }
            return newModel(session, src.name, options, cuda, false);
        } finally {
            so.close();
        }
    }

    private static boolean cpuAccepts(Source src, ModelOptions options) {
        try (SessionOptions so = sessionOptions(options, OptimizationLevel.NONE)) {
            closeSession(src.open(so));
            return true;
        } catch (ModelLoadException e) {
            return false;
        }
    }

    private static Model loadCpu(Source src, ModelOptions options) {
        Optional<Path> cache = options.optimizedModelCache();
        if (cache.isPresent()) {
            return loadCpuCached(src, options, cache.get().toAbsolutePath());
        }
        try (SessionOptions so = sessionOptions(options, options.optimizationLevel())) {
            return newModel(src.open(so), src.name, options, Device.cpu(), false);
        }
    }

    /** Loads through the optimized-model cache; see {@link ModelOptions} for the rules. */
    private static Model loadCpuCached(Source src, ModelOptions options, Path cache) {
        Path sidecar = OptimizedModelCache.sidecarOf(cache);
        Map<String, String> key =
                OptimizedModelCache.expectedKey(src.sha256(), options.optimizationLevel(), onnxRuntimeVersion());
        String why;
        if (Files.isRegularFile(cache)) {
            Map<String, String> recorded = OptimizedModelCache.readSidecar(sidecar);
            why = OptimizedModelCache.mismatch(recorded, key);
            if (why == null) {
                try {
                    byte[] cached = Files.readAllBytes(cache);
                    String sha = OptimizedModelCache.sha256(cached);
                    if (sha.equals(recorded.get("cache.sha256"))) {
                        Source cachedSrc = Source.ofBytes(cached, cache.toString());
                        cachedSrc.check(options.limits());
                        // The optimizations were applied before the model was saved; do not run them again.
                        try (SessionOptions so = sessionOptions(options, OptimizationLevel.NONE)) {
                            return newModel(cachedSrc.open(so), src.name, options, Device.cpu(), true);
                        }
                    }
                    why = "the cache file's sha256 does not match its key file (damaged or replaced)";
                } catch (IOException | ModelLoadException e) {
                    why = "the cache file could not be loaded (" + e.getMessage() + ")";
                }
            }
        } else {
            why = "no cache file yet";
        }
        LOG.log(
                Files.exists(cache) ? System.Logger.Level.INFO : System.Logger.Level.DEBUG,
                "Optimized-model cache " + cache + ": building because " + why);

        Path dir = cache.getParent();
        Path tmp = null;
        try {
            try {
                Files.createDirectories(dir);
                // the pid in the name lets a later write of this cache delete it if this process is killed
                tmp = Files.createTempFile(
                        dir,
                        "." + cache.getFileName() + "."
                                + ProcessHandle.current().pid() + ".",
                        ".tmp");
            } catch (IOException e) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "Optimized-model cache " + cache + " cannot be written (" + e + "); loading without it");
                tmp = null;
            }
            OrtSession session;
            try (SessionOptions so = sessionOptions(options, options.optimizationLevel())) {
                if (tmp != null) {
                    try {
                        so.setOptimizedModelFilePath(tmp.toString());
                        // ORT warns that a level-ALL model is hardware specific; the cache key covers that (host line).
                        so.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
                    } catch (OrtException e) {
                        throw new ForgeRuntimeException(
                                "Cannot set the optimized model path " + tmp + ": " + ortReason(e), e);
                    }
                }
                session = src.open(so);
            }
            try {
                // ONNX Runtime wrote the optimized graph to tmp while creating the session.
                if (tmp != null && Files.size(tmp) > 0) {
                    byte[] optimized = Files.readAllBytes(tmp);
                    Npy.writeAtomically(cache, optimized);
                    Npy.writeAtomically(
                            sidecar, OptimizedModelCache.sidecarBytes(key, OptimizedModelCache.sha256(optimized)));
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "Optimized-model cache " + cache + " could not be saved (" + e + ")");
            }
            return newModel(session, src.name, options, Device.cpu(), false);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // a stray temporary file is harmless
                }
            }
        }
    }

    private static Model newModel(
            OrtSession session, String name, ModelOptions options, Device device, boolean cached) {
        try {
            return new Model(session, name, options, device, cached);
        } catch (RuntimeException e) {
            try {
                closeSession(session);
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** Closes a session this class opened and counts it closed. */
    private static void closeSession(OrtSession session) {
        try {
            session.close();
        } catch (OrtException e) {
            throw new ForgeRuntimeException("Closing an ONNX Runtime session failed: " + ortReason(e), e);
        } finally {
            NativeObjects.SESSIONS.closed();
        }
    }

    /**
     * How many native ONNX Runtime objects this runtime has created and not yet closed, in all models of
     * this JVM: sessions, session options, input tensors and run results. A diagnostic for leak tests and
     * monitoring: with no model open and no run in progress it is 0.
     *
     * @return the number of open native objects
     */
    public static long openNativeObjects() {
        return NativeObjects.open();
    }

    /**
     * ONNX Runtime session options for sessions Forge creates outside {@link Model}, such as the
     * trainer's: the thread counts and optimization level of {@code options} and the execution provider
     * of its device. {@link Device#cuda(int)} fails as {@link #load(Path, ModelOptions)} does on a build
     * or machine without CUDA; {@link Device#auto()} falls back to the CPU with one log line per JVM. The
     * caller closes the options (they count in {@link #openNativeObjects()} until then).
     *
     * @param options the options; the optimized-model cache and input checks do not apply here
     * @return new session options
     * @throws DeviceUnavailableException if the requested CUDA device cannot be used
     */
    public static SessionOptions newSessionOptions(ModelOptions options) {
        Objects.requireNonNull(options, "options");
        SessionOptions so = sessionOptions(options, options.optimizationLevel());
        try {
            Device requested = options.device();
            switch (requested.kind()) {
                case CPU:
                    break;
                case CUDA:
                    requireCudaProvider(requested);
                    addCuda(so, requested);
                    break;
                case AUTO:
                default:
                    EnumSet<OrtProvider> providers = Ort.providers();
                    if (!providers.contains(OrtProvider.CUDA)) {
                        logAutoFallback("this ONNX Runtime build has no CUDA execution provider (available: "
                                + providers + "); build with the Maven profile -Pcuda to use a GPU");
                        break;
                    }
                    try {
                        addCuda(so, Device.cuda(requested.deviceId()));
                    } catch (DeviceUnavailableException e) {
                        // the provider may be half-registered on a failed add: start again from CPU options
                        so.close();
                        logAutoFallback(e.getMessage());
                        so = sessionOptions(options, options.optimizationLevel());
                    }
                    break;
            }
            return so;
        } catch (RuntimeException e) {
            so.close();
            throw e;
        }
    }

    private static void addCuda(SessionOptions so, Device cuda) {
        try {
            so.addCUDA(cuda.deviceId());
        } catch (OrtException | RuntimeException e) {
            throw new DeviceUnavailableException(
                    "CUDA device " + cuda.deviceId() + " is not usable: " + ortReason(e)
                            + ". Check that an NVIDIA GPU is present, its driver loads (nvidia-smi), and CUDA 12 and cuDNN 9 are installed.",
                    e);
        }
    }

    private static SessionOptions sessionOptions(ModelOptions options, OptimizationLevel level) {
        SessionOptions so = NativeObjects.sessionOptions();
        try {
            so.setOptimizationLevel(level.toOrt());
            so.setIntraOpNumThreads(options.effectiveIntraOpThreads());
            if (options.interOpThreads() > 0) {
                so.setInterOpNumThreads(options.interOpThreads());
                if (options.interOpThreads() > 1) {
                    so.setExecutionMode(SessionOptions.ExecutionMode.PARALLEL);
                }
            }
            return so;
        } catch (OrtException e) {
            so.close();
            throw new ForgeRuntimeException("Cannot apply " + options + ": " + ortReason(e), e);
        }
    }

    private static List<TensorSpec> specs(Map<String, NodeInfo> infos, String what, String sourceName) {
        List<TensorSpec> specs = new ArrayList<>();
        for (NodeInfo node : infos.values()) {
            ValueInfo vi = node.getInfo();
            if (!(vi instanceof TensorInfo)) {
                throw new ModelLoadException("Cannot load model " + sourceName + ": " + what + " '" + node.getName()
                        + "' is a " + vi.getClass().getSimpleName()
                        + ", not a tensor; only tensor inputs and outputs are supported");
            }
            TensorInfo ti = (TensorInfo) vi;
            DType dtype;
            try {
                dtype = DType.fromOnnxTensorType(ti.onnxType);
            } catch (IllegalArgumentException e) {
                throw new ModelLoadException("Cannot load model " + sourceName + ": " + what + " '" + node.getName()
                        + "' has element type " + DType.ortTypeName(ti.onnxType)
                        + ", which this runtime does not support; supported: " + DType.supportedNames());
            }
            if (what.equals("input") && dtype.lacksOnnxJavaType()) {
                throw new ModelLoadException(
                        "Cannot load model " + sourceName + ": input '" + node.getName() + "' is " + noJavaType(dtype));
            }
            long[] shape = ti.getShape();
            for (long d : shape) {
                if (d < -1) {
                    throw new ModelLoadException("Cannot load model " + sourceName + ": not a valid ONNX model: " + what
                            + " '"
                            + node.getName() + "' declares dimension " + d + " in shape " + Arrays.toString(shape)
                            + "; dimensions must be >= 0, or symbolic");
                }
            }
            specs.add(new TensorSpec(node.getName(), dtype, shape, ti.getDimensionNames()));
        }
        return Collections.unmodifiableList(specs);
    }

    // ================================================================ introspection

    /**
     * The model's inputs in declared order.
     *
     * @return the input specs
     */
    public List<TensorSpec> inputs() {
        ensureOpen();
        return inputs;
    }

    /**
     * The model's outputs in declared order.
     *
     * @return the output specs
     */
    public List<TensorSpec> outputs() {
        ensureOpen();
        return outputs;
    }

    /**
     * The model's custom metadata ({@code metadata_props}), such as {@code class_labels}.
     *
     * @return an unmodifiable map
     */
    public Map<String, String> metadata() {
        ensureOpen();
        return metadata;
    }

    /**
     * The tool that made the model ({@code producer_name}).
     *
     * @return the producer, or an empty string
     */
    public String producerName() {
        ensureOpen();
        return producerName;
    }

    /**
     * The name of the model's graph.
     *
     * @return the graph name, or an empty string
     */
    public String graphName() {
        ensureOpen();
        return graphName;
    }

    /**
     * The model's {@code doc_string}.
     *
     * @return the description, or an empty string
     */
    public String description() {
        ensureOpen();
        return description;
    }

    /**
     * The model's {@code model_version}.
     *
     * @return the version, 0 when the model sets none
     */
    public long version() {
        ensureOpen();
        return version;
    }

    /**
     * The device actually in use: {@link Device#cpu()} or a {@link Device#cuda(int)}, never AUTO.
     *
     * @return the device
     */
    public Device device() {
        ensureOpen();
        return device;
    }

    /**
     * The options the model was loaded with.
     *
     * @return the options
     */
    public ModelOptions options() {
        ensureOpen();
        return options;
    }

    /**
     * Where the model came from: the file path, or the name given to {@link #load(byte[], String,
     * ModelOptions)}.
     *
     * @return the source name
     */
    public String sourceName() {
        return sourceName;
    }

    /**
     * Whether this session was built from the optimized-model cache rather than the source model.
     *
     * @return true on a cache hit
     */
    public boolean loadedFromCache() {
        ensureOpen();
        return loadedFromCache;
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed;
    }

    // ================================================================ running

    /**
     * Runs a model with one input and one output.
     *
     * @param input the input tensor
     * @return the output tensor
     * @throws InvalidInputException if the model does not have exactly one input and one output, or the
     *     input does not match it
     * @throws ForgeRuntimeException if ONNX Runtime fails while running
     * @throws IllegalStateException if the model is closed
     */
    public Tensor run(Tensor input) {
        Objects.requireNonNull(input, "input");
        ensureOpen();
        if (inputs.size() != 1 || outputs.size() != 1) {
            throw new InvalidInputException("run(Tensor) needs a model with one input and one output, but " + sourceName
                    + " has inputs " + names(inputs) + " and outputs " + names(outputs) + "; use run(Map)");
        }
        return run(Map.of(inputs.get(0).name(), input)).get(outputs.get(0).name());
    }

    /**
     * Runs the model and returns every output.
     *
     * @param inputs one tensor per declared input, by name
     * @return the outputs by name, in declared order
     * @throws InvalidInputException if an input name is unknown or missing, or a tensor has the wrong
     *     element type, rank or fixed dimension
     * @throws ForgeRuntimeException if ONNX Runtime fails while running
     * @throws IllegalStateException if the model is closed
     */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        return run(inputs, outputNames);
    }

    /**
     * Runs the model and returns the requested outputs; ONNX Runtime may skip work no requested output
     * needs.
     *
     * @param inputs one tensor per declared input, by name
     * @param outputNames the outputs wanted, at least one, no duplicates
     * @return the outputs by name, in the order of {@code outputNames}
     * @throws InvalidInputException if an input or output name is unknown, an input is missing, or a
     *     tensor has the wrong element type, rank or fixed dimension
     * @throws ForgeRuntimeException if ONNX Runtime fails while running
     * @throws IllegalStateException if the model is closed
     */
    public Map<String, Tensor> run(Map<String, Tensor> inputs, List<String> outputNames) {
        return run(inputs, outputNames, true);
    }

    /** {@link #run(Map, List)}, applying the stored normalization only when asked (images arrive normalized). */
    private Map<String, Tensor> run(Map<String, Tensor> inputs, List<String> outputNames, boolean normalize) {
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(outputNames, "outputNames");
        lock.readLock().lock();
        try {
            ensureOpen();
            checkOutputNames(outputNames);
            validate(inputs);
            if (normalization != null && normalize) {
                Map<String, Tensor> in = new LinkedHashMap<>(inputs);
                in.put(
                        this.inputs.get(0).name(),
                        normalized(in.get(this.inputs.get(0).name())));
                return runValidated(in, outputNames);
            }
            return runValidated(inputs, outputNames);
        } finally {
            lock.readLock().unlock();
        }
    }

    private Map<String, Tensor> runValidated(Map<String, Tensor> in, List<String> wanted) {
        OrtEnvironment env = Ort.env();
        Map<String, OnnxTensor> ortInputs = new LinkedHashMap<>();
        try {
            for (TensorSpec spec : inputs) {
                Tensor t = in.get(spec.name());
                ortInputs.put(spec.name(), toOrt(env, t));
                NativeObjects.TENSORS.opened();
            }
            OrtSession.Result result = session.run(ortInputs, new LinkedHashSet<>(wanted));
            NativeObjects.RESULTS.opened();
            try {
                Map<String, Tensor> out = new LinkedHashMap<>();
                for (String name : wanted) {
                    OnnxValue value = result.get(name)
                            .orElseThrow(() -> new ForgeRuntimeException(
                                    "ONNX Runtime returned no value for output '" + name + "' of " + sourceName));
                    out.put(name, fromOrt(name, value));
                }
                return out;
            } finally {
                result.close();
                NativeObjects.RESULTS.closed();
            }
        } catch (OrtException | RuntimeException e) {
            if (e instanceof ForgeRuntimeException) {
                throw (ForgeRuntimeException) e;
            }
            throw new ForgeRuntimeException("ONNX Runtime failed to run " + sourceName + ": " + ortReason(e), e);
        } finally {
            for (OnnxTensor t : ortInputs.values()) {
                t.close();
                NativeObjects.TENSORS.closed();
            }
        }
    }

    /** The shared ONNX Runtime environment (for tests and tools in this package). */
    static OrtEnvironment environment() {
        return Ort.env();
    }

    /**
     * An ONNX Runtime tensor over the tensor's data: the tensor's own memory when it is direct (no
     * copy), else a one-time direct copy. The caller closes it.
     */
    static OnnxTensor toOrt(OrtEnvironment env, Tensor t) throws OrtException {
        ByteBuffer buf = t.directNativeBuffer();
        long[] shape = t.shape();
        switch (t.dtype()) {
            case FLOAT32:
                return OnnxTensor.createTensor(env, buf.asFloatBuffer(), shape);
            case FLOAT64:
                return OnnxTensor.createTensor(env, buf.asDoubleBuffer(), shape);
            case INT64:
                return OnnxTensor.createTensor(env, buf.asLongBuffer(), shape);
            case INT32:
                return OnnxTensor.createTensor(env, buf.asIntBuffer(), shape);
            case UINT8:
                return OnnxTensor.createTensor(env, buf, shape, OnnxJavaType.UINT8);
            case INT8:
                return OnnxTensor.createTensor(env, buf, shape, OnnxJavaType.INT8);
            case BOOL:
                return OnnxTensor.createTensor(env, buf, shape, OnnxJavaType.BOOL);
            case FLOAT16:
            case BFLOAT16:
            case INT16:
                // the bits as they are: ONNX Runtime takes 16-bit types through a buffer of that width
                return OnnxTensor.createTensor(env, buf, shape, t.dtype().toOnnxJavaType());
            case STRING:
                return OnnxTensor.createTensor(env, t.toStringArray(), shape);
            default:
                // uint16/32/64: refused when the model is loaded (specs), so never fed
                throw new InvalidInputException(noJavaType(t.dtype()));
        }
    }

    private Tensor fromOrt(String name, OnnxValue value) {
        if (!(value instanceof OnnxTensor)) {
            throw new ForgeRuntimeException("Output '" + name + "' of " + sourceName + " is a " + value.getType()
                    + ", not a tensor; only tensor outputs are supported");
        }
        OnnxTensor t = (OnnxTensor) value;
        TensorInfo info = t.getInfo();
        DType dtype;
        try {
            dtype = DType.fromOnnxTensorType(info.onnxType);
        } catch (IllegalArgumentException e) {
            throw new ForgeRuntimeException("Output '" + name + "' of " + sourceName + ": " + e.getMessage());
        }
        if (dtype == DType.STRING) {
            List<String> flat = new ArrayList<>();
            try {
                flattenStrings(t.getValue(), flat);
            } catch (OrtException e) {
                throw new ForgeRuntimeException(
                        "Output '" + name + "' of " + sourceName + ": cannot read its strings: " + ortReason(e), e);
            }
            return Tensor.ofStrings(flat.toArray(new String[0]), info.getShape());
        }
        // uint16/32/64 arrive under the signed Java type of their width; the bytes are the values
        return Tensor.fromNativeOrder(dtype, info.getShape(), t.getByteBuffer());
    }

    /** ONNX Runtime returns a string tensor as nested String arrays, one level per dimension. */
    private static void flattenStrings(Object value, List<String> out) {
        if (value instanceof String) {
            out.add((String) value);
        } else if (value instanceof Object[]) {
            for (Object o : (Object[]) value) {
                flattenStrings(o, out);
            }
        }
    }

    /** Why an input of an unsigned 16-, 32- or 64-bit type cannot be fed. */
    static String noJavaType(DType dtype) {
        return dtype.typeName() + " tensors cannot be passed to ONNX Runtime from Java: its Java API (1.29) has no "
                + dtype.typeName() + " tensor type (OnnxJavaType has no unsigned type wider than 8 bits, and"
                + " OnnxTensor.createTensor makes no such tensor); change the model's input to int32 or int64 and"
                + " Cast it inside the model";
    }

    private void checkOutputNames(List<String> wanted) {
        if (wanted.isEmpty()) {
            throw new InvalidInputException("No outputs requested; ask for at least one of " + outputNames);
        }
        Set<String> seen = new HashSet<>();
        for (String name : wanted) {
            if (name == null || !outputNames.contains(name)) {
                throw new InvalidInputException(
                        "Unknown output name " + quote(name) + ", expected one of " + outputNames);
            }
            if (!seen.add(name)) {
                throw new InvalidInputException("Output '" + name + "' is requested twice");
            }
        }
    }

    /** Checks names, dtypes, ranks, fixed dimensions and symbolic-dimension agreement. */
    private void validate(Map<String, Tensor> in) {
        for (String name : in.keySet()) {
            if (name == null || !inputByName.containsKey(name)) {
                throw new InvalidInputException(
                        "Unknown input name " + quote(name) + ", expected one of " + inputByName.keySet());
            }
        }
        List<String> missing = new ArrayList<>();
        for (TensorSpec spec : inputs) {
            if (!in.containsKey(spec.name())) {
                missing.add(spec.name());
            }
        }
        if (!missing.isEmpty()) {
            throw new InvalidInputException("Missing input" + (missing.size() > 1 ? "s " : " ") + quoteAll(missing)
                    + ": the model needs " + inputByName.keySet() + ", got " + in.keySet());
        }
        Map<String, Long> bound = new HashMap<>();
        Map<String, String> boundBy = new HashMap<>();
        for (TensorSpec spec : inputs) {
            Tensor t = in.get(spec.name());
            if (t == null) {
                throw new InvalidInputException("input '" + spec.name() + "' is null");
            }
            if (t.dtype() != spec.dtype()) {
                throw new InvalidInputException("input '" + spec.name() + "': expected "
                        + spec.dtype().typeName() + ", got " + t.dtype().typeName());
            }
            long[] want = spec.shape();
            long[] got = t.shape();
            boolean ok = want.length == got.length;
            for (int i = 0; ok && i < want.length; i++) {
                ok = want[i] < 0 || want[i] == got[i];
            }
            if (!ok) {
                throw new InvalidInputException("input '" + spec.name() + "': expected shape " + spec.shapeString()
                        + ", got " + Tensor.shapeString(got));
            }
            if (options.rejectNonFiniteInputs() && t.dtype().isFloatingPoint()) {
                rejectNonFinite(spec.name(), t);
            }
            String[] dimNames = spec.dimNames();
            for (int i = 0; i < want.length; i++) {
                if (want[i] < 0 && dimNames[i] != null) {
                    Long prev = bound.putIfAbsent(dimNames[i], got[i]);
                    if (prev == null) {
                        boundBy.put(dimNames[i], spec.name());
                    } else if (prev != got[i]) {
                        throw new InvalidInputException(
                                "input '" + spec.name() + "': dimension " + dimNames[i] + " is " + got[i]
                                        + " but input '" + boundBy.get(dimNames[i]) + "' has " + dimNames[i] + " = "
                                        + prev + " (expected shape "
                                        + spec.shapeString() + ", got " + Tensor.shapeString(got) + ")");
                    }
                }
            }
        }
    }

    /** Throws when a float tensor holds NaN or an infinity, naming the first one and counting them all. */
    private static void rejectNonFinite(String name, Tensor t) {
        ByteBuffer b = t.buffer();
        long first = -1;
        double firstValue = 0;
        long count = 0;
        long n = t.size();
        boolean f32 = t.dtype() == DType.FLOAT32;
        boolean f64 = t.dtype() == DType.FLOAT64;
        for (int i = 0; i < n; i++) {
            double v = f32 ? b.getFloat(i * 4) : f64 ? b.getDouble(i * 8) : t.getDouble(i);
            if (!Double.isFinite(v)) {
                if (first < 0) {
                    first = i;
                    firstValue = v;
                }
                count++;
            }
        }
        if (count > 0) {
            throw new InvalidInputException(
                    "input '" + name + "': element " + first + " (index " + indexString(first, t.shape())
                            + ") is " + (Double.isNaN(firstValue) ? "NaN" : firstValue > 0 ? "+Infinity" : "-Infinity")
                            + "; " + count + " of "
                            + n + " values are not finite, and this model was loaded with rejectNonFiniteInputs");
        }
    }

    private static String indexString(long flat, long[] shape) {
        long[] idx = new long[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = shape[i] == 0 ? 0 : flat % shape[i];
            flat = shape[i] == 0 ? 0 : flat / shape[i];
        }
        return Tensor.shapeString(idx);
    }

    // ================================================================ top-k

    /**
     * Runs a single-input classifier and returns the {@code k} most likely classes of each row.
     *
     * <p>The first output must have shape {@code [batch, classes]} and a float type. It is taken as
     * probabilities when every value is in [0, 1] and every row sums to 1 within {@value
     * #PROBABILITY_SUM_TOLERANCE}; otherwise (any negative value, or a row that does not sum to about 1)
     * it is taken as logits and a softmax is applied to every row. Labels come from the metadata key
     * {@code class_labels} (comma-separated, one per class) when it has one label per class, else the
     * class index as a string. Ties keep the lower index first.
     *
     * @param input the input batch
     * @param k how many classes per row, 1 ≤ k ≤ classes
     * @return one list of k predictions per row, most likely first
     * @throws IllegalArgumentException if k is out of range
     * @throws InvalidInputException if the model does not have one input, its first output is not {@code
     *     [batch, classes]} of float type, or the input does not match
     * @throws IllegalStateException if the model is closed
     */
    public List<List<Prediction>> topK(Tensor input, int k) {
        return topK(input, k, true);
    }

    private List<List<Prediction>> topK(Tensor input, int k, boolean normalize) {
        Objects.requireNonNull(input, "input");
        ensureOpen();
        if (inputs.size() != 1) {
            throw new InvalidInputException(
                    "topK needs a model with one input, but " + sourceName + " has inputs " + names(inputs));
        }
        TensorSpec out = outputs.get(0);
        if (out.rank() != 2 || !out.dtype().isFloatingPoint()) {
            throw new InvalidInputException("topK needs a first output of shape [batch, classes] and float type, but "
                    + sourceName + " has " + out);
        }
        long declaredClasses = out.shape()[1];
        if (declaredClasses > 0) {
            checkK(k, declaredClasses);
        } else if (k < 1) {
            checkK(k, Long.MAX_VALUE);
        }
        Tensor scores = run(Map.of(inputs.get(0).name(), input), List.of(out.name()), normalize)
                .get(out.name());
        long[] shape = scores.shape();
        if (shape.length != 2) {
            throw new InvalidInputException("topK: output '" + out.name() + "' has shape " + Tensor.shapeString(shape)
                    + ", expected [batch, classes]");
        }
        int rows = (int) shape[0];
        int classes = (int) shape[1];
        checkK(k, classes);
        double[] v = scores.toDoubleArray();
        if (!areProbabilities(v, rows, classes)) {
            softmaxRows(v, rows, classes);
        }
        String[] labels = labels(classes);
        List<List<Prediction>> result = new ArrayList<>(rows);
        for (int r = 0; r < rows; r++) {
            Integer[] order = new Integer[classes];
            for (int c = 0; c < classes; c++) {
                order[c] = c;
            }
            final int base = r * classes;
            Arrays.sort(order, (a, b) -> {
                int cmp = Double.compare(v[base + b], v[base + a]);
                return cmp != 0 ? cmp : Integer.compare(a, b);
            });
            List<Prediction> row = new ArrayList<>(k);
            for (int i = 0; i < k; i++) {
                int c = order[i];
                row.add(new Prediction(c, labels[c], (float) v[base + c]));
            }
            result.add(Collections.unmodifiableList(row));
        }
        return Collections.unmodifiableList(result);
    }

    // ================================================================ images

    /**
     * The image preprocessing stored in this model's metadata ({@link ImagePreprocessing#fromMetadata}),
     * used by {@link #runImage(Path)} and {@link #predict(Path, int)}.
     *
     * @return the preprocessing, or empty when the model stores none
     * @throws IllegalArgumentException naming the model, the key and its value when a stored value is
     *     malformed
     * @throws IllegalStateException if the model is closed
     */
    public Optional<ImagePreprocessing> imagePreprocessing() {
        ensureOpen();
        try {
            return ImagePreprocessing.fromMetadata(metadata);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    sourceName + ": " + e.getMessage() + "; re-export the model with a valid preprocessing", e);
        }
    }

    /**
     * Prepares images as this model's stored preprocessing says, into one input batch.
     *
     * @param images decoded images of any size
     * @return the input tensor, float32 {@code [images, C, H, W]} (or NHWC)
     * @throws InvalidInputException if the model stores no preprocessing, does not have one image input,
     *     or an image does not come out at the input's size
     * @throws IllegalArgumentException if the stored preprocessing is malformed
     */
    public Tensor imageTensor(List<BufferedImage> images) {
        return imageTensor(images, storedPreprocessing());
    }

    /**
     * Prepares images with the given preprocessing (for a model that stores none, or to override it),
     * into one input batch.
     *
     * @param images decoded images of any size
     * @param preprocessing how to prepare them
     * @return the input tensor
     * @throws InvalidInputException if the model does not have one image input or an image does not come
     *     out at the input's size
     */
    public Tensor imageTensor(List<BufferedImage> images, ImagePreprocessing preprocessing) {
        Objects.requireNonNull(preprocessing, "preprocessing");
        ensureOpen();
        if (inputs.size() != 1 || inputs.get(0).dtype() != DType.FLOAT32) {
            throw new InvalidInputException(
                    "image inputs need a model with one float32 input, but " + sourceName + " has inputs " + inputs);
        }
        try {
            return preprocessing.toTensor(images, inputs.get(0).shape());
        } catch (InvalidInputException e) {
            throw new InvalidInputException(sourceName + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads an image file, prepares it with the stored preprocessing and runs the model: one call from a
     * PNG or JPEG of any size to the output.
     *
     * @param image a PNG or JPEG file
     * @return the single output, batch 1
     * @throws InvalidInputException if the file cannot be decoded, the model stores no preprocessing, or
     *     the model does not have one image input and one output
     */
    public Tensor runImage(Path image) {
        return runImage(ImagePreprocessing.read(image));
    }

    /**
     * Prepares a decoded image with the stored preprocessing and runs the model.
     *
     * @param image the image, any size
     * @return the single output, batch 1
     * @throws InvalidInputException if the model stores no preprocessing, or does not have one image input
     *     and one output
     */
    public Tensor runImage(BufferedImage image) {
        Tensor x = imageTensor(List.of(image));
        if (outputs.size() != 1) {
            throw new InvalidInputException("runImage needs a model with one output, but " + sourceName
                    + " has outputs " + names(outputs) + "; use imageTensor and run(Map, List)");
        }
        return run(Map.of(inputs.get(0).name(), x), outputNames, false).get(outputNames.get(0));
    }

    /**
     * Classifies an image file: reads it, prepares it with the stored preprocessing and returns the {@code
     * k} most likely classes ({@link #topK}).
     *
     * @param image a PNG or JPEG file
     * @param k how many classes
     * @return k predictions, most likely first
     * @throws InvalidInputException if the file cannot be decoded, the model stores no preprocessing or is
     *     not a single-input classifier
     */
    public List<Prediction> predict(Path image, int k) {
        return predict(ImagePreprocessing.read(image), k);
    }

    /**
     * Classifies a decoded image with the stored preprocessing.
     *
     * @param image the image, any size
     * @param k how many classes
     * @return k predictions, most likely first
     * @throws InvalidInputException if the model stores no preprocessing or is not a single-input
     *     classifier
     */
    public List<Prediction> predict(BufferedImage image, int k) {
        return predict(List.of(image), storedPreprocessing(), k).get(0);
    }

    /**
     * Classifies decoded images with the given preprocessing, in one batch.
     *
     * @param images the images
     * @param preprocessing how to prepare them
     * @param k how many classes per image
     * @return one list of k predictions per image
     * @throws InvalidInputException if the model is not a single-input classifier or an image does not
     *     come out at the input's size
     */
    public List<List<Prediction>> predict(List<BufferedImage> images, ImagePreprocessing preprocessing, int k) {
        return topK(imageTensor(images, preprocessing), k, false);
    }

    private ImagePreprocessing storedPreprocessing() {
        return imagePreprocessing()
                .orElseThrow(() -> new InvalidInputException(sourceName + " stores no image preprocessing (metadata "
                        + ModelMetadata.IMAGE_RESIZE + ", " + ModelMetadata.IMAGE_CROP + ", "
                        + ModelMetadata.IMAGE_COLOR + " or " + ModelMetadata.IMAGE_LAYOUT + "; it has "
                        + metadata.keySet() + "); export it with its preprocessing (forge export --preprocess,"
                        + " ExportOptions.preprocessing) or pass an ImagePreprocessing"));
    }

    private static void checkK(int k, long classes) {
        if (k < 1 || k > classes) {
            throw new IllegalArgumentException("k must be in [1, " + (classes == Long.MAX_VALUE ? "classes" : classes)
                    + "] (the number of classes), got " + k);
        }
    }

    /** True when every value is in [0, 1] and every row sums to about 1. */
    static boolean areProbabilities(double[] v, int rows, int classes) {
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                double x = v[r * classes + c];
                if (!(x >= 0 && x <= 1)) {
                    return false;
                }
                sum += x;
            }
            if (Math.abs(sum - 1) > PROBABILITY_SUM_TOLERANCE) {
                return false;
            }
        }
        return true;
    }

    static void softmaxRows(double[] v, int rows, int classes) {
        for (int r = 0; r < rows; r++) {
            int base = r * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                max = Math.max(max, v[base + c]);
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                v[base + c] = Math.exp(v[base + c] - max);
                sum += v[base + c];
            }
            for (int c = 0; c < classes; c++) {
                v[base + c] /= sum;
            }
        }
    }

    private String[] labels(int classes) {
        String[] labels = new String[classes];
        String text = metadata.get(ModelMetadata.CLASS_LABELS);
        String[] given = text == null ? null : text.split(",", -1);
        if (given != null && given.length != classes && labelWarningLogged.compareAndSet(false, true)) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    sourceName + ": metadata class_labels has " + given.length + " labels but the" + " model has "
                            + classes + " classes; using class indices");
        }
        for (int c = 0; c < classes; c++) {
            labels[c] = given != null && given.length == classes ? given[c].trim() : Integer.toString(c);
        }
        return labels;
    }

    // ================================================================ closing

    /**
     * Releases the native session. Waits for runs in progress; idempotent.
     *
     * @throws ForgeRuntimeException if ONNX Runtime fails to release the session
     */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            closeSession(session);
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("Model is closed");
        }
    }

    /** {@code Model(mnist.onnx on cpu, inputs [x: float32[N,4]], outputs [y: float32[N,4]])}. */
    @Override
    public String toString() {
        return "Model(" + sourceName + " on " + device + ", inputs " + inputs + ", outputs " + outputs
                + (closed ? ", closed" : "") + ")";
    }

    // ================================================================ helpers

    private static List<String> names(List<TensorSpec> specs) {
        List<String> n = new ArrayList<>();
        for (TensorSpec s : specs) {
            n.add(s.name());
        }
        return n;
    }

    private static String quote(String s) {
        return s == null ? "null" : "'" + s + "'";
    }

    private static String quoteAll(List<String> names) {
        List<String> q = new ArrayList<>();
        for (String n : names) {
            q.add(quote(n));
        }
        return String.join(", ", q);
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }

    /** ONNX Runtime's message on one line, without the "Error code - X - message:" prefix. */
    static String ortReason(Throwable e) {
        if (e == null) {
            return "unknown error";
        }
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int i = m.indexOf("message: ");
        if (m.startsWith("Error code") && i >= 0) {
            m = m.substring(i + "message: ".length());
        }
        m = m.replaceAll("\\s+", " ").trim();
        if (m.endsWith(".")) {
            m = m.substring(0, m.length() - 1);
        }
        return m.length() > 500 ? m.substring(0, 497) + "..." : m;
    }

    /** The shared ONNX Runtime environment, created on first use. */
    private static final class Ort {
        private static volatile OrtEnvironment env;

        static OrtEnvironment env() {
            OrtEnvironment e = env;
            if (e == null) {
                synchronized (Ort.class) {
                    if (env == null) {
                        try {
                            env = OrtEnvironment.getEnvironment();
                        } catch (RuntimeException | LinkageError err) {
                            throw new ForgeRuntimeException(
                                    "ONNX Runtime could not start on this machine (" + System.getProperty("os.name")
                                            + "/" + System.getProperty("os.arch") + "): " + err,
                                    err);
                        }
                    }
                    e = env;
                }
            }
            return e;
        }

        static EnumSet<OrtProvider> providers() {
            env();
            return OrtEnvironment.getAvailableProviders();
        }
    }

    /**
     * A model to load, as bytes in memory. A file is read once, validated, and the same bytes go to ONNX
     * Runtime, so the file cannot change between the check and the load; external data is resolved in
     * the file's directory.
     */
    private abstract static class Source {
        final String name;
        byte[] bytes;
        /** The directory external data is read from, or null (bytes given directly: external data refused). */
        Path dir;

        Source(String name) {
            this.name = name;
        }

        /** Reads (for files) and validates the model, before ONNX Runtime sees it. */
        abstract void check(ModelLimits limits);

        OrtSession create(OrtEnvironment env, SessionOptions so) throws OrtException {
            if (dir != null) {
                so.addConfigEntry("session.model_external_initializers_file_folder_path", dir.toString());
            }
            return env.createSession(bytes, so);
        }

        String sha256() {
            return OptimizedModelCache.sha256(bytes);
        }

        OrtSession open(SessionOptions so) {
            try {
                OrtSession session = create(Ort.env(), so);
                NativeObjects.SESSIONS.opened();
                return session;
            } catch (OrtException e) {
                String verdict = e.getCode() == OrtException.OrtErrorCode.ORT_NOT_IMPLEMENTED
                        ? "ONNX Runtime cannot run it"
                        : "not a valid ONNX model";
                throw new ModelLoadException(
                        "Cannot load model " + name + ": " + verdict + " (ONNX Runtime: " + ortReason(e) + ")", e);
            } catch (RuntimeException e) {
                throw new ModelLoadException("Cannot load model " + name + ": not a valid ONNX model (" + e + ")", e);
            }
        }

        static Source ofBytes(byte[] bytes, String name) {
            Source src = new Source(name) {
                @Override
                void check(ModelLimits limits) {
                    ModelValidator.validate(this.bytes, name, null, limits);
                }
            };
            src.bytes = bytes;
            return src;
        }

        static Source ofFile(Path path) {
            return new Source(path.toString()) {
                @Override
                void check(ModelLimits limits) {
                    if (Files.isDirectory(path)) {
                        throw new ModelLoadException(
                                "Cannot load model " + name + ": it is a directory, expected an .onnx file");
                    }
                    if (!Files.exists(path)) {
                        throw new ModelLoadException("Cannot load model " + name + ": file not found");
                    }
                    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                        long size = ch.size();
                        if (size > limits.maxModelBytes()) {
                            throw new ModelLoadException("Cannot load model " + name + ": refused: the file is " + size
                                    + " bytes, more than ModelLimits.maxModelBytes (" + limits.maxModelBytes()
                                    + "); raise it with ModelOptions.builder().limits(...) if you trust the model");
                        }
                        ByteBuffer buf = ByteBuffer.allocate((int) size);
                        while (buf.hasRemaining()) {
                            if (ch.read(buf) < 0) {
                                break;
                            }
                        }
                        bytes = buf.position() == buf.capacity()
                                ? buf.array()
                                : Arrays.copyOf(buf.array(), buf.position());
                    } catch (NoSuchFileException e) {
                        throw new ModelLoadException("Cannot load model " + name + ": file not found", e);
                    } catch (AccessDeniedException e) {
                        throw new ModelLoadException("Cannot load model " + name + ": permission denied", e);
                    } catch (IOException e) {
                        throw new ModelLoadException("Cannot load model " + name + ": cannot read it (" + e + ")", e);
                    }
                    dir = path.toAbsolutePath().getParent();
                    ModelValidator.validate(bytes, name, dir, limits);
                }
            };
        }
    }
}
