package dev.forge.spark.train;

import java.io.Serializable;

/**
 * What a round's tasks read besides their shard, broadcast once per round: the averaged state and where the
 * round stands. A task is a pure function of this, its shard and the {@link Recipe}, so a retried task returns
 * exactly what the first attempt would have.
 *
 * @param names state tensor names, in the training graph's order
 * @param state their values
 * @param step optimizer steps completed before the round
 * @param epoch 0-based epoch
 * @param firstBatch index of the round's first batch within the epoch
 * @param steps steps of this round (k, or fewer in an epoch's last round)
 * @param workerBatch rows per step per worker
 * @param lrs the learning rate of each of the round's steps (the driver's schedule, by global step)
 * @param shuffle whether the worker visits its shard in the epoch's seeded order ({@link ShardPlan#order}) or in
 *     rank order
 * @param round 0-based global round number
 * @param failWorker test hook: the worker whose first attempt fails in the middle of round {@code failRound}, or -1
 * @param failRound the round of the injected failure
 */
record RoundInput(
        String[] names,
        float[][] state,
        long step,
        int epoch,
        int firstBatch,
        int steps,
        int workerBatch,
        double[] lrs,
        boolean shuffle,
        long round,
        int failWorker,
        long failRound)
        implements Serializable {}
