package dev.forge.spark.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Mnist;
import dev.forge.spark.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageTablesTest {
    @TempDir
    Path dir;

    @Test
    void mnist_rows_round_trip_through_parquet_with_the_data_loaders_values() throws Exception {
        SparkSession spark = SparkTestSession.get();
        String table = dir.resolve("mnist-test.parquet").toString();
        assertEquals(300, ImageTables.write(spark, "mnist", ImageTables.MNIST_SHAPE, "test", table, 300));

        List<Row> rows = ImageTables.read(spark, table).orderBy(ImageTables.ID).collectAsList();
        Dataset test = Mnist.test();
        assertEquals(300, rows.size());
        float[] expected = new float[784];
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            assertEquals(i, r.getLong(0));
            test.copySample(i, expected, 0);
            List<Float> image = r.getList(1);
            float[] actual = new float[image.size()];
            for (int j = 0; j < actual.length; j++) {
                actual[j] = image.get(j);
            }
            assertArrayEquals(expected, actual, "row " + i);
            assertEquals(test.label(i), r.getInt(2));
        }
        assertTrue(Files.isDirectory(Path.of(table)));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(Path.of(table)), files.toList(), "no temporary table is left");
        }
    }

    @Test
    void an_existing_table_is_not_overwritten() throws Exception {
        Path table = Files.createDirectory(dir.resolve("taken.parquet"));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ImageTables.write(
                        SparkTestSession.get(), "mnist", ImageTables.MNIST_SHAPE, "test", table.toString(), 10));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        try (var files = Files.list(table)) {
            assertFalse(files.findAny().isPresent());
        }
    }

    @Test
    void a_table_without_an_image_column_is_refused_with_its_columns() {
        SparkSession spark = SparkTestSession.get();
        String table = dir.resolve("ids.parquet").toString();
        spark.range(3).write().parquet(table);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ImageTables.read(spark, table));
        assertTrue(
                e.getMessage().contains("no column 'image'") && e.getMessage().contains("[id]"), e.getMessage());
    }
}
