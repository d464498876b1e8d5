package dev.forge.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Mnist;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Export;
import dev.forge.models.MnistCnn;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Prediction;
import dev.forge.runtime.Tensor;
import dev.forge.spark.data.ImageTables;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.imageio.ImageIO;
import org.apache.spark.SparkException;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.feature.SQLTransformer;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transformer against the runtime it wraps: the same floats as {@link Model#run} and the same classes as
 * {@link Model#topK} on the same rows, as a Pipeline stage saved and loaded, with malformed rows failing with
 * their id or routed to the error column, and one model load per JVM for all the tasks.
 */
class ForgeModelTransformerTest {
    static final int ROWS = 120;
    static final String LABELS = "zero,one,two,three,four,five,six,seven,eight,nine";

    static SparkSession spark;
    static byte[] model;
    static Model runtime;

    @TempDir
    Path dir;

    @BeforeAll
    static void setUp() {
        spark = SparkTestSession.get();
        // an untrained seed CNN (seeded weights) is as good as a trained one for comparing two ways to run it
        model = model("labels");
        runtime = Model.load(
                model, "test model", ModelOptions.builder().intraOpThreads(1).build());
    }

    @AfterAll
    static void tearDown() {
        runtime.close();
    }

    /** The seed CNN's inference model, with class labels and a tag that makes its bytes (its cache key) unique. */
    static byte[] model(String tag) {
        return OnnxWriter.toBytes(
                Export.inferenceModel(MnistCnn.build(0), Map.of(), Map.of("class_labels", LABELS, "test_tag", tag)));
    }

    /** MNIST's test set, loaded once. */
    private static final class Mnist10k {
        static final Dataset TEST = Mnist.test();
    }

    static org.apache.spark.sql.Dataset<Row> images(int rows, int partitions) {
        return ImageTables.dataFrame(SparkTestSession.get(), Mnist10k.TEST, 0, rows)
                .repartition(partitions);
    }

    static float[] sample(int i) {
        float[] x = new float[784];
        Mnist10k.TEST.copySample(i, x, 0);
        return x;
    }

    static float[] floats(Row row, String column) {
        List<Float> v = row.getList(row.fieldIndex(column));
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i);
        }
        return out;
    }

    static ForgeModelTransformer scorer(String output) {
        return new ForgeModelTransformer().setModel(model).setOutput(output).setBatchSize(7);
    }

    @Test
    void scores_are_the_runtimes_floats_bit_for_bit() {
        List<Row> rows = scorer("scores").transform(images(ROWS, 3)).collectAsList();
        assertEquals(ROWS, rows.size());
        for (Row r : rows) {
            int id = (int) r.getLong(0);
            float[] expected = runtime.run(Tensor.of(sample(id), 1, 1, 28, 28)).toFloatArray();
            assertArrayEquals(expected, floats(r, "prediction"), "row " + id);
        }
    }

    @Test
    void labels_probabilities_and_topk_are_the_runtimes_top_k() {
        org.apache.spark.sql.Dataset<Row> in = images(ROWS, 2);
        org.apache.spark.sql.Dataset<Row> scored = scorer("label")
                .transform(in)
                .join(scorer("probabilities").setOutputCol("p").transform(in).select("id", "p"), "id")
                .join(scorer("topk").setK(3).setOutputCol("top").transform(in).select("id", "top"), "id");
        assertEquals(DataTypes.IntegerType, scored.schema().apply("prediction").dataType());
        assertEquals(
                "array<struct<index:int,label:string,probability:float>>",
                scored.schema().apply("top").dataType().simpleString());
        List<Row> rows = scored.collectAsList();
        assertEquals(ROWS, rows.size());
        for (Row r : rows) {
            int id = (int) r.getLong(r.fieldIndex("id"));
            List<Prediction> all =
                    runtime.topK(Tensor.of(sample(id), 1, 1, 28, 28), 10).get(0);
            assertEquals(all.get(0).index(), r.getInt(r.fieldIndex("prediction")), "row " + id);
            float[] p = floats(r, "p");
            for (Prediction c : all) {
                assertEquals(c.probability(), p[c.index()], "row " + id + " class " + c.index());
            }
            List<Row> top = r.getList(r.fieldIndex("top"));
            assertEquals(3, top.size());
            for (int j = 0; j < 3; j++) {
                assertEquals(all.get(j).index(), top.get(j).getInt(0));
                assertEquals(LABELS.split(",")[all.get(j).index()], top.get(j).getString(1));
                assertEquals(all.get(j).probability(), top.get(j).getFloat(2));
            }
        }
    }

    @Test
    void works_as_a_pipeline_stage_saved_and_loaded() throws Exception {
        Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {
            new SQLTransformer().setStatement("SELECT id, image, label FROM __THIS__ WHERE id % 2 = 0"),
            scorer("label").setOutputCol("predicted").setBatchSize(16)
        });
        org.apache.spark.sql.Dataset<Row> in = images(40, 2);
        PipelineModel fitted = pipeline.fit(in);
        String path = dir.resolve("pipeline").toString();
        fitted.save(path);
        PipelineModel loaded = PipelineModel.load(path);

        ForgeModelTransformer stage = (ForgeModelTransformer) loaded.stages()[1];
        assertEquals("predicted", stage.getOutputCol());
        assertEquals(16, stage.getBatchSize());
        assertArrayEquals(model, stage.getModel());
        List<Row> before = fitted.transform(in).orderBy("id").collectAsList();
        List<Row> after = loaded.transform(in).orderBy("id").collectAsList();
        assertEquals(20, after.size());
        assertEquals(before, after);
        for (Row r : after) {
            Tensor x = Tensor.of(sample((int) r.getLong(0)), 1, 1, 28, 28);
            assertEquals(runtime.topK(x, 1).get(0).get(0).index(), r.getInt(r.fieldIndex("predicted")));
        }
    }

    /** Rows 0..9 of MNIST with id 3 too short, id 5 null and id 7 holding a NaN. */
    static org.apache.spark.sql.Dataset<Row> withMalformedRows() {
        StructType schema = new StructType()
                .add("id", DataTypes.LongType)
                .add("image", DataTypes.createArrayType(DataTypes.FloatType, false), true);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            float[] x = sample(i);
            if (i == 7) {
                x[300] = Float.NaN;
            }
            rows.add(RowFactory.create((long) i, i == 3 ? new float[783] : i == 5 ? null : x));
        }
        return SparkTestSession.get().createDataFrame(rows, schema).repartition(2);
    }

    @Test
    void a_malformed_row_fails_the_job_naming_its_id_and_what_is_wrong() {
        for (int bad : new int[] {3, 5, 7}) {
            org.apache.spark.sql.Dataset<Row> in = withMalformedRows().where("id < 3 OR id = " + bad);
            SparkException e = assertThrows(
                    SparkException.class, () -> scorer("label").transform(in).collectAsList());
            String m = e.getMessage();
            assertTrue(m.contains("MalformedRowException") && m.contains("row id=" + bad + ":"), m);
            String reason = switch (bad) {
                case 3 -> "column 'image' has 783 values, expected 784";
                case 5 -> "column 'image' is null";
                default -> "element 300 is NaN";
            };
            assertTrue(m.contains(reason), m);
        }
    }

    @Test
    void with_an_error_column_malformed_rows_get_the_reason_and_a_null_prediction() {
        List<Row> rows = scorer("scores")
                .setErrorCol("error")
                .setBatchSize(4)
                .transform(withMalformedRows())
                .orderBy("id")
                .collectAsList();
        assertEquals(10, rows.size());
        for (Row r : rows) {
            int id = (int) r.getLong(0);
            int p = r.fieldIndex("prediction");
            int e = r.fieldIndex("error");
            if (id == 3 || id == 5 || id == 7) {
                assertTrue(r.isNullAt(p), "row " + id);
                assertTrue(r.getString(e).startsWith("row id=" + id + ": column 'image' "), r.getString(e));
            } else {
                assertNull(r.get(e), "row " + id);
                float[] expected =
                        runtime.run(Tensor.of(sample(id), 1, 1, 28, 28)).toFloatArray();
                assertArrayEquals(expected, floats(r, "prediction"), "row " + id);
            }
        }
    }

    @Test
    void when_the_column_type_admits_null_elements_each_row_is_checked_for_them() {
        // array<float> with containsNull = true (ImageTables' own tables say false, and skip this check): nulls in
        // the first and in a later word of Spark's null bits are found; string ids name the rows
        StructType schema = new StructType()
                .add("id", DataTypes.StringType)
                .add("image", DataTypes.createArrayType(DataTypes.FloatType, true));
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            List<Float> x = new ArrayList<>();
            for (float v : sample(i)) {
                x.add(v);
            }
            if (i == 2) {
                x.set(5, null);
            } else if (i == 4) {
                x.set(700, null);
            }
            rows.add(RowFactory.create("img-" + i, x));
        }
        List<Row> scored = scorer("scores")
                .setErrorCol("error")
                .setBatchSize(4)
                .transform(spark.createDataFrame(rows, schema).repartition(2))
                .orderBy("id")
                .collectAsList();
        assertEquals(6, scored.size());
        for (Row r : scored) {
            int i = Integer.parseInt(r.getString(0).substring(4));
            String error = r.getString(r.fieldIndex("error"));
            if (i == 2 || i == 4) {
                assertEquals("row id=img-" + i + ": column 'image' element " + (i == 2 ? 5 : 700) + " is null", error);
                assertTrue(r.isNullAt(r.fieldIndex("prediction")));
            } else {
                assertNull(error, "row " + i);
                float[] expected =
                        runtime.run(Tensor.of(sample(i), 1, 1, 28, 28)).toFloatArray();
                assertArrayEquals(expected, floats(r, "prediction"), "row " + i);
            }
        }
    }

    @Test
    void without_the_input_column_the_output_is_the_other_columns_and_the_same_predictions() {
        org.apache.spark.sql.Dataset<Row> in = images(ROWS, 3);
        org.apache.spark.sql.Dataset<Row> dropped =
                scorer("label").setKeepInputCol(false).transform(in);
        assertEquals(
                "struct<id:bigint,label:int,prediction:int>", dropped.schema().simpleString());
        List<Row> kept = scorer("label").transform(in).orderBy("id").collectAsList();
        List<Row> rows = dropped.orderBy("id").collectAsList();
        assertEquals(ROWS, rows.size());
        for (int i = 0; i < ROWS; i++) {
            Row k = kept.get(i);
            assertEquals(RowFactory.create(k.get(0), k.get(2), k.get(3)), rows.get(i), "row " + k.get(0));
        }
        // the prediction may take the dropped column's name; malformed rows are still named by their id
        List<Row> replaced = scorer("scores")
                .setKeepInputCol(false)
                .setOutputCol("image")
                .setErrorCol("error")
                .transform(withMalformedRows())
                .orderBy("id")
                .collectAsList();
        assertEquals(10, replaced.size());
        for (Row r : replaced) {
            int id = (int) r.getLong(0);
            assertEquals(3, r.size());
            if (id == 3 || id == 5 || id == 7) {
                assertTrue(r.getString(2).startsWith("row id=" + id + ": column 'image' "), r.getString(2));
            } else {
                float[] expected =
                        runtime.run(Tensor.of(sample(id), 1, 1, 28, 28)).toFloatArray();
                assertArrayEquals(expected, floats(r, "image"), "row " + id);
            }
        }
    }

    @Test
    void every_task_of_the_jvm_shares_one_loaded_model() {
        byte[] fresh = model("cache " + UUID.randomUUID());
        long before = ExecutorModels.loads();
        List<Row> rows = new ForgeModelTransformer()
                .setModel(fresh)
                .setBatchSize(5)
                .transform(images(80, 8))
                .collectAsList();
        assertEquals(80, rows.size());
        assertEquals(1, ExecutorModels.loads() - before, "8 tasks on local[2], one load");
    }

    @Test
    void png_bytes_and_double_arrays_score_as_the_float_rows_they_encode() throws Exception {
        StructType schema = new StructType()
                .add("id", DataTypes.LongType)
                .add("png", DataTypes.BinaryType)
                .add("doubles", DataTypes.createArrayType(DataTypes.DoubleType));
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            float[] x = sample(i);
            BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
            double[] d = new double[784];
            for (int j = 0; j < 784; j++) {
                img.getRaster().setSample(j % 28, j / 28, 0, Math.round(x[j] * 255));
                d[j] = x[j];
            }
            ByteArrayOutputStream png = new ByteArrayOutputStream();
            ImageIO.write(img, "png", png);
            rows.add(RowFactory.create((long) i, png.toByteArray(), d));
        }
        org.apache.spark.sql.Dataset<Row> in = spark.createDataFrame(rows, schema);
        List<Row> fromPng = scorer("scores").setInputCol("png").transform(in).collectAsList();
        List<Row> fromDoubles =
                scorer("scores").setInputCol("doubles").transform(in).collectAsList();
        for (int i = 0; i < 12; i++) {
            float[] expected = runtime.run(Tensor.of(sample(i), 1, 1, 28, 28)).toFloatArray();
            assertArrayEquals(expected, floats(fromPng.get(i), "prediction"), "png row " + i);
            assertArrayEquals(expected, floats(fromDoubles.get(i), "prediction"), "double row " + i);
        }
    }

    @Test
    void a_wrong_input_column_or_k_is_refused_before_any_task_runs() {
        org.apache.spark.sql.Dataset<Row> in = images(4, 1);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> scorer("label").setInputCol("pixels").transform(in));
        assertTrue(e.getMessage().contains("no input column 'pixels'"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> scorer("label").setInputCol("label").transform(in));
        assertTrue(e.getMessage().contains("input column 'label' is int"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class, () -> scorer("topk").setK(11).transform(in));
        assertTrue(e.getMessage().contains("k = 11 but the model has 10 classes"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> scorer("label").setOutputCol("id").transform(in));
        assertTrue(e.getMessage().contains("already has a column 'id'"), e.getMessage());
    }
}
