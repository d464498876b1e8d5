package dev.forge.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.spark.data.ImageTables;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScoreParquetTest {
    @TempDir
    Path dir;

    @Test
    void a_parquet_table_is_scored_into_a_new_one_that_appears_only_when_complete() throws Exception {
        SparkSession spark = SparkTestSession.get();
        String in = dir.resolve("in.parquet").toString();
        ImageTables.write(spark, "mnist", ImageTables.MNIST_SHAPE, "test", in, 50);
        Path model = Files.write(dir.resolve("m.onnx"), ForgeModelTransformerTest.model("score-parquet"));
        String out = dir.resolve("out.parquet").toString();

        ScoreParquet.Result r = ScoreParquet.score(
                spark,
                new ForgeModelTransformer()
                        .setModelPath(model.toString())
                        .setOutput("topk")
                        .setK(2),
                in,
                out);
        assertEquals(50, r.rows());
        List<Row> rows = spark.read().parquet(out).collectAsList();
        assertEquals(50, rows.size());
        assertEquals(
                List.of("id", "image", "label", "prediction"),
                List.of(rows.get(0).schema().fieldNames()));
        assertEquals(2, rows.get(0).getList(3).size());
        try (var files = Files.list(dir)) {
            assertEquals(3, files.count(), "in.parquet, m.onnx, out.parquet and no temporary table");
        }

        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ScoreParquet.score(spark, new ForgeModelTransformer().setModelPath(model.toString()), in, out));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
    }

    @Test
    void a_failed_job_leaves_no_table_at_the_output() throws Exception {
        SparkSession spark = SparkTestSession.get();
        String in = dir.resolve("in.parquet").toString();
        ForgeModelTransformerTest.withMalformedRows().write().parquet(in);
        Path model = Files.write(dir.resolve("m.onnx"), ForgeModelTransformerTest.model("score-parquet"));
        String out = dir.resolve("out.parquet").toString();
        assertThrows(
                Exception.class,
                () -> ScoreParquet.score(spark, new ForgeModelTransformer().setModelPath(model.toString()), in, out));
        try (var files = Files.list(dir)) {
            assertEquals(
                    List.of("in.parquet", "m.onnx"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }
}
