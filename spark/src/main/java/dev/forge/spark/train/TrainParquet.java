package dev.forge.spark.train;

import dev.forge.compiler.data.Datasets;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Schedule;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingResult;
import dev.forge.models.ModelZoo;
import dev.forge.models.SeedRecipe;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The {@code spark-submit} training job: trains a built-in network on a Parquet table (or a Forge data set, for
 * local runs) with {@link SparkTrainer} and writes the ONNX model.
 *
 * <pre>
 * spark-submit --class dev.forge.spark.train.TrainParquet forge-spark.jar \
 *     --net mnist-cnn --input train.parquet [--test test.parquet] --workers 2 --k 8 --epochs 2 \
 *     --out model.onnx --checkpoint-dir run/ [--resume run/] [--batch 64] [--optimizer adam] [--lr 0.01] \
 *     [--schedule step:2:0.1 | --warmup 200|2e] [--freeze PATTERN]... [--lr-for PATTERN=X]... [--steps N] [--no-shuffle]
 * </pre>
 *
 * <p>The options build one {@link Training} (their names and forms are {@code forge train}'s), which the job trains
 * with {@link SparkTrainer#from(Training)}; {@code --batch} is the total batch of a step over all workers.
 * <p>{@code --data mnist} reads Forge's own data set instead of {@code --input}/{@code --test} ({@code --limit N}
 * and {@code --test-limit N} take the first rows); {@code --single-process} trains the same net, recipe and epochs
 * with Forge's {@code Training} API in one process, for comparison. Without {@code --master} (and outside
 * {@code spark-submit}) it runs in local mode with one core per worker. Batch, optimizer and learning rate default
 * to the network's seed recipe; {@code --warmup Ne} counts an epoch's steps as the run takes them (Spark:
 * {@code floor(rows / workers) / (batch / workers)}, whole batches; single process: {@code ceil(rows / batch)}).
 */
public final class TrainParquet {
    private TrainParquet() {}

    /** Runs the job; exits with status 2 on a usage error. */
    public static void main(String[] args) {
        Map<String, String> o;
        Map<String, List<String>> all;
        try {
            all = parse(args);
            o = last(all);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        String netName = o.getOrDefault("net", "mnist-cnn");
        SeedRecipe recipe = SeedRecipe.of(netName);
        long seed = Long.parseLong(o.getOrDefault("seed", "0"));
        Graph net = ModelZoo.build(netName, seed);
        int workers = Integer.parseInt(o.getOrDefault("workers", "2"));
        int batch = Integer.parseInt(o.getOrDefault("batch", Integer.toString(recipe.batchSize())));
        int threads = Integer.parseInt(o.getOrDefault("threads", "1"));
        Optimizer optimizer = optimizer(o.get("optimizer"), recipe.optimizer());
        if (o.containsKey("lr")) {
            optimizer = optimizer.withLr(Double.parseDouble(o.get("lr")));
        }
        long[] sampleShape = net.inputs().get(0).type().shape().toArrayWithWildcards();
        sampleShape = java.util.Arrays.copyOfRange(sampleShape, 1, sampleShape.length);
        String data = o.get("data");
        int limit = Integer.parseInt(o.getOrDefault("limit", "0"));
        int testLimit = Integer.parseInt(o.getOrDefault("test-limit", "0"));
        Path out = o.containsKey("out") ? Path.of(o.get("out")) : null;

        if (o.containsKey("single-process")) {
            if (data == null) {
                throw new IllegalArgumentException("--single-process needs --data (a Forge data set)");
            }
            Datasets.Split split = Datasets.open(data, sampleShape, 10, recipe.normalize());
            dev.forge.compiler.data.Dataset train = limit > 0
                    ? split.train().subset(0, Math.min(limit, split.train().size()))
                    : split.train();
            dev.forge.compiler.data.Dataset test = testLimit > 0
                    ? split.test().subset(0, Math.min(testLimit, split.test().size()))
                    : split.test();
            long perEpoch = (train.size() + batch - 1) / batch;
            Training training = training(net, o, all, optimizer, batch, seed, perEpoch)
                    .threads(Integer.parseInt(o.getOrDefault("threads", "0")));
            int epochs = training.settings().epochs();
            long t0 = System.nanoTime();
            TrainingResult r = training.fit(train, test);
            double seconds = (System.nanoTime() - t0) / 1e9;
            r.history().forEach(e -> System.out.println(e.csvLine()));
            System.out.printf(
                    Locale.ROOT,
                    "single-process %s: %d epochs, batch %d, %s: %.1f s, test accuracy %.4f%n",
                    netName,
                    epochs,
                    batch,
                    optimizer.describe(),
                    seconds,
                    r.evaluation().accuracy());
            if (out != null) {
                r.export(out);
                System.out.println("model: " + out.toAbsolutePath());
            }
            return;
        }

        SparkSession.Builder b = SparkSession.builder().appName("forge-train " + netName);
        if (o.containsKey("master")) {
            b.master(o.get("master"));
        } else if (!new SparkConf().contains("spark.master")) {
            b.master("local[" + workers + "]").config("spark.ui.enabled", "false");
        }
        SparkSession spark = b.getOrCreate();
        try {
            Dataset<Row> train;
            Dataset<Row> test = null;
            if (data != null) {
                train = ForgeRows.of(spark, data, sampleShape, false, limit, workers);
                test = ForgeRows.of(spark, data, sampleShape, true, testLimit, workers);
            } else if (o.containsKey("input")) {
                train = spark.read().parquet(o.get("input"));
                if (o.containsKey("test")) {
                    test = spark.read().parquet(o.get("test"));
                }
            } else {
                throw new IllegalArgumentException("give --input TABLE.parquet or --data SPEC");
            }
            // the steps of a Spark epoch: the smallest shard's whole batches of batch / workers rows (ShardPlan)
            long rows = train.count();
            long perEpoch = batch % workers == 0 ? (rows / workers) / (batch / workers) : 1;
            Training training = training(net, o, all, optimizer, batch, seed, perEpoch);
            int epochs = training.settings().epochs();
            SparkTrainer trainer = SparkTrainer.from(training)
                    .workers(workers)
                    .localSteps(Integer.parseInt(o.getOrDefault("k", "8")))
                    .threads(threads)
                    .evaluateEvery(Integer.parseInt(o.getOrDefault("eval-every", "0")))
                    .classNames(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
                    .log(System.out, Integer.parseInt(o.getOrDefault("log-every", "0")));
            if (test != null) {
                trainer.heldOut(test);
            }
            if (o.containsKey("checkpoint-dir")) {
                trainer.checkpointDir(Path.of(o.get("checkpoint-dir")));
            }
            if (o.containsKey("resume")) {
                trainer.resumeFrom(Path.of(o.get("resume")));
            }
            long t0 = System.nanoTime();
            SparkTrainingResult r = trainer.fit(train);
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf(
                    Locale.ROOT,
                    "spark %s: %d workers, k = %s, %d epochs, batch %d, %s: %.1f s, %d steps, held-out accuracy"
                            + " %.4f%n",
                    netName,
                    workers,
                    o.getOrDefault("k", "8"),
                    epochs,
                    batch,
                    optimizer.describe(),
                    seconds,
                    r.steps(),
                    r.heldOutAccuracy());
            if (out != null) {
                r.export(out);
                System.out.println("model: " + out.toAbsolutePath());
            }
        } finally {
            spark.stop();
        }
    }

    private static final String USAGE = "usage: TrainParquet --net NAME (--input TRAIN.parquet [--test TEST.parquet]"
            + " | --data SPEC [--limit N] [--test-limit N]) [--workers N] [--k K] [--epochs E] [--steps N] [--batch B]"
            + " [--optimizer adam|adamw|sgd|momentum|nesterov|rmsprop|adagrad] [--lr X]"
            + " [--schedule constant|step:SIZE[:GAMMA]|cosine:T_MAX[:ETA_MIN] | --warmup STEPS|Ne]"
            + " [--freeze PATTERN]... [--lr-for PATTERN=X]... [--no-shuffle] [--seed S] [--threads T]"
            + " [--out MODEL.onnx] [--checkpoint-dir DIR] [--resume DIR|FILE] [--eval-every R] [--log-every R]"
            + " [--master URL] [--single-process]";

    /** Options that take no value. */
    private static final java.util.Set<String> FLAGS = java.util.Set.of("single-process", "no-shuffle");

    /** Every option's values in the order given (--freeze and --lr-for repeat; others keep their last value). */
    static Map<String, List<String>> parse(String[] args) {
        Map<String, List<String>> o = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("TrainParquet: unexpected argument '" + a + "'");
            }
            String key = a.substring(2);
            if (FLAGS.contains(key)) {
                o.computeIfAbsent(key, k -> new ArrayList<>()).add("true");
            } else if (i + 1 < args.length) {
                o.computeIfAbsent(key, k -> new ArrayList<>()).add(args[++i]);
            } else {
                throw new IllegalArgumentException("TrainParquet: " + a + " needs a value");
            }
        }
        if (o.containsKey("schedule") && o.containsKey("warmup")) {
            throw new IllegalArgumentException(
                    "TrainParquet: give --schedule or --warmup, not both (--warmup is a warm-up cosine schedule)");
        }
        // usage errors before anything starts
        if (o.containsKey("schedule")) {
            schedule(o.get("schedule").get(0));
        }
        if (o.containsKey("warmup")) {
            warmup(o.get("warmup").get(0), 1);
        }
        return o;
    }

    private static Map<String, String> last(Map<String, List<String>> all) {
        Map<String, String> o = new HashMap<>();
        all.forEach((k, v) -> o.put(k, v.get(v.size() - 1)));
        return o;
    }

    /**
     * The run the options describe, as {@code forge train} builds it: without {@code --epochs}, {@code --steps}
     * sets as many epochs as the steps need.
     *
     * @param perEpoch steps per epoch of the run, for {@code --warmup Ne} and {@code --steps}
     */
    static Training training(
            Graph net,
            Map<String, String> o,
            Map<String, List<String>> all,
            Optimizer optimizer,
            int batch,
            long seed,
            long perEpoch) {
        Training t = Training.of(net).optimizer(optimizer).batchSize(batch).seed(seed);
        int epochs = Integer.parseInt(o.getOrDefault("epochs", "1"));
        if (o.containsKey("steps")) {
            long steps = Long.parseLong(o.get("steps"));
            t.maxSteps(steps);
            if (!o.containsKey("epochs")) {
                epochs = (int) Math.max(1, (steps + perEpoch - 1) / Math.max(1, perEpoch));
            }
        }
        t.epochs(epochs);
        if (o.containsKey("schedule")) {
            t.schedule(schedule(o.get("schedule")));
        }
        if (o.containsKey("warmup")) {
            t.schedule(Schedule.warmupCosine(warmup(o.get("warmup"), perEpoch)));
        }
        if (o.containsKey("no-shuffle")) {
            t.shuffle(false);
        }
        for (String p : all.getOrDefault("freeze", List.of())) {
            t.freeze(p);
        }
        for (String rule : all.getOrDefault("lr-for", List.of())) {
            int eq = rule.lastIndexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException(
                        "TrainParquet: --lr-for '" + rule + "' is not PATTERN=FACTOR (e.g. features.*=0.1)");
            }
            t.learningRate(rule.substring(0, eq), Double.parseDouble(rule.substring(eq + 1)));
        }
        return t;
    }

    /** {@code forge train --schedule}'s forms: constant, step:SIZE[:GAMMA] (gamma 0.1), cosine:T_MAX[:ETA_MIN]. */
    static Schedule schedule(String text) {
        String[] p = text.trim().toLowerCase(Locale.ROOT).split(":");
        try {
            return switch (p[0]) {
                case "constant", "none" -> Schedule.constant();
                case "step" -> Schedule.step(Integer.parseInt(p[1]), p.length > 2 ? Double.parseDouble(p[2]) : 0.1);
                case "cosine" -> Schedule.cosine(Integer.parseInt(p[1]), p.length > 2 ? Double.parseDouble(p[2]) : 0);
                default -> throw new IllegalArgumentException("unknown kind");
            };
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("TrainParquet: bad --schedule '" + text
                    + "'; use constant, step:SIZE[:GAMMA] or cosine:T_MAX[:ETA_MIN]");
        }
    }

    /** {@code --warmup STEPS} or {@code Ne} epochs of {@code perEpoch} steps. */
    static long warmup(String text, long perEpoch) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        try {
            long n = Long.parseLong(t.endsWith("e") ? t.substring(0, t.length() - 1) : t);
            if (n >= 0) {
                return t.endsWith("e") ? n * perEpoch : n;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new IllegalArgumentException(
                "TrainParquet: --warmup '" + text + "' is not a warm-up length; give steps (500) or epochs (2e)");
    }

    private static Optimizer optimizer(String name, Optimizer recipe) {
        if (name == null) {
            return recipe;
        }
        double lr = recipe.lr();
        return switch (name) {
            case "adam" -> Optimizer.adam(lr);
            case "adamw" -> Optimizer.adamw(lr);
            case "sgd" -> Optimizer.sgd(lr);
            case "momentum" -> Optimizer.momentum(lr, 0.9);
            case "nesterov" -> Optimizer.nesterov(lr, 0.9);
            case "rmsprop" -> Optimizer.rmsprop(lr);
            case "adagrad" -> Optimizer.adagrad(lr);
            default ->
                throw new IllegalArgumentException("TrainParquet: unknown optimizer '" + name
                        + "'; use adam, adamw, sgd, momentum, nesterov, rmsprop or adagrad");
        };
    }
}
