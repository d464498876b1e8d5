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
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
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
 * CNN on the same MNIST test rows at several batch sizes, as medians of repeated runs with the kinds
 * interleaved so that a busy machine slows both alike, each with the process's CPU time per row beside it (the
 * measure that holds on a shared machine).
 *
 * <ul>
 *   <li><b>runtime, T callers:</b> one shared {@link Model} (one intra-op thread), T Java threads each scoring
 *       its half of the rows in batches from float arrays in memory: the best a JVM does with these cores.
 *   <li><b>runtime, 1 caller x T intra-op threads:</b> one caller, ONNX Runtime parallelizing each batch.
 *   <li><b>Spark local[T]:</b> {@link ForgeModelTransformer} ({@code output = label}) over a cached DataFrame of
 *       the same rows in T partitions, written to Spark's {@code noop} sink (every row computed, nothing
 *       stored). The rows reach Spark through a Parquet file, not a local relation, whose rows every query would
 *       hash on the driver.
 *   <li><b>Spark local[T], image not kept:</b> the same with {@code keepInputCol = false}.
 *   <li><b>Spark local[T] from Parquet:</b> the transformer over the Parquet file itself, decoding included.
 *   <li><b>Spark, no model:</b> the scorer's plan with the model left out (internal rows copied and a column
 *       appended): Spark's own cost.
 *   <li><b>Spark, no model, Row API:</b> a pass-through {@code mapPartitions} over {@code Row}s, the public API's
 *       cost (every float boxed and unboxed), which the first version of the scorer paid.
 * </ul>
 */
@Command(name = "scoring-benchmark", mixinStandardHelpOptions = true)
public final class ScoringBenchmark implements Callable<Integer> {
    /** What is measured: each kind is one column of the table. */
    enum Kind {
        RUNTIME("runtime, T callers"),
        RUNTIME_THREADS("runtime, 1 caller x T threads"),
        SPARK("Spark local[T]"),
        SPARK_PARQUET("Spark local[T] from Parquet"),
        SPARK_DROP("Spark local[T], image not kept"),
        NO_MODEL("Spark, no model"),
        ROW_API("Spark, no model, Row API");

        final String title;

        Kind(String title) {
            this.title = title;
        }

        /** Whether it is Spark scoring with the model (compared with the best runtime). */
        boolean spark() {
            return this == SPARK || this == SPARK_PARQUET || this == SPARK_DROP;
        }
    }

    @Option(names = "--rows", defaultValue = "10000", description = "rows (MNIST test images, repeated past 10,000)")
    int rows;

    @Option(names = "--cores", defaultValue = "2", description = "cores (Spark local[N], runtime threads)")
    int cores;

    @Option(names = "--batch", split = ",", defaultValue = "16,64,256", description = "batch sizes")
    int[] batches;

    @Option(names = "--repeats", defaultValue = "5", description = "runs per measurement (median)")
    int repeats;

    @Option(
            names = "--warmup",
            defaultValue = "1",
            description = "unmeasured runs of each kind first (JIT compilation, sessions, the executor's model cache)")
    int warmup;

    @Option(
            names = "--kinds",
            split = ",",
            defaultValue = "RUNTIME,RUNTIME_THREADS,SPARK,SPARK_DROP,SPARK_PARQUET,NO_MODEL,ROW_API",
            description = "what to measure (a subset to profile one kind): ${COMPLETION-CANDIDATES}")
    List<Kind> kinds;

    @Option(
            names = "--cpu-by-thread",
            description = "also print each kind's CPU time per row by thread group (tasks or callers, driver, GC,"
                    + " JIT, other threads; Linux)")
    boolean byThread;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ScoringBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        System.out.println("uptime: " + uptime());
        byte[] modelBytes = OnnxWriter.toBytes(Export.inferenceModel(MnistCnn.build(0), Map.of(), Map.of()));
        Dataset test = Mnist.test();
        float[][] x = new float[rows][];
        for (int i = 0; i < rows; i++) {
            x[i] = new float[784];
            test.copySample(i % test.size(), x[i], 0);
        }
        SparkSession spark = SparkSession.builder()
                .master("local[" + cores + "]")
                .appName("forge-scoring-benchmark")
                .config("spark.ui.enabled", "false")
                .getOrCreate();
        java.nio.file.Path dir = Files.createTempDirectory("forge-scoring-benchmark");
        try {
            // the rows reach Spark as an RDD, not a local relation: a local relation's rows are part of the plan,
            // and every query hashes the plan (AQE's stage cache), 7.8 M boxed floats for 10,000 images, on the
            // driver before each job starts, which no table read from storage pays
            List<Row> list = new ArrayList<>(rows);
            for (int i = 0; i < rows; i++) {
                list.add(RowFactory.create((long) i, x[i], (int) test.label(i % test.size())));
            }
            String parquetPath = dir.resolve("images.parquet").toString();
            spark.createDataFrame(
                            JavaSparkContext.fromSparkContext(spark.sparkContext())
                                    .parallelize(list, cores),
                            ImageTables.schema(true))
                    .write()
                    .parquet(parquetPath);
            list = null;
            org.apache.spark.sql.Dataset<Row> parquet = ImageTables.read(spark, parquetPath);
            org.apache.spark.sql.Dataset<Row> table = parquet.repartition(cores).cache();
            table.count();
            return measure(spark, modelBytes, x, table, parquet);
        } finally {
            spark.stop();
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder())
                        .forEach(f -> f.toFile().delete());
            }
        }
    }

    private int measure(
            SparkSession spark,
            byte[] modelBytes,
            float[][] x,
            org.apache.spark.sql.Dataset<Row> table,
            org.apache.spark.sql.Dataset<Row> parquet)
            throws Exception {
        int n = x.length;
        System.out.printf(
                Locale.ROOT,
                "%d rows, %d cores, seed MNIST CNN; cached table: %d partitions, Parquet: %d partitions;"
                        + " rows/s (process CPU us per row), median of %d%n%n",
                n,
                cores,
                table.rdd().getNumPartitions(),
                parquet.rdd().getNumPartitions(),
                repeats);
        StringBuilder header = new StringBuilder("| batch |");
        StringBuilder rule = new StringBuilder("| ---: |");
        for (Kind k : kinds) {
            header.append(' ')
                    .append(k.title.replace("T", String.valueOf(cores)))
                    .append(" |");
            rule.append(" ---: |");
            if (k.spark()) {
                header.append(" / best runtime |");
                rule.append(" ---: |");
            }
        }
        System.out.println(header);
        System.out.println(rule);
        try (Model shared = Model.load(
                        modelBytes,
                        "bench",
                        ModelOptions.builder().intraOpThreads(1).build());
                Model parallel = Model.load(
                        modelBytes,
                        "bench",
                        ModelOptions.builder().intraOpThreads(cores).build())) {
            // the callers' threads live as long as the benchmark, as Spark's task threads do
            ExecutorService pool = Executors.newFixedThreadPool(cores);
            try {
                for (int batch : batches) {
                    ForgeModelTransformer scorer = new ForgeModelTransformer()
                            .setModel(modelBytes)
                            .setBatchSize(batch)
                            .setIntraOpThreads(1);
                    Map<Kind, Callable<Double>> runs = new EnumMap<>(Kind.class);
                    runs.put(Kind.RUNTIME, () -> runtime(pool, shared, x, batch, cores));
                    runs.put(Kind.RUNTIME_THREADS, () -> runtime(pool, parallel, x, batch, 1));
                    runs.put(Kind.SPARK, () -> spark(scorer, table));
                    runs.put(Kind.SPARK_PARQUET, () -> spark(scorer, parquet));
                    ForgeModelTransformer dropping = scorer.copy(new ParamMap()).setKeepInputCol(false);
                    runs.put(Kind.SPARK_DROP, () -> spark(dropping, table));
                    runs.put(Kind.NO_MODEL, () -> passThrough(table));
                    runs.put(Kind.ROW_API, () -> rowPassThrough(table));
                    Map<Kind, double[]> wall = new EnumMap<>(Kind.class);
                    Map<Kind, double[]> cpu = new EnumMap<>(Kind.class);
                    Map<Kind, Map<String, Double>> groups = new EnumMap<>(Kind.class);
                    for (int w = 0; w < warmup; w++) {
                        for (Kind k : kinds) {
                            runs.get(k).call();
                        }
                    }
                    for (Kind k : kinds) {
                        wall.put(k, new double[repeats]);
                        cpu.put(k, new double[repeats]);
                    }
                    for (int r = 0; r < repeats; r++) {
                        for (Kind k : kinds) {
                            Map<Long, ThreadCpu> t0 = byThread ? threadCpu() : Map.of();
                            long c0 = processCpuNanos();
                            wall.get(k)[r] = runs.get(k).call();
                            long c1 = processCpuNanos();
                            cpu.get(k)[r] = (c1 - c0) / 1e3 / n;
                            if (byThread) {
                                Map<String, Double> g = groups.computeIfAbsent(k, key -> new java.util.TreeMap<>());
                                long seen = 0;
                                for (Map.Entry<Long, ThreadCpu> e : threadCpu().entrySet()) {
                                    ThreadCpu before = t0.get(e.getKey());
                                    long used = e.getValue().nanos - (before == null ? 0 : before.nanos);
                                    g.merge(e.getValue().group(), used / 1e3 / n / repeats, Double::sum);
                                    seen += used;
                                }
                                g.merge("ended threads", (c1 - c0 - seen) / 1e3 / n / repeats, Double::sum);
                            }
                        }
                    }
                    double bestWall = 0;
                    double bestCpu = Double.MAX_VALUE;
                    for (Kind k : List.of(Kind.RUNTIME, Kind.RUNTIME_THREADS)) {
                        if (kinds.contains(k)) {
                            bestWall = Math.max(bestWall, n / median(wall.get(k)));
                            bestCpu = Math.min(bestCpu, median(cpu.get(k)));
                        }
                    }
                    StringBuilder line = new StringBuilder("| " + batch + " |");
                    for (Kind k : kinds) {
                        double rate = n / median(wall.get(k));
                        double perRow = median(cpu.get(k));
                        line.append(String.format(Locale.ROOT, " %.0f (%.1f) |", rate, perRow));
                        if (k.spark()) {
                            line.append(
                                    bestWall > 0
                                            ? String.format(
                                                    Locale.ROOT,
                                                    " %.0f%% (%.0f%%) |",
                                                    100 * rate / bestWall,
                                                    100 * bestCpu / perRow)
                                            : " - |");
                        }
                    }
                    System.out.println(line);
                    for (Map.Entry<Kind, Map<String, Double>> e : groups.entrySet()) {
                        StringBuilder g = new StringBuilder("    " + e.getKey() + " CPU us/row by thread:");
                        e.getValue().forEach((name, us) -> g.append(String.format(Locale.ROOT, " %s %.1f;", name, us)));
                        System.out.println(g);
                    }
                }
            } finally {
                pool.shutdown();
            }
        }
        System.out.println();
        System.out.println("uptime: " + uptime());
        return 0;
    }

    private record ThreadCpu(String name, long nanos) {
        String group() {
            if (name.startsWith("Executor task")) {
                return "Spark tasks";
            }
            if (name.startsWith("pool-")) {
                return "runtime callers";
            }
            if (name.startsWith("GC ") || name.startsWith("G1 ")) {
                return "GC";
            }
            if (name.startsWith("C1 ") || name.startsWith("C2 ")) {
                return "JIT";
            }
            return name.equals("main") ? "driver (main)" : "other threads";
        }
    }

    /**
     * The CPU time of every thread of this process, Java or not (GC, JIT, ONNX Runtime's), by thread id, from
     * {@code /proc/self/task} (Linux; empty elsewhere). Names are cut to 15 characters by the kernel.
     */
    static Map<Long, ThreadCpu> threadCpu() {
        Map<Long, ThreadCpu> out = new java.util.HashMap<>();
        java.io.File[] tasks = new java.io.File("/proc/self/task").listFiles();
        if (tasks == null) {
            return out;
        }
        for (java.io.File t : tasks) {
            try {
                String stat = Files.readString(t.toPath().resolve("stat"));
                int open = stat.indexOf('(');
                int close = stat.lastIndexOf(')');
                String[] f = stat.substring(close + 2).split(" ");
                // fields 14 and 15 of stat (utime, stime), in clock ticks of 10 ms
                long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
                out.put(
                        Long.parseLong(t.getName()),
                        new ThreadCpu(stat.substring(open + 1, close), ticks * 10_000_000L));
            } catch (java.io.IOException | RuntimeException e) {
                // the thread ended while being read
            }
        }
        return out;
    }

    /** The CPU time of this whole process (every thread: tasks, driver, ONNX Runtime's threads, GC, JIT). */
    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** Seconds to score every row in batches, the rows split between {@code callers} threads. */
    static double runtime(ExecutorService pool, Model model, float[][] x, int batch, int callers) throws Exception {
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
