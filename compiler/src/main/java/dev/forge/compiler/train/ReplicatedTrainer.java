package dev.forge.compiler.train;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.passes.OptimizerUpdate;
import dev.forge.runtime.DType;
import dev.forge.runtime.Device;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Data-parallel training in one JVM: each batch is split among {@code N} replicas, each an ONNX Runtime
 * session of the gradient graph (forward, loss, backward) with {@code cores / N} intra-op threads, run
 * concurrently from one Java thread each; then one small update graph averages their gradients and applies
 * the optimizer. The algebra is the single-session step's: with no BatchNorm, the parameters after a step
 * equal {@link Trainer}'s up to the order of float summation.
 *
 * <p><b>Batch split.</b> A batch of {@code B} rows gives replica {@code r} a contiguous share of
 * {@code B / N} rows, the first {@code B % N} replicas one more. Each replica's loss is the mean over its
 * own rows, so the update graph weights replica {@code r}'s gradient by {@code rows_r / B}: the weighted sum
 * is exactly the gradient of the full batch's mean loss, for any split. A batch with fewer rows than
 * replicas (an epoch's short last batch) runs on as many replicas as it has rows.
 *
 * <p><b>Micro-batches.</b> With {@code M} micro-batches, each replica runs its share as {@code M} smaller
 * gradient runs one after the other on its own session. Everything above holds with {@code N x M} <i>slots</i>
 * in place of replicas: slot {@code s} takes the {@code s}-th of {@code N x M} contiguous row blocks, writes
 * its own gradients and is weighted by its rows; replica {@code r} runs slots {@code rM .. rM + M - 1}. So a
 * micro-batch is exactly a replica that waits its turn.
 *
 * <p><b>No copies.</b> Replicas read the shared state tensors (read-only inputs) and write their gradients
 * into pinned direct buffers of their own; the update graph takes all {@code N} gradients of every
 * parameter as inputs, weights and sums them itself, and writes the next parameters and optimizer state
 * into the second state set (pinned), as {@link Trainer} does; then the sets swap. Batches and dropout masks
 * are split by wrapping row ranges of their direct buffers. No value passes through a Java array.
 *
 * <p><b>BatchNorm</b> follows PyTorch's DistributedDataParallel without SyncBatchNorm (slots as ranks): each
 * replica normalizes with the statistics of its own rows (so a BatchNorm net's step is not the single-session step),
 * and the running statistics kept are replica 0's: its update of the common running statistics with the
 * batch statistics of the first {@code B / N} rows. DDP does the same: every rank updates its own buffers
 * and, with its default {@code broadcast_buffers=True}, rank 0's buffers are broadcast to all ranks at the
 * next forward, so rank 0's are the ones that persist. The other replicas' running statistics are discarded.
 *
 * <p><b>Dropout</b>: the masks of step {@code t} are drawn for the whole batch exactly as {@link Trainer}
 * draws them, and each replica takes its rows; so results do not depend on {@code N}.
 */
public final class ReplicatedTrainer implements StepTrainer {
    /** Name of the update graph's input holding slot {@code s}'s gradient weight. */
    static String weightInput(int s) {
        return "slot" + s + "/weight";
    }

    /** Name of the update graph's input holding slot {@code s}'s gradient of parameter {@code p}. */
    static String gradientInput(String p, int s) {
        return p + ".grad/slot" + s;
    }

    private final OrtEnvironment env = dev.forge.runtime.OrtNativeLibraries.environment();
    private final TrainingGraph tg;
    private final TrainingGraph gradientGraph;
    private final Graph updateGraph;
    private final int replicas;
    private final int microBatches;
    /** Gradient slots: {@code replicas x microBatches}; slot {@code s} belongs to replica {@code s / microBatches}. */
    private final int slots;

    private final long seed;
    private final List<String> stateNames;
    private final List<String> replicaStateInputs = new ArrayList<>();
    private final List<String> updateStateInputs = new ArrayList<>();
    private final List<String> statistics = new ArrayList<>();
    private final List<String> evalStateInputs = new ArrayList<>();
    private final Map<String, long[]> stateShapes = new LinkedHashMap<>();
    private final Map<String, String> gradientNames = new LinkedHashMap<>();
    private final OrtSession[] sessions;
    private OrtSession updateSession;
    private OrtSession evalSession;
    private final List<Map<String, ByteBuffer>> buffers = new ArrayList<>();
    private final List<Map<String, OnnxTensor>> sets = new ArrayList<>();
    private final List<Map<String, OnnxTensor>> updatePinned = new ArrayList<>();
    /** Per slot and state set: the slot's pinned outputs (its gradients; slot 0 also the statistics). */
    private final List<List<Map<String, OnnxTensor>>> replicaPinned = new ArrayList<>();
    /** Per slot: its gradient tensors by parameter. */
    private final List<Map<String, OnnxTensor>> gradients = new ArrayList<>();

    private final Map<String, OnnxTensor> zeroGradients = new LinkedHashMap<>();
    private final List<OnnxTensor> owned = new ArrayList<>();
    private final Map<String, ByteBuffer> scalarBuffers = new HashMap<>();
    private final Map<String, OnnxTensor> scalarTensors = new HashMap<>();
    private final BatchWrappers<Sliced> slicedBatches = new BatchWrappers<>(Sliced::close);

    private final List<Sliced> transientBatches = new ArrayList<>();
    private final Map<String, Sliced> masks = new HashMap<>();
    private final Map<String, ByteBuffer> maskData = new HashMap<>();
    private final Set<String> requested;
    private final ExecutorService pool;
    private int current;
    private boolean closed;
    private long steps;
    private double learningRate;

    /**
     * Creates the replica sessions, the update and evaluation sessions and the two state sets, initialized
     * from the graph's initial state, on the CPU.
     *
     * @param tg the training graph: its forward model, loss, optimizer, learning-rate groups and state
     * @param replicas 2 or more (1 is {@link Trainer}'s job)
     * @param options device (the CPU) and the intra-op threads to share among the replicas (0: one per
     *     available processor); each replica gets {@code max(1, threads / replicas)}
     * @param seed seed of the dropout masks (each step's masks depend only on seed and step)
     * @throws IllegalArgumentException if {@code replicas} is below 2 or the device is not the CPU
     */
    public ReplicatedTrainer(TrainingGraph tg, int replicas, ModelOptions options, long seed) {
        this(tg, replicas, 1, options, seed);
    }

    /**
     * Replicas that each run their share of the batch as {@code microBatches} smaller gradient runs, one after
     * the other on the replica's session: {@code replicas x microBatches} gradient slots in all, each taking a
     * contiguous {@code 1 / slots} of the batch's rows, summed by the update graph exactly as replicas are.
     * Smaller runs keep a convolution net's activations in the cores' caches (see docs/SCALING.md); the
     * semantics are those of {@code replicas x microBatches} replicas (BatchNorm statistics per slot, running
     * statistics from slot 0).
     *
     * @param replicas 1 or more sessions run concurrently
     * @param microBatches 1 or more gradient runs per replica and step; {@code replicas x microBatches} at
     *     least 2 (one slot is {@link Trainer}'s job)
     * @throws IllegalArgumentException if a count is below 1, both are 1, or the device is not the CPU
     */
    public ReplicatedTrainer(TrainingGraph tg, int replicas, int microBatches, ModelOptions options, long seed) {
        if (replicas < 1 || microBatches < 1 || (long) replicas * microBatches < 2) {
            throw new IllegalArgumentException("ReplicatedTrainer: replicas and micro-batches must be at least 1 and"
                    + " not both 1, got " + replicas + " replicas x " + microBatches
                    + " micro-batches; use Trainer for one session with one run per step");
        }
        if (options.device().kind() != Device.Kind.CPU) {
            throw new IllegalArgumentException("ReplicatedTrainer: replicas share the CPU's cores; device "
                    + options.device() + " is not supported, train on it with one replica");
        }
        this.tg = tg;
        this.replicas = replicas;
        this.microBatches = microBatches;
        this.slots = Math.multiplyExact(replicas, microBatches);
        this.seed = seed;
        this.learningRate = tg.optimizer().lr();
        this.stateNames = new ArrayList<>(tg.initialState().keySet());
        this.gradientGraph = TrainingGraph.gradients(tg.forward(), tg.loss(), false);
        this.requested = Set.of(TrainingGraph.LOSS, tg.prediction());
        for (String p : tg.parameters()) {
            String grad = p + ".grad";
            if (gradientGraph.graph().outputs().stream().noneMatch(o -> o.name().equals(grad))) {
                throw new IllegalStateException("the gradient graph has no output '" + grad + "'");
            }
            gradientNames.put(p, grad);
        }
        replicaStateInputs.addAll(gradientGraph.initialState().keySet());
        for (ValueInfo o : gradientGraph.graph().outputs()) {
            if (o.name().endsWith(TrainingGraph.NEXT)) {
                statistics.add(o.name().substring(0, o.name().length() - TrainingGraph.NEXT.length()));
            }
        }
        this.updateGraph = UpdateGraph.build(tg, slots);
        for (ValueInfo in : tg.evalGraph().inputs()) {
            if (tg.initialState().containsKey(in.name())) {
                evalStateInputs.add(in.name());
            }
        }
        for (ValueInfo in : updateGraph.inputs()) {
            if (tg.initialState().containsKey(in.name())) {
                updateStateInputs.add(in.name());
            }
        }
        this.sessions = new OrtSession[replicas];
        this.pool = replicas < 2
                ? null
                : Executors.newFixedThreadPool(replicas - 1, r -> {
                    Thread t = new Thread(r, "forge-replica");
                    t.setDaemon(true);
                    return t;
                });
        try {
            int threads = Math.max(1, options.effectiveIntraOpThreads() / replicas);
            ModelOptions perReplica =
                    options.toBuilder().intraOpThreads(threads).build();
            byte[] replicaBytes = OnnxWriter.toBytes(gradientGraph.graph());
            for (int r = 0; r < replicas; r++) {
                try (OrtSession.SessionOptions o = withoutSpinning(Trainer.options(perReplica))) {
                    sessions[r] = TrainerNativeObjects.session(env, replicaBytes, o);
                }
            }
            try (OrtSession.SessionOptions o = withoutSpinning(Trainer.options(options))) {
                updateSession = TrainerNativeObjects.session(env, OnnxWriter.toBytes(updateGraph), o);
            }
            try (OrtSession.SessionOptions o = Trainer.options(options)) {
                evalSession = TrainerNativeObjects.session(env, OnnxWriter.toBytes(Trainer.withLoss(tg)), o);
            }
            allocateState();
            allocateGradients();
            for (String s : tg.scalarInputs()) {
                scalar(s);
            }
            for (int sl = 0; sl < slots; sl++) {
                scalar(weightInput(sl));
            }
        } catch (OrtException e) {
            close();
            throw new IllegalStateException(
                    "ONNX Runtime could not create the replicas' sessions: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        setState(tg.initialState());
    }

    /**
     * ONNX Runtime's intra-op workers spin on their queue for a while after each parallel section. Here the
     * sessions take turns on the same cores (the update right before the replicas' next runs, replicas side by
     * side), so a spinning worker of one takes a core from another's compute: off.
     */
    private static OrtSession.SessionOptions withoutSpinning(OrtSession.SessionOptions o) throws OrtException {
        try {
            o.addConfigEntry("session.intra_op.allow_spinning", "0");
            return o;
        } catch (OrtException | RuntimeException e) {
            o.close();
            throw e;
        }
    }

    private void allocateState() throws OrtException {
        for (int s = 0; s < 2; s++) {
            buffers.add(new LinkedHashMap<>());
            sets.add(new LinkedHashMap<>());
            updatePinned.add(new LinkedHashMap<>());
        }
        for (Map.Entry<String, Tensor> e : tg.initialState().entrySet()) {
            stateShapes.put(e.getKey(), e.getValue().shape());
            for (int s = 0; s < 2; s++) {
                ByteBuffer b = direct(e.getValue().byteSize());
                buffers.get(s).put(e.getKey(), b);
                OnnxTensor t = tensor(b, e.getValue().shape());
                sets.get(s).put(e.getKey(), t);
                if (updateStateInputs.contains(e.getKey())) {
                    updatePinned.get(s).put(e.getKey() + TrainingGraph.NEXT, t);
                }
            }
        }
    }

    private void allocateGradients() throws OrtException {
        for (int r = 0; r < slots; r++) {
            Map<String, OnnxTensor> grads = new LinkedHashMap<>();
            for (String p : tg.parameters()) {
                long[] shape = stateShapes.get(p);
                grads.put(p, tensor(direct(tg.initialState().get(p).byteSize()), shape));
            }
            gradients.add(grads);
            List<Map<String, OnnxTensor>> perSet = new ArrayList<>();
            for (int s = 0; s < 2; s++) {
                Map<String, OnnxTensor> pinned = new LinkedHashMap<>();
                for (String p : tg.parameters()) {
                    pinned.put(gradientNames.get(p), grads.get(p));
                }
                for (String stat : statistics) {
                    // slot 0 writes the running statistics that are kept; the others' are discarded
                    OnnxTensor target = r == 0
                            ? sets.get(s).get(stat)
                            : s == 0
                                    ? tensor(direct(tg.initialState().get(stat).byteSize()), stateShapes.get(stat))
                                    : perSet.get(0).get(stat + TrainingGraph.NEXT);
                    pinned.put(stat + TrainingGraph.NEXT, target);
                }
                perSet.add(pinned);
            }
            replicaPinned.add(perSet);
        }
        for (String p : tg.parameters()) {
            zeroGradients.put(p, tensor(direct(tg.initialState().get(p).byteSize()), stateShapes.get(p)));
        }
    }

    private void scalar(String name) throws OrtException {
        ByteBuffer b = direct(4);
        scalarBuffers.put(name, b);
        scalarTensors.put(name, tensor(b, new long[0]));
    }

    private static ByteBuffer direct(long bytes) {
        return ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
    }

    private OnnxTensor tensor(ByteBuffer b, long[] shape) throws OrtException {
        OnnxTensor t = TrainerNativeObjects.tensor(env, b, shape, OnnxJavaType.FLOAT);
        owned.add(t);
        return t;
    }

    @Override
    public int replicas() {
        return replicas;
    }

    /** Gradient runs per replica and step. */
    public int microBatches() {
        return microBatches;
    }

    /** The gradient graph every replica runs: forward in training mode, loss, backward; no optimizer. */
    public TrainingGraph gradientGraph() {
        return gradientGraph;
    }

    /**
     * The update graph: inputs the parameters, the optimizer state, every replica's gradient of every
     * parameter ({@code conv1/W.grad/replica0}, ...), the replicas' weights ({@code replica0/weight}) and the
     * optimizer's scalars; outputs the next parameters and optimizer state ({@code conv1/W.next}, ...).
     */
    public Graph updateGraph() {
        return updateGraph.copy();
    }

    @Override
    public Trainer.StepResult step(Tensor x, Tensor y) {
        return step(x, y, steps + 1, learningRate);
    }

    @Override
    public Trainer.StepResult step(Tensor x, Tensor y, long step, double lr) {
        requireOpen();
        if (step < 1) {
            throw new IllegalArgumentException(
                    "ReplicatedTrainer.step: step numbers start at 1, got " + step
                            + " (Adam's bias correction 1 - beta1^step is 0 at step 0); use step(x, y) to let the trainer count");
        }
        int batch = Math.toIntExact(x.shape()[0]);
        if (y.shape().length == 0 || y.shape()[0] != batch) {
            throw new IllegalArgumentException("ReplicatedTrainer.step: the targets must have the batch's " + batch
                    + " rows first, got shape " + Shape.format(y.shape()) + " for inputs " + Shape.format(x.shape()));
        }
        int[] rows = split(batch, slots);
        Sliced xs = slices(x, rows);
        Sliced ys = slices(y, rows);
        Map<String, Sliced> stepMasks = fillMasks(batch, step, rows);
        int active = Math.min(batch, slots);
        float[] lossOf = new float[active];
        int[] correctOf = new int[active];
        List<Future<?>> running = new ArrayList<>();
        try {
            for (int r = 1; r < replicas && r * microBatches < active; r++) {
                int replica = r;
                running.add(pool.submit(() -> {
                    runReplica(replica, xs, ys, stepMasks, step, lossOf, correctOf);
                    return null;
                }));
            }
            RuntimeException failure = null;
            try {
                runReplica(0, xs, ys, stepMasks, step, lossOf, correctOf);
            } catch (RuntimeException e) {
                failure = e;
            }
            for (Future<?> f : running) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    RuntimeException cause =
                            e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                    if (failure == null) {
                        failure = cause;
                    } else {
                        failure.addSuppressed(cause);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while replicas ran step " + step, e);
                }
            }
            if (failure != null) {
                throw failure;
            }
            double loss = 0;
            int correct = 0;
            for (int r = 0; r < active; r++) {
                double w = (double) rows[r] / batch;
                loss += w * lossOf[r];
                correct = correctOf[r] < 0 || correct < 0 ? -1 : correct + correctOf[r];
            }
            update(rows, batch, step, lr);
            current = 1 - current;
            steps = step;
            return new Trainer.StepResult(loss, correct, batch);
        } finally {
            transientBatches.forEach(Sliced::close);
            transientBatches.clear();
        }
    }

    /** Runs replica {@code r}'s active slots one after the other on its session. */
    private void runReplica(
            int r, Sliced xs, Sliced ys, Map<String, Sliced> stepMasks, long step, float[] lossOf, int[] correctOf) {
        Map<String, OnnxTensor> inputs = new HashMap<>();
        for (String s : replicaStateInputs) {
            inputs.put(s, sets.get(current).get(s));
        }
        for (int sl = r * microBatches; sl < (r + 1) * microBatches && sl < lossOf.length; sl++) {
            inputs.put(tg.dataInput(), xs.parts[sl]);
            inputs.put(TrainingGraph.TARGET, ys.parts[sl]);
            for (Map.Entry<String, Sliced> m : stepMasks.entrySet()) {
                inputs.put(m.getKey(), m.getValue().parts[sl]);
            }
            try (TrainerNativeObjects.Run out = TrainerNativeObjects.run(
                    sessions[r], inputs, requested, replicaPinned.get(sl).get(1 - current))) {
                lossOf[sl] = out.tensor(TrainingGraph.LOSS).getFloatBuffer().get(0);
                correctOf[sl] = Trainer.countCorrect(out.tensor(tg.prediction()), ys.source[sl]);
            } catch (OrtException e) {
                throw new IllegalStateException(
                        "training step " + step + " failed in ONNX Runtime on replica " + r + " (slot " + sl + "): "
                                + e.getMessage(),
                        e);
            }
        }
    }

    private void update(int[] rows, int batch, long step, double lr) {
        Map<String, OnnxTensor> inputs = new HashMap<>();
        for (String s : updateStateInputs) {
            inputs.put(s, sets.get(current).get(s));
        }
        for (int r = 0; r < slots; r++) {
            boolean idle = rows[r] == 0;
            for (String p : tg.parameters()) {
                inputs.put(
                        gradientInput(p, r),
                        idle ? zeroGradients.get(p) : gradients.get(r).get(p));
            }
            String w = weightInput(r);
            scalarBuffers.get(w).putFloat(0, (float) ((double) rows[r] / batch));
            inputs.put(w, scalarTensors.get(w));
        }
        for (Map.Entry<String, Double> group : tg.lrGroups().entrySet()) {
            for (Map.Entry<String, Float> s :
                    tg.optimizer().scalars(step, lr * group.getValue()).entrySet()) {
                String name = OptimizerUpdate.groupScalar(s.getKey(), group.getKey());
                scalarBuffers.get(name).putFloat(0, s.getValue());
                inputs.put(name, scalarTensors.get(name));
            }
        }
        try (TrainerNativeObjects.Run ignored =
                TrainerNativeObjects.run(updateSession, inputs, Set.of(), updatePinned.get(1 - current))) {
            // the next state is in the other set now
        } catch (OrtException e) {
            throw new IllegalStateException(
                    "the update of step " + step + " failed in ONNX Runtime: " + e.getMessage(), e);
        }
    }

    /** Rows per replica: {@code B / N} each, the first {@code B % N} one more (0 for idle replicas when B < N). */
    static int[] split(int batch, int replicas) {
        int[] rows = new int[replicas];
        for (int r = 0; r < replicas; r++) {
            rows[r] = batch / replicas + (r < batch % replicas ? 1 : 0);
        }
        return rows;
    }

    /** Dropout masks of the whole batch, drawn as {@link Trainer} draws them, split into the replicas' rows. */
    private Map<String, Sliced> fillMasks(int batch, long step, int[] rows) {
        if (tg.dropoutMasks().isEmpty()) {
            return Map.of();
        }
        SplittableRandom rng = Trainer.maskGenerator(seed, step);
        Map<String, Sliced> out = new LinkedHashMap<>();
        for (Map.Entry<String, Shape> m : tg.dropoutMasks().entrySet()) {
            long[] shape = m.getValue().toArrayWithWildcards();
            shape[0] = batch;
            long n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            Sliced s = masks.get(m.getKey());
            if (s == null || !Arrays.equals(s.whole.shape(), shape) || !Arrays.equals(s.rows, rows)) {
                if (s != null) {
                    s.close();
                }
                ByteBuffer b = maskData.get(m.getKey());
                if (b == null || b.capacity() != n * 4) {
                    b = direct(n * 4);
                    maskData.put(m.getKey(), b);
                }
                s = new Sliced(Tensor.wrap(DType.FLOAT32, b, shape), rows);
                masks.put(m.getKey(), s);
            }
            // the slices view this buffer: filling it fills every replica's mask
            Trainer.fillMask(maskData.get(m.getKey()), n, tg.dropoutRatios().get(m.getKey()), rng);
            out.put(m.getKey(), s);
        }
        return out;
    }

    /** The row slices of a batch tensor, cached for the direct tensors loaders reuse batch after batch. */
    private Sliced slices(Tensor t, int[] rows) {
        if (t.isDirect()) {
            Sliced cached = slicedBatches.get(t);
            if (cached != null && Arrays.equals(cached.rows, rows) && Arrays.equals(cached.whole.shape(), t.shape())) {
                return cached;
            }
            Sliced s = new Sliced(t, rows);
            slicedBatches.put(t, s);
            return s;
        }
        ByteBuffer d = direct(t.byteSize());
        d.put(t.buffer());
        d.flip();
        Sliced s = new Sliced(Tensor.wrap(t.dtype(), d, t.shape()), rows);
        transientBatches.add(s);
        return s;
    }

    /** A direct tensor [B, ...] and ONNX Runtime views of each replica's contiguous rows (no copies). */
    private final class Sliced implements AutoCloseable {
        final Tensor whole;
        final int[] rows;
        final OnnxTensor[] parts;
        final Tensor[] source;

        Sliced(Tensor whole, int[] rows) {
            this.whole = whole;
            this.rows = rows.clone();
            long rowBytes = whole.byteSize() / whole.shape()[0];
            this.parts = new OnnxTensor[rows.length];
            this.source = new Tensor[rows.length];
            ByteBuffer all = whole.buffer().order(ByteOrder.nativeOrder());
            long offset = 0;
            try {
                for (int r = 0; r < rows.length; r++) {
                    if (rows[r] == 0) {
                        continue;
                    }
                    long[] shape = whole.shape().clone();
                    shape[0] = rows[r];
                    ByteBuffer part = all.duplicate()
                            .position(Math.toIntExact(offset))
                            .limit(Math.toIntExact(offset + rows[r] * rowBytes))
                            .slice()
                            .order(ByteOrder.nativeOrder());
                    parts[r] = TrainerNativeObjects.tensor(
                            env, part, shape, whole.dtype().toOnnxJavaType());
                    source[r] = Tensor.wrap(whole.dtype(), part.duplicate().order(ByteOrder.LITTLE_ENDIAN), shape);
                    offset += rows[r] * rowBytes;
                }
            } catch (OrtException e) {
                close();
                throw new IllegalStateException(
                        "cannot pass a " + whole.dtype() + Shape.format(whole.shape()) + " batch to ONNX Runtime: "
                                + e.getMessage(),
                        e);
            }
        }

        @Override
        public void close() {
            for (int r = 0; r < parts.length; r++) {
                if (parts[r] != null) {
                    TrainerNativeObjects.close(parts[r]);
                    parts[r] = null;
                }
            }
        }
    }

    @Override
    public Trainer.EvalOutput evaluate(Tensor x, Tensor y) {
        requireOpen();
        Map<String, OnnxTensor> inputs = new HashMap<>();
        for (String s : evalStateInputs) {
            inputs.put(s, sets.get(current).get(s));
        }
        int[] whole = {Math.toIntExact(x.shape()[0])};
        inputs.put(tg.dataInput(), slices(x, whole).parts[0]);
        inputs.put(TrainingGraph.TARGET, slices(y, whole).parts[0]);
        try {
            return Trainer.runEvaluation(evalSession, tg, inputs);
        } finally {
            transientBatches.forEach(Sliced::close);
            transientBatches.clear();
        }
    }

    @Override
    public Map<String, Tensor> state() {
        requireOpen();
        return Trainer.copyState(stateNames, stateShapes, buffers.get(current));
    }

    @Override
    public void setState(Map<String, Tensor> state) {
        requireOpen();
        Trainer.loadState(state, stateNames, stateShapes, buffers.get(current));
    }

    @Override
    public long steps() {
        return steps;
    }

    @Override
    public void setSteps(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException(
                    "ReplicatedTrainer.setSteps: completed steps cannot be negative, got " + steps);
        }
        this.steps = steps;
    }

    @Override
    public double learningRate() {
        return learningRate;
    }

    @Override
    public void setLearningRate(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException(
                    "ReplicatedTrainer.setLearningRate: the rate must be a finite number >= 0, got " + lr);
        }
        this.learningRate = lr;
    }

    @Override
    public TrainingGraph trainingGraph() {
        return tg;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("ReplicatedTrainer is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (pool != null) {
            pool.shutdownNow();
        }
        slicedBatches.closeAll();
        transientBatches.forEach(Sliced::close);
        masks.values().forEach(Sliced::close);
        owned.forEach(TrainerNativeObjects::close);
        try {
            for (OrtSession s : sessions) {
                if (s != null) {
                    TrainerNativeObjects.close(s);
                }
            }
            if (updateSession != null) {
                TrainerNativeObjects.close(updateSession);
            }
            if (evalSession != null) {
                TrainerNativeObjects.close(evalSession);
            }
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }
}
