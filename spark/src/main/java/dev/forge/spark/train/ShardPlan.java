package dev.forge.spark.train;

import dev.forge.compiler.data.DataLoader;

/**
 * Which rows a worker trains on, and in which order: the contract {@link SparkTrainer} follows, public so that
 * a run can be replayed in one process (the exactness test does).
 *
 * <ul>
 *   <li>Rows are ranked by their {@code id} (ascending; ids are unique); the row of rank {@code r} belongs to
 *       worker {@code r mod workers}, so shards differ in size by at most one row. A shard keeps its rows in
 *       rank order.
 *   <li>In epoch {@code e}, worker {@code w} visits its shard in the order {@link #order(int, long, int, int)}:
 *       the data loader's seeded shuffle, with a seed of its own per worker.
 *   <li>Every worker takes the same number of batches per epoch, {@link #batchesPerEpoch(int, int)} (the
 *       smallest shard's count of whole batches), so every worker takes the same steps and the step counter
 *       stays identical; round {@code r} of an epoch takes batches {@code r*k} to {@code min((r+1)*k, batches)
 *       - 1}. Rows beyond the last whole batch of a shard wait for the next epoch's shuffle.
 * </ul>
 */
public final class ShardPlan {
    private ShardPlan() {}

    /** The worker that owns the row of rank {@code rank} (0-based position in id order). */
    public static int workerOf(long rank, int workers) {
        return (int) (rank % workers);
    }

    /**
     * The order in which worker {@code worker} visits its {@code shardSize} rows in epoch {@code epoch}: positions
     * in the shard (rank order), shuffled by {@link DataLoader#permutation(int, long, int)} with the seed
     * {@code seed * 0x9E3779B97F4A7C15 + worker}.
     */
    public static int[] order(int shardSize, long seed, int worker, int epoch) {
        return DataLoader.permutation(shardSize, seed * 0x9E3779B97F4A7C15L + worker, epoch);
    }

    /** Whole batches of {@code workerBatch} rows every worker takes per epoch, given the smallest shard. */
    public static int batchesPerEpoch(int smallestShard, int workerBatch) {
        return smallestShard / workerBatch;
    }

    /** Rounds per epoch: {@code ceil(batches / k)}; the last round may take fewer than {@code k} steps. */
    public static int roundsPerEpoch(int batchesPerEpoch, int k) {
        return (batchesPerEpoch + k - 1) / k;
    }
}
