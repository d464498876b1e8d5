package dev.forge.spark.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Schedule;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.models.MnistCnn;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SparkTrainerTest {
    private static final int SIDE = 6;
    private static final int PIXELS = SIDE * SIDE;
    private static SparkSession spark;

    @BeforeAll
    static void start() {
        // the module's shared session (local[2,2]: a failed task is tried twice, which the retry test needs);
        // a session of its own would be whichever one another test class left active, since getOrCreate
        // returns that
        spark = dev.forge.spark.SparkTestSession.get();
        assertEquals("local[2,2]", spark.sparkContext().master(), "the retry test needs task retries");
    }

    /** A small net without BatchNorm or dropout: Conv 3x3 -> ReLU -> Linear. */
    private static Graph tinyNet(boolean batchNorm) {
        GraphBuilder b = new GraphBuilder("tiny").seed(7);
        Value x = b.input("input", Shape.of("N", 1, SIDE, SIDE));
        x = b.conv2d("conv1", x, Conv2d.of(4, 3));
        if (batchNorm) {
            x = b.batchNorm("bn1", x);
        }
        x = b.relu(x);
        x = b.flatten(x);
        x = b.linear("fc", x, 10);
        return b.output(x, "logits").build();
    }

    /** Rows with ids 0..n-1 given in a scrambled order, random images and labels. */
    private static Dataset<Row> rows(int n, int imageLength) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long id = (i * 37L) % n; // n is never a multiple of 37 here: a permutation of 0..n-1
            rows.add(RowFactory.create(id, image(id, imageLength), (int) (id * 7 % 10)));
        }
        return spark.createDataFrame(rows, ForgeRows.SCHEMA);
    }

    private static List<Float> image(long id, int length) {
        Random r = new Random(id);
        List<Float> v = new ArrayList<>(length);
        for (int j = 0; j < length; j++) {
            v.add((float) r.nextGaussian());
        }
        return v;
    }

    private static float[] imageArray(long id) {
        List<Float> v = image(id, PIXELS);
        float[] a = new float[v.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = v.get(i);
        }
        return a;
    }

    private static float maxDifference(Map<String, Tensor> a, Map<String, Tensor> b) {
        float max = 0;
        for (String name : a.keySet()) {
            float[] x = a.get(name).toFloatArray();
            float[] y = b.get(name).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i] - y[i]));
            }
        }
        return max;
    }

    private static void assertBitIdentical(Map<String, Tensor> a, Map<String, Tensor> b) {
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name).toFloatArray(), b.get(name).toFloatArray(), 0f, name);
        }
    }

    /**
     * Replays {@link ShardPlan} in one process: step r reads the union of the two workers' batches of round r,
     * batch 8 (rows 64, ids 0..63: rank = id, worker w owns ids 2i + w).
     */
    private static Map<String, Tensor> singleProcess(Graph net, Optimizer optimizer, int epochs, long seed) {
        TrainingGraph tg = TrainingGraph.build(net, Loss.CROSS_ENTROPY, optimizer);
        try (Trainer t = new Trainer(tg, 1, seed)) {
            int shard = 32;
            int b = 4;
            for (int e = 0; e < epochs; e++) {
                int[][] order = {ShardPlan.order(shard, seed, 0, e), ShardPlan.order(shard, seed, 1, e)};
                for (int r = 0; r < shard / b; r++) {
                    float[] x = new float[2 * b * PIXELS];
                    long[] y = new long[2 * b];
                    int k = 0;
                    for (int w = 0; w < 2; w++) {
                        for (int i = 0; i < b; i++) {
                            long id = 2L * order[w][r * b + i] + w;
                            System.arraycopy(imageArray(id), 0, x, k * PIXELS, PIXELS);
                            y[k++] = id * 7 % 10;
                        }
                    }
                    t.step(Tensor.of(x, 2 * b, 1, SIDE, SIDE), Tensor.of(y, 2 * b));
                }
            }
            return t.state();
        }
    }

    @Test
    void k_1_momentum_sgd_on_two_workers_equals_single_process_training_on_the_whole_batch() {
        Graph net = tinyNet(false);
        Optimizer momentum = Optimizer.momentum(0.05, 0.9);
        SparkTrainingResult r = SparkTrainer.of(net)
                .optimizer(momentum)
                .batchSize(8)
                .workers(2)
                .localSteps(1)
                .epochs(2)
                .seed(3)
                .fit(rows(64, PIXELS));
        assertEquals(16, r.rounds().size());
        assertEquals(16, r.steps());
        Map<String, Tensor> expected = singleProcess(net, momentum, 2, 3);
        float diff = maxDifference(expected, r.state());
        assertTrue(diff < 1e-5, "parameters and momentum buffers differ by " + diff);
        // and they moved: a trainer that ignored the workers' states would stay at the initial values
        Map<String, Tensor> initial =
                TrainingGraph.build(net, Loss.CROSS_ENTROPY, momentum).initialState();
        assertTrue(maxDifference(initial, r.state()) > 1e-2);
    }

    @Test
    void adam_under_averaging_is_not_single_process_adam() {
        Graph net = tinyNet(false);
        Optimizer adam = Optimizer.adam(0.01);
        SparkTrainingResult r = SparkTrainer.of(net)
                .optimizer(adam)
                .batchSize(8)
                .workers(2)
                .localSteps(1)
                .epochs(1)
                .seed(3)
                .fit(rows(64, PIXELS));
        float diff = maxDifference(singleProcess(net, adam, 1, 3), r.state());
        // the second moment averages g_w^2, not (mean g)^2: the documented departure is far above rounding
        assertTrue(diff > 1e-4, "Adam averaged like SGD: difference " + diff);
    }

    @Test
    void a_task_that_fails_mid_round_is_retried_and_the_run_equals_an_undisturbed_one_bit_for_bit() {
        Graph net = tinyNet(true);
        Dataset<Row> data = rows(64, PIXELS);
        SparkTrainer base = SparkTrainer.of(net)
                .optimizer(Optimizer.adam(0.01))
                .batchSize(8)
                .workers(2)
                .localSteps(3)
                .epochs(2)
                .seed(5);
        SparkTrainingResult undisturbed = base.fit(data);
        int before = RoundTask.injectedFailures();
        SparkTrainingResult retried = base.failFirstAttempt(1, 2).fit(data);
        assertEquals(before + 1, RoundTask.injectedFailures(), "the failure was not injected");
        assertEquals(undisturbed.steps(), retried.steps());
        assertBitIdentical(undisturbed.state(), retried.state());
    }

    @Test
    void resuming_from_a_round_checkpoint_continues_exactly_and_keeps_the_schedule_position(@TempDir Path dir)
            throws Exception {
        Graph net = tinyNet(true);
        Dataset<Row> data = rows(64, PIXELS);
        Dataset<Row> heldOut = rows(24, PIXELS);
        SparkTrainingResult whole = SparkTrainer.of(net)
                .optimizer(Optimizer.adam(0.01))
                .schedule(Schedule.warmupCosine(4))
                .batchSize(8)
                .workers(2)
                .localSteps(3)
                .epochs(2)
                .heldOut(heldOut)
                .fit(data);
        // rounds per epoch: ceil(8 batches / 3) = 3; stop in the middle of epoch 2, then resume
        SparkTrainer.of(net)
                .optimizer(Optimizer.adam(0.01))
                .schedule(Schedule.warmupCosine(4))
                .batchSize(8)
                .workers(2)
                .localSteps(3)
                .epochs(2)
                .heldOut(heldOut)
                .maxRounds(4)
                .checkpointDir(dir)
                .fit(data);
        for (String f : List.of(SparkTrainer.CHECKPOINT_FILE, "history.csv", "rounds.csv", "loss.png")) {
            assertTrue(Files.size(dir.resolve(f)) > 0, f);
        }
        assertEquals(5, Files.readAllLines(dir.resolve("rounds.csv")).size());
        SparkTrainingResult resumed = SparkTrainer.of(net)
                .optimizer(Optimizer.adam(0.01))
                .schedule(Schedule.warmupCosine(4))
                .batchSize(8)
                .workers(2)
                .localSteps(3)
                .epochs(2)
                .heldOut(heldOut)
                .checkpointDir(dir)
                .resumeFrom(dir)
                .fit(data);
        assertEquals(6, resumed.rounds().size());
        assertEquals(whole.steps(), resumed.steps());
        assertBitIdentical(whole.state(), resumed.state());
        assertEquals(whole.heldOutAccuracy(), resumed.heldOutAccuracy());
        // a different k is another run
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> SparkTrainer.of(net)
                        .optimizer(Optimizer.adam(0.01))
                        .batchSize(8)
                        .workers(2)
                        .localSteps(2)
                        .epochs(3)
                        .resumeFrom(dir)
                        .fit(data));
        assertTrue(e.getMessage().contains("localSteps 3"), e.getMessage());
        // and so is another schedule
        IllegalArgumentException other = assertThrows(
                IllegalArgumentException.class,
                () -> SparkTrainer.of(net)
                        .optimizer(Optimizer.adam(0.01))
                        .schedule(Schedule.warmupCosine(5))
                        .batchSize(8)
                        .workers(2)
                        .localSteps(3)
                        .epochs(2)
                        .resumeFrom(dir)
                        .fit(data));
        assertTrue(other.getMessage().contains("schedule 'warmup-cosine(warmup_steps=4"), other.getMessage());
    }

    @Test
    void bad_configuration_and_malformed_rows_give_clear_errors() {
        Graph net = tinyNet(false);
        IllegalArgumentException k0 = assertThrows(
                IllegalArgumentException.class, () -> SparkTrainer.of(net).localSteps(0));
        assertTrue(k0.getMessage().contains("k must be at least 1"), k0.getMessage());

        IllegalArgumentException tooMany = assertThrows(
                IllegalArgumentException.class,
                () -> SparkTrainer.of(net).workers(4).batchSize(4).fit(rows(3, PIXELS)));
        assertTrue(
                tooMany.getMessage().contains("3 training rows cannot be split over 4 workers"), tooMany.getMessage());

        IllegalArgumentException uneven = assertThrows(
                IllegalArgumentException.class,
                () -> SparkTrainer.of(net).workers(3).batchSize(8).fit(rows(30, PIXELS)));
        assertTrue(uneven.getMessage().contains("use a multiple of 3"), uneven.getMessage());

        IllegalArgumentException missing = assertThrows(
                IllegalArgumentException.class,
                () -> SparkTrainer.of(net).batchSize(4).fit(rows(16, PIXELS).drop("label")));
        assertTrue(missing.getMessage().contains("no column 'label'"), missing.getMessage());

        List<Row> bad = new ArrayList<>(rows(16, PIXELS).collectAsList());
        bad.add(RowFactory.create(99L, image(99, PIXELS - 1), 1));
        IllegalArgumentException length = assertThrows(
                IllegalArgumentException.class,
                () -> SparkTrainer.of(net).batchSize(4).fit(spark.createDataFrame(bad, ForgeRows.SCHEMA)));
        assertTrue(
                length.getMessage().contains("row id 99: image has 35 values, the net's input [1, 6, 6] needs 36"),
                length.getMessage());

        List<Row> twice = new ArrayList<>(rows(16, PIXELS).collectAsList());
        twice.add(RowFactory.create(3L, image(3, PIXELS), 1));
        IllegalArgumentException duplicate = assertThrows(
                IllegalArgumentException.class,
                () -> SparkTrainer.of(net).batchSize(4).fit(spark.createDataFrame(twice, ForgeRows.SCHEMA)));
        assertTrue(duplicate.getMessage().contains("id 3 occurs more than once"), duplicate.getMessage());
    }

    @Test
    void training_converges_on_real_mnist() {
        Graph net = MnistCnn.build(0);
        long[] shape = {1, 28, 28};
        SparkTrainingResult r = SparkTrainer.of(net)
                .optimizer(Optimizer.adam(0.01))
                .batchSize(64)
                .workers(2)
                .localSteps(4)
                .epochs(1)
                .heldOut(ForgeRows.of(spark, "mnist", shape, true, 1000, 2))
                .fit(ForgeRows.of(spark, "mnist", shape, false, 6000, 2));
        // 93 steps of batch 32 per worker, 24 averages: a trainer that lost the averaged state would stay near 10%
        assertTrue(r.heldOutAccuracy() > 0.9, "held-out accuracy " + r.heldOutAccuracy());
        assertEquals(93, r.steps());
    }
}
