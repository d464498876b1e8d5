package dev.forge.spark;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Mnist;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Export;
import dev.forge.models.MnistCnn;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import dev.forge.spark.data.ImageTables;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.JoinedRow;
import org.apache.spark.sql.types.DataTypes;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Spark scoring against the plain runtime on the same cores (docs/SCALING.md, "Spark scoring"): the seed MNIST
 * CNN on the same MNIST test rows at several batch sizes, as medians of repeated runs with the two kinds
 * interleaved so that a busy machine slows both alike.
 *
 * <ul>
 *   <li><b>runtime, T callers:</b> one shared {@link Model} (one intra-op thread), T Java threads each scoring
 *       its half of the rows in batches from float arrays in memory: the best a JVM does with these cores.
 *   <li><b>runtime, 1 caller x T intra-op threads:</b> one caller, ONNX Runtime parallelizing each batch.
 *   <li><b>Spark local[T]:</b> {@link ForgeModelTransformer} ({@code output = label}) over a cached DataFrame of
 *       the same rows in T partitions, written to Spark's {@code noop} sink (every row computed, nothing
 *       stored).
 *   <li><b>Spark, no model:</b> the scorer's plan with the model left out (internal rows copied and a column
 *       appended): Spark's own cost.
 *   <li><b>Spark, no model, Row API:</b> a pass-through {@code mapPartitions} over {@code Row}s, the public API's
 *       cost (every float boxed and unboxed), which the first version of the scorer paid.
 * </ul>
 */
@Command(name = "scoring-benchmark", mixinStandardHelpOptions = true)
public final class ScoringBenchmark implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "10000", description = "MNIST test rows")
    int rows;

    @Option(names = "--cores", defaultValue = "2", description = "cores (Spark local[N], runtime threads)")
    int cores;

    @Option(names = "--batch", split = ",", defaultValue = "16,64,256", description = "batch sizes")
    int[] batches;

    @Option(names = "--repeats", defaultValue = "5", description = "runs per measurement (median)")
    int repeats;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ScoringBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        System.out.println("uptime: " + uptime());
        byte[] modelBytes = OnnxWriter.toBytes(Export.inferenceModel(MnistCnn.build(0), Map.of(), Map.of()));
        Dataset test = Mnist.test();
        int n = Math.min(rows, test.size());
        float[][] x = new float[n][784];
        for (int i = 0; i < n; i++) {
            test.copySample(i, x[i], 0);
        }
        SparkSession spark = SparkSession.builder()
                .master("local[" + cores + "]")
                .appName("forge-scoring-benchmark")
                .config("spark.ui.enabled", "false")
                .getOrCreate();
        org.apache.spark.sql.Dataset<Row> table =
                ImageTables.dataFrame(spark, test, 0, n).repartition(cores).cache();
        table.count();
        System.out.printf(
                Locale.ROOT, "%d rows, %d cores, seed MNIST CNN; rows/s, median of %d%n%n", n, cores, repeats);
        System.out.println("| batch | runtime, " + cores + " callers | runtime, 1 caller x " + cores
                + " threads | Spark local[" + cores + "] | Spark / best runtime | Spark, no model |"
                + " Spark, no model, Row API |");
        System.out.println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        try (Model shared = Model.load(
                        modelBytes,
                        "bench",
                        ModelOptions.builder().intraOpThreads(1).build());
                Model parallel = Model.load(
                        modelBytes,
                        "bench",
                        ModelOptions.builder().intraOpThreads(cores).build())) {
            for (int batch : batches) {
                ForgeModelTransformer scorer = new ForgeModelTransformer()
                        .setModel(modelBytes)
                        .setBatchSize(batch)
                        .setIntraOpThreads(1);
                double[][] t = new double[5][repeats];
                // warm up each kind once (JIT, sessions, the executor's model cache)
                runtime(shared, x, batch, cores);
                runtime(parallel, x, batch, 1);
                spark(scorer, table);
                passThrough(table);
                rowPassThrough(table);
                for (int r = 0; r < repeats; r++) {
                    t[0][r] = runtime(shared, x, batch, cores);
                    t[1][r] = runtime(parallel, x, batch, 1);
                    t[2][r] = spark(scorer, table);
                    t[3][r] = passThrough(table);
                    t[4][r] = rowPassThrough(table);
                }
                double a = n / median(t[0]);
                double b = n / median(t[1]);
                double s = n / median(t[2]);
                double p = n / median(t[3]);
                double q = n / median(t[4]);
                System.out.printf(
                        Locale.ROOT,
                        "| %d | %.0f | %.0f | %.0f | %.0f%% | %.0f | %.0f |%n",
                        batch,
                        a,
                        b,
                        s,
                        100 * s / Math.max(a, b),
                        p,
                        q);
            }
        } finally {
            spark.stop();
        }
        System.out.println();
        System.out.println("uptime: " + uptime());
        return 0;
    }

    /** Seconds to score every row in batches, the rows split between {@code callers} threads. */
    static double runtime(Model model, float[][] x, int batch, int callers) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(callers);
        try {
            long start = System.nanoTime();
            List<Future<Long>> parts = new ArrayList<>();
            for (int c = 0; c < callers; c++) {
                int from = (int) ((long) x.length * c / callers);
                int to = (int) ((long) x.length * (c + 1) / callers);
                parts.add(pool.submit(() -> {
                    long sum = 0;
                    ByteBuffer buf = ByteBuffer.allocateDirect(batch * 784 * 4).order(ByteOrder.LITTLE_ENDIAN);
                    for (int i = from; i < to; i += batch) {
                        int m = Math.min(batch, to - i);
                        buf.clear();
                        for (int j = 0; j < m; j++) {
                            buf.asFloatBuffer().put(j * 784, x[i + j]);
                        }
                        buf.limit(m * 784 * 4);
                        Tensor in = Tensor.wrap(DType.FLOAT32, buf, m, 1, 28, 28);
                        sum += model.topK(in, 1).size();
                    }
                    return sum;
                }));
            }
            for (Future<Long> f : parts) {
                f.get();
            }
            return (System.nanoTime() - start) / 1e9;
        } finally {
            pool.shutdown();
        }
    }

    static double spark(ForgeModelTransformer scorer, org.apache.spark.sql.Dataset<Row> table) {
        long start = System.nanoTime();
        scorer.transform(table).write().format("noop").mode("overwrite").save();
        return (System.nanoTime() - start) / 1e9;
    }

    /** The scorer's plan without the model: internal rows copied, an int column appended, written to noop. */
    static double passThrough(org.apache.spark.sql.Dataset<Row> table) {
        long start = System.nanoTime();
        org.apache.spark.sql.classic.Dataset<Row> classic = (org.apache.spark.sql.classic.Dataset<Row>) table;
        RDD<InternalRow> rows = classic.queryExecution()
                .toRdd()
                .toJavaRDD()
                .map(r -> (InternalRow) new JoinedRow(r.copy(), new GenericInternalRow(new Object[] {0})))
                .rdd();
        classic.sparkSession()
                .internalCreateDataFrame(rows, table.schema().add("prediction", DataTypes.IntegerType), false)
                .write()
                .format("noop")
                .mode("overwrite")
                .save();
        return (System.nanoTime() - start) / 1e9;
    }

    /** The same through the public API: rows deserialized to {@code Row}s (arrays boxed) and serialized back. */
    static double rowPassThrough(org.apache.spark.sql.Dataset<Row> table) {
        long start = System.nanoTime();
        table.mapPartitions((MapPartitionsFunction<Row, Row>) it -> it, Encoders.row(table.schema()))
                .write()
                .format("noop")
                .mode("overwrite")
                .save();
        return (System.nanoTime() - start) / 1e9;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static String uptime() {
        try {
            Process p = new ProcessBuilder("uptime").redirectErrorStream(true).start();
            try (BufferedReader r =
                    new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line = r.readLine();
                p.waitFor();
                return line == null ? "?" : line.trim();
            }
        } catch (Exception e) {
            return "unavailable (" + e.getMessage() + ")";
        }
    }
}
