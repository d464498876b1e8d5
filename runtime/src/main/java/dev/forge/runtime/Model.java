package dev.forge.runtime;

import ai.onnxruntime.OnnxModelMetadata;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
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
 * <p><b>Sequences and optionals.</b> Outputs may be ONNX {@code sequence(tensor)}, {@code
 * optional(tensor)} or {@code optional(sequence(tensor))}: {@link #outputs()} says which ({@link
 * TensorSpec#kind()}), and {@link #runValues} returns them as {@link TensorSequence} and {@link
 * OptionalValue} (empty ones included, which ONNX Runtime's Java API cannot return by itself: see
 * docs/RUNTIME.md). Inputs must be tensors: ONNX Runtime's Java API cannot feed anything else, and such a
 * model is refused at load, saying so.
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
    static {
        // before anything here touches an ONNX Runtime class (SessionOptions loads the native libraries too)
        OrtNativeLibraries.prepare();
    }

    private final OrtSession session;
    private final String sourceName;
    private final ModelOptions options;
    private final Device device;
    private final boolean loadedFromCache;
    private final List<TensorSpec> inputs;
    private final List<TensorSpec> outputs;
    /** Input checks before native code, the stored normalization (see {@link ModelInputs}). */
    private final ModelInputs checks;

    private final List<String> outputNames;
    /** How each sequence or optional output comes out of ONNX Runtime ({@link ModelSignature}), by name. */
    private final Map<String, ModelSignature.Carrier> carriers;

    private final Map<String, String> metadata;
    private final String producerName;
    private final String graphName;
    private final String description;
    private final long version;
    private final AtomicBoolean labelWarningLogged = new AtomicBoolean();

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile boolean closed;

    /** Made by {@link ModelLoading} once the session is open; closes nothing itself on failure. */
    Model(
            OrtSession session,
            String sourceName,
            ModelOptions options,
            Device device,
            boolean loadedFromCache,
            ModelSignature signature,
            Map<String, ModelSignature.Carrier> carriers) {
        this.session = session;
        this.sourceName = sourceName;
        this.options = options;
        this.device = device;
        this.loadedFromCache = loadedFromCache;
        this.carriers = carriers;
        try {
            this.inputs = ModelLoading.specs(session.getInputInfo(), "input", sourceName);
            this.outputs = ModelLoading.outputSpecs(session, signature, carriers, sourceName);
            OnnxModelMetadata md = session.getMetadata();
            this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(md.getCustomMetadata()));
            this.producerName = Objects.toString(md.getProducerName(), "");
            this.graphName = Objects.toString(md.getGraphName(), "");
            this.description = Objects.toString(md.getDescription(), "");
            // ONNX Runtime reports INT64_MAX when the model sets no model_version
            this.version = md.getVersion() == Long.MAX_VALUE ? 0 : md.getVersion();
        } catch (OrtException e) {
            throw new ModelLoadException(
                    "Cannot load model " + sourceName + ": cannot read its inputs, outputs or metadata ("
                            + ModelLoading.ortReason(e)
                            + ")",
                    e);
        }
        this.checks = new ModelInputs(sourceName, inputs, outputs, options, metadata);
        this.outputNames = checks.outputNames();
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
        return ModelLoading.load(ModelLoading.Source.ofFile(path), options);
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
        return ModelLoading.load(ModelLoading.Source.ofBytes(bytes.clone(), name), options);
    }

    /**
     * The devices this ONNX Runtime build can use: always the CPU, and CUDA device 0 when the build has
     * the CUDA provider (the {@code -Pcuda} profile). A listed CUDA device can still fail to start when
     * the machine has no GPU or driver.
     *
     * @return the available devices, CPU first
     */
    public static List<Device> availableDevices() {
        return ModelLoading.availableDevices();
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
        return ModelLoading.newSessionOptions(options);
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

    /**
     * Runs the model and returns every output as a {@link Value}: a {@link Tensor}, a {@link
     * TensorSequence} for an ONNX {@code sequence(tensor)} output, or an {@link OptionalValue} for an
     * {@code optional(tensor)} or {@code optional(sequence(tensor))} output ({@link TensorSpec#kind()} in
     * {@link #outputs()} says which). For a model whose outputs are all tensors this is {@link #run(Map)}.
     *
     * @param inputs one tensor per declared input, by name
     * @return the outputs by name, in declared order
     * @throws InvalidInputException if an input name is unknown or missing, or a tensor has the wrong
     *     element type, rank or fixed dimension
     * @throws ForgeRuntimeException if ONNX Runtime fails while running
     * @throws IllegalStateException if the model is closed
     */
    public Map<String, Value> runValues(Map<String, Tensor> inputs) {
        return runValues(inputs, outputNames);
    }

    /**
     * Runs the model and returns the requested outputs as {@link Value}s (see {@link #runValues(Map)}).
     *
     * @param inputs one tensor per declared input, by name
     * @param outputNames the outputs wanted, at least one, no duplicates
     * @return the outputs by name, in the order of {@code outputNames}
     * @throws InvalidInputException if an input or output name is unknown, an input is missing, or a
     *     tensor has the wrong element type, rank or fixed dimension
     * @throws ForgeRuntimeException if ONNX Runtime fails while running
     * @throws IllegalStateException if the model is closed
     */
    public Map<String, Value> runValues(Map<String, Tensor> inputs, List<String> outputNames) {
        return runValues(inputs, outputNames, true);
    }

    /** {@link #run(Map, List)}, applying the stored normalization only when asked (images arrive normalized). */
    private Map<String, Tensor> run(Map<String, Tensor> inputs, List<String> outputNames, boolean normalize) {
        Objects.requireNonNull(outputNames, "outputNames");
        for (String name : outputNames) {
            ModelSignature.Carrier c = name == null ? null : carriers.get(name);
            if (c != null) {
                throw new InvalidInputException("Output '" + name + "' of " + sourceName + " is a "
                        + c.kind().describe(c.elementType().typeName()) + ", not a tensor; run returns tensors only:"
                        + " use runValues, which returns every kind of output as a Value");
            }
        }
        Map<String, Value> values = runValues(inputs, outputNames, normalize);
        Map<String, Tensor> out = new LinkedHashMap<>();
        values.forEach((name, v) -> out.put(name, (Tensor) v));
        return out;
    }

    private Map<String, Value> runValues(Map<String, Tensor> inputs, List<String> outputNames, boolean normalize) {
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(outputNames, "outputNames");
        lock.readLock().lock();
        try {
            ensureOpen();
            checks.checkOutputNames(outputNames);
            checks.check(inputs);
            return runValidated(checks.prepared(inputs, normalize), outputNames);
        } finally {
            lock.readLock().unlock();
        }
    }

    private Map<String, Value> runValidated(Map<String, Tensor> in, List<String> wanted) {
        OrtEnvironment env = ModelLoading.Ort.env();
        Map<String, OnnxTensor> ortInputs = new LinkedHashMap<>();
        try {
            for (TensorSpec spec : inputs) {
                Tensor t = in.get(spec.name());
                ortInputs.put(spec.name(), ModelInputs.toOrt(env, t));
                NativeObjects.TENSORS.opened();
            }
            // a sequence or optional output comes out as its carrier outputs (see ModelSignature)
            LinkedHashSet<String> ortWanted = new LinkedHashSet<>();
            for (String name : wanted) {
                ModelSignature.Carrier c = carriers.get(name);
                if (c == null) {
                    ortWanted.add(name);
                } else {
                    if (c.present() != null) {
                        ortWanted.add(c.present());
                    }
                    ortWanted.add(c.value());
                }
            }
            OrtSession.Result result = session.run(ortInputs, ortWanted);
            NativeObjects.RESULTS.opened();
            try {
                Map<String, Value> out = new LinkedHashMap<>();
                for (String name : wanted) {
                    ModelSignature.Carrier c = carriers.get(name);
                    out.put(
                            name,
                            c == null
                                    ? ModelResults.fromOrt(sourceName, name, output(result, name))
                                    : ModelResults.fromCarrier(
                                            sourceName,
                                            c,
                                            c.present() == null ? null : output(result, c.present()),
                                            output(result, c.value())));
                }
                return out;
            } finally {
                result.close();
                NativeObjects.RESULTS.closed();
            }
        } catch (OrtException e) {
            // Only ONNX Runtime's own failures become a ForgeRuntimeException; any other RuntimeException
            // comes from this library's conversion code and is a bug to see, not a refusal to report.
            throw new ForgeRuntimeException(
                    "ONNX Runtime failed to run " + sourceName + ": " + ModelLoading.ortReason(e), e);
        } finally {
            for (OnnxTensor t : ortInputs.values()) {
                t.close();
                NativeObjects.TENSORS.closed();
            }
        }
    }

    private OnnxValue output(OrtSession.Result result, String name) {
        return result.get(name)
                .orElseThrow(() -> new ForgeRuntimeException(
                        "ONNX Runtime returned no value for output '" + name + "' of " + sourceName));
    }

    /** The shared ONNX Runtime environment (for tests and tools in this package). */
    static OrtEnvironment environment() {
        return ModelLoading.Ort.env();
    }

    // ================================================================ top-k

    /**
     * Runs a single-input classifier and returns the {@code k} most likely classes of each row.
     *
     * <p>The first output must have shape {@code [batch, classes]} and a float type. It is taken as
     * probabilities when every value is in [0, 1] and every row sums to 1 within 0.001;
     * otherwise (any negative value, or a row that does not sum to about 1)
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
        if (!out.isTensor() || out.rank() != 2 || !out.dtype().isFloatingPoint()) {
            throw new InvalidInputException("topK needs a first output of shape [batch, classes] and float type, but "
                    + sourceName + " has " + out);
        }
        long declaredClasses = out.shape()[1];
        if (declaredClasses > 0) {
            ModelResults.checkK(k, declaredClasses);
        } else if (k < 1) {
            ModelResults.checkK(k, Long.MAX_VALUE);
        }
        Tensor scores = run(Map.of(inputs.get(0).name(), input), List.of(out.name()), normalize)
                .get(out.name());
        return ModelResults.topK(scores, out.name(), k, metadata, sourceName, labelWarningLogged);
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
            ModelLoading.closeSession(session);
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
}
