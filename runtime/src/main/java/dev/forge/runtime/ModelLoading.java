package dev.forge.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * How a {@link Model} is loaded: the model is read once and validated ({@link Source}), then opened on
 * the requested device ({@code auto} falls back to the CPU, a failed CUDA session is retried on the CPU
 * only to tell a bad model from a bad GPU), through the optimized-model cache when one is configured;
 * plus the shared ONNX Runtime environment and its session options.
 */
final class ModelLoading {
    /** Log lines keep the name users configure: {@code dev.forge.runtime.Model}. */
    private static final System.Logger LOG = System.getLogger(Model.class.getName());

    private static final AtomicBoolean AUTO_FALLBACK_LOGGED = new AtomicBoolean();

    private ModelLoading() {}

    /** The devices this ONNX Runtime build can use, CPU first (see {@link Model#availableDevices()}). */
    static List<Device> availableDevices() {
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

    /** Validates the model and opens it on the requested device, falling back from {@code auto} to the CPU. */
    static Model load(Source src, ModelOptions options) {
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
            return newModel(src, session, options, cuda, false);
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
            return newModel(src, src.open(so), options, Device.cpu(), false);
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
                        // the cached model was optimized from the rewritten one: it has the carriers already
                        cachedSrc.carriers = src.carriers;
                        cachedSrc.signature = src.signature;
                        cachedSrc.rewritten = true;
                        // The optimizations were applied before the model was saved; do not run them again.
                        try (SessionOptions so = sessionOptions(options, OptimizationLevel.NONE)) {
                            return newModel(src, cachedSrc.open(so), options, Device.cpu(), true);
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
                tmp = AtomicFiles.temporaryFor(cache);
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
                    AtomicFiles.write(cache, optimized);
                    AtomicFiles.write(
                            sidecar, OptimizedModelCache.sidecarBytes(key, OptimizedModelCache.sha256(optimized)));
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "Optimized-model cache " + cache + " could not be saved (" + e + ")");
            }
            return newModel(src, session, options, Device.cpu(), false);
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

    private static Model newModel(Source src, OrtSession session, ModelOptions options, Device device, boolean cached) {
        try {
            return new Model(session, src.name, options, device, cached, src.signature, src.carriers);
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
    static void closeSession(OrtSession session) {
        try {
            session.close();
        } catch (OrtException e) {
            throw new ForgeRuntimeException("Closing an ONNX Runtime session failed: " + ortReason(e), e);
        } finally {
            NativeObjects.SESSIONS.closed();
        }
    }

    /** See {@link Model#newSessionOptions(ModelOptions)}. */
    static SessionOptions newSessionOptions(ModelOptions options) {
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

    /** The tensor specs of a session's inputs or outputs; anything but a tensor of a supported DType is refused. */
    static List<TensorSpec> specs(Map<String, NodeInfo> infos, String what, String sourceName) {
        List<TensorSpec> specs = new ArrayList<>();
        for (NodeInfo node : infos.values()) {
            ValueInfo vi = node.getInfo();
            if (!(vi instanceof TensorInfo)) {
                // declared sequences and optionals were refused (inputs) or carried (outputs) already: this
                // one declares no type, or a kind ONNX Runtime describes but Forge cannot carry (a map)
                throw new ModelLoadException("Cannot load model " + sourceName + ": " + what + " '" + node.getName()
                        + "' is a " + vi.getClass().getSimpleName() + " that the model does not declare as such;"
                        + " inputs must be tensors, and outputs tensors, sequences or optionals with their type"
                        + " declared in the graph (sequence_type, optional_type)");
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
                throw new ModelLoadException("Cannot load model " + sourceName + ": input '" + node.getName() + "' is "
                        + ModelInputs.noJavaType(dtype));
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

    /**
     * The output specs in declared order. Without carriers they are ONNX Runtime's, as always; with them
     * (sequence or optional outputs, see {@link ModelSignature}) the session's outputs are the tensor
     * outputs plus the carriers, so the tensors' specs come from ONNX Runtime and the sequences' and
     * optionals' from the model's declaration (ONNX Runtime's Java API cannot describe an optional).
     */
    static List<TensorSpec> outputSpecs(
            OrtSession session,
            ModelSignature signature,
            Map<String, ModelSignature.Carrier> carriers,
            String sourceName)
            throws OrtException {
        if (carriers.isEmpty()) {
            return specs(session.getOutputInfo(), "output", sourceName);
        }
        Map<String, NodeInfo> tensors = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, NodeInfo> e : session.getOutputInfo().entrySet()) {
            if (!isCarrierOutput(e.getKey(), carriers)) {
                tensors.put(e.getKey(), e.getValue());
            }
        }
        Map<String, TensorSpec> byName = new java.util.HashMap<>();
        for (TensorSpec spec : specs(tensors, "output", sourceName)) {
            byName.put(spec.name(), spec);
        }
        List<TensorSpec> specs = new ArrayList<>();
        for (ModelSignature.Declared d : signature.outputs) {
            TensorSpec spec = carriers.containsKey(d.name) ? ModelSignature.spec(d) : byName.get(d.name);
            if (spec == null) {
                throw new ModelLoadException(
                        "Cannot load model " + sourceName + ": ONNX Runtime does not list output '" + d.name + "'");
            }
            specs.add(spec);
        }
        return Collections.unmodifiableList(specs);
    }

    private static boolean isCarrierOutput(String name, Map<String, ModelSignature.Carrier> carriers) {
        for (ModelSignature.Carrier c : carriers.values()) {
            if (name.equals(c.value()) || name.equals(c.present())) {
                return true;
            }
        }
        return false;
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
    static final class Ort {
        static OrtEnvironment env() {
            return OrtNativeLibraries.environment();
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
    abstract static class Source {
        final String name;
        byte[] bytes;
        /** The directory external data is read from, or null (bytes given directly: external data refused). */
        Path dir;
        /** The declared inputs and outputs, read after validation. */
        ModelSignature signature;
        /** How sequence and optional outputs are carried (see {@link ModelSignature}); empty for tensors only. */
        Map<String, ModelSignature.Carrier> carriers = Map.of();
        /** Whether {@link #bytes} already carry them (a model from the optimized-model cache). */
        boolean rewritten;

        Source(String name) {
            this.name = name;
        }

        /** Reads (for files) and validates the model, before ONNX Runtime sees it. */
        abstract void check(ModelLimits limits);

        /** After validation: the declared types, refusing inputs ONNX Runtime's Java API cannot feed. */
        void readSignature() {
            signature = ModelSignature.read(bytes, name);
            carriers = signature.carriers(name);
        }

        OrtSession create(OrtEnvironment env, SessionOptions so) throws OrtException {
            if (dir != null) {
                so.addConfigEntry("session.model_external_initializers_file_folder_path", dir.toString());
            }
            byte[] forOrt = carriers.isEmpty() || rewritten ? bytes : signature.rewrite(bytes, carriers);
            return env.createSession(forOrt, so);
        }

        String sha256() {
            return OptimizedModelCache.sha256(bytes);
        }

        OrtSession open(SessionOptions so) {
            OrtEnvironment env = Ort.env();
            try {
                OrtSession session = create(env, so);
                NativeObjects.SESSIONS.opened();
                return session;
            } catch (OrtException e) {
                String verdict = e.getCode() == OrtException.OrtErrorCode.ORT_NOT_IMPLEMENTED
                        ? "ONNX Runtime cannot run it"
                        : "not a valid ONNX model";
                throw new ModelLoadException(
                        "Cannot load model " + name + ": " + verdict + " (ONNX Runtime: " + ortReason(e) + ")", e);
            } catch (RuntimeException e) {
                // thrown by ONNX Runtime's Java code while it reads the session it made (no Forge code runs
                // inside create): its refusal of the model, in another form
                throw new ModelLoadException("Cannot load model " + name + ": not a valid ONNX model (" + e + ")", e);
            }
        }

        static Source ofBytes(byte[] bytes, String name) {
            Source src = new Source(name) {
                @Override
                void check(ModelLimits limits) {
                    ModelValidator.validate(this.bytes, name, null, limits);
                    readSignature();
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
                    readSignature();
                }
            };
        }
    }
}
