package dev.forge.compiler.train;

import dev.forge.compiler.data.Batch;
import dev.forge.compiler.data.DataLoader;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.runtime.Device;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * A training run, configured fluently and started with {@link #fit(Dataset, Dataset)}, in the manner of
 * Keras' {@code fit} and DJL's {@code DefaultTrainingConfig}:
 *
 * <pre>{@code
 * TrainingResult r = Training.of(MnistCnn.build(0))
 *         .optimizer(Optimizer.adam(0.01)).batchSize(64).epochs(10)
 *         .listener(TrainingListener.epochLog(System.out))
 *         .fit(Mnist.train(), Mnist.test());
 * r.export(Path.of("mnist.onnx"));
 * }</pre>
 *
 * <p>Every setting has a default: cross-entropy loss, Adam (lr 0.001), batch 32, 1 epoch, a constant
 * rate, seed 0, shuffled batches, the CPU with one intra-op thread per processor, one replica, no checkpoint, and no
 * output at all (progress, logs, metric files and plots are {@link TrainingListener listeners}).
 *
 * <p>Each epoch trains on shuffled mini-batches (the order of epoch {@code e} depends only on seed and
 * {@code e}), then evaluates on the test set; with {@link #checkpointTo(Path)} a checkpoint is written
 * atomically after every epoch, and {@link #resumeFrom(Path)} continues such a run exactly where it
 * stopped. A loss that becomes NaN or infinite stops the run with a {@link TrainingDivergedException}.
 *
 * <p>Fine-tuning ({@code docs/TRANSFER.md}): an imported model (e.g. {@code OnnxReader.read(path)}) is prepared
 * with {@link Trainable#prepare} when none of its initializers is marked trainable yet;
 * {@link #freeze(String...)} (by {@link ParameterPattern}), {@link #freezePrefix(String)} or
 * {@link #freeze(Predicate)} turn parameters into constants that the run does not train;
 * {@link #learningRate(String, double)} gives parameter groups their own rates; {@link Transfer#replaceHead}
 * puts a new classifier on a network and {@link Schedule#warmupCosine} warms the rate up per step.
 */
public final class Training {
    private final Graph net;
    private Loss loss = Loss.CROSS_ENTROPY;
    private Optimizer optimizer = Optimizer.adam(0.001);
    private Schedule schedule = Schedule.constant();
    private int batchSize = 32;
    private int epochs = 1;
    private long maxSteps;
    private int maxStepsPerEpoch;
    private long seed;
    private boolean shuffle = true;
    private ModelOptions runtime = ModelOptions.defaults();
    private Replicas replicas = Replicas.of(1);
    private int microBatch;
    private Path checkpoint;
    private Checkpoint resume;
    private boolean newHyperparameters;
    private final List<ParameterPattern> frozenPatterns = new ArrayList<>();
    private final List<Map.Entry<ParameterPattern, Double>> lrFactors = new ArrayList<>();
    private final List<Predicate<String>> frozen = new ArrayList<>();
    private final List<String> frozenDescriptions = new ArrayList<>();
    private final List<TrainingListener> listeners = new ArrayList<>();

    private Training(Graph net) {
        this.net = Objects.requireNonNull(net, "net");
    }

    /**
     * Starts configuring a run of {@code net}: a model built with the builder, a built-in network, or an
     * imported ONNX model. The graph is not modified.
     *
     * @param net the forward model; its single output is the prediction
     * @return the configuration, with defaults for everything
     */
    public static Training of(Graph net) {
        return new Training(net);
    }

    /** The loss (default {@link Loss#CROSS_ENTROPY}). */
    public Training loss(Loss loss) {
        this.loss = Objects.requireNonNull(loss, "loss");
        return this;
    }

    /** The optimizer (default {@code Optimizer.adam(0.001)}), e.g. {@code Optimizer.momentum(0.01, 0.9)}. */
    public Training optimizer(Optimizer optimizer) {
        this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
        return this;
    }

    /** The learning-rate schedule by epoch (default {@link Schedule#constant()}). */
    public Training schedule(Schedule schedule) {
        this.schedule = Objects.requireNonNull(schedule, "schedule");
        return this;
    }

    /** The mini-batch size (default 32). */
    public Training batchSize(int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
        }
        this.batchSize = batchSize;
        return this;
    }

    /** The number of epochs (default 1); a resumed run continues up to this number. */
    public Training epochs(int epochs) {
        if (epochs < 1) {
            throw new IllegalArgumentException("epochs must be at least 1, got " + epochs);
        }
        this.epochs = epochs;
        return this;
    }

    /** Stops after this many optimizer steps in total (default: no limit); the last epoch may be partial. */
    public Training maxSteps(long maxSteps) {
        if (maxSteps < 1) {
            throw new IllegalArgumentException("maxSteps must be at least 1, got " + maxSteps);
        }
        this.maxSteps = maxSteps;
        return this;
    }

    /** Ends every epoch after this many steps (default: the whole training set). */
    public Training maxStepsPerEpoch(int maxStepsPerEpoch) {
        if (maxStepsPerEpoch < 1) {
            throw new IllegalArgumentException("maxStepsPerEpoch must be at least 1, got " + maxStepsPerEpoch);
        }
        this.maxStepsPerEpoch = maxStepsPerEpoch;
        return this;
    }

    /** The seed of shuffling and dropout masks (default 0); weights are initialized when the net is built. */
    public Training seed(long seed) {
        this.seed = seed;
        return this;
    }

    /** Shuffle the training set every epoch (default true); false takes batches in data-set order. */
    public Training shuffle(boolean shuffle) {
        this.shuffle = shuffle;
        return this;
    }

    /**
     * The device to train on (default the CPU): {@link Device#cuda()} needs a CUDA build and fails like
     * inference does without one; {@link Device#auto()} falls back to the CPU with one log line.
     */
    public Training device(Device device) {
        this.runtime = runtime.toBuilder().device(device).build();
        return this;
    }

    /** ONNX Runtime intra-op threads (default 0: one per available processor). */
    public Training threads(int threads) {
        this.runtime = runtime.toBuilder().intraOpThreads(threads).build();
        return this;
    }

    /**
     * Data-parallel replicas in this JVM (default 1): each batch is split among {@code count} ONNX Runtime
     * sessions of the gradient graph that share the cores and run concurrently, then one update applies the
     * averaged gradient ({@link ReplicatedTrainer}, whose Javadoc gives the BatchNorm and dropout semantics).
     * One replica is today's single-session step, bit for bit. CPU only.
     *
     * @param count 1 or more, at most the batch size (checked by {@link #fit})
     */
    public Training replicas(int count) {
        return replicas(Replicas.of(count));
    }

    /**
     * Data-parallel replicas as a {@link Replicas} value: a count, or {@link Replicas#auto()}, which times a few
     * steps at each candidate count when the run starts, keeps the fastest and reports what it measured to
     * the listeners ({@link TrainingListener#onReplicas}).
     */
    public Training replicas(Replicas replicas) {
        this.replicas = Objects.requireNonNull(replicas, "replicas");
        return this;
    }

    /**
     * Runs each replica's share of a batch as gradient runs of at most {@code rows} rows, one after the other,
     * whose gradients are summed before the one update (gradient accumulation; 0, the default, runs the share
     * whole). The update is the whole batch's, so learning rate and batch size keep their meaning; BatchNorm
     * normalizes each micro-batch with its own statistics (as replicas do, {@link ReplicatedTrainer}). Small
     * micro-batches keep a convolution net's activations in the cores' caches (docs/SCALING.md) and bound the
     * memory a large batch needs. With {@link Replicas#auto()}, a fixed micro-batch is kept and only the replica
     * count is measured; otherwise auto also tries micro-batches of 32 and 16 rows. CPU only.
     *
     * @param rows 1 or more, or 0 for whole shares
     * @throws IllegalArgumentException if {@code rows} is negative
     */
    public Training microBatch(int rows) {
        if (rows < 0) {
            throw new IllegalArgumentException(
                    "microBatch must be at least 1 row (or 0 for whole batches), got " + rows);
        }
        this.microBatch = rows;
        return this;
    }

    /**
     * Device and threads as the runtime's options (the same object {@code Model.load} takes); training
     * sessions always use the EXTENDED optimization level and no optimized-model cache.
     */
    public Training runtimeOptions(ModelOptions options) {
        this.runtime = Objects.requireNonNull(options, "options");
        return this;
    }

    /** Writes a checkpoint here (atomically) after every epoch (default: none). */
    public Training checkpointTo(Path checkpoint) {
        this.checkpoint = Objects.requireNonNull(checkpoint, "checkpoint");
        return this;
    }

    /** Continues the run saved in this checkpoint (same net, optimizer and seed; more epochs). */
    public Training resumeFrom(Path checkpoint) {
        return resumeFrom(Checkpoint.read(checkpoint));
    }

    /**
     * Continues the run saved in this checkpoint (same net, optimizer and seed; more epochs). A run that differs
     * from the checkpoint's in its optimizer (kind or settings), loss, batch size, seed or training data is
     * refused at {@link #fit}, naming what differs, so that two runs' histories are never mixed silently; see
     * {@link #allowNewHyperparameters()} for a deliberate change of learning rate.
     */
    public Training resumeFrom(Checkpoint checkpoint) {
        this.resume = Objects.requireNonNull(checkpoint, "checkpoint");
        return this;
    }

    /**
     * On resume, accepts an optimizer of the checkpoint's kind with other settings (a new learning rate,
     * momentum or weight decay), logging a warning that names the change, instead of refusing it. The kind
     * itself cannot change: its state tensors would not match.
     */
    public Training allowNewHyperparameters() {
        this.newHyperparameters = true;
        return this;
    }

    /**
     * Freezes the parameters these {@link ParameterPattern patterns} select: exact names ({@code "conv1/W"}),
     * globs ({@code "features.*"}, {@code "conv?/W"}), regular expressions ({@code "re:layer[12]\\..*"}) or
     * everything a node depends on ({@code "upto:pool2"}). Frozen parameters stay constants: no gradient is
     * computed for what only leads to them, and a BatchNormalization whose scale and bias are both frozen runs
     * in inference mode (running statistics used and left unchanged, PyTorch's {@code bn.eval()} convention
     * for fine-tuning).
     *
     * @throws IllegalArgumentException for a malformed pattern here, and at {@link #fit} for a pattern that
     *     selects no trainable parameter (the message lists some)
     */
    public Training freeze(String... patterns) {
        for (String p : patterns) {
            ParameterPattern pattern = ParameterPattern.of(p);
            frozenPatterns.add(pattern);
        }
        return this;
    }

    /**
     * Multiplies the learning rate of the parameters {@code pattern} selects by {@code factor} (discriminative
     * learning rates: e.g. {@code learningRate("features.*", 0.1)} trains a backbone ten times slower than
     * the head). Each selected parameter gets its own group's rate in the optimizer, as a PyTorch parameter
     * group with {@code lr = factor * lr} (AdamW's decoupled decay included); schedules scale every group
     * alike. When several calls select a parameter, the last one wins.
     *
     * @param pattern a {@link ParameterPattern}
     * @param factor 0 or more (0 keeps the parameters fixed but still computes their gradients; freeze instead)
     */
    public Training learningRate(String pattern, double factor) {
        if (!(factor >= 0) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException(
                    "learning-rate factor for '" + pattern + "' must be a finite number >= 0, got " + factor);
        }
        lrFactors.add(Map.entry(ParameterPattern.of(pattern), factor));
        return this;
    }

    /** Freezes every parameter whose name starts with {@code prefix}, e.g. {@code "conv"} or {@code "features."}. */
    public Training freezePrefix(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        frozen.add(name -> name.startsWith(prefix));
        frozenDescriptions.add("freezePrefix(\"" + prefix + "\")");
        return this;
    }

    /** Freezes every parameter whose name matches. */
    public Training freeze(Predicate<String> parameters) {
        frozen.add(Objects.requireNonNull(parameters, "parameters"));
        frozenDescriptions.add("freeze(predicate)");
        return this;
    }

    /** Adds a listener (progress, logs, metrics, plots); listeners are called in the order added. */
    public Training listener(TrainingListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
        return this;
    }

    /** Adds listeners, in order. */
    public Training listeners(Collection<? extends TrainingListener> more) {
        more.forEach(this::listener);
        return this;
    }

    /**
     * The graph that will be trained: a copy of the net, prepared for training if it had no parameters
     * marked, with the frozen parameters turned into constants.
     */
    public Graph trainedGraph() {
        Graph g = net.copy();
        if (g.parameters().isEmpty()) {
            Trainable.prepare(g);
        }
        Set<String> before = new TreeSet<>(g.parameters());
        Set<String> freeze = new LinkedHashSet<>();
        for (ParameterPattern p : frozenPatterns) {
            freeze.addAll(p.select(g, "freeze"));
        }
        for (int i = 0; i < frozen.size(); i++) {
            Predicate<String> p = frozen.get(i);
            List<String> hit = before.stream().filter(p).toList();
            if (hit.isEmpty()) {
                throw new IllegalArgumentException(frozenDescriptions.get(i) + " matches no trainable parameter of '"
                        + g.name() + "'; its parameters are " + ParameterPattern.sample(g.parameters()));
            }
            freeze.addAll(hit);
        }
        freeze.forEach(g::unmarkParameter);
        if (g.parameters().isEmpty()) {
            throw new IllegalArgumentException(
                    "every parameter of '" + g.name() + "' is frozen; leave at least one to train");
        }
        return g;
    }

    /**
     * A read-only snapshot of this configuration, for code that runs the same training elsewhere (the spark
     * module's {@code SparkTrainer.from(Training)}): later changes to this {@code Training} do not reach it.
     * Freezing and learning-rate groups come resolved on the net, as {@link #fit} resolves them.
     *
     * @throws IllegalArgumentException as {@link #trainedGraph()} and {@link #learningRate} rules do at {@link #fit}
     */
    public Settings settings() {
        Graph g = trainedGraph();
        return new Settings(
                g,
                loss,
                optimizer,
                schedule,
                batchSize,
                epochs,
                maxSteps,
                maxStepsPerEpoch,
                seed,
                shuffle,
                runtime,
                replicas,
                microBatch,
                java.util.Collections.unmodifiableMap(lrFactors(g)),
                checkpoint,
                resume != null,
                List.copyOf(listeners));
    }

    /**
     * The settings of a {@link Training}, as {@link #settings()} returns them.
     *
     * @param trainedGraph {@link #trainedGraph()}: a copy of the net, prepared, frozen parameters made constants
     * @param lrFactors the learning-rate factor of each trained parameter a {@link #learningRate} rule selects
     * @param maxSteps 0 for no limit
     * @param maxStepsPerEpoch 0 for the whole training set
     * @param microBatch 0 for whole shares
     * @param checkpoint the {@link #checkpointTo} file, or null
     * @param resumes whether {@link #resumeFrom} was given
     */
    public record Settings(
            Graph trainedGraph,
            Loss loss,
            Optimizer optimizer,
            Schedule schedule,
            int batchSize,
            int epochs,
            long maxSteps,
            int maxStepsPerEpoch,
            long seed,
            boolean shuffle,
            ModelOptions runtime,
            Replicas replicas,
            int microBatch,
            Map<String, Double> lrFactors,
            Path checkpoint,
            boolean resumes,
            List<TrainingListener> listeners) {}

    /**
     * Trains on {@code train} and evaluates on {@code test} after every epoch.
     *
     * @return the history, trained state and final evaluation, ready to export
     * @throws TrainingDivergedException if the loss becomes NaN or infinite
     * @throws IncompatibleCheckpointException if a resumed checkpoint does not fit this run
     * @throws dev.forge.runtime.DeviceUnavailableException if the device cannot be used
     */
    public TrainingResult fit(Dataset train, Dataset test) {
        Objects.requireNonNull(train, "train");
        Objects.requireNonNull(test, "test");
        if (checkpoint != null) {
            // before epoch 1, not after it
            dev.forge.compiler.onnx.OnnxWriter.checkWritable(checkpoint);
        }
        if (!replicas.isAuto() && replicas.count() > batchSize) {
            throw new IllegalArgumentException("replicas " + replicas.count() + " exceed the batch size " + batchSize
                    + ": every replica needs at least one row of each batch; use at most " + batchSize + " replicas");
        }
        if (!replicas.isAuto() && replicas.count() > 1 && runtime.device().kind() != Device.Kind.CPU) {
            throw new IllegalArgumentException("replicas " + replicas.count() + " share the CPU's cores; training on "
                    + runtime.device() + " runs one replica: leave replicas at 1 (or auto)");
        }
        if (microBatch > 0 && runtime.device().kind() != Device.Kind.CPU) {
            throw new IllegalArgumentException("microBatch " + microBatch + " runs on the CPU only; training on "
                    + runtime.device() + " takes whole batches: leave microBatch at 0 (or lower the batch size)");
        }
        Graph forward = trainedGraph();
        TrainingGraph.requireTensorModel(forward);
        checkData(forward, train, "training");
        checkData(forward, test, "test");
        TrainingGraph tg = TrainingGraph.build(forward, loss, optimizer, lrFactors(forward));
        List<EpochStats> history = new ArrayList<>();
        int startEpoch = 0;
        long step = 0;
        try (StepTrainer trainer = openTrainer(tg, train);
                DataLoader trainLoader = DataLoader.builder(train, batchSize)
                        .shuffle(shuffle)
                        .seed(seed)
                        .prefetch(1)
                        .augment(true)
                        .build();
                DataLoader testLoader = DataLoader.builder(test, Math.max(batchSize, 256))
                        .shuffle(false)
                        .build()) {
            if (resume != null) {
                checkCompatible(resume, tg, train);
                trainer.setState(resume.state());
                startEpoch = resume.epoch();
                step = resume.step();
                trainer.setSteps(step);
                for (String line :
                        resume.info().getOrDefault(Checkpoint.HISTORY, "").split("\n")) {
                    if (!line.isBlank() && !line.startsWith("epoch")) {
                        history.add(EpochStats.parse(line));
                    }
                }
            }
            TrainingListener.Start start = new TrainingListener.Start(epochs, startEpoch, step, resume != null);
            listeners.forEach(l -> l.onStart(start));
            return loop(tg, trainer, trainLoader, testLoader, train, test, forward, history, startEpoch, step);
        } catch (RuntimeException e) {
            for (TrainingListener l : listeners) {
                try {
                    l.onError(e);
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** The single-session trainer for one replica (today's exact path), else a replicated one; auto measures. */
    private StepTrainer openTrainer(TrainingGraph tg, Dataset train) {
        if (!replicas.isAuto()) {
            return ReplicaProbe.open(tg, Replicas.Layout.of(replicas.count(), batchSize, microBatch), runtime, seed);
        }
        try (DataLoader probe = DataLoader.builder(train, batchSize).build();
                DataLoader.Epoch it = probe.epoch(0)) {
            Batch b = it.next();
            Map.Entry<StepTrainer, Replicas.Choice> chosen =
                    ReplicaProbe.choose(tg, runtime, seed, b.inputs(), b.labels(), microBatch);
            for (TrainingListener l : listeners) {
                l.onReplicas(chosen.getValue());
            }
            return chosen.getKey();
        }
    }

    private TrainingResult loop(
            TrainingGraph tg,
            StepTrainer trainer,
            DataLoader trainLoader,
            DataLoader testLoader,
            Dataset train,
            Dataset test,
            Graph forward,
            List<EpochStats> history,
            int startEpoch,
            long startStep) {
        long step = startStep;
        Evaluation last = null;
        boolean classifier = loss == Loss.CROSS_ENTROPY;
        int perEpoch = maxStepsPerEpoch > 0
                ? Math.min(trainLoader.batchesPerEpoch(), maxStepsPerEpoch)
                : trainLoader.batchesPerEpoch();
        long totalSteps = (long) perEpoch * epochs;
        if (maxSteps > 0) {
            totalSteps = Math.min(totalSteps, maxSteps);
        }
        for (int epoch = startEpoch; epoch < epochs; epoch++) {
            double lr = schedule.perStep()
                    ? schedule.lrAtStep(optimizer.lr(), epoch, step + 1, totalSteps)
                    : schedule.lr(optimizer.lr(), epoch);
            trainer.setLearningRate(lr);
            int batches = perEpoch;
            if (maxSteps > 0) {
                if (step >= maxSteps) {
                    break; // the step limit ended the run: no empty epoch in the history
                }
                batches = (int) Math.min(batches, maxSteps - step);
            }
            for (TrainingListener l : listeners) {
                l.onEpochStart(epoch + 1, epochs, batches);
            }
            double lossSum = 0;
            long correct = 0;
            long seen = 0;
            int done = 0;
            long t0 = System.nanoTime();
            try (DataLoader.Epoch it = trainLoader.epoch(epoch)) {
                for (Batch b : it) {
                    if (done == batches) {
                        break;
                    }
                    if (schedule.perStep()) {
                        lr = schedule.lrAtStep(optimizer.lr(), epoch, step + 1, totalSteps);
                        trainer.setLearningRate(lr);
                    }
                    Trainer.StepResult r = trainer.step(b.inputs(), b.labels());
                    step = trainer.steps();
                    if (!Double.isFinite(r.loss())) {
                        throw new TrainingDivergedException(String.format(
                                Locale.ROOT,
                                "the loss became %s at epoch %d, step %d (lr %s); stopped. %s",
                                r.loss(),
                                epoch + 1,
                                step,
                                lr,
                                checkpoint == null
                                        ? "No checkpoint was being written."
                                        : epoch == 0 && resume == null
                                                ? "No epoch had completed, so there is no checkpoint."
                                                : "The last good checkpoint is " + checkpoint + " (after epoch " + epoch
                                                        + "); lower the learning rate and resume from it."));
                    }
                    lossSum += r.loss() * r.size();
                    correct += Math.max(0, r.correct());
                    seen += r.size();
                    done++;
                    if (!listeners.isEmpty()) {
                        TrainingListener.Step s = new TrainingListener.Step(
                                epoch + 1, step, done, batches, r.size(), r.loss(), lossSum / seen);
                        for (TrainingListener l : listeners) {
                            l.onStep(s);
                        }
                    }
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            last = evaluate(trainer, testLoader, test);
            EpochStats stats = new EpochStats(
                    epoch + 1,
                    lr,
                    lossSum / seen,
                    classifier ? (double) correct / seen : Double.NaN,
                    last.loss(),
                    classifier ? last.accuracy() : Double.NaN,
                    seconds,
                    seen / seconds,
                    done == 0 ? 1 : (double) done / perEpoch);
            history.add(stats);
            if (checkpoint != null) {
                Map<String, String> info = new LinkedHashMap<>();
                info.put(Checkpoint.SEED, Long.toString(seed));
                info.put(Checkpoint.OPTIMIZER, optimizer.describe());
                info.put(Checkpoint.LOSS, loss.cliName());
                info.put(Checkpoint.BATCH, Integer.toString(batchSize));
                info.put(Checkpoint.DATA, describe(train));
                info.put(Checkpoint.HISTORY, EpochStats.csv(history));
                new Checkpoint(trainer.state(), epoch + 1, step, info).write(checkpoint);
            }
            List<EpochStats> view = List.copyOf(history);
            for (TrainingListener l : listeners) {
                l.onEpochEnd(stats, view);
            }
        }
        if (last == null) {
            last = evaluate(trainer, testLoader, test);
        }
        TrainingResult result = new TrainingResult(
                forward,
                loss,
                optimizer,
                batchSize,
                epochs,
                seed,
                train.classNames(),
                List.copyOf(history),
                trainer.state(),
                last,
                step);
        listeners.forEach(l -> l.onEnd(result));
        return result;
    }

    /** The learning-rate factor of each trained parameter some {@link #learningRate} rule selects. */
    private Map<String, Double> lrFactors(Graph forward) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (Map.Entry<ParameterPattern, Double> rule : lrFactors) {
            for (String p : rule.getKey().select(forward, "learningRate")) {
                out.put(p, rule.getValue());
            }
        }
        return out;
    }

    /**
     * Checks before training that the data fits the model and the loss: sample shape against the model input,
     * class labels for cross-entropy (and as many classes as the model has scores), float targets for a
     * regression loss. ONNX Runtime would otherwise fail at step 1 with its own text.
     */
    private void checkData(Graph forward, Dataset data, String which) {
        ValueInfo in = forward.inputs().get(0);
        long[] inShape = in.type().shape().toArrayWithWildcards();
        long[] sample = data.sampleShape();
        boolean fits = inShape.length == sample.length + 1;
        for (int i = 0; fits && i < sample.length; i++) {
            fits = inShape[i + 1] < 0 || inShape[i + 1] == sample[i];
        }
        if (!fits) {
            throw new IllegalArgumentException(String.format(
                    Locale.ROOT,
                    "the %s data has samples of shape %s but the model input '%s' takes %s (batch first); %s",
                    which,
                    Arrays.toString(sample),
                    in.name(),
                    Arrays.toString(inShape).replace("-1", "N"),
                    sample.length + 1 == inShape.length && sample.length == 3
                            ? "resize the images to " + inShape[2] + "x" + inShape[3] + " (and " + inShape[1]
                                    + " channel" + (inShape[1] == 1 ? "" : "s") + ")"
                            : "reshape the inputs to the model's sample shape"));
        }
        long[] out = forward.outputs().get(0).type().shape().toArrayWithWildcards();
        if (loss == Loss.CROSS_ENTROPY) {
            if (!data.isClassification()) {
                throw new IllegalArgumentException("cross-entropy needs int64 class indices as labels, but the " + which
                        + " labels are float values"
                        + (data.targetShape().length == 0 ? "" : " of shape " + Arrays.toString(data.targetShape()))
                        + "; save the labels as integers (numpy: y.astype(np.int64)) or train with a regression"
                        + " loss (mse, l1)");
            }
            if (out.length == 2 && out[1] > 0 && data.numClasses() != out[1]) {
                throw new IllegalArgumentException("the " + which + " data has " + data.numClasses()
                        + " classes but the model's output '"
                        + forward.outputs().get(0).name() + "' has " + out[1]
                        + " class scores; replace its classifier for " + data.numClasses() + " classes"
                        + " (Transfer.replaceHead, forge train --num-classes " + data.numClasses() + ")");
            }
        } else if (data.isClassification()) {
            throw new IllegalArgumentException(loss.cliName() + " needs float targets, but the " + which
                    + " labels are class indices; use cross-entropy, or save the targets as floats");
        }
    }

    /** What a checkpoint records of its training data, to recognize another data set on resume. */
    static String describe(Dataset train) {
        String names = train.classNames() == null ? "" : String.join(",", train.classNames());
        return String.format(
                Locale.ROOT,
                "%d samples of %s, %s",
                train.size(),
                Arrays.toString(train.sampleShape()),
                train.numClasses() > 0
                        ? train.numClasses() + " classes"
                                + (names.isEmpty() ? "" : String.format(Locale.ROOT, " (%08x)", names.hashCode()))
                        : "targets " + Arrays.toString(train.targetShape()));
    }

    private void checkCompatible(Checkpoint ckpt, TrainingGraph tg, Dataset train) {
        String was = ckpt.info().get(Checkpoint.OPTIMIZER);
        String now = optimizer.describe();
        if (was != null && !was.equals(now)) {
            String wasKind = was.contains("(") ? was.substring(0, was.indexOf('(')) : was;
            String nowKind = now.contains("(") ? now.substring(0, now.indexOf('(')) : now;
            if (!wasKind.equals(nowKind) || !newHyperparameters) {
                throw new IncompatibleCheckpointException(
                        "the checkpoint was trained with " + was + ", this run uses " + now
                                + (wasKind.equals(nowKind)
                                        ? "; give the checkpoint's settings to continue the same run, or change them"
                                                + " deliberately (Training.allowNewHyperparameters(); forge train: give"
                                                + " --lr, --momentum or --weight-decay explicitly)"
                                        : "; resume with the checkpoint's optimizer (" + wasKind + ")"));
            }
            System.getLogger(Training.class.getName())
                    .log(
                            System.Logger.Level.WARNING,
                            "resuming with " + now + " instead of the checkpoint's " + was
                                    + "; the history continues across the change");
        }
        String wasLoss = ckpt.info().get(Checkpoint.LOSS);
        if (wasLoss != null && !wasLoss.equals(loss.cliName())) {
            throw new IncompatibleCheckpointException("the checkpoint was trained with loss " + wasLoss
                    + ", this run uses " + loss.cliName() + "; resume with loss " + wasLoss);
        }
        String wasBatch = ckpt.info().get(Checkpoint.BATCH);
        if (wasBatch != null && Integer.parseInt(wasBatch) != batchSize) {
            throw new IncompatibleCheckpointException("the checkpoint was trained with batch size " + wasBatch
                    + ", this run uses " + batchSize + "; resume with batch size " + wasBatch
                    + " (another size changes the steps and the shuffled batches)");
        }
        String wasData = ckpt.info().get(Checkpoint.DATA);
        if (wasData != null && !wasData.equals(describe(train))) {
            throw new IncompatibleCheckpointException("the checkpoint was trained on other data (" + wasData
                    + ") than this run's training set (" + describe(train) + "); resume on the same data set,"
                    + " or start a new run (fine-tuning) from the exported model");
        }
        for (Map.Entry<String, Tensor> e : tg.initialState().entrySet()) {
            Tensor t = ckpt.state().get(e.getKey());
            if (t == null) {
                throw new IncompatibleCheckpointException(
                        "the checkpoint has no tensor '" + e.getKey() + "': it was made for another "
                                + "model or optimizer (checkpoint optimizer: "
                                + ckpt.info().get(Checkpoint.OPTIMIZER) + ", now: "
                                + optimizer.describe() + ")");
            }
            if (!Arrays.equals(t.shape(), e.getValue().shape())) {
                throw new IncompatibleCheckpointException("checkpoint tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(t.shape()) + ", the model needs "
                        + Arrays.toString(e.getValue().shape()));
            }
        }
        String ckptSeed = ckpt.info().get(Checkpoint.SEED);
        if (ckptSeed != null && Long.parseLong(ckptSeed) != seed) {
            throw new IncompatibleCheckpointException("the checkpoint was trained with seed " + ckptSeed
                    + ", this run uses " + seed + "; resume with --seed " + ckptSeed + " to continue the same run");
        }
        if (ckpt.epoch() >= epochs) {
            throw new IncompatibleCheckpointException("the checkpoint already completed " + ckpt.epoch()
                    + " epochs; ask for more than " + ckpt.epoch() + " with --epochs");
        }
    }

    /**
     * Evaluates the trainer's current weights on a data set (inference mode): mean loss, and for a
     * classifier accuracy and the confusion matrix.
     */
    public static Evaluation evaluate(StepTrainer trainer, DataLoader loader, Dataset data) {
        int classes = data.numClasses();
        long[][] confusion = classes > 0 ? new long[classes][classes] : null;
        double lossSum = 0;
        long n = 0;
        long correct = 0;
        try (DataLoader.Epoch it = loader.epoch(0)) {
            for (Batch b : it) {
                Trainer.EvalOutput out = trainer.evaluate(b.inputs(), b.labels());
                lossSum += out.loss() * b.size();
                n += b.size();
                if (confusion != null) {
                    float[] p = out.prediction().toFloatArray();
                    int k = (int) out.prediction().shape()[1];
                    for (int r = 0; r < b.size(); r++) {
                        int best = 0;
                        for (int c = 1; c < k; c++) {
                            if (p[r * k + c] > p[r * k + best]) {
                                best = c;
                            }
                        }
                        int truth = (int) b.labels().getLong(r);
                        confusion[truth][best]++;
                        if (truth == best) {
                            correct++;
                        }
                    }
                }
            }
        }
        return new Evaluation(
                lossSum / n, confusion == null ? Double.NaN : (double) correct / n, n, confusion, data.classNames());
    }
}
