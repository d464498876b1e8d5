package dev.forge.spark;

import dev.forge.models.MnistCnn;
import dev.forge.models.SeedRecipe;
import dev.forge.spark.data.ImageTables;
import dev.forge.spark.train.SparkTrainer;
import dev.forge.spark.train.SparkTrainingResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The end-to-end demo ({@code scripts/spark-demo.sh}): MNIST to Parquet, the seed CNN trained from the training
 * table, the test table scored with {@link ForgeModelTransformer} through {@link ScoreParquet}'s atomic writer,
 * and the accuracy and throughput printed, on a local Spark from the Maven dependencies (or any master).
 */
@Command(
        name = "spark-demo",
        mixinStandardHelpOptions = true,
        description = "MNIST on Spark: write Parquet, train the seed CNN, score the test set, print accuracy.")
public final class SparkDemo implements Callable<Integer> {
    @Option(names = "--work", defaultValue = "target/spark-demo", description = "where tables and model go")
    Path work;

    @Option(names = "--master", defaultValue = "local[2]", description = "the Spark master (default: local[2])")
    String master;

    @Option(names = "--train-rows", defaultValue = "0", description = "training rows (0: all 60,000)")
    int trainRows;

    @Option(names = "--test-rows", defaultValue = "0", description = "test rows (0: all 10,000)")
    int testRows;

    @Option(names = "--epochs", defaultValue = "1", description = "training epochs")
    int epochs;

    @Option(names = "--workers", defaultValue = "2", description = "Spark training workers (partitions)")
    int workers;

    @Option(names = "--local-steps", defaultValue = "8", description = "local steps per averaging round")
    int localSteps;

    @Option(names = "--batch-size", defaultValue = "64", description = "scoring rows per model run")
    int batchSize;

    /** What the demo measured. */
    public record Result(Path model, String scored, long rows, double accuracy, double scoreSeconds) {}

    /** The last run's result (for the test that runs {@link #main}). */
    static volatile Result last;

    public static void main(String[] args) {
        int code = new CommandLine(new SparkDemo()).execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(work);
        SparkSession spark = SparkSession.builder()
                .master(master)
                .appName("forge-spark-demo")
                .config("spark.ui.enabled", "false")
                .getOrCreate();
        try {
            String train = table(spark, "train", trainRows);
            String test = table(spark, "test", testRows);

            Path model = work.resolve("mnist-cnn.onnx").toAbsolutePath();
            long t0 = System.nanoTime();
            trainModel(spark, train, epochs, workers, localSteps, model);
            System.out.printf(
                    Locale.ROOT,
                    "trained with %d Spark workers (%d local steps per round) in %.1f s -> %s%n",
                    workers,
                    localSteps,
                    (System.nanoTime() - t0) / 1e9,
                    model);

            String scored =
                    work.resolve("mnist-test-scored.parquet").toAbsolutePath().toString();
            deleteTable(spark, scored);
            ForgeModelTransformer scorer = new ForgeModelTransformer()
                    .setModelPath(model.toString())
                    .setOutput("label")
                    .setBatchSize(batchSize);
            ScoreParquet.Result r = ScoreParquet.score(spark, scorer, test, scored);
            Row counts = spark.read()
                    .parquet(scored)
                    .selectExpr("count(*)", "sum(CASE WHEN prediction = label THEN 1 ELSE 0 END)")
                    .first();
            double accuracy = (double) counts.getLong(1) / counts.getLong(0);
            System.out.printf(
                    Locale.ROOT,
                    "scored %d test rows on %s in %.1f s (%.0f rows/s, read + score + write)%n",
                    r.rows(),
                    master,
                    r.seconds(),
                    r.rowsPerSecond());
            System.out.printf(Locale.ROOT, "test accuracy %.4f%n", accuracy);
            System.out.println("model:        " + model);
            System.out.println("scored table: " + scored);
            last = new Result(model, scored, r.rows(), accuracy, r.seconds());
            return 0;
        } finally {
            spark.stop();
        }
    }

    /** Writes MNIST's split as an image table under the work directory, unless it is already there. */
    private String table(SparkSession spark, String split, int rows) {
        Path dir = work.resolve("mnist-" + split + (rows > 0 ? "-" + rows : "") + ".parquet");
        if (!Files.isDirectory(dir)) {
            long t0 = System.nanoTime();
            long n = ImageTables.write(spark, "mnist", ImageTables.MNIST_SHAPE, split, dir.toString(), rows);
            System.out.printf(
                    Locale.ROOT, "wrote %d %s rows in %.1f s -> %s%n", n, split, (System.nanoTime() - t0) / 1e9, dir);
        }
        return dir.toAbsolutePath().toString();
    }

    /**
     * Trains the seed CNN on an image table with {@link SparkTrainer} (parameter averaging: each of {@code
     * workers} partitions takes {@code k} local steps of the seed recipe, Adam lr 0.01, batch 64 split over the
     * workers, then the states are averaged) and exports it to {@code model}.
     */
    static void trainModel(SparkSession spark, String trainTable, int epochs, int workers, int k, Path model) {
        SparkTrainingResult result = SparkTrainer.of(MnistCnn.build(0), SeedRecipe.of("mnist-cnn"))
                .workers(workers)
                .localSteps(k)
                .epochs(epochs)
                .log(System.out, 50)
                .fit(ImageTables.read(spark, trainTable));
        result.export(model);
    }

    private static void deleteTable(SparkSession spark, String path) throws java.io.IOException {
        org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(path);
        ImageTables.fileSystem(spark, p).delete(p, true);
    }
}
