package dev.forge.spark.data;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Datasets;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The table form of an image data set that Forge's Spark jobs share (scoring and training alike): one row per
 * sample with the columns
 *
 * <ul>
 *   <li>{@code id} (long): the sample's index in the data set,
 *   <li>{@code image} (array&lt;float&gt;): the sample's {@code [C, H, W]} tensor flattened row-major, with
 *       exactly the values Forge's own data loader feeds the model ({@link Dataset#copySample}: MNIST's bytes
 *       as {@code v / 255f}, CIFAR-10 normalized, ...),
 *   <li>{@code label} (int, optional): the class index.
 * </ul>
 *
 * <pre>{@code
 * ImageTables.write(spark, "mnist", ImageTables.MNIST_SHAPE, "test", "/data/mnist-test.parquet", 0);
 * Dataset<Row> rows = ImageTables.read(spark, "/data/mnist-test.parquet");
 * }</pre>
 */
public final class ImageTables {
    /** The id column. */
    public static final String ID = "id";
    /** The image column. */
    public static final String IMAGE = "image";
    /** The label column. */
    public static final String LABEL = "label";
    /** MNIST's and Fashion-MNIST's sample shape. */
    public static final long[] MNIST_SHAPE = {1, 28, 28};
    /** How many rows {@link #write} hands Spark at a time (bounds the driver's memory for large sets). */
    static final int CHUNK_ROWS = 10_000;

    private ImageTables() {}

    /**
     * The schema of an image table.
     *
     * @param withLabel whether the table has the {@code label} column
     * @return {@code id long, image array<float>, [label int]}
     */
    public static StructType schema(boolean withLabel) {
        List<StructField> fields = new ArrayList<>();
        fields.add(DataTypes.createStructField(ID, DataTypes.LongType, false));
        fields.add(DataTypes.createStructField(IMAGE, DataTypes.createArrayType(DataTypes.FloatType, false), false));
        if (withLabel) {
            fields.add(DataTypes.createStructField(LABEL, DataTypes.IntegerType, false));
        }
        return DataTypes.createStructType(fields);
    }

    /**
     * Opens one split of a data set by the {@code forge} command line's spec ({@link Datasets#open}: {@code
     * mnist}, {@code fashion-mnist[:DIR]}, {@code cifar10:DIR}, {@code folder:DIR}, {@code npy:...}).
     *
     * @param spec the data set
     * @param sampleShape the model's input without the batch axis, e.g. {@link #MNIST_SHAPE}
     * @param split {@code train} or {@code test}
     * @return the split, normalized as the data loader would feed it
     */
    public static Dataset open(String spec, long[] sampleShape, String split) {
        Objects.requireNonNull(split, "split");
        Datasets.Split s = Datasets.open(spec, sampleShape, 0, null);
        return switch (split) {
            case "train" -> s.train();
            case "test" -> s.test();
            default -> throw new IllegalArgumentException("split '" + split + "': expected train or test");
        };
    }

    /**
     * Rows {@code [from, to)} of a data set as a DataFrame in this schema (built on the driver: for tables
     * of a few hundred MB; {@link #write} goes through it in chunks).
     *
     * @param spark the session
     * @param data the data set
     * @param from the first sample
     * @param to one past the last sample
     * @return the rows, with {@code label} when the data set is a classification set
     */
    public static org.apache.spark.sql.Dataset<Row> dataFrame(SparkSession spark, Dataset data, int from, int to) {
        Objects.requireNonNull(spark, "spark");
        Objects.requireNonNull(data, "data");
        if (from < 0 || to > data.size() || from > to) {
            throw new IllegalArgumentException(
                    "rows [" + from + ", " + to + ") are not within the data set's " + data.size() + " samples");
        }
        boolean labels = data.isClassification();
        int n = (int) data.sampleSize();
        List<Row> rows = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
            float[] x = new float[n];
            data.copySample(i, x, 0);
            rows.add(labels ? RowFactory.create((long) i, x, (int) data.label(i)) : RowFactory.create((long) i, x));
        }
        return spark.createDataFrame(rows, schema(labels));
    }

    /**
     * Writes the first {@code limit} samples of one split of a data set to a Parquet table in this schema.
     * The table appears at {@code path} complete or not at all: it is written next to it under a temporary
     * name and renamed when done.
     *
     * @param spark the session
     * @param spec the data set ({@link #open})
     * @param sampleShape the model's input without the batch axis
     * @param split {@code train} or {@code test}
     * @param path the table's directory (any Hadoop file system); must not exist
     * @param limit how many samples (the first ones), 0 for all
     * @return the number of rows written
     */
    public static long write(
            SparkSession spark, String spec, long[] sampleShape, String split, String path, int limit) {
        return write(spark, open(spec, sampleShape, split), path, limit);
    }

    /**
     * Writes the first {@code limit} samples of a data set to a Parquet table in this schema, atomically as
     * {@link #write(SparkSession, String, long[], String, String, int)}.
     *
     * @return the number of rows written
     */
    public static long write(SparkSession spark, Dataset data, String path, int limit) {
        if (limit < 0) {
            throw new IllegalArgumentException("limit must be 0 (all) or positive, got " + limit);
        }
        int n = limit == 0 ? data.size() : Math.min(limit, data.size());
        Path target = new Path(path);
        Path tmp = new Path(target.getParent(), "." + target.getName() + "." + UUID.randomUUID() + ".tmp");
        FileSystem fs = fileSystem(spark, target);
        try {
            if (fs.exists(target)) {
                throw new IllegalArgumentException(target + " already exists; remove it or write elsewhere");
            }
            for (int from = 0; from < n; from += CHUNK_ROWS) {
                dataFrame(spark, data, from, Math.min(n, from + CHUNK_ROWS))
                        .write()
                        .mode(from == 0 ? SaveMode.ErrorIfExists : SaveMode.Append)
                        .parquet(tmp.toString());
            }
            commit(fs, tmp, target);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(fs, tmp);
        }
        return n;
    }

    /**
     * Reads an image table and checks its schema.
     *
     * @param spark the session
     * @param path the Parquet table
     * @return its rows
     * @throws IllegalArgumentException when a column is missing or of another type
     */
    public static org.apache.spark.sql.Dataset<Row> read(SparkSession spark, String path) {
        org.apache.spark.sql.Dataset<Row> rows = spark.read().parquet(path);
        requireImageTable(rows.schema(), path);
        return rows;
    }

    /**
     * Checks that a schema has {@code id long} and {@code image array<float>} (and {@code label int} when it
     * has a label column).
     *
     * @param schema the schema
     * @param source the table, for messages
     * @throws IllegalArgumentException naming the column, its type and the expected one
     */
    public static void requireImageTable(StructType schema, String source) {
        requireColumn(schema, source, ID, DataTypes.LongType);
        requireColumn(schema, source, IMAGE, DataTypes.createArrayType(DataTypes.FloatType));
        if (Arrays.asList(schema.fieldNames()).contains(LABEL)) {
            requireColumn(schema, source, LABEL, DataTypes.IntegerType);
        }
    }

    private static void requireColumn(StructType schema, String source, String name, DataType type) {
        if (!Arrays.asList(schema.fieldNames()).contains(name)) {
            throw new IllegalArgumentException(source + ": no column '" + name + "' (" + type.simpleString()
                    + "); its columns are " + Arrays.toString(schema.fieldNames())
                    + ". An image table has id long, image array<float>, label int (optional)");
        }
        DataType actual = schema.apply(name).dataType();
        boolean ok = type instanceof ArrayType at
                ? actual instanceof ArrayType aa && aa.elementType().equals(at.elementType())
                : actual.equals(type);
        if (!ok) {
            throw new IllegalArgumentException(source + ": column '" + name + "' is " + actual.simpleString()
                    + ", expected " + type.simpleString());
        }
    }

    /** The Hadoop file system of a path, with the session's configuration. */
    public static FileSystem fileSystem(SparkSession spark, Path path) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        try {
            return path.getFileSystem(conf);
        } catch (IOException e) {
            throw new IllegalStateException("no file system for " + path + ": " + e.getMessage(), e);
        }
    }

    /** Renames a finished table into place; fails when the target appeared meanwhile. */
    public static void commit(FileSystem fs, Path tmp, Path target) throws IOException {
        if (fs.exists(target)) {
            throw new IOException(target + " appeared while the table was being written; nothing was replaced");
        }
        if (!fs.rename(tmp, target)) {
            throw new IOException("cannot rename " + tmp + " to " + target);
        }
    }

    /** Deletes a temporary table if it is still there. */
    public static void deleteQuietly(FileSystem fs, Path tmp) {
        try {
            if (fs.exists(tmp)) {
                fs.delete(tmp, true);
            }
        } catch (IOException ignored) {
            // a leftover temporary directory is harmless: its name starts with '.', so readers skip it
        }
    }
}
