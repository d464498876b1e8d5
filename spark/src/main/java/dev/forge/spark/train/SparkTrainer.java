package dev.forge.spark.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.train.Checkpoint;
import dev.forge.compiler.train.EpochStats;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.ParameterPattern;
import dev.forge.compiler.train.Schedule;
import dev.forge.compiler.train.Trainable;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.models.SeedRecipe;
import dev.forge.runtime.Device;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Tensor;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Trains a Forge model on a Spark {@code Dataset<Row>} by parameter averaging (local SGD, as DL4J's
 * {@code ParameterAveragingTrainingMaster}), from Java or Scala, configured like a single-JVM {@link Training} or
 * taken from one ({@link #from(Training)}):
 *
 * <pre>{@code
 * Training training = Training.of(MnistCnn.build(0))
 *         .optimizer(Optimizer.momentum(0.05, 0.9)).batchSize(64).epochs(2)
 *         .schedule(Schedule.warmupCosine(200)).freeze("conv1/*");
 * SparkTrainingResult r = SparkTrainer.from(training)
 *         .workers(2).localSteps(8)
 *         .heldOut(testRows).checkpointDir(Path.of("run"))
 *         .fit(trainRows);
 * r.export(Path.of("mnist.onnx"));
 * }</pre>
 *
 * <p>The rows have columns {@code id} (long, unique), {@code image} (array&lt;float&gt;: the CHW tensor flattened,
 * values as Forge's data loader feeds the model) and {@code label} (int). They are split once into {@code workers}
 * shards ({@link ShardPlan}) kept in Spark's cache. Each round the driver broadcasts the trainer's whole state
 * (parameters, optimizer slots, BatchNorm running statistics) and the step counter; each shard's task takes a
 * trainer from its JVM's pool, sets the state, trains its next {@code k} batches of {@code batchSize / workers}
 * rows and returns its state; {@code treeAggregate} sums the states and the driver divides by the number of
 * workers. Global step {@code s} is every worker's {@code s}-th step, a single process's step {@code s} on the
 * whole batch: the driver computes each step's rate from the {@link #schedule} and ships the round's rates with
 * its state. A task is a pure function of (state, shard, round), so a task that Spark retries returns what the
 * first attempt would have, and the average is unaffected.
 *
 * <p><b>Exactness.</b> With {@code k = 1}, plain SGD or momentum, no BatchNorm and no dropout, a run equals
 * single-process training with batch {@code batchSize} whose step {@code r} reads the union of the workers'
 * batches of round {@code r}: the loss is the batch mean, so averaging the workers' parameters after one step from
 * the same state is one step with the averaged gradient, and momentum buffers {@code m*b + g} average linearly
 * too. Adam, RMSProp and Adagrad are <i>not</i> exact: their second moments square the per-worker gradients
 * ({@code mean(g_w)^2 != mean(g_w^2)}) and the update divides by a root of them, so the average of the workers'
 * updates is not the update of the average gradient. BatchNorm normalizes each worker's batch with its own
 * statistics (DistributedDataParallel without SyncBatchNorm) and its running statistics are averaged. Dropout
 * masks depend on (seed, step), the same on every worker.
 *
 * <p>After every round the driver records the round's metrics, evaluates the held-out set (after each epoch and
 * every {@link #evaluateEvery(int)} rounds) and, with {@link #checkpointDir(Path)}, writes an atomic Forge
 * {@link Checkpoint} ({@value #CHECKPOINT_FILE}), {@code history.csv}, {@code rounds.csv} and {@code loss.png};
 * {@link #resumeFrom(Path)} continues such a run bit for bit.
 */
public final class SparkTrainer {
    /** The checkpoint's file name in {@link #checkpointDir(Path)}. */
    public static final String CHECKPOINT_FILE = "checkpoint.onnx";
    /** Checkpoint info key: the number of workers. */
    public static final String WORKERS = "spark.workers";
    /** Checkpoint info key: local steps per round. */
    public static final String LOCAL_STEPS = "spark.k";
    /** Checkpoint info key: rounds completed in the epoch under way (0 when an epoch just ended). */
    public static final String ROUND = "spark.round";
    /** Checkpoint info key: the rounds so far as CSV ({@link RoundStats#csv}). */
    public static final String ROUNDS = "spark.rounds";
    /** Checkpoint info key: the learning-rate schedule ({@link Schedule#toString()}). */
    public static final String SCHEDULE = "spark.schedule";
    /** Checkpoint info key: the learning-rate groups ({@code name=factor,...}; empty for one group). */
    public static final String LR_GROUPS = "spark.lr-groups";
    /** Checkpoint info key: whether the workers shuffle their shards. */
    public static final String SHUFFLE = "spark.shuffle";

    private final Graph net;
    private Loss loss = Loss.CROSS_ENTROPY;
    private Optimizer optimizer = Optimizer.adam(0.001);
    private Schedule schedule = Schedule.constant();
    private boolean shuffle = true;
    private long maxSteps;
    private int maxStepsPerEpoch;
    private final List<ParameterPattern> freeze = new ArrayList<>();
    private final List<Map.Entry<ParameterPattern, Double>> lrRules = new ArrayList<>();
    /** Learning-rate factors resolved by a {@link Training} ({@link #from}), before this trainer's own rules. */
    private Map<String, Double> inheritedFactors = Map.of();

    private int batchSize = 32;
    private int workers = 2;
    private int localSteps = 1;
    private int epochs = 1;
    private long seed;
    private int threads = 1;
    private long maxRounds;
    private Path checkpointDir;
    private Checkpoint resume;
    private Dataset<Row> heldOut;
    private int evaluateEvery;
    private List<String> classNames = List.of();
    private PrintStream log;
    private int logEvery;
    private int failWorker = -1;
    private long failRound = -1;

    private SparkTrainer(Graph net) {
        this.net = Objects.requireNonNull(net, "net");
    }

    /**
     * Starts configuring a run of {@code net} (a built or imported forward model whose single output is the
     * class logits); the graph is not modified.
     */
    public static SparkTrainer of(Graph net) {
        return new SparkTrainer(net);
    }

    /**
     * Starts from a built-in network's seed recipe: its optimizer (with its learning rate), batch, loss and epochs,
     * e.g. {@code SparkTrainer.of(ModelZoo.build("mnist-cnn", 0), SeedRecipe.of("mnist-cnn")).workers(2)
     * .localSteps(8).fit(rows).export(path)}.
     */
    public static SparkTrainer of(Graph net, SeedRecipe recipe) {
        return of(net).loss(recipe.loss())
                .optimizer(recipe.optimizer())
                .batchSize(recipe.batchSize())
                .epochs(recipe.epochs());
    }

    /**
     * Starts from a single-JVM {@link Training}: its net (with its frozen parameters made constants), loss,
     * optimizer, schedule, batch size, epochs, step limits, seed, shuffling and learning-rate groups, as they are
     * at this call. The batch size is the <i>total</i> batch of one step over all workers, as in the single
     * process: {@code workers(N)} gives each worker {@code batchSize / N} rows, and with {@code k = 1}, SGD or
     * momentum and no BatchNorm, {@code N} workers on {@code B / N} rows equal the {@code Training} on {@code B}
     * rows (docs/SCALING.md "Spark training"). How the run is spread stays on this trainer: {@link #workers},
     * {@link #localSteps}, {@link #threads} (the {@code Training}'s threads are not used: a task's trainer gets
     * these), {@link #checkpointDir}, {@link #resumeFrom}, {@link #heldOut}, {@link #log}.
     *
     * <p>Refused, naming the setting: {@code replicas} other than 1 and {@code microBatch} (layouts of one step
     * inside one JVM; on Spark the layout is workers times threads), a CUDA {@code device} (executors train on
     * the CPU; {@code Device.auto()} is taken as the CPU), {@code checkpointTo} and {@code resumeFrom} (a Spark
     * run keeps its own checkpoints: {@link #checkpointDir}, {@link #resumeFrom}) and listeners (the driver
     * records rounds and epochs itself: {@link #log}, {@link #checkpointDir}). A data set's augmentation does not
     * apply: the rows are tensors.
     *
     * @throws IllegalArgumentException for a setting Spark cannot honour, or as {@link Training#settings()} does
     */
    public static SparkTrainer from(Training training) {
        Training.Settings s = training.settings();
        if (s.replicas().isAuto() || s.replicas().count() != 1) {
            throw refused(
                    "replicas(" + s.replicas() + ")",
                    "it splits a step over sessions of one JVM, while a Spark task trains its batch / workers rows on"
                            + " one session; set the Training's replicas to 1 and spread the run with"
                            + " SparkTrainer.workers(N) and threads(T)");
        }
        if (s.microBatch() > 0) {
            throw refused(
                    "microBatch(" + s.microBatch() + ")",
                    "a Spark task runs its whole share of each step at once; set the Training's microBatch to 0, or"
                            + " use more workers for smaller shares");
        }
        if (s.runtime().device().kind() == Device.Kind.CUDA) {
            throw refused(
                    "device(" + s.runtime().device() + ")",
                    "executors train on the CPU; leave the Training on the CPU (or Device.auto())");
        }
        if (s.checkpoint() != null) {
            throw refused(
                    "checkpointTo(" + s.checkpoint() + ")",
                    "a Spark run writes its own checkpoint of rounds; use SparkTrainer.checkpointDir(dir)");
        }
        if (s.resumes()) {
            throw refused(
                    "resumeFrom(...)",
                    "a single-process checkpoint does not continue a Spark run; use"
                            + " SparkTrainer.resumeFrom(dir) with a SparkTrainer checkpoint");
        }
        if (!s.listeners().isEmpty()) {
            throw refused(
                    s.listeners().size() + " listener(s)",
                    "the listeners run around a single JVM's steps; SparkTrainer records rounds and epochs itself:"
                            + " log(out, everyRounds) prints them and checkpointDir(dir) writes history.csv, rounds.csv"
                            + " and loss.png");
        }
        SparkTrainer t = new SparkTrainer(s.trainedGraph());
        t.loss = s.loss();
        t.optimizer = s.optimizer();
        t.schedule = s.schedule();
        t.batchSize = s.batchSize();
        t.epochs = s.epochs();
        t.maxSteps = s.maxSteps();
        t.maxStepsPerEpoch = s.maxStepsPerEpoch();
        t.seed = s.seed();
        t.shuffle = s.shuffle();
        t.inheritedFactors = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(s.lrFactors()));
        return t;
    }

    private static IllegalArgumentException refused(String setting, String why) {
        return new IllegalArgumentException(
                "SparkTrainer.from(Training): the Training's " + setting + " cannot be honoured on Spark: " + why);
    }

    /** The loss (default and only supported: {@link Loss#CROSS_ENTROPY} on the {@code label} column). */
    public SparkTrainer loss(Loss loss) {
        this.loss = Objects.requireNonNull(loss, "loss");
        return this;
    }

    /** The optimizer (default {@code Optimizer.adam(0.001)}); its learning rate is the schedule's base rate. */
    public SparkTrainer optimizer(Optimizer optimizer) {
        this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
        return this;
    }

    /**
     * The learning-rate schedule (default {@link Schedule#constant()}), by epoch or by step as in {@link Training}:
     * the driver computes the rate of each of a round's local steps and ships them with the round. Step {@code s}
     * (1-based) is the {@code s}-th step of every worker, which is step {@code s} of a single process on the
     * total batch; an epoch has {@code smallest shard / (batchSize / workers)} steps (the smallest shard's whole
     * batches, {@link ShardPlan}), and a per-step schedule's run has {@code epochs} times that (or
     * {@link #maxSteps}, if fewer).
     */
    public SparkTrainer schedule(Schedule schedule) {
        this.schedule = Objects.requireNonNull(schedule, "schedule");
        return this;
    }

    /**
     * Whether each worker visits its shard in a new seeded order every epoch (default true, {@link ShardPlan});
     * false takes the shard in rank order every epoch, so that step {@code s} of an epoch reads the rows of ranks
     * {@code (s-1)*B .. s*B-1}, as an unshuffled single process reads them.
     */
    public SparkTrainer shuffle(boolean shuffle) {
        this.shuffle = shuffle;
        return this;
    }

    /**
     * Stops after this many steps in total (default: no limit), counting a resumed run's; the last round takes
     * fewer than {@code k} steps when the limit falls inside it.
     */
    public SparkTrainer maxSteps(long maxSteps) {
        if (maxSteps < 1) {
            throw new IllegalArgumentException("SparkTrainer: maxSteps must be at least 1, got " + maxSteps);
        }
        this.maxSteps = maxSteps;
        return this;
    }

    /** Ends every epoch after this many steps (default: the smallest shard's whole batches). */
    public SparkTrainer maxStepsPerEpoch(int maxStepsPerEpoch) {
        if (maxStepsPerEpoch < 1) {
            throw new IllegalArgumentException(
                    "SparkTrainer: maxStepsPerEpoch must be at least 1, got " + maxStepsPerEpoch);
        }
        this.maxStepsPerEpoch = maxStepsPerEpoch;
        return this;
    }

    /**
     * Freezes the parameters these {@link ParameterPattern patterns} select, as {@link Training#freeze(String...)}
     * does: they become constants of the net that no worker trains and no round averages.
     *
     * @throws IllegalArgumentException for a malformed pattern here, and at {@link #fit} for one that selects no
     *     trainable parameter
     */
    public SparkTrainer freeze(String... patterns) {
        for (String p : patterns) {
            freeze.add(ParameterPattern.of(p));
        }
        return this;
    }

    /**
     * Multiplies the learning rate of the parameters {@code pattern} selects by {@code factor}, as
     * {@link Training#learningRate(String, double)} does (a parameter group; schedules scale every group alike;
     * the last rule that selects a parameter wins, after those of a {@link #from} Training).
     */
    public SparkTrainer learningRate(String pattern, double factor) {
        if (!(factor >= 0) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("SparkTrainer: learning-rate factor for '" + pattern
                    + "' must be a finite number >= 0, got " + factor);
        }
        lrRules.add(Map.entry(ParameterPattern.of(pattern), factor));
        return this;
    }

    /** The global batch {@code B} (default 32): each worker's steps read {@code B / workers} rows. */
    public SparkTrainer batchSize(int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("SparkTrainer: batchSize must be at least 1, got " + batchSize);
        }
        this.batchSize = batchSize;
        return this;
    }

    /** Workers, that is shards and tasks per round (default 2). */
    public SparkTrainer workers(int workers) {
        if (workers < 1) {
            throw new IllegalArgumentException("SparkTrainer: workers must be at least 1, got " + workers);
        }
        this.workers = workers;
        return this;
    }

    /** Local steps {@code k} each worker takes between two averages (default 1). */
    public SparkTrainer localSteps(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("SparkTrainer: local steps k must be at least 1 (k steps per worker"
                    + " between two averages), got " + k);
        }
        this.localSteps = k;
        return this;
    }

    /** Epochs (default 1); a resumed run continues up to this number. */
    public SparkTrainer epochs(int epochs) {
        if (epochs < 1) {
            throw new IllegalArgumentException("SparkTrainer: epochs must be at least 1, got " + epochs);
        }
        this.epochs = epochs;
        return this;
    }

    /** Seed of the shard shuffles and dropout masks (default 0). */
    public SparkTrainer seed(long seed) {
        this.seed = seed;
        return this;
    }

    /** ONNX Runtime intra-op threads of each task's trainer (default 1: one task per core). */
    public SparkTrainer threads(int threads) {
        if (threads < 0) {
            throw new IllegalArgumentException(
                    "SparkTrainer: threads must be 0 (one per processor) or more, got " + threads);
        }
        this.threads = threads;
        return this;
    }

    /** Stops after this many rounds in total, counting a resumed run's earlier rounds (default: no limit). */
    public SparkTrainer maxRounds(long maxRounds) {
        if (maxRounds < 1) {
            throw new IllegalArgumentException("SparkTrainer: maxRounds must be at least 1, got " + maxRounds);
        }
        this.maxRounds = maxRounds;
        return this;
    }

    /**
     * Writes {@value #CHECKPOINT_FILE}, {@code history.csv}, {@code rounds.csv} and {@code loss.png} into this
     * directory (created if needed) after every round, atomically.
     */
    public SparkTrainer checkpointDir(Path dir) {
        this.checkpointDir = Objects.requireNonNull(dir, "dir");
        return this;
    }

    /**
     * Continues the run saved in this checkpoint (or in {@value #CHECKPOINT_FILE} of this directory): same net,
     * optimizer, seed, batch, workers and k; the rounds that follow are those the uninterrupted run would take.
     */
    public SparkTrainer resumeFrom(Path checkpoint) {
        Path file = Files.isDirectory(checkpoint) ? checkpoint.resolve(CHECKPOINT_FILE) : checkpoint;
        this.resume = Checkpoint.read(file);
        return this;
    }

    /** A held-out table (same columns) evaluated on the averaged state after every epoch. */
    public SparkTrainer heldOut(Dataset<Row> rows) {
        this.heldOut = Objects.requireNonNull(rows, "rows");
        return this;
    }

    /** Also evaluates the held-out table every {@code rounds} rounds (default 0: after each epoch only). */
    public SparkTrainer evaluateEvery(int rounds) {
        if (rounds < 0) {
            throw new IllegalArgumentException("SparkTrainer: evaluateEvery must be 0 or more, got " + rounds);
        }
        this.evaluateEvery = rounds;
        return this;
    }

    /** Class names for the exported model's metadata (default: none). */
    public SparkTrainer classNames(List<String> names) {
        this.classNames = List.copyOf(names);
        return this;
    }

    /** Prints one line per epoch (and per {@code everyRounds} rounds when above 0) to {@code out}. */
    public SparkTrainer log(PrintStream out, int everyRounds) {
        this.log = Objects.requireNonNull(out, "out");
        this.logEvery = everyRounds;
        return this;
    }

    /**
     * Test hook: the first attempt of worker {@code worker}'s task in round {@code round} (1-based) throws in the
     * middle of its steps, as a lost executor would; Spark's retry must give the undisturbed result. Needs a
     * master that retries tasks, e.g. {@code local[2,2]}.
     */
    public SparkTrainer failFirstAttempt(int worker, long round) {
        this.failWorker = worker;
        this.failRound = round - 1;
        return this;
    }

    /**
     * Trains on {@code train}.
     *
     * @return the averaged state, the history and the model
     * @throws IllegalArgumentException for a table without the needed columns, a malformed row (named by its id),
     *     duplicate ids, more workers than rows, a batch that does not split evenly, or a checkpoint of another
     *     run
     */
    public SparkTrainingResult fit(Dataset<Row> train) {
        Objects.requireNonNull(train, "train");
        if (loss != Loss.CROSS_ENTROPY) {
            throw new IllegalArgumentException("SparkTrainer: trains classifiers with cross-entropy on the 'label'"
                    + " column; the loss " + loss.cliName() + " is not supported");
        }
        if (batchSize % workers != 0) {
            throw new IllegalArgumentException("SparkTrainer: the batch of " + batchSize + " rows does not split"
                    + " evenly over " + workers + " workers; use a multiple of " + workers);
        }
        int workerBatch = batchSize / workers;
        Graph forward = trainedGraph();
        Map<String, Double> factors = lrFactors(forward);
        TrainingGraph tg = TrainingGraph.build(forward, loss, optimizer, factors);
        long[] sampleShape = TrainingTable.sampleShape(tg);
        int sampleSize = Math.toIntExact(Arrays.stream(sampleShape).reduce(1, (a, b) -> a * b));
        long[] predShape = tg.graph().type(tg.prediction()).shape().toArrayWithWildcards();
        if (predShape.length != 2 || predShape[1] < 1) {
            throw new IllegalArgumentException("SparkTrainer: the net's output must be class logits [N, classes],"
                    + " got " + Arrays.toString(predShape));
        }
        int classes = (int) predShape[1];
        TrainingTable.check(train, "training", sampleShape, sampleSize, classes);
        if (resume != null) {
            checkResume(resume, tg, factors);
        }

        JavaSparkContext jsc =
                JavaSparkContext.fromSparkContext(train.sparkSession().sparkContext());
        JavaRDD<Shard> shards;
        try {
            // zipWithIndex runs a job at once: a duplicate id fails here
            shards = TrainingTable.shards(train, workers, sampleSize);
        } catch (Exception e) {
            throw unwrap(e);
        }
        JavaRDD<Shard> heldOutShards = null;
        Recipe recipe = new Recipe(forward, loss, optimizer, factors, seed, threads);
        Broadcast<Recipe> rb = jsc.broadcast(recipe);
        try {
            List<Integer> sizes;
            try {
                sizes = shards.map(Shard::size).collect();
            } catch (Exception e) {
                throw unwrap(e);
            }
            long rows = sizes.stream().mapToLong(Integer::longValue).sum();
            if (rows < workers) {
                throw new IllegalArgumentException("SparkTrainer: " + rows + " training rows cannot be split over "
                        + workers + " workers; use at most " + rows + " workers");
            }
            int smallest = sizes.stream().mapToInt(Integer::intValue).min().orElse(0);
            if (smallest < workerBatch) {
                throw new IllegalArgumentException("SparkTrainer: " + rows + " rows over " + workers
                        + " workers leave " + smallest + " rows on the smallest worker, less than one batch of "
                        + workerBatch + " (" + batchSize + " / " + workers + "); use fewer workers or a smaller batch");
            }
            if (heldOut != null) {
                TrainingTable.check(heldOut, "held-out", sampleShape, sampleSize, classes);
                try {
                    heldOutShards = TrainingTable.shards(heldOut, workers, sampleSize);
                } catch (Exception e) {
                    throw unwrap(e);
                }
            }
            return loop(jsc, rb, tg, forward, shards, heldOutShards, smallest, workerBatch);
        } finally {
            shards.unpersist(false);
            if (heldOutShards != null) {
                heldOutShards.unpersist(false);
            }
            rb.destroy();
            TrainerPool.clear(recipe.key());
        }
    }

    /**
     * The net to train: a copy, prepared when none of its initializers is a parameter yet, with the
     * {@link #freeze} patterns' parameters made constants (as {@link Training#trainedGraph()}).
     */
    private Graph trainedGraph() {
        Graph g = net.copy();
        if (g.parameters().isEmpty()) {
            Trainable.prepare(g);
        }
        Set<String> frozen = new LinkedHashSet<>();
        for (ParameterPattern p : freeze) {
            frozen.addAll(p.select(g, "SparkTrainer: freeze"));
        }
        frozen.forEach(g::unmarkParameter);
        if (g.parameters().isEmpty()) {
            throw new IllegalArgumentException(
                    "SparkTrainer: every parameter of '" + g.name() + "' is frozen; leave at least one to train");
        }
        return g;
    }

    /** The learning-rate factor of every trained parameter a rule selects: a Training's, then this trainer's. */
    private Map<String, Double> lrFactors(Graph forward) {
        Map<String, Double> out = new LinkedHashMap<>();
        inheritedFactors.forEach((p, f) -> {
            if (forward.parameters().contains(p)) {
                out.put(p, f);
            }
        });
        for (Map.Entry<ParameterPattern, Double> rule : lrRules) {
            for (String p : rule.getKey().select(forward, "SparkTrainer: learningRate")) {
                out.put(p, rule.getValue());
            }
        }
        return out;
    }

    /** The learning-rate groups as a checkpoint records them: {@code name=factor} in name order. */
    private static String describeGroups(Map<String, Double> factors) {
        return factors.entrySet().stream()
                .sorted(Map.Entry.comparingByKey())
                .map(e -> e.getKey() + "=" + e.getValue())
                .collect(java.util.stream.Collectors.joining(","));
    }

    /**
     * The rate of step {@code step} (1-based, counted over the run) in epoch {@code epoch} (0-based), as
     * {@link Training} computes it: per step for a per-step schedule, else the epoch's.
     */
    private double rate(int epoch, long step, long totalSteps) {
        return schedule.perStep()
                ? schedule.lrAtStep(optimizer.lr(), epoch, step, totalSteps)
                : schedule.lr(optimizer.lr(), epoch);
    }

    private SparkTrainingResult loop(
            JavaSparkContext jsc,
            Broadcast<Recipe> rb,
            TrainingGraph tg,
            Graph forward,
            JavaRDD<Shard> shards,
            JavaRDD<Shard> heldOutShards,
            int smallest,
            int workerBatch) {
        String[] names = tg.initialState().keySet().toArray(String[]::new);
        float[][] state = RoundTask.stateArrays(tg.initialState(), names);
        int batchesPerEpoch = ShardPlan.batchesPerEpoch(smallest, workerBatch);
        if (maxStepsPerEpoch > 0) {
            batchesPerEpoch = Math.min(batchesPerEpoch, maxStepsPerEpoch);
        }
        int roundsPerEpoch = ShardPlan.roundsPerEpoch(batchesPerEpoch, localSteps);
        // the run's length as a per-step schedule sees it: Training's epochs x steps per epoch, or maxSteps
        long totalSteps = (long) batchesPerEpoch * epochs;
        if (maxSteps > 0) {
            totalSteps = Math.min(totalSteps, maxSteps);
        }
        int startEpoch = 0;
        int startRound = 0;
        int startBatch = 0;
        long step = 0;
        List<RoundStats> rounds = new ArrayList<>();
        List<EpochStats> history = new ArrayList<>();
        if (resume != null) {
            state = RoundTask.stateArrays(resume.state(), names);
            startEpoch = resume.epoch();
            startRound = Integer.parseInt(resume.info().getOrDefault(ROUND, "0"));
            step = resume.step();
            // every epoch takes the same steps, so the step counter says where in its epoch the run stopped (and
            // with it the schedule's position)
            long inEpoch = step - (long) startEpoch * batchesPerEpoch;
            if (inEpoch < 0 || inEpoch >= batchesPerEpoch) {
                throw new IllegalArgumentException("SparkTrainer: the checkpoint stopped at step " + step + " after "
                        + startEpoch + " epochs, which does not fit this run's " + batchesPerEpoch + " steps per"
                        + " epoch; resume on the same rows with the same maxStepsPerEpoch");
            }
            startBatch = (int) inEpoch;
            rounds.addAll(RoundStats.parseCsv(resume.info().getOrDefault(ROUNDS, "")));
            resume.info()
                    .getOrDefault(Checkpoint.HISTORY, "")
                    .lines()
                    .filter(l -> !l.isBlank() && !l.startsWith("epoch"))
                    .map(EpochStats::parse)
                    .forEach(history::add);
        }
        if (checkpointDir != null) {
            try {
                Files.createDirectories(checkpointDir);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("SparkTrainer: cannot create " + checkpointDir, e);
            }
        }
        long round = rounds.size(); // rounds completed so far, a resumed run's included
        outer:
        for (int epoch = startEpoch; epoch < epochs; epoch++) {
            int r = epoch == startEpoch ? startRound : 0;
            for (int batch = epoch == startEpoch ? startBatch : 0; batch < batchesPerEpoch; r++, round++) {
                if ((maxRounds > 0 && round >= maxRounds) || (maxSteps > 0 && step >= maxSteps)) {
                    break outer;
                }
                int steps = Math.min(localSteps, batchesPerEpoch - batch);
                if (maxSteps > 0) {
                    steps = (int) Math.min(steps, maxSteps - step);
                }
                // the rate of each local step, numbered as a single process on the whole batch numbers its steps
                double[] lrs = new double[steps];
                for (int j = 0; j < steps; j++) {
                    lrs[j] = rate(epoch, step + j + 1, totalSteps);
                }
                RoundInput in = new RoundInput(
                        names,
                        state,
                        step,
                        epoch,
                        batch,
                        steps,
                        workerBatch,
                        lrs,
                        shuffle,
                        round,
                        failWorker,
                        failRound);
                long t0 = System.nanoTime();
                Broadcast<RoundInput> ib = jsc.broadcast(in);
                RoundSum sum;
                try {
                    sum = shards.map(s -> RoundTask.train(rb.value(), ib.value(), s))
                            .treeAggregate(RoundSum.zero(), RoundSum::merge, RoundSum::merge);
                } catch (Exception e) {
                    throw unwrap(e);
                } finally {
                    ib.destroy();
                }
                if (sum.workers != workers) {
                    throw new IllegalStateException("SparkTrainer: round " + (round + 1) + " averaged " + sum.workers
                            + " worker states, expected " + workers);
                }
                state = sum.mean();
                step = sum.step;
                batch += steps;
                double seconds = (System.nanoTime() - t0) / 1e9;
                boolean epochDone = batch == batchesPerEpoch;
                boolean last = (epochDone && epoch == epochs - 1)
                        || (maxRounds > 0 && round + 1 >= maxRounds)
                        || (maxSteps > 0 && step >= maxSteps);
                double heldOutLoss = Double.NaN;
                double heldOutAccuracy = Double.NaN;
                if (heldOutShards != null
                        && (epochDone || last || (evaluateEvery > 0 && (round + 1) % evaluateEvery == 0))) {
                    RoundSum e = evaluate(jsc, rb, heldOutShards, names, state, step);
                    heldOutLoss = e.lossSum / e.seen;
                    heldOutAccuracy = (double) e.correct / e.seen;
                }
                RoundStats stats = new RoundStats(
                        round + 1,
                        epoch + 1,
                        step,
                        sum.seen,
                        sum.lossSum / sum.seen,
                        (double) sum.correct / sum.seen,
                        heldOutLoss,
                        heldOutAccuracy,
                        seconds,
                        sum.computeNanos / 1e9);
                rounds.add(stats);
                if (epochDone) {
                    history.add(epochStats(epoch + 1, rounds, lrs[steps - 1]));
                }
                report(stats, epochDone, roundsPerEpoch, history);
                if (checkpointDir != null) {
                    Map<String, String> info = new LinkedHashMap<>();
                    info.put(Checkpoint.SEED, Long.toString(seed));
                    info.put(Checkpoint.OPTIMIZER, optimizer.describe());
                    info.put(Checkpoint.LOSS, loss.cliName());
                    info.put(Checkpoint.BATCH, Integer.toString(batchSize));
                    info.put(Checkpoint.HISTORY, EpochStats.csv(history));
                    info.put(WORKERS, Integer.toString(workers));
                    info.put(LOCAL_STEPS, Integer.toString(localSteps));
                    info.put(SCHEDULE, schedule.toString());
                    info.put(LR_GROUPS, describeGroups(tg.lrFactors()));
                    info.put(SHUFFLE, Boolean.toString(shuffle));
                    info.put(ROUND, Integer.toString(epochDone ? 0 : r + 1));
                    info.put(ROUNDS, RoundStats.csv(rounds));
                    new Checkpoint(tensors(tg, names, state), epochDone ? epoch + 1 : epoch, step, info)
                            .write(checkpointDir.resolve(CHECKPOINT_FILE));
                    History.write(checkpointDir, history, rounds, epochDone || last);
                }
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        if (!classNames.isEmpty()) {
            meta.put(ModelMetadata.CLASS_LABELS, String.join(",", classNames));
        }
        meta.put(
                ModelMetadata.TRAINING,
                String.format(
                        Locale.ROOT,
                        "%s%s, loss %s, batch %d on Spark (%d workers, k = %d, parameter averaging), %d epochs,"
                                + " %d steps, seed %d",
                        optimizer.describe(),
                        schedule instanceof Schedule.Constant ? "" : ", schedule " + schedule,
                        loss.cliName(),
                        batchSize,
                        workers,
                        localSteps,
                        epochs,
                        step,
                        seed));
        return new SparkTrainingResult(forward, tensors(tg, names, state), rounds, history, step, meta);
    }

    private static RoundSum evaluate(
            JavaSparkContext jsc,
            Broadcast<Recipe> rb,
            JavaRDD<Shard> heldOut,
            String[] names,
            float[][] state,
            long step) {
        Broadcast<RoundInput> sb =
                jsc.broadcast(new RoundInput(names, state, step, 0, 0, 0, 0, new double[0], false, -1, -1, -1));
        try {
            return heldOut.map(s -> RoundTask.evaluate(rb.value(), sb.value(), s, 256))
                    .treeAggregate(RoundSum.zero(), RoundSum::merge, RoundSum::merge);
        } finally {
            sb.destroy();
        }
    }

    private void report(RoundStats s, boolean epochDone, int roundsPerEpoch, List<EpochStats> history) {
        if (log == null) {
            return;
        }
        if (logEvery > 0 && s.round() % logEvery == 0) {
            log.printf(
                    Locale.ROOT,
                    "round %d (epoch %d): step %d, train loss %.4f, accuracy %.4f, %.3f s (steps %.3f s)%s%n",
                    s.round(),
                    s.epoch(),
                    s.step(),
                    s.trainLoss(),
                    s.trainAccuracy(),
                    s.seconds(),
                    s.computeSeconds(),
                    Double.isNaN(s.heldOutAccuracy())
                            ? ""
                            : String.format(Locale.ROOT, ", held-out accuracy %.4f", s.heldOutAccuracy()));
        }
        if (epochDone) {
            EpochStats e = history.get(history.size() - 1);
            log.printf(
                    Locale.ROOT,
                    "epoch %d/%d: %d rounds of k = %d on %d workers, train loss %.4f, accuracy %.4f%s, %.1f s (%.0f"
                            + " images/s)%n",
                    e.epoch(),
                    epochs,
                    roundsPerEpoch,
                    localSteps,
                    workers,
                    e.trainLoss(),
                    e.trainAccuracy(),
                    // no held-out table given: nothing to report, rather than NaN
                    Double.isNaN(e.testLoss())
                            ? ""
                            : String.format(
                                    Locale.ROOT, ", held-out loss %.4f, accuracy %.4f", e.testLoss(), e.testAccuracy()),
                    e.seconds(),
                    e.imagesPerSecond());
        }
    }

    /** An epoch's line of {@code history.csv} from its rounds: sample-weighted means, summed seconds. */
    private static EpochStats epochStats(int epoch, List<RoundStats> rounds, double lr) {
        double lossSum = 0;
        double correct = 0;
        long seen = 0;
        double seconds = 0;
        RoundStats last = null;
        for (RoundStats r : rounds) {
            if (r.epoch() == epoch) {
                lossSum += r.trainLoss() * r.samples();
                correct += r.trainAccuracy() * r.samples();
                seen += r.samples();
                seconds += r.seconds();
                last = r;
            }
        }
        return new EpochStats(
                epoch,
                lr,
                lossSum / seen,
                correct / seen,
                last.heldOutLoss(),
                last.heldOutAccuracy(),
                seconds,
                seen / seconds);
    }

    private static Map<String, Tensor> tensors(TrainingGraph tg, String[] names, float[][] state) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) {
            out.put(
                    names[i],
                    Tensor.of(state[i], tg.initialState().get(names[i]).shape()));
        }
        return out;
    }

    private void checkResume(Checkpoint c, TrainingGraph tg, Map<String, Double> factors) {
        for (Map.Entry<String, Tensor> e : tg.initialState().entrySet()) {
            Tensor t = c.state().get(e.getKey());
            if (t == null || !Arrays.equals(t.shape(), e.getValue().shape())) {
                throw new IllegalArgumentException("SparkTrainer: the checkpoint has no tensor '" + e.getKey()
                        + "' of shape " + Arrays.toString(e.getValue().shape()) + ": it was made for another model"
                        + " or optimizer (checkpoint: " + c.info().get(Checkpoint.OPTIMIZER) + ", now: "
                        + optimizer.describe() + ")");
            }
        }
        expect(c, Checkpoint.SEED, Long.toString(seed), "seed");
        expect(c, Checkpoint.BATCH, Integer.toString(batchSize), "batchSize");
        expect(c, WORKERS, Integer.toString(workers), "workers");
        expect(c, LOCAL_STEPS, Integer.toString(localSteps), "localSteps");
        // written since schedules came to Spark: an older checkpoint ran a constant rate, one group, shuffled
        expectIfPresent(c, SCHEDULE, schedule.toString(), "schedule");
        expectIfPresent(c, LR_GROUPS, describeGroups(factors), "learning-rate groups");
        expectIfPresent(c, SHUFFLE, Boolean.toString(shuffle), "shuffle");
        if (c.epoch() >= epochs) {
            throw new IllegalArgumentException("SparkTrainer: the checkpoint already completed " + c.epoch()
                    + " epochs; ask for more than " + c.epoch());
        }
    }

    private static void expectIfPresent(Checkpoint c, String key, String now, String setting) {
        String was = c.info().get(key);
        if (was != null && !was.equals(now)) {
            throw new IllegalArgumentException("SparkTrainer: the checkpoint was trained with " + setting + " '" + was
                    + "', this run uses '" + now + "'; give the checkpoint's " + setting + " to continue the same run");
        }
    }

    private static void expect(Checkpoint c, String key, String now, String setting) {
        String was = c.info().get(key);
        if (was == null) {
            throw new IllegalArgumentException(
                    "SparkTrainer: the checkpoint has no '" + key + "' entry; it was not written by SparkTrainer");
        }
        if (!was.equals(now)) {
            throw new IllegalArgumentException("SparkTrainer: the checkpoint was trained with " + setting + " " + was
                    + ", this run uses " + now + "; set " + setting + "(" + was + ") to continue the same run");
        }
    }

    /**
     * The exception a failed Spark job carries when it is one of the trainer's own (a malformed row found in a
     * task, a diverged loss): the message of the first cause that starts with {@code SparkTrainer:}.
     */
    private static RuntimeException unwrap(Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && m.startsWith("SparkTrainer:")) {
                return t instanceof IllegalArgumentException
                        ? new IllegalArgumentException(m, e)
                        : new IllegalStateException(m, e);
            }
        }
        return e instanceof RuntimeException r ? r : new IllegalStateException(e.getMessage(), e);
    }
}
