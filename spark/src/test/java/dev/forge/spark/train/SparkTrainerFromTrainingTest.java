package dev.forge.spark.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.train.EpochStats;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Schedule;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingListener;
import dev.forge.compiler.train.TrainingResult;
import dev.forge.runtime.Device;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A single-JVM {@link Training} moved to Spark with {@link SparkTrainer#from}: schedules, freezing and learning-rate
 * groups. Two workers on batch B/2 with k = 1 equal the Training on batch B (SGD/momentum, no BatchNorm): without
 * shuffling, worker w's step s reads ranks 2i + w for i in [4(s-1), 4s) of its shard, whose union over w is the
 * single process's batch s, rows 8(s-1) .. 8s-1.
 */
class SparkTrainerFromTrainingTest {
    private static final int SIDE = 6;
    private static final int PIXELS = SIDE * SIDE;
    private static final int ROWS = 32;
    private static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = dev.forge.spark.SparkTestSession.get();
    }

    /** Conv 3x3 -> ReLU -> Linear: no BatchNorm, no dropout, so k = 1 averaging is exact for SGD and momentum. */
    private static Graph tinyNet() {
        GraphBuilder b = new GraphBuilder("tiny").seed(11);
        Value x = b.input("input", Shape.of("N", 1, SIDE, SIDE));
        x = b.conv2d("conv1", x, Conv2d.of(4, 3));
        x = b.relu(x);
        x = b.flatten(x);
        x = b.linear("fc", x, 10);
        return b.output(x, "logits").build();
    }

    private static float[] image(long id) {
        Random r = new Random(1000 + id);
        float[] v = new float[PIXELS];
        for (int j = 0; j < v.length; j++) {
            v[j] = (float) r.nextGaussian();
        }
        return v;
    }

    private static int label(long id) {
        return (int) (id * 3 % 10);
    }

    /** The rows as a Spark table, handed over in a scrambled order (ranks come from the ids). */
    private static Dataset<Row> table() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < ROWS; i++) {
            long id = (i * 13L) % ROWS;
            List<Float> v = new ArrayList<>();
            for (float f : image(id)) {
                v.add(f);
            }
            rows.add(RowFactory.create(id, v, label(id)));
        }
        return spark.createDataFrame(rows, ForgeRows.SCHEMA);
    }

    /** The same rows for the single process, in id order. */
    private static NpyDataset dataset() {
        float[] x = new float[ROWS * PIXELS];
        long[] y = new long[ROWS];
        for (int id = 0; id < ROWS; id++) {
            System.arraycopy(image(id), 0, x, id * PIXELS, PIXELS);
            y[id] = label(id);
        }
        return NpyDataset.of(Tensor.of(x, ROWS, 1, SIDE, SIDE), Tensor.of(y, ROWS), 10);
    }

    /** Batch 8, 3 epochs of 4 steps, unshuffled, one thread. */
    private static Training training(Graph net, Optimizer optimizer, Schedule schedule) {
        return Training.of(net)
                .optimizer(optimizer)
                .schedule(schedule)
                .batchSize(8)
                .epochs(3)
                .seed(3)
                .shuffle(false)
                .threads(1);
    }

    private static float maxDifference(Map<String, Tensor> a, Map<String, Tensor> b) {
        assertEquals(a.keySet(), b.keySet());
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

    private static void assertSameRun(TrainingResult single, SparkTrainingResult spark) {
        assertEquals(single.steps(), spark.steps());
        float diff = maxDifference(single.state(), spark.state());
        assertTrue(diff < 1e-5, "parameters and momentum buffers differ by " + diff);
        // the rate each epoch ended at, as the history records it
        Function<List<EpochStats>, List<Double>> lrs =
                h -> h.stream().map(EpochStats::lr).toList();
        List<Double> expected = lrs.apply(single.history());
        List<Double> actual = lrs.apply(spark.history());
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i), actual.get(i), 1e-12, "lr of epoch " + (i + 1));
        }
    }

    @Test
    void a_step_lr_schedule_on_two_workers_equals_single_process_training_on_the_whole_batch() {
        Training t = training(tinyNet(), Optimizer.momentum(0.1, 0.9), Schedule.step(1, 0.3));
        TrainingResult single = t.fit(dataset(), dataset());
        SparkTrainingResult r = SparkTrainer.from(t).workers(2).localSteps(1).fit(table());
        assertEquals(12, r.rounds().size());
        assertSameRun(single, r);
    }

    @Test
    void a_warmup_cosine_schedule_on_two_workers_equals_single_process_training_on_the_whole_batch() {
        // warm-up over 5 of the 12 steps crosses the first epoch's end; cosine down to 0.001 at step 12
        Training t = training(tinyNet(), Optimizer.momentum(0.1, 0.9), new Schedule.WarmupCosine(5, 0.001));
        TrainingResult single = t.fit(dataset(), dataset());
        SparkTrainingResult r = SparkTrainer.from(t).workers(2).localSteps(1).fit(table());
        assertSameRun(single, r);
        assertEquals(0.001, r.history().get(2).lr(), 1e-12, "the last step runs at eta_min");
    }

    @Test
    void frozen_parameters_and_learning_rate_groups_on_two_workers_equal_single_process_training() {
        Graph net = tinyNet();
        Training t = training(net, Optimizer.momentum(0.1, 0.9), Schedule.step(2, 0.5))
                .freeze("conv1/B")
                .learningRate("fc/*", 0.1);
        TrainingResult single = t.fit(dataset(), dataset());
        SparkTrainingResult r = SparkTrainer.from(t).workers(2).localSteps(1).fit(table());
        assertSameRun(single, r);
        // the frozen bias is no state: it stays the net's constant, as it was built
        assertFalse(r.state().containsKey("conv1/B"));
        assertArrayEquals(
                net.initializers().get("conv1/B").toFloatArray(),
                r.exportedGraph().initializers().get("conv1/B").toFloatArray(),
                0f);
    }

    @Test
    void a_tenth_learning_rate_group_moves_a_tenth_as_far_in_one_spark_step() {
        Graph net = tinyNet();
        Map<String, Tensor> initial = Map.of(
                "fc/W", net.initializers().get("fc/W"),
                "conv1/W", net.initializers().get("conv1/W"));
        SparkTrainingResult full = SparkTrainer.from(
                        training(net, Optimizer.sgd(0.5), Schedule.constant()).maxSteps(1))
                .workers(2)
                .fit(table());
        SparkTrainingResult tenth = SparkTrainer.from(
                        training(net, Optimizer.sgd(0.5), Schedule.constant()).maxSteps(1))
                .learningRate("fc/W", 0.1)
                .workers(2)
                .fit(table());
        assertEquals(1, full.steps());
        assertEquals(1, tenth.steps());
        float[] w0 = initial.get("fc/W").toFloatArray();
        float[] wFull = full.state().get("fc/W").toFloatArray();
        float[] wTenth = tenth.state().get("fc/W").toFloatArray();
        double moved = 0;
        for (int i = 0; i < w0.length; i++) {
            assertEquals(0.1 * (wFull[i] - w0[i]), wTenth[i] - w0[i], 1e-6, "fc/W[" + i + "]");
            moved = Math.max(moved, Math.abs(wFull[i] - w0[i]));
        }
        assertTrue(moved > 1e-3, "fc/W did not move: " + moved);
        // the other group's step is the same in both runs
        float diff = maxDifference(
                Map.of("conv1/W", full.state().get("conv1/W")),
                Map.of("conv1/W", tenth.state().get("conv1/W")));
        assertTrue(diff < 1e-6, "conv1/W differs by " + diff);
    }

    @Test
    void max_steps_ends_the_run_inside_a_round_and_a_per_step_schedule_counts_up_to_it() {
        // 4 steps per epoch, k = 3: rounds of 3 and 1 steps in epoch 1, then the limit cuts epoch 2's first round
        Training t = training(tinyNet(), Optimizer.momentum(0.1, 0.9), Schedule.warmupCosine(2))
                .maxSteps(6);
        SparkTrainingResult r = SparkTrainer.from(t).workers(2).localSteps(3).fit(table());
        assertEquals(6, r.steps());
        assertEquals(
                List.of(3L, 4L, 6L), r.rounds().stream().map(RoundStats::step).toList());
        assertEquals(1, r.history().size(), "the cut epoch 2 is in rounds.csv only");
        // epoch 1 ended at step 4 of a 6-step run: warm-up 2, then cosine over 4 steps, 2 of them done
        assertEquals(
                0.1 * (1 + Math.cos(Math.PI * 2 / 4)) / 2, r.history().get(0).lr(), 1e-12);
    }

    @Test
    void settings_spark_cannot_honour_are_refused_by_name() {
        Graph net = tinyNet();
        Function<Training, String> refusal =
                t -> assertThrows(IllegalArgumentException.class, () -> SparkTrainer.from(t))
                        .getMessage();
        String replicas = refusal.apply(Training.of(net).replicas(2));
        assertTrue(replicas.contains("replicas(2)") && replicas.contains("workers(N)"), replicas);
        String micro = refusal.apply(Training.of(net).microBatch(4));
        assertTrue(micro.contains("microBatch(4)"), micro);
        String cuda = refusal.apply(Training.of(net).device(Device.cuda()));
        assertTrue(cuda.contains("device(cuda") && cuda.contains("CPU"), cuda);
        String checkpoint = refusal.apply(Training.of(net).checkpointTo(Path.of("x.onnx")));
        assertTrue(checkpoint.contains("checkpointTo(x.onnx)") && checkpoint.contains("checkpointDir"), checkpoint);
        String listener = refusal.apply(Training.of(net).listener(new TrainingListener() {}));
        assertTrue(listener.contains("listener") && listener.contains("log(out, everyRounds)"), listener);
        // and a bad freeze pattern fails as Training.fit would
        String freeze = refusal.apply(Training.of(net).freeze("nothing/*"));
        assertTrue(freeze.contains("nothing/*"), freeze);
    }
}
