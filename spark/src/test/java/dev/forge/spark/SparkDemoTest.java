package dev.forge.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's main with the options scripts/spark-demo.sh passes for a short run. */
class SparkDemoTest {
    @TempDir
    Path dir;

    @Test
    void the_demo_trains_on_a_subset_scores_the_test_rows_and_reports_accuracy() {
        SparkDemo.main(
                new String[] {"--work", dir.toString(), "--train-rows", "3000", "--test-rows", "500", "--epochs", "1"});
        SparkDemo.Result r = SparkDemo.last;
        assertEquals(500, r.rows());
        assertTrue(Files.isRegularFile(r.model()));
        assertTrue(Files.isDirectory(Path.of(r.scored())));
        // one epoch on 2,700 images: a working pipeline is well above chance (0.1); a broken one is not
        assertTrue(r.accuracy() > 0.8, "accuracy " + r.accuracy());
    }
}
