package dev.forge.compiler.train;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.passes.OptimizerUpdate;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.OptimizationLevel;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Runs a {@link TrainingGraph} on ONNX Runtime: one session executes a whole step (forward, loss,
 * backward, update) and another evaluates the inference graph on the current weights.
 *
 * <p>State stays resident: parameters, optimizer state and running statistics live in two sets of
 * native tensors on direct buffers. A step reads set A and ORT writes the next values straight into set
 * B (pinned outputs); then the sets swap. Nothing is copied per step. Batches from direct buffers are
 * wrapped without copying, and the wrappers are reused while the loader reuses its buffers.
 */
public final class Trainer implements StepTrainer {
    private final OrtEnvironment env = dev.forge.runtime.OrtNativeLibraries.environment();
    private final TrainingGraph tg;
    private final OrtSession stepSession;
    private final OrtSession evalSession;
    private final List<String> stateNames;
    private final Map<String, long[]> stateShapes = new LinkedHashMap<>();
    private final Map<String, ByteBuffer>[] buffers;
    private final Map<String, OnnxTensor>[] sets;
    private final Map<String, OnnxTensor>[] pinned;
    private final Map<String, OnnxTensor> scalarTensors = new HashMap<>();
    private final Map<String, ByteBuffer> scalarBuffers = new HashMap<>();
    private final BatchWrappers<OnnxTensor> wrapped = new BatchWrappers<>(TrainerNativeObjects::close);

    private final Map<String, ByteBuffer> maskBuffers = new HashMap<>();
    private final Map<String, OnnxTensor> maskTensors = new HashMap<>();
    private final List<String> evalStateInputs = new ArrayList<>();
    private final long seed;
    private final java.util.Set<String> stepOutputs;
    private int current;
    private boolean closed;
    private long steps;
    private double learningRate;

    /**
     * Creates the sessions and the two state sets, initialized from the graph's initial state, on the CPU.
     *
     * @param tg the training graph
     * @param threads intra-op threads (0 for one per available processor)
     * @param seed seed of the dropout masks (each step's masks depend only on seed and step)
     */
    public Trainer(TrainingGraph tg, int threads, long seed) {
        this(tg, ModelOptions.builder().intraOpThreads(threads).build(), seed, null);
    }

    /**
     * Creates the sessions on the device and with the intra-op threads of {@code options} (the runtime's
     * options: {@code ModelOptions.builder().device(Device.cuda()).build()} trains on the GPU). Training
     * sessions always use the {@link OptimizationLevel#EXTENDED} level and log only errors.
     *
     * @param tg the training graph
     * @param options device and threads
     * @param seed seed of the dropout masks (each step's masks depend only on seed and step)
     * @throws dev.forge.runtime.DeviceUnavailableException if the device cannot be used, as for inference
     */
    public Trainer(TrainingGraph tg, ModelOptions options, long seed) {
        this(tg, options, seed, null);
    }

    /**
     * Like {@link #Trainer(TrainingGraph, int, long)}, with ONNX Runtime's profiler on for the step
     * session: every step's kernels are recorded into {@code <profilePrefix>_<date>.json} (Chrome trace
     * format), which {@link #endProfiling()} finishes and names.
     *
     * @param profilePrefix path prefix of the profile file, or null for no profiling
     */
    public Trainer(TrainingGraph tg, int threads, long seed, java.nio.file.Path profilePrefix) {
        this(tg, ModelOptions.builder().intraOpThreads(threads).build(), seed, profilePrefix);
    }

    @SuppressWarnings("unchecked")
    private Trainer(TrainingGraph tg, ModelOptions options, long seed, java.nio.file.Path profilePrefix) {
        this.tg = tg;
        this.seed = seed;
        this.learningRate = tg.optimizer().lr();
        this.stateNames = new ArrayList<>(tg.initialState().keySet());
        this.stepOutputs = java.util.Set.of(TrainingGraph.LOSS, tg.prediction());
        this.buffers = new Map[] {new LinkedHashMap<>(), new LinkedHashMap<>()};
        this.sets = new Map[] {new LinkedHashMap<>(), new LinkedHashMap<>()};
        this.pinned = new Map[] {new LinkedHashMap<>(), new LinkedHashMap<>()};
        try {
            try (OrtSession.SessionOptions stepOptions = options(options);
                    OrtSession.SessionOptions evalOptions = options(options)) {
                if (profilePrefix != null) {
                    stepOptions.enableProfiling(profilePrefix.toString());
                }
                stepSession = TrainerNativeObjects.session(env, OnnxWriter.toBytes(tg.graph()), stepOptions);
                evalSession = TrainerNativeObjects.session(env, OnnxWriter.toBytes(withLoss(tg)), evalOptions);
            }
            for (Map.Entry<String, Tensor> e : tg.initialState().entrySet()) {
                stateShapes.put(e.getKey(), e.getValue().shape());
                for (int s = 0; s < 2; s++) {
                    ByteBuffer b = ByteBuffer.allocateDirect((int) e.getValue().byteSize())
                            .order(ByteOrder.nativeOrder());
                    buffers[s].put(e.getKey(), b);
                    OnnxTensor t =
                            TrainerNativeObjects.tensor(env, b, e.getValue().shape(), OnnxJavaType.FLOAT);
                    sets[s].put(e.getKey(), t);
                    pinned[s].put(e.getKey() + TrainingGraph.NEXT, t);
                }
            }
            for (ValueInfo in : tg.evalGraph().inputs()) {
                if (stateShapes.containsKey(in.name())) {
                    evalStateInputs.add(in.name());
                }
            }
            for (String s : tg.scalarInputs()) {
                ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
                scalarBuffers.put(s, b);
                scalarTensors.put(s, TrainerNativeObjects.tensor(env, b, new long[0], OnnxJavaType.FLOAT));
            }
        } catch (OrtException e) {
            close();
            throw new IllegalStateException("ONNX Runtime could not create the training session: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        setState(tg.initialState());
    }

    static OrtSession.SessionOptions options(ModelOptions options) throws OrtException {
        // EXTENDED, not ALL: the NCHWc layout conversions ALL adds cost more than they save in training graphs
        // (MNIST CNN step at batch 64: 10.5 ms with EXTENDED against 12.2 ms with ALL). The runtime sets the
        // intra-op threads explicitly: ONNX Runtime's default ran single-threaded on a 2-core VM (CIFAR-10 net
        // step at batch 16: 18.4 ms with the default, 12.9 ms with 2 threads).
        OrtSession.SessionOptions o = Model.newSessionOptions(options.toBuilder()
                .optimizationLevel(OptimizationLevel.EXTENDED)
                .optimizedModelCache(null)
                .build());
        try {
            // quiet: ORT warns "Removing initializer ..." for every Dropout ratio the training graph no longer reads
            o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            return o;
        } catch (OrtException | RuntimeException e) {
            o.close();
            throw e;
        }
    }
    /** Stops the step session's profiler and returns the file it wrote (see the profiling constructor). */
    public java.nio.file.Path endProfiling() {
        requireOpen();
        try {
            return java.nio.file.Path.of(stepSession.endProfiling());
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not end profiling: " + e.getMessage(), e);
        }
    }

    /** The evaluation graph plus the loss, so evaluation reports the same loss the trainer optimizes. */
    static Graph withLoss(TrainingGraph tg) {
        Graph g = tg.evalGraph().copy();
        g.addInput(new ValueInfo(TrainingGraph.TARGET, tg.loss().targetType(g.type(tg.prediction()))));
        dev.forge.compiler.autodiff.Emitter e = new dev.forge.compiler.autodiff.Emitter(g, "loss");
        String loss = tg.loss().emit(e, tg.prediction(), TrainingGraph.TARGET);
        g.renameValue(loss, TrainingGraph.LOSS);
        g.addOutput(new ValueInfo(TrainingGraph.LOSS, g.type(TrainingGraph.LOSS)));
        return g;
    }

    /** The result of one step: the batch loss and the prediction's class argmax (or null for regression). */
    public record StepResult(double loss, int correct, int size) {}

    /**
     * Runs the next training step on a batch at the current {@link #learningRate()}: step number
     * {@link #steps()} + 1.
     *
     * @param x inputs [B, ...]
     * @param y targets (int64 [B] for cross-entropy, else shaped like the prediction)
     */
    @Override
    public StepResult step(Tensor x, Tensor y) {
        return step(x, y, steps + 1, learningRate);
    }

    /**
     * Runs training step number {@code step} on a batch with the learning rate {@code lr}; afterwards
     * {@link #steps()} is {@code step}.
     *
     * @param x inputs [B, ...]
     * @param y targets (int64 [B] for cross-entropy, else shaped like the prediction)
     * @param step 1-based step number (Adam's bias correction, dropout masks)
     * @param lr learning rate of this step
     * @throws IllegalArgumentException if {@code step} is below 1
     */
    @Override
    public StepResult step(Tensor x, Tensor y, long step, double lr) {
        requireOpen();
        if (step < 1) {
            // Adam's bias correction divides by 1 - beta1^step, which is 0 at step 0: NaN weights, normal-looking loss
            throw new IllegalArgumentException(
                    "Trainer.step: step numbers start at 1, got " + step
                            + " (Adam's bias correction 1 - beta1^step is 0 at step 0); use step(x, y) to let the trainer count");
        }
        Map<String, OnnxTensor> inputs = new HashMap<>(sets[current]);
        inputs.put(tg.dataInput(), wrap(x));
        inputs.put(TrainingGraph.TARGET, wrap(y));
        for (Map.Entry<String, Double> group : tg.lrGroups().entrySet()) {
            for (Map.Entry<String, Float> s :
                    tg.optimizer().scalars(step, lr * group.getValue()).entrySet()) {
                String name = OptimizerUpdate.groupScalar(s.getKey(), group.getKey());
                scalarBuffers.get(name).putFloat(0, s.getValue());
                inputs.put(name, scalarTensors.get(name));
            }
        }
        fillMasks(inputs, x.shape()[0], step);
        try (TrainerNativeObjects.Run r =
                TrainerNativeObjects.run(stepSession, inputs, stepOutputs, pinned[1 - current])) {
            float loss = r.tensor(TrainingGraph.LOSS).getFloatBuffer().get(0);
            int correct = countCorrect(r.tensor(tg.prediction()), y);
            current = 1 - current;
            steps = step;
            return new StepResult(loss, correct, (int) x.shape()[0]);
        } catch (OrtException e) {
            throw new IllegalStateException("training step " + step + " failed in ONNX Runtime: " + e.getMessage(), e);
        }
    }

    /** Fills each dropout mask with 0 or 1/(1-p), drawn from a generator seeded by (seed, step). */
    private void fillMasks(Map<String, OnnxTensor> inputs, long batch, long step) {
        if (tg.dropoutMasks().isEmpty()) {
            return;
        }
        SplittableRandom rng = maskGenerator(seed, step);
        for (Map.Entry<String, Shape> m : tg.dropoutMasks().entrySet()) {
            long[] shape = m.getValue().toArrayWithWildcards();
            shape[0] = batch;
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            ByteBuffer b = maskBuffers.get(m.getKey());
            if (b == null || b.capacity() != n * 4) {
                b = ByteBuffer.allocateDirect((int) (n * 4)).order(ByteOrder.nativeOrder());
                maskBuffers.put(m.getKey(), b);
                OnnxTensor old = maskTensors.remove(m.getKey());
                if (old != null) {
                    TrainerNativeObjects.close(old);
                }
                try {
                    maskTensors.put(m.getKey(), TrainerNativeObjects.tensor(env, b, shape, OnnxJavaType.FLOAT));
                } catch (OrtException e) {
                    throw new IllegalStateException(e);
                }
            }
            fillMask(b, n, tg.dropoutRatios().get(m.getKey()), rng);
            inputs.put(m.getKey(), maskTensors.get(m.getKey()));
        }
    }

    /** The generator of step {@code step}'s dropout masks: they depend only on (seed, step). */
    static SplittableRandom maskGenerator(long seed, long step) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + step);
    }

    /** Draws the next {@code n} mask values (0 with probability p, else 1/(1-p)) from {@code rng} into {@code b}. */
    static void fillMask(ByteBuffer b, long n, float p, SplittableRandom rng) {
        float keep = 1f / (1f - p);
        for (int i = 0; i < n; i++) {
            b.putFloat(i * 4, rng.nextDouble() < p ? 0f : keep);
        }
    }

    static int countCorrect(OnnxTensor prediction, Tensor y) {
        if (y.dtype() != DType.INT64) {
            return -1;
        }
        long[] shape = prediction.getInfo().getShape();
        int rows = (int) shape[0];
        int classes = (int) shape[1];
        java.nio.FloatBuffer p = prediction.getFloatBuffer();
        int correct = 0;
        for (int r = 0; r < rows; r++) {
            int best = 0;
            for (int c = 1; c < classes; c++) {
                if (p.get(r * classes + c) > p.get(r * classes + best)) {
                    best = c;
                }
            }
            if (best == y.getLong(r)) {
                correct++;
            }
        }
        return correct;
    }

    /** Outputs of the inference graph on the current weights for one batch: prediction and loss. */
    public record EvalOutput(Tensor prediction, double loss) {}

    /** Runs the inference graph (BatchNorm with running statistics, no dropout) on the current weights. */
    @Override
    public EvalOutput evaluate(Tensor x, Tensor y) {
        requireOpen();
        Map<String, OnnxTensor> inputs = new HashMap<>();
        for (String s : evalStateInputs) {
            inputs.put(s, sets[current].get(s));
        }
        inputs.put(tg.dataInput(), wrap(x));
        inputs.put(TrainingGraph.TARGET, wrap(y));
        return runEvaluation(evalSession, tg, inputs);
    }

    /** Runs the evaluation session on complete inputs and copies its prediction out. */
    static EvalOutput runEvaluation(OrtSession evalSession, TrainingGraph tg, Map<String, OnnxTensor> inputs) {
        try (TrainerNativeObjects.Run r = TrainerNativeObjects.run(evalSession, inputs)) {
            OnnxTensor pred = r.tensor(tg.prediction());
            ByteBuffer copy =
                    ByteBuffer.allocate(pred.getByteBuffer().remaining()).order(ByteOrder.LITTLE_ENDIAN);
            copy.put(pred.getByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
            copy.flip();
            Tensor prediction = Tensor.wrap(DType.FLOAT32, copy, pred.getInfo().getShape());
            float loss = r.tensor(TrainingGraph.LOSS).getFloatBuffer().get(0);
            return new EvalOutput(prediction, loss);
        } catch (OrtException e) {
            throw new IllegalStateException("evaluation failed in ONNX Runtime: " + e.getMessage(), e);
        }
    }

    /** A copy of the current state (parameters, optimizer state, running statistics). */
    @Override
    public Map<String, Tensor> state() {
        requireOpen();
        return copyState(stateNames, stateShapes, buffers[current]);
    }

    /** Copies state tensors out of their direct buffers. */
    static Map<String, Tensor> copyState(
            List<String> stateNames, Map<String, long[]> stateShapes, Map<String, ByteBuffer> buffers) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : stateNames) {
            ByteBuffer src = buffers.get(name).duplicate().order(ByteOrder.nativeOrder());
            src.clear();
            ByteBuffer dst = ByteBuffer.allocate(src.capacity()).order(ByteOrder.LITTLE_ENDIAN);
            dst.asFloatBuffer().put(src.asFloatBuffer());
            out.put(name, Tensor.wrap(DType.FLOAT32, dst, stateShapes.get(name)));
        }
        return out;
    }

    /** Replaces the current state; every state tensor must be given with its exact shape. */
    @Override
    public void setState(Map<String, Tensor> state) {
        requireOpen();
        loadState(state, stateNames, stateShapes, buffers[current]);
    }

    /** Copies every state tensor into its direct buffer, checking names, shapes and types first. */
    static void loadState(
            Map<String, Tensor> state,
            List<String> stateNames,
            Map<String, long[]> stateShapes,
            Map<String, ByteBuffer> buffers) {
        for (String name : stateNames) {
            Tensor t = state.get(name);
            if (t == null) {
                throw new IllegalArgumentException("state tensor '" + name + "' is missing");
            }
            if (!java.util.Arrays.equals(t.shape(), stateShapes.get(name)) || t.dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException("state tensor '" + name + "' must be float32"
                        + Shape.format(stateShapes.get(name)) + ", got " + t.dtype() + Shape.format(t.shape()));
            }
            ByteBuffer dst = buffers.get(name);
            dst.clear();
            dst.asFloatBuffer().put(t.buffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
        }
    }

    /** Optimizer steps taken so far (the number of the last step run, or as set by {@link #setSteps(long)}). */
    @Override
    public long steps() {
        return steps;
    }

    /**
     * Sets the count of completed steps, e.g. after restoring a checkpoint's state: the next
     * {@link #step(Tensor, Tensor)} is step {@code steps + 1}.
     *
     * @param steps 0 or more
     */
    @Override
    public void setSteps(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("Trainer.setSteps: completed steps cannot be negative, got " + steps);
        }
        this.steps = steps;
    }

    /** The learning rate {@link #step(Tensor, Tensor)} uses: the optimizer's until {@link #setLearningRate(double)}. */
    @Override
    public double learningRate() {
        return learningRate;
    }

    /**
     * Sets the learning rate of the following steps (a schedule calls this once per epoch); the graph is
     * not rebuilt, the rate is an input of the step.
     *
     * @param lr 0 or more
     */
    @Override
    public void setLearningRate(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException(
                    "Trainer.setLearningRate: the rate must be a finite number >= 0, got " + lr);
        }
        this.learningRate = lr;
    }

    /** The training graph this trainer runs. */
    @Override
    public TrainingGraph trainingGraph() {
        return tg;
    }

    /** Wraps a tensor for ORT without copying when it is direct, reusing the wrapper of a tensor seen before. */
    private OnnxTensor wrap(Tensor t) {
        ByteBuffer b = t.buffer();
        // Loaders reuse the same direct-buffer Tensor objects batch after batch: wrap each only once.
        Tensor key = t.isDirect() ? t : null;
        if (key != null) {
            OnnxTensor cached = wrapped.get(key);
            if (cached != null && java.util.Arrays.equals(cached.getInfo().getShape(), t.shape())) {
                return cached;
            }
        }
        try {
            OnnxTensor ot;
            if (b.isDirect()) {
                ot = TrainerNativeObjects.tensor(
                        env,
                        b.order(ByteOrder.nativeOrder()),
                        t.shape(),
                        t.dtype().toOnnxJavaType());
            } else {
                ByteBuffer d = ByteBuffer.allocateDirect(b.remaining()).order(ByteOrder.nativeOrder());
                d.put(b);
                d.flip();
                ot = TrainerNativeObjects.tensor(env, d, t.shape(), t.dtype().toOnnxJavaType());
            }
            if (key != null) {
                wrapped.put(key, ot);
            } else {
                transientTensors.add(ot);
                if (transientTensors.size() > 8) {
                    TrainerNativeObjects.close(transientTensors.remove(0));
                }
            }
            return ot;
        } catch (OrtException e) {
            throw new IllegalStateException(
                    "cannot pass a " + t.dtype() + Shape.format(t.shape()) + " tensor to ONNX Runtime: "
                            + e.getMessage(),
                    e);
        }
    }

    private final List<OnnxTensor> transientTensors = new ArrayList<>();

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("Trainer is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Map<String, OnnxTensor> s : sets) {
            if (s != null) {
                s.values().forEach(TrainerNativeObjects::close);
            }
        }
        scalarTensors.values().forEach(TrainerNativeObjects::close);
        wrapped.closeAll();
        transientTensors.forEach(TrainerNativeObjects::close);
        maskTensors.values().forEach(TrainerNativeObjects::close);
        try {
            if (stepSession != null) {
                TrainerNativeObjects.close(stepSession);
            }
            if (evalSession != null) {
                TrainerNativeObjects.close(evalSession);
            }
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }
}
