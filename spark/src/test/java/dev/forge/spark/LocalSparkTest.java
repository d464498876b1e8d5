package dev.forge.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

class LocalSparkTest {
    @Test
    void local_mode_runs_a_job_from_the_maven_dependencies() throws Exception {
        try (SparkSession spark = SparkSession.builder()
                .master("local[2]")
                .appName("forge-local-spark-test")
                .config("spark.ui.enabled", "false")
                .getOrCreate()) {
            assertEquals(4950L, spark.range(100).selectExpr("sum(id)").first().getLong(0));
        }
    }
}
