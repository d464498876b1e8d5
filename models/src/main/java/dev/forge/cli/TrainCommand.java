package dev.forge.cli;

import dev.forge.cli.TrainArguments.OptimizerName;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Datasets;
import dev.forge.compiler.data.Normalize;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Checkpoint;
import dev.forge.compiler.train.EpochStats;
import dev.forge.compiler.train.Evaluation;
import dev.forge.compiler.train.ExportOptions;
import dev.forge.compiler.train.IncompatibleCheckpointException;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Replicas;
import dev.forge.compiler.train.Schedule;
import dev.forge.compiler.train.Trainable;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingListener;
import dev.forge.compiler.train.TrainingResult;
import dev.forge.models.ModelZoo;
import dev.forge.models.SeedRecipe;
import dev.forge.runtime.Device;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code forge train}: trains a built-in network on a data set with the seed's settings by default, or an
 * imported ONNX model on tensors from {@code .npy} files; exports the inference model and evaluates the
 * exported file through the runtime.
 */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Train a network and export it as an ONNX model.",
            "",
            "  forge train NET --data DATASET [options]          a built-in network (defaults: the seed's settings)",
            "  forge train --model FILE.onnx --inputs X.npy --labels Y.npy --loss LOSS [options]",
            "",
            "Seed defaults: mnist-cnn and lenet5 on mnist with Adam (lr 0.01 / 0.001), batch 64, 10 epochs; cifar10-net"
                    + " with SGD lr 0.0001 momentum 0.9, batch 16, 20 epochs, inputs normalized with mean 0.5 and std 0.5;"
                    + " simple-net one SGD step (lr 0.01) with L1 loss on one random input (--data random).",
            "A checkpoint is written after every epoch (--checkpoint, default OUT with .ckpt); --resume continues a run"
                    + " exactly. The history goes to a CSV and the Train/Test Loss plot to a PNG next to the model.",
            "--device cuda trains on the GPU (a -Pcuda build); auto uses it when present, else the CPU."
        })
final class TrainCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(
            index = "0",
            arity = "0..1",
            paramLabel = "NET",
            description = "A built-in network: ${COMPLETION-CANDIDATES}",
            completionCandidates = Forge.BuiltInNames.class)
    private String net;

    @Option(
            names = "--model",
            paramLabel = "FILE.onnx",
            description = "Train an ONNX model instead (e.g. a PyTorch export).")
    private Path model;

    @Option(
            names = "--data",
            paramLabel = "DATASET",
            converter = TrainArguments.DataConverter.class,
            completionCandidates = TrainArguments.DataKinds.class,
            description = "Data set: " + DataSpec.HELP + ".")
    private String data;

    @Option(names = "--inputs", paramLabel = "X.npy", description = "Training inputs [samples, ...] (with --model).")
    private Path inputs;

    @Option(
            names = "--labels",
            paramLabel = "Y.npy",
            description = "Targets: int64 class indices, or floats for regression.")
    private Path labels;

    @Option(
            names = "--loss",
            paramLabel = "LOSS",
            converter = TrainArguments.LossConverter.class,
            completionCandidates = TrainArguments.LossNames.class,
            description = "${COMPLETION-CANDIDATES}.")
    private Loss loss;

    @Option(
            names = "--epochs",
            paramLabel = "N",
            converter = TrainArguments.AtLeastOne.class,
            description = "Epochs to train.")
    private Integer epochs;

    @Option(
            names = "--steps",
            paramLabel = "N",
            converter = TrainArguments.AtLeastOneLong.class,
            description = "Stop after N optimizer steps in total.")
    private Long steps;

    @Option(
            names = "--batch",
            paramLabel = "N",
            converter = TrainArguments.AtLeastOne.class,
            description = "Mini-batch size.")
    private Integer batch;

    @Option(
            names = "--optimizer",
            paramLabel = "NAME",
            converter = TrainArguments.OptimizerConverter.class,
            completionCandidates = TrainArguments.OptimizerNames.class,
            description = "${COMPLETION-CANDIDATES}.")
    private OptimizerName optimizer;

    @Option(
            names = "--lr",
            paramLabel = "X",
            converter = TrainArguments.PositiveRate.class,
            description = "Learning rate.")
    private Double lr;

    @Option(
            names = "--momentum",
            paramLabel = "X",
            converter = TrainArguments.NonNegative.class,
            description = "Momentum (momentum, nesterov).")
    private Double momentum;

    @Option(
            names = "--weight-decay",
            paramLabel = "X",
            converter = TrainArguments.NonNegative.class,
            description = "Weight decay (decoupled for adamw).")
    private Double weightDecay;

    @Option(
            names = "--schedule",
            paramLabel = "S",
            defaultValue = "constant",
            converter = TrainArguments.ScheduleConverter.class,
            completionCandidates = TrainArguments.ScheduleForms.class,
            description = "Learning-rate schedule: " + TrainArguments.ScheduleConverter.FORMS
                    + " (default: ${DEFAULT-VALUE}).")
    private Schedule schedule;

    @Option(
            names = "--seed",
            paramLabel = "N",
            defaultValue = "0",
            description = "Seed of initialization, shuffling and dropout.")
    private long seed;

    @Option(names = "--no-shuffle", description = "Take batches in file order (exactly reproducible input order).")
    private boolean noShuffle;

    @Option(
            names = {"-o", "--out"},
            paramLabel = "FILE.onnx",
            description = "Where to export the trained model (default: NET.onnx).")
    private Path out;

    @Option(
            names = "--checkpoint",
            paramLabel = "FILE",
            description = "Checkpoint written after every epoch (default: OUT.ckpt).")
    private Path checkpoint;

    @Option(names = "--resume", paramLabel = "CKPT", description = "Continue from a checkpoint.")
    private Path resume;

    @Option(
            names = "--replicas",
            paramLabel = "N|auto",
            defaultValue = "1",
            converter = TrainArguments.ReplicasConverter.class,
            description = "Data-parallel replicas sharing the CPU's cores, each on its rows of every batch (default:"
                    + " ${DEFAULT-VALUE}); auto times 1 and 2 on the net first and keeps the faster. docs/SCALING.md.")
    private Replicas replicas;

    @Option(
            names = "--micro-batch",
            paramLabel = "ROWS",
            converter = TrainArguments.AtLeastOne.class,
            description = "Run each replica's rows of a batch as gradient runs of at most ROWS rows, summed before the"
                    + " one update (gradient accumulation; small runs keep a CNN's activations in cache). Default:"
                    + " whole batches; --replicas auto also tries 32 and 16. CPU only. docs/SCALING.md.")
    private Integer microBatch;

    @Mixin
    private DeviceOptions runtime;

    @Mixin
    private TransferOptions transfer;

    @Mixin
    private ImageOptions image;

    @Option(names = "--no-progress", description = "No per-step progress on stderr.")
    private boolean noProgress;

    @Override
    public Integer call() {
        if ((net == null) == (model == null)) {
            throw new IllegalArgumentException("give either a built-in network (" + String.join(", ", ModelZoo.names())
                    + ") or --model FILE.onnx");
        }
        if (net != null && !ModelZoo.has(net)) {
            throw new IllegalArgumentException(
                    "unknown built-in network '" + net + "'; built-in networks are " + ModelZoo.names());
        }
        // every file this run writes is checked before any work, named as the user gave it
        String stem = net != null ? net : model.getFileName().toString().replaceFirst("\\.onnx$", "") + "-trained";
        Path outPath = out != null ? out : Path.of(stem + ".onnx");
        String base = outPath.toString().replaceFirst("\\.onnx$", "");
        Path ckpt = checkpoint != null ? checkpoint : Path.of(base + ".ckpt");
        Path history = Path.of(base + ".history.csv");
        Path plot = Path.of(base + ".loss.png");
        checkWritable(out != null ? "--out" : null, outPath);
        checkWritable(checkpoint != null ? "--checkpoint" : out != null ? "--out" : null, ckpt);
        ModelOptions device = runtime.toModelOptions();
        SeedRecipe recipe = net != null ? SeedRecipe.of(net) : SeedRecipe.generic();
        Graph forward = net != null ? ModelZoo.build(net, seed) : Trainable.prepare(OnnxReader.read(model));
        forward = transfer.newHead(forward, data != null ? data : recipe.dataset(), seed);
        long[] inShape = forward.inputs().get(0).type().shape().toArrayWithWildcards();
        long[] sampleShape = Arrays.copyOfRange(inShape, 1, inShape.length);
        for (long s : sampleShape) {
            if (s < 0) {
                throw new IllegalArgumentException(
                        "the model input " + forward.inputs().get(0) + " must have fixed sizes after the batch");
            }
        }
        int outputs = (int) forward.outputs().get(0).type().shape().toArrayWithWildcards()[1];
        Loss lossFn = loss != null ? loss : recipe.loss();
        Dataset train;
        Dataset test;
        Normalize norm = null;
        String dataName;
        if (inputs != null || labels != null) {
            if (inputs == null || labels == null) {
                throw new IllegalArgumentException("--inputs and --labels go together");
            }
            train = NpyDataset.load(inputs, labels, lossFn == Loss.CROSS_ENTROPY ? outputs : 0);
            test = train;
            dataName = inputs.getFileName().toString();
        } else {
            String dataText = data != null ? data : recipe.dataset();
            if (dataText == null) {
                throw new IllegalArgumentException(
                        "--data is required for " + (net != null ? net : model) + "; use " + DataSpec.HELP);
            }
            Datasets.Split split = Datasets.open(
                    dataText,
                    sampleShape,
                    outputs,
                    lossFn == Loss.CROSS_ENTROPY,
                    image.normalize(inShape, recipe.normalize()),
                    image.preprocessing(inShape));
            train = split.train();
            test = split.test();
            norm = split.normalize();
            dataName = dataText;
        }
        // a built-in network's classifier is sized by the data set's class count (an imported model's head is
        // replaced only when asked: --num-classes, --new-head)
        int dataClasses = train.numClasses();
        if (net != null
                && lossFn == Loss.CROSS_ENTROPY
                && transfer.numClasses == null
                && !transfer.newHead
                && dataClasses > 0
                && dataClasses != outputs) {
            forward = ModelZoo.build(net, seed, dataClasses);
        }
        // which way round the training images are (MNIST: light on dark), for predict's inverted-image warning
        String kind = dataName.contains(":") ? dataName.substring(0, dataName.indexOf(':')) : dataName;
        java.util.Optional<String> background = inputs == null
                        && java.util.Set.of("mnist", "fashion-mnist", "cifar10", "folder")
                                .contains(kind)
                ? Datasets.imageBackground(train, norm)
                : java.util.Optional.empty();
        train = image.augment(train);
        // the flags refine the recipe's optimizer: --lr alone keeps its kind, --optimizer alone keeps its rate
        Optimizer opt = (optimizer != null ? optimizer : OptimizerName.of(recipe.optimizer()))
                .create(
                        lr != null ? lr : recipe.optimizer().lr(),
                        momentum != null ? momentum : OptimizerName.momentumOf(recipe.optimizer()),
                        weightDecay);
        int batchSize = batch != null ? batch : recipe.batchSize();
        int epochCount = epochs != null ? epochs : recipe.epochs();
        if (!replicas.isAuto() && replicas.count() > batchSize) {
            throw new ParameterException(
                    spec.commandLine(),
                    "--replicas " + replicas + " exceeds the batch size " + batchSize
                            + ": every replica needs at least one row of each batch; give at most " + batchSize);
        }
        if (!replicas.isAuto()
                && replicas.count() > 1
                && runtime.toModelOptions().device().kind() != Device.Kind.CPU) {
            throw new ParameterException(
                    spec.commandLine(),
                    "--replicas " + replicas + " shares the CPU's cores; train on "
                            + runtime.toModelOptions().device() + " with one replica (or --replicas auto)");
        }
        if (microBatch != null && runtime.toModelOptions().device().kind() != Device.Kind.CPU) {
            throw new ParameterException(
                    spec.commandLine(),
                    "--micro-batch runs on the CPU only; train on "
                            + runtime.toModelOptions().device()
                            + " with whole batches (lower --batch to use less memory)");
        }
        if (steps != null) {
            long perEpoch = (train.size() + batchSize - 1) / batchSize;
            if (epochs == null) {
                epochCount = (int) ((steps + perEpoch - 1) / perEpoch);
            }
        }

        PrintWriter w = spec.commandLine().getOut();
        w.printf(
                Locale.ROOT,
                "training %s on %s: %s, loss %s, batch %d, %d epoch%s%s, seed %d%n",
                net != null ? net : model,
                dataName,
                opt.describe(),
                lossFn.cliName(),
                batchSize,
                epochCount,
                epochCount == 1 ? "" : "s",
                steps != null ? " (at most " + steps + " steps)" : "",
                seed);
        w.flush();
        PrintStream log = new PrintStream(
                new java.io.OutputStream() {
                    @Override
                    public void write(int b) {
                        w.write(b);
                    }

                    @Override
                    public void flush() {
                        w.flush();
                    }
                },
                true,
                java.nio.charset.StandardCharsets.UTF_8);
        Training run = Training.of(forward)
                .loss(lossFn)
                .optimizer(opt)
                .schedule(schedule)
                .batchSize(batchSize)
                .epochs(epochCount)
                .seed(seed)
                .shuffle(!noShuffle)
                .runtimeOptions(device)
                .replicas(replicas)
                .microBatch(microBatch == null ? 0 : microBatch)
                .checkpointTo(ckpt);
        transfer.configure(run, forward, (train.size() + batchSize - 1) / batchSize);
        if (steps != null) {
            run.maxSteps(steps);
        }
        if (resume != null) {
            run.resumeFrom(resume);
            if (lr != null || momentum != null || weightDecay != null) {
                // given on the command line of a resumed run: a deliberate change, warned about, not refused
                run.allowNewHyperparameters();
            }
        }
        if (!noProgress) {
            run.listener(new ProgressListener(System.err));
        }
        run.listener(TrainingListener.epochLog(log))
                .listener(new HistoryCsvListener(history))
                .listener(new LossPlotListener(plot));
        // Ctrl-C (or a kill) during training: say which checkpoint --resume continues from
        CheckpointTracker tracker = new CheckpointTracker(ckpt, resume);
        run.listener(tracker);
        Thread hook =
                new Thread(() -> tracker.printInterrupted(spec.commandLine().getErr()), "forge-interrupted");
        Runtime.getRuntime().addShutdownHook(hook);
        TrainingResult r;
        try {
            r = run.fit(train, test);
        } catch (IncompatibleCheckpointException e) {
            throw new ParameterException(spec.commandLine(), "--resume " + resume + ": " + e.getMessage());
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is already exiting: the hook runs
            }
        }
        log.flush();

        ExportOptions.Builder export = ExportOptions.builder();
        transfer.export(export);
        if (norm != null) {
            export.normalization(norm);
        }
        image.addTo(export, inShape);
        background.ifPresent(b -> export.metadata(dev.forge.runtime.ModelMetadata.IMAGE_BACKGROUND, b));
        EpochStats last =
                r.history().isEmpty() ? null : r.history().get(r.history().size() - 1);
        export.trainingSummary(String.format(
                Locale.ROOT,
                "%s on %s, %s, loss %s, batch %d, %d epochs, %d steps, seed %d%s",
                net != null ? net : model.getFileName(),
                dataName,
                opt.describe(),
                lossFn.cliName(),
                batchSize,
                epochCount,
                r.steps(),
                seed,
                last == null ? "" : String.format(Locale.ROOT, ", final test loss %.4f", last.testLoss())));
        r.export(outPath, export.build());

        w.printf(
                "model: %s%ncheckpoint: %s%nhistory: %s%nplot: %s%n",
                outPath.toAbsolutePath().normalize(),
                ckpt.toAbsolutePath().normalize(),
                history.toAbsolutePath().normalize(),
                plot.toAbsolutePath().normalize());
        if (lossFn == Loss.CROSS_ENTROPY) {
            try (Model m = Model.load(outPath, device)) {
                Evaluation e = Evaluation.of(m, test, 256);
                w.printf(
                        Locale.ROOT,
                        "exported model, evaluated through the runtime on %d test images: accuracy %.4f, loss %.4f%n",
                        e.samples(),
                        e.accuracy(),
                        e.loss());
            }
        } else {
            w.printf(
                    Locale.ROOT,
                    "final loss: train %.6f, test %.6f%n",
                    last == null ? Double.NaN : last.trainLoss(),
                    r.evaluation().loss());
        }
        w.flush();
        return 0;
    }

    /**
     * A usage error (exit 2) naming {@code option} when {@code file} cannot be written, found before any work;
     * a default name that cannot be written is a plain error.
     */
    private void checkWritable(String option, Path file) {
        try {
            OnnxWriter.checkWritable(file);
        } catch (UncheckedIOException e) {
            if (option == null) {
                throw e;
            }
            throw new ParameterException(spec.commandLine(), option + ": " + e.getMessage());
        }
    }

    /**
     * What an interrupted run prints: which checkpoint {@code --resume} continues from. It reads the checkpoint
     * file itself (written atomically, so complete) rather than trusting a listener, which runs a moment after
     * the file is renamed into place.
     */
    static final class CheckpointTracker implements TrainingListener {
        private final Path checkpoint;
        private final Path resumedFrom;
        private final java.nio.file.attribute.FileTime before;
        private volatile int current;

        CheckpointTracker(Path checkpoint, Path resumedFrom) {
            this.checkpoint = checkpoint;
            this.resumedFrom = resumedFrom;
            this.before = modified(checkpoint);
        }

        private static java.nio.file.attribute.FileTime modified(Path file) {
            try {
                return java.nio.file.Files.getLastModifiedTime(file);
            } catch (java.io.IOException e) {
                return null;
            }
        }

        @Override
        public void onEpochStart(int epoch, int total, int batches) {
            current = epoch;
        }

        /** The line an interrupted run prints on stderr. */
        String interruptedMessage() {
            String during = current > 0 ? " during epoch " + current : "";
            java.nio.file.attribute.FileTime now = modified(checkpoint);
            boolean ours = now != null && (!now.equals(before) || checkpoint.equals(resumedFrom));
            if (ours) {
                try {
                    int epoch = Checkpoint.read(checkpoint).epoch();
                    return "forge: interrupted" + during + "; the checkpoint " + checkpoint + " holds epoch " + epoch
                            + ": continue with the same command and --resume " + checkpoint;
                } catch (RuntimeException e) {
                    // not readable: said below as if none was written
                }
            }
            if (resumedFrom != null) {
                return "forge: interrupted" + during + "; no epoch completed in this run: continue with --resume "
                        + resumedFrom + " again";
            }
            return "forge: interrupted" + during + " before the first epoch completed: no checkpoint to resume from";
        }

        void printInterrupted(java.io.PrintWriter err) {
            err.println(interruptedMessage());
            err.flush();
        }
    }
}
