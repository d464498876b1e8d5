package dev.forge.spark;

import org.apache.spark.sql.SparkSession;

/** One local[2] session shared by the scoring tests of a JVM (starting Spark takes seconds). */
public final class SparkTestSession {
    private static SparkSession spark;

    private SparkTestSession() {}

    /** The shared session, started again if a test stopped it. */
    public static synchronized SparkSession get() {
        if (spark == null || spark.sparkContext().isStopped()) {
            spark = SparkSession.builder()
                    .master("local[2]")
                    .appName("forge-spark-tests")
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.shuffle.partitions", "2")
                    .getOrCreate();
        }
        return spark;
    }
}
