package dev.forge.spark.train;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.size;

import dev.forge.compiler.train.TrainingGraph;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * The table a {@link SparkTrainer} trains on or evaluates: its columns and rows checked before any work (the
 * first bad row named by its id), then split into the workers' persisted {@link Shard}s.
 */
final class TrainingTable {
    private TrainingTable() {}

    /** The net's input shape without the batch axis; every dimension must be fixed. */
    static long[] sampleShape(TrainingGraph tg) {
        long[] in = tg.graph().type(tg.dataInput()).shape().toArrayWithWildcards();
        long[] shape = Arrays.copyOfRange(in, 1, in.length);
        for (long d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException("SparkTrainer: the net's input " + Arrays.toString(in)
                        + " must have a fixed size apart from the batch axis");
            }
        }
        return shape;
    }

    /** Checks the columns, their types and every row (the first bad row is named by its id). */
    static void check(Dataset<Row> rows, String what, long[] sampleShape, int sampleSize, int classes) {
        StructType schema = rows.schema();
        String expected = "it needs id (long, unique), image (array<float>: the " + Arrays.toString(sampleShape)
                + " tensor flattened, " + sampleSize + " values) and label (int, 0.." + (classes - 1) + ")";
        requireColumn(schema, "id", what, expected, t -> t == DataTypes.LongType || t == DataTypes.IntegerType);
        requireColumn(
                schema,
                "image",
                what,
                expected,
                t -> t instanceof ArrayType a
                        && (a.elementType() == DataTypes.FloatType || a.elementType() == DataTypes.DoubleType));
        requireColumn(schema, "label", what, expected, t -> t == DataTypes.IntegerType || t == DataTypes.LongType);
        Column bad = col("id")
                .isNull()
                .or(col("image").isNull())
                .or(size(col("image")).notEqual(lit(sampleSize)))
                .or(col("label").isNull())
                .or(col("label").lt(0))
                .or(col("label").geq(classes));
        List<Row> first = rows.filter(bad)
                .select(col("id"), size(col("image")), col("label"))
                .limit(1)
                .collectAsList();
        if (!first.isEmpty()) {
            Row r = first.get(0);
            String id = r.isNullAt(0) ? "with a null id" : "id " + r.get(0);
            String problem;
            if (r.isNullAt(1) || r.getInt(1) < 0) {
                problem = "image is null";
            } else if (r.getInt(1) != sampleSize) {
                problem = "image has " + r.getInt(1) + " values, the net's input " + Arrays.toString(sampleShape)
                        + " needs " + sampleSize;
            } else if (r.isNullAt(2)) {
                problem = "label is null";
            } else if (!r.isNullAt(0)) {
                problem = "label " + r.get(2) + " is outside 0.." + (classes - 1);
            } else {
                problem = "id is null";
            }
            throw new IllegalArgumentException("SparkTrainer: " + what + " row " + id + ": " + problem);
        }
    }

    private static void requireColumn(
            StructType schema, String name, String what, String expected, java.util.function.Predicate<DataType> ok) {
        StructField f = Arrays.stream(schema.fields())
                .filter(x -> x.name().equals(name))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("SparkTrainer: the " + what + " table has no column '"
                        + name + "'; " + expected + "; its columns are " + Arrays.toString(schema.fieldNames())));
        if (!ok.test(f.dataType())) {
            throw new IllegalArgumentException("SparkTrainer: the " + what + " table's column '" + name + "' is "
                    + f.dataType().simpleString() + "; " + expected);
        }
    }

    /**
     * Splits the rows into {@code workers} shards as {@link ShardPlan} says: sort by id, rank, deal ranks round
     * robin, pack each worker's rows in rank order. Persisted: every round reads the same shards.
     */
    static JavaRDD<Shard> shards(Dataset<Row> rows, int workers, int sampleSize) {
        JavaRDD<Row> typed = rows.select(
                        col("id").cast("long"),
                        col("image").cast("array<float>"),
                        col("label").cast("int"))
                .javaRDD();
        JavaRDD<Shard> shards = typed.mapToPair(r -> new Tuple2<>(r.getLong(0), sample(r, -1)))
                .sortByKey(true, workers)
                .mapPartitions(TrainingTable::uniqueIds)
                .zipWithIndex()
                .mapToPair(t ->
                        new Tuple2<>(t._2(), new Shard.Sample(t._2(), t._1().id(), t._1().image(), t._1().label())))
                .partitionBy(new RankPartitioner(workers))
                .mapPartitionsWithIndex(
                        (index, it) -> {
                            List<Shard.Sample> samples = new ArrayList<>();
                            while (it.hasNext()) {
                                samples.add(it.next()._2());
                            }
                            return List.of(Shard.pack(index, samples, sampleSize))
                                    .iterator();
                        },
                        true);
        shards.persist(StorageLevel.MEMORY_AND_DISK());
        return shards;
    }

    /** The samples of a sorted partition (equal ids are adjacent in it), refusing an id seen twice. */
    private static java.util.Iterator<Shard.Sample> uniqueIds(java.util.Iterator<Tuple2<Long, Shard.Sample>> sorted) {
        return new java.util.Iterator<>() {
            private long previous;
            private boolean first = true;

            @Override
            public boolean hasNext() {
                return sorted.hasNext();
            }

            @Override
            public Shard.Sample next() {
                Tuple2<Long, Shard.Sample> t = sorted.next();
                if (!first && t._1() == previous) {
                    throw new IllegalArgumentException("SparkTrainer: id " + previous + " occurs more than once; ids"
                            + " must be unique (they fix each row's shard and its order)");
                }
                first = false;
                previous = t._1();
                return t._2();
            }
        };
    }

    private static Shard.Sample sample(Row r, long rank) {
        List<Object> values = r.getList(1);
        float[] image = new float[values.size()];
        for (int i = 0; i < image.length; i++) {
            Object v = values.get(i);
            if (v == null) {
                throw new IllegalArgumentException(
                        "SparkTrainer: row id " + r.getLong(0) + ": image value " + i + " is null");
            }
            image[i] = ((Number) v).floatValue();
        }
        return new Shard.Sample(rank, r.getLong(0), image, r.getInt(2));
    }

    /** Sends the row of rank r to worker {@link ShardPlan#workerOf}. */
    static final class RankPartitioner extends Partitioner {
        private static final long serialVersionUID = 1L;
        private final int workers;

        RankPartitioner(int workers) {
            this.workers = workers;
        }

        @Override
        public int numPartitions() {
            return workers;
        }

        @Override
        public int getPartition(Object key) {
            return ShardPlan.workerOf((Long) key, workers);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RankPartitioner p && p.workers == workers;
        }

        @Override
        public int hashCode() {
            return workers;
        }
    }
}
