package dev.forge.spark.train;

import dev.forge.compiler.data.Datasets;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingResult;
import dev.forge.models.ModelZoo;
import dev.forge.models.SeedRecipe;
import java.nio.file.Path;
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
 *     --out model.onnx --checkpoint-dir run/ [--resume run/] [--batch 64] [--optimizer adam] [--lr 0.01]
 * </pre>
 *
 * <p>{@code --data mnist} reads Forge's own data set instead of {@code --input}/{@code --test} ({@code --limit N}
 * and {@code --test-limit N} take the first rows); {@code --single-process} trains the same net, recipe and epochs
 * with Forge's {@code Training} API in one process, for comparison. Without {@code --master} (and outside
 * {@code spark-submit}) it runs in local mode with one core per worker. Batch, optimizer and learning rate default
 * to the network's seed recipe.
 */
public final class TrainParquet {
    private TrainParquet() {}

    /** Runs the job; exits with status 2 on a usage error. */
    public static void main(String[] args) {
        Map<String, String> o;
        try {
            o = parse(args);
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
        int epochs = Integer.parseInt(o.getOrDefault("epochs", "1"));
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
            long t0 = System.nanoTime();
            TrainingResult r = Training.of(net)
                    .optimizer(optimizer)
                    .batchSize(batch)
                    .epochs(epochs)
                    .seed(seed)
                    .threads(Integer.parseInt(o.getOrDefault("threads", "0")))
                    .fit(train, test);
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
            SparkTrainer trainer = SparkTrainer.of(net)
                    .optimizer(optimizer)
                    .batchSize(batch)
                    .workers(workers)
                    .localSteps(Integer.parseInt(o.getOrDefault("k", "8")))
                    .epochs(epochs)
                    .seed(seed)
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
            + " | --data SPEC [--limit N] [--test-limit N]) [--workers N] [--k K] [--epochs E] [--batch B]"
            + " [--optimizer adam|adamw|sgd|momentum|nesterov|rmsprop|adagrad] [--lr X] [--seed S] [--threads T]"
            + " [--out MODEL.onnx] [--checkpoint-dir DIR] [--resume DIR|FILE] [--eval-every R] [--log-every R]"
            + " [--master URL] [--single-process]";

    private static Map<String, String> parse(String[] args) {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("TrainParquet: unexpected argument '" + a + "'");
            }
            String key = a.substring(2);
            if (key.equals("single-process")) {
                o.put(key, "true");
            } else if (i + 1 < args.length) {
                o.put(key, args[++i]);
            } else {
                throw new IllegalArgumentException("TrainParquet: " + a + " needs a value");
            }
        }
        return o;
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
