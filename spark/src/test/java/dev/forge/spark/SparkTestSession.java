package dev.forge.spark;

import org.apache.spark.sql.SparkSession;

/**
 * One local session shared by the module's tests in a JVM (starting Spark takes seconds; {@code getOrCreate}
 * would return another class's session anyway): two cores, and a failed task is tried twice ({@code
 * local[2,2]}), as on a cluster, which the training retry test needs.
 */
public final class SparkTestSession {
    private static SparkSession spark;

    private SparkTestSession() {}

    /** The shared session, started again if a test stopped it. */
    public static synchronized SparkSession get() {
        if (spark == null || spark.sparkContext().isStopped()) {
            spark = SparkSession.builder()
                    .master("local[2,2]")
                    .appName("forge-spark-tests")
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.shuffle.partitions", "2")
                    .getOrCreate();
        }
        return spark;
    }
}
