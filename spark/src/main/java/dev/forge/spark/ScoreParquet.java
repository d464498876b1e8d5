package dev.forge.spark;

import dev.forge.spark.data.ImageTables;
import java.io.IOException;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The batch scoring job: reads a Parquet table, adds a prediction column with {@link ForgeModelTransformer}, and
 * writes a Parquet table. The output appears complete or not at all: Spark writes it under a temporary name next
 * to the output, which is renamed when the job has succeeded.
 *
 * <pre>
 * spark-submit --class dev.forge.spark.ScoreParquet forge-spark-VERSION-all.jar \
 *     --model hdfs:///models/mnist.onnx --input hdfs:///data/mnist-test.parquet \
 *     --output hdfs:///data/mnist-test-scored.parquet --output-type label
 * </pre>
 */
@Command(
        name = "score-parquet",
        mixinStandardHelpOptions = true,
        description = "Scores a Parquet table of images with an ONNX model on Spark and writes a Parquet table.")
public final class ScoreParquet implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "the ONNX model (any Hadoop file system path)")
    String model;

    @Option(names = "--input", required = true, description = "the Parquet table to score")
    String input;

    @Option(names = "--output", required = true, description = "the Parquet table to write; must not exist")
    String output;

    @Option(
            names = "--output-type",
            defaultValue = "label",
            description = "label, probabilities, topk or scores (default: ${DEFAULT-VALUE})")
    String outputType;

    @Option(names = "--k", defaultValue = "5", description = "classes kept by --output-type topk")
    int k;

    @Option(names = "--batch-size", defaultValue = "64", description = "rows per model run")
    int batchSize;

    @Option(names = "--input-col", defaultValue = "image", description = "the image column")
    String inputCol;

    @Option(names = "--output-col", defaultValue = "prediction", description = "the prediction column")
    String outputCol;

    @Option(
            names = "--error-col",
            description = "route malformed rows to this column (prediction null) instead of failing the job")
    String errorCol;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime threads per executor session")
    int threads;

    @Option(
            names = "--master",
            description = "the Spark master when not run by spark-submit (default: spark.master, else local[*])")
    String master;

    /** What a scoring job did. */
    public record Result(long rows, double seconds, String output) {
        /** Rows per second of the whole job (read, score, write). */
        public double rowsPerSecond() {
            return rows / seconds;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new ScoreParquet()).execute(args));
    }

    @Override
    public Integer call() {
        SparkSession.Builder b = SparkSession.builder().appName("forge-score-parquet");
        if (master != null) {
            b.master(master);
        } else if (!new SparkConf().contains("spark.master")) {
            b.master("local[*]");
        }
        SparkSession spark = b.getOrCreate();
        try {
            ForgeModelTransformer scorer = new ForgeModelTransformer()
                    .setModelPath(model)
                    .setOutput(outputType.toLowerCase(Locale.ROOT))
                    .setK(k)
                    .setBatchSize(batchSize)
                    .setInputCol(inputCol)
                    .setOutputCol(outputCol)
                    .setIntraOpThreads(threads);
            if (errorCol != null) {
                scorer.setErrorCol(errorCol);
            }
            Result r = score(spark, scorer, input, output);
            System.out.printf(
                    Locale.ROOT,
                    "scored %d rows in %.1f s (%.0f rows/s) -> %s%n",
                    r.rows(),
                    r.seconds(),
                    r.rowsPerSecond(),
                    r.output());
            return 0;
        } finally {
            spark.stop();
        }
    }

    /**
     * Scores a Parquet table into another, atomically (temporary directory next to the output, renamed at the
     * end).
     *
     * @param spark the session
     * @param scorer the configured transformer
     * @param input the input table
     * @param output the output table; must not exist
     * @return rows and time
     */
    public static Result score(SparkSession spark, ForgeModelTransformer scorer, String input, String output) {
        long start = System.nanoTime();
        Path target = new Path(output);
        FileSystem fs = ImageTables.fileSystem(spark, target);
        Path tmp = new Path(target.getParent(), "." + target.getName() + "." + UUID.randomUUID() + ".tmp");
        try {
            if (fs.exists(target)) {
                throw new IllegalArgumentException(target + " already exists; remove it or write elsewhere");
            }
            Dataset<Row> in = spark.read().parquet(input);
            scorer.transform(in).write().parquet(tmp.toString());
            ImageTables.commit(fs, tmp, target);
            long rows = spark.read().parquet(output).count();
            return new Result(rows, (System.nanoTime() - start) / 1e9, target.toString());
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            ImageTables.deleteQuietly(fs, tmp);
        }
    }
}
