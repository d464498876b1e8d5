package dev.forge.spark.train;

import dev.forge.compiler.data.Datasets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * A Forge data set ({@code mnist}, {@code fashion-mnist}, {@code cifar10:DIR}, ... as {@link Datasets#open}
 * resolves it) as a DataFrame in the training convention: {@code id} (long, the sample's index), {@code image}
 * (array&lt;float&gt;, the sample exactly as {@code copySample} gives it to Forge's data loader), {@code label}
 * (int). The rows are made inside the tasks from the data set opened once per JVM, so nothing large passes
 * through the driver: meant for local mode and tests; on a cluster, write the table to Parquet once and read it.
 */
public final class ForgeRows {
    /** The schema of the training convention. */
    public static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.LongType, false)
            .add("image", DataTypes.createArrayType(DataTypes.FloatType, false), false)
            .add("label", DataTypes.IntegerType, false);

    private static final Map<String, Datasets.Split> OPEN = new ConcurrentHashMap<>();

    private ForgeRows() {}

    /**
     * The first {@code limit} samples (all when {@code limit <= 0}) of a data set's train or test split.
     *
     * @param spec a {@link Datasets#open} spec, e.g. {@code mnist}
     * @param sampleShape the model's input without the batch axis, e.g. {@code [1, 28, 28]}
     * @param test the test split instead of the training split
     * @param partitions partitions of the result
     */
    public static Dataset<Row> of(
            SparkSession spark, String spec, long[] sampleShape, boolean test, int limit, int partitions) {
        dev.forge.compiler.data.Dataset data = open(spec, sampleShape, test);
        int n = limit > 0 ? Math.min(limit, data.size()) : data.size();
        List<int[]> ranges = new ArrayList<>();
        int per = (n + partitions - 1) / partitions;
        for (int from = 0; from < n; from += per) {
            ranges.add(new int[] {from, Math.min(n, from + per)});
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        JavaRDD<Row> rows = jsc.parallelize(ranges, Math.max(1, ranges.size())).flatMap(range -> {
            dev.forge.compiler.data.Dataset d = open(spec, sampleShape, test);
            List<Row> out = new ArrayList<>(range[1] - range[0]);
            for (int i = range[0]; i < range[1]; i++) {
                float[] image = new float[d.sampleSize()];
                d.copySample(i, image, 0);
                // a float[] is encoded straight to Spark's array format (a List would be refused outside the driver)
                out.add(RowFactory.create((long) i, image, (int) d.label(i)));
            }
            return out.iterator();
        });
        return spark.createDataFrame(rows, SCHEMA);
    }

    private static dev.forge.compiler.data.Dataset open(String spec, long[] sampleShape, boolean test) {
        Datasets.Split split = OPEN.computeIfAbsent(
                spec + java.util.Arrays.toString(sampleShape), k -> Datasets.open(spec, sampleShape, 10, null));
        return test ? split.test() : split.train();
    }
}
