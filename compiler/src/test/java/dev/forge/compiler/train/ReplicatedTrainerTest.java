package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.runtime.DType;
import dev.forge.runtime.Device;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Data-parallel replicas in one JVM ({@link ReplicatedTrainer}, {@link Training#replicas}): without
 * BatchNorm they take the single session's steps up to float summation order, for any split of the batch;
 * with BatchNorm they follow DistributedDataParallel without SyncBatchNorm.
 */
class ReplicatedTrainerTest {
    private static final ModelOptions ONE_THREAD =
            ModelOptions.builder().intraOpThreads(1).build();

    @TempDir
    Path dir;

    static Optimizer optimizer(String name) {
        return switch (name) {
            case "sgd" -> Optimizer.sgd(0.05);
            case "momentum" -> Optimizer.momentum(0.05, 0.9);
            case "adam" -> Optimizer.adam(0.01);
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** A direct batch [rows, 1, 8, 8] of normal values and its class labels (0..2), from a seed. */
    static Tensor[] batch(int rows, long seed) {
        Random r = new Random(seed);
        ByteBuffer x = ByteBuffer.allocateDirect(rows * 64 * 4).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer y = ByteBuffer.allocateDirect(rows * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows; i++) {
            int label = r.nextInt(3);
            y.putLong(i * 8, label);
            for (int k = 0; k < 64; k++) {
                x.putFloat((i * 64 + k) * 4, (float) (r.nextGaussian() + (k % 3 == label ? 1 : 0)));
            }
        }
        return new Tensor[] {Tensor.wrap(DType.FLOAT32, x, rows, 1, 8, 8), Tensor.wrap(DType.INT64, y, rows)};
    }

    /** Conv -> BatchNorm -> Relu -> MaxPool -> Linear on [1, 8, 8]. */
    static Graph bnCnn() {
        GraphBuilder b = new GraphBuilder("bn_tiny").seed(5);
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1));
        x = b.maxPool("pool", b.relu(b.batchNorm("bn1", x)), Pool2d.of(2));
        return b.output(b.linear("fc", b.flatten(x), 3), "logits").build();
    }

    static double maxDifference(Map<String, Tensor> a, Map<String, Tensor> b) {
        assertEquals(a.keySet(), b.keySet());
        double worst = 0;
        for (String k : a.keySet()) {
            float[] u = a.get(k).toFloatArray();
            float[] v = b.get(k).toFloatArray();
            for (int i = 0; i < u.length; i++) {
                worst = Math.max(worst, Math.abs(u[i] - v[i]));
            }
        }
        return worst;
    }

    /** Runs {@code steps} steps on batches of {@code rows} rows with 1 (plain Trainer) or more replicas. */
    static Map<String, Tensor> train(TrainingGraph tg, int replicas, int rows, int steps) {
        return train(tg, new Replicas.Layout(replicas, 1), rows, steps);
    }

    /** Runs {@code steps} steps on batches of {@code rows} rows with a layout (1 x 1: the plain Trainer). */
    static Map<String, Tensor> train(TrainingGraph tg, Replicas.Layout layout, int rows, int steps) {
        try (StepTrainer t = ReplicaProbe.open(tg, layout, ONE_THREAD, 7)) {
            for (int s = 0; s < steps; s++) {
                Tensor[] b = batch(rows, 100 + s);
                t.step(b[0], b[1]);
            }
            return t.state();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sgd", "momentum", "adam"})
    void two_replicas_take_the_single_session_steps_without_batchnorm(String optimizer) {
        TrainingGraph tg =
                TrainingGraph.build(TrainingApiTest.tinyCnn(false), Loss.CROSS_ENTROPY, optimizer(optimizer));
        Map<String, Tensor> one = train(tg, 1, 16, 6);
        Map<String, Tensor> two = train(tg, 2, 16, 6);
        double d = maxDifference(one, two);
        assertTrue(d < 1e-5, optimizer + ": parameters differ by " + d);
        // the steps moved the parameters far more than that, so the comparison means something
        assertTrue(maxDifference(one, tg.initialState()) > 1e-2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sgd", "momentum", "adam"})
    void micro_batches_take_the_single_session_steps_without_batchnorm(String optimizer) {
        TrainingGraph tg =
                TrainingGraph.build(TrainingApiTest.tinyCnn(false), Loss.CROSS_ENTROPY, optimizer(optimizer));
        Map<String, Tensor> one = train(tg, 1, 16, 6);
        for (Replicas.Layout l : List.of(new Replicas.Layout(1, 4), new Replicas.Layout(2, 2))) {
            double d = maxDifference(one, train(tg, l, 16, 6));
            assertTrue(d < 1e-5, optimizer + " " + l + ": parameters differ by " + d);
        }
        // 11 rows in 1 x 3 slots of 4, 4 and 3 rows; 2 rows in 2 x 2 slots, two of them idle
        double uneven = maxDifference(train(tg, 1, 11, 4), train(tg, new Replicas.Layout(1, 3), 11, 4));
        double idle = maxDifference(train(tg, 1, 2, 4), train(tg, new Replicas.Layout(2, 2), 2, 4));
        assertTrue(uneven < 1e-5 && idle < 1e-5, "uneven split differs by " + uneven + ", idle slots by " + idle);
        assertTrue(maxDifference(one, tg.initialState()) > 1e-2);
    }

    /**
     * A micro-batch is a replica that waits its turn: one session running two slots one after the other takes
     * exactly the steps of two sessions running one each, BatchNorm statistics (per slot, running statistics
     * from slot 0) and dropout masks included.
     */
    @Test
    void micro_batches_are_replicas_run_in_turn_bit_for_bit() {
        TrainingGraph bn = TrainingGraph.build(bnCnn(), Loss.CROSS_ENTROPY, optimizer("adam"));
        assertEquals(train(bn, new Replicas.Layout(2, 1), 13, 4), train(bn, new Replicas.Layout(1, 2), 13, 4));
        TrainingGraph dropout =
                TrainingGraph.build(TrainingApiTest.tinyCnn(true), Loss.CROSS_ENTROPY, optimizer("momentum"));
        assertEquals(
                train(dropout, new Replicas.Layout(4, 1), 16, 3), train(dropout, new Replicas.Layout(2, 2), 16, 3));
    }

    @Test
    void the_layout_of_a_batch_and_the_candidates_auto_measures() {
        assertEquals(new Replicas.Layout(2, 2), Replicas.Layout.of(2, 64, 16));
        assertEquals(new Replicas.Layout(2, 3), Replicas.Layout.of(2, 65, 11)); // shares of 33 and 32
        assertEquals(new Replicas.Layout(1, 1), Replicas.Layout.of(1, 64, 0));
        assertEquals(new Replicas.Layout(1, 1), Replicas.Layout.of(1, 8, 16));
        assertEquals("2x4", new Replicas.Layout(2, 4).toString());
        assertEquals("2", new Replicas.Layout(2, 1).toString());
        ModelOptions twoCores = ModelOptions.builder().intraOpThreads(2).build();
        assertEquals(
                List.of("1", "1x2", "1x4", "2", "2x2"),
                ReplicaProbe.candidates(twoCores, 64, 0).stream()
                        .map(Object::toString)
                        .toList());
        assertEquals(
                List.of("1x8", "2x4"),
                ReplicaProbe.candidates(twoCores, 64, 8).stream()
                        .map(Object::toString)
                        .toList());
        assertEquals(
                List.of("1", "2"),
                ReplicaProbe.candidates(twoCores, 16, 0).stream()
                        .map(Object::toString)
                        .toList());
        assertThrows(IllegalArgumentException.class, () -> new Replicas.Layout(0, 2));
    }

    @Test
    void an_uneven_split_weights_each_replica_by_its_rows() {
        TrainingGraph tg =
                TrainingGraph.build(TrainingApiTest.tinyCnn(false), Loss.CROSS_ENTROPY, optimizer("momentum"));
        Map<String, Tensor> one = train(tg, 1, 11, 5);
        double d2 = maxDifference(one, train(tg, 2, 11, 5)); // 6 + 5 rows
        double d3 = maxDifference(one, train(tg, 3, 11, 5)); // 4 + 4 + 3 rows
        assertTrue(d2 < 1e-5 && d3 < 1e-5, "2 replicas differ by " + d2 + ", 3 by " + d3);
        assertEquals(
                List.of(6, 5),
                Arrays.stream(ReplicatedTrainer.split(11, 2)).boxed().toList());
        assertEquals(
                List.of(1, 1, 0),
                Arrays.stream(ReplicatedTrainer.split(2, 3)).boxed().toList());
    }

    @Test
    void a_batch_with_fewer_rows_than_replicas_runs_on_as_many_replicas_as_it_has_rows() {
        TrainingGraph tg = TrainingGraph.build(TrainingApiTest.tinyCnn(false), Loss.CROSS_ENTROPY, optimizer("adam"));
        double d = maxDifference(train(tg, 1, 2, 3), train(tg, 3, 2, 3));
        assertTrue(d < 1e-5, "differ by " + d);
    }

    @Test
    void dropout_masks_are_each_replicas_rows_of_the_full_batch_mask() {
        TrainingGraph tg = TrainingGraph.build(TrainingApiTest.tinyCnn(true), Loss.CROSS_ENTROPY, optimizer("sgd"));
        double d = maxDifference(train(tg, 1, 13, 4), train(tg, 2, 13, 4));
        assertTrue(d < 1e-5, "differ by " + d);
    }

    @Test
    void the_reported_loss_and_correct_count_are_the_full_batchs() {
        TrainingGraph tg = TrainingGraph.build(TrainingApiTest.tinyCnn(false), Loss.CROSS_ENTROPY, optimizer("sgd"));
        Tensor[] b = batch(9, 3);
        try (Trainer one = new Trainer(tg, ONE_THREAD, 0);
                ReplicatedTrainer two = new ReplicatedTrainer(tg, 2, ONE_THREAD, 0)) {
            Trainer.StepResult r1 = one.step(b[0], b[1]);
            Trainer.StepResult r2 = two.step(b[0], b[1]);
            assertEquals(r1.loss(), r2.loss(), 1e-6);
            assertEquals(r1.correct(), r2.correct());
            assertEquals(9, r2.size());
            assertEquals(1, two.steps());
            Trainer.EvalOutput e1 = one.evaluate(b[0], b[1]);
            Trainer.EvalOutput e2 = two.evaluate(b[0], b[1]);
            assertEquals(e1.loss(), e2.loss(), 1e-5);
        }
    }

    /**
     * DDP without SyncBatchNorm, checked with SGD, where the step is linear in the gradient: replica {@code r}
     * alone would move the parameters to {@code p - lr g_r}; the replicated step moves them to
     * {@code p - lr (g_0 + g_1) / 2}, the mean of the two single-replica results, each computed with its own
     * rows' batch statistics. The running statistics kept are replica 0's.
     */
    @Test
    void batchnorm_normalizes_per_replica_and_keeps_replica_0s_running_statistics() {
        TrainingGraph tg = TrainingGraph.build(bnCnn(), Loss.CROSS_ENTROPY, Optimizer.sgd(0.1));
        Tensor[] b = batch(16, 11);
        Map<String, Tensor> half0;
        Map<String, Tensor> half1;
        Map<String, Tensor> whole;
        Map<String, Tensor> replicated;
        try (Trainer t = new Trainer(tg, ONE_THREAD, 0)) {
            t.step(rows(b[0], 0, 8), rows(b[1], 0, 8));
            half0 = t.state();
            t.setState(tg.initialState());
            t.step(rows(b[0], 8, 16), rows(b[1], 8, 16));
            half1 = t.state();
            t.setState(tg.initialState());
            t.step(b[0], b[1]);
            whole = t.state();
        }
        try (ReplicatedTrainer r = new ReplicatedTrainer(tg, 2, ONE_THREAD, 0)) {
            r.step(b[0], b[1]);
            replicated = r.state();
        }
        Map<String, Tensor> expected = new LinkedHashMap<>();
        for (String k : tg.parameters()) {
            float[] u = half0.get(k).toFloatArray();
            float[] v = half1.get(k).toFloatArray();
            float[] m = new float[u.length];
            for (int i = 0; i < m.length; i++) {
                m[i] = (u[i] + v[i]) / 2;
            }
            expected.put(k, Tensor.of(m, half0.get(k).shape()));
        }
        Map<String, Tensor> actual = new LinkedHashMap<>();
        expected.keySet().forEach(k -> actual.put(k, replicated.get(k)));
        List<String> stats = new ArrayList<>(tg.initialState().keySet());
        stats.removeAll(tg.parameters());
        assertEquals(2, stats.size(), "running mean and variance: " + stats);
        for (String s : stats) {
            expected.put(s, half0.get(s));
            actual.put(s, replicated.get(s));
        }
        double d = maxDifference(expected, actual);
        assertTrue(d < 1e-6, "differs from DDP's semantics by " + d);
        // and the per-replica statistics do make it another step than the full batch's
        Map<String, Tensor> wholeParams = new LinkedHashMap<>();
        Map<String, Tensor> replicatedParams = new LinkedHashMap<>();
        for (String p : tg.parameters()) {
            wholeParams.put(p, whole.get(p));
            replicatedParams.put(p, replicated.get(p));
        }
        assertTrue(maxDifference(wholeParams, replicatedParams) > 1e-4);
    }

    /** A copy of rows [from, to) of a batch tensor. */
    static Tensor rows(Tensor t, int from, int to) {
        long[] shape = t.shape().clone();
        long rowBytes = t.byteSize() / shape[0];
        shape[0] = to - from;
        ByteBuffer src = t.buffer();
        ByteBuffer dst = ByteBuffer.allocateDirect((int) (shape[0] * rowBytes)).order(ByteOrder.LITTLE_ENDIAN);
        dst.put(src.position((int) (from * rowBytes)).limit((int) (to * rowBytes)));
        dst.flip();
        return Tensor.wrap(t.dtype(), dst, shape);
    }

    @Test
    void one_replica_is_the_plain_trainer_bit_for_bit() {
        Dataset train = TrainingApiTest.blobs(1);
        Dataset test = TrainingApiTest.blobs(2);
        TrainingResult plain = Training.of(TrainingApiTest.tinyCnn(true))
                .batchSize(16)
                .epochs(2)
                .threads(1)
                .fit(train, test);
        TrainingResult one = Training.of(TrainingApiTest.tinyCnn(true))
                .batchSize(16)
                .epochs(2)
                .threads(1)
                .replicas(1)
                .fit(train, test);
        TrainingResult two = Training.of(TrainingApiTest.tinyCnn(true))
                .batchSize(16)
                .epochs(2)
                .threads(1)
                .replicas(2)
                .fit(train, test);
        assertEquals(plain.state(), one.state());
        assertNotEquals(plain.state(), two.state(), "two replicas sum in another order: not the same bits");
        assertTrue(maxDifference(plain.state(), two.state()) < 1e-5);
    }

    @Test
    void a_replicated_run_resumes_exactly_from_its_checkpoint() {
        Dataset train = TrainingApiTest.blobs(1);
        Dataset test = TrainingApiTest.blobs(2);
        Path ckpt = dir.resolve("run.ckpt");
        TrainingResult full =
                Training.of(bnCnn()).batchSize(20).epochs(3).replicas(2).fit(train, test);
        Training.of(bnCnn())
                .batchSize(20)
                .epochs(1)
                .replicas(2)
                .checkpointTo(ckpt)
                .fit(train, test);
        TrainingResult resumed = Training.of(bnCnn())
                .batchSize(20)
                .epochs(3)
                .replicas(2)
                .resumeFrom(ckpt)
                .fit(train, test);
        assertEquals(full.state(), resumed.state());
        assertEquals(full.steps(), resumed.steps());
    }

    @Test
    void auto_measures_the_candidates_reports_them_and_trains_with_the_fastest() {
        List<Replicas.Choice> choices = new ArrayList<>();
        TrainingResult r = Training.of(TrainingApiTest.tinyCnn(false))
                .batchSize(16)
                .epochs(1)
                .threads(2)
                .replicas(Replicas.auto())
                .listener(new TrainingListener() {
                    @Override
                    public void onReplicas(Replicas.Choice choice) {
                        choices.add(choice);
                    }
                })
                .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2));
        assertEquals(1, choices.size());
        Replicas.Choice c = choices.get(0);
        assertEquals(
                List.of(new Replicas.Layout(1, 1), new Replicas.Layout(2, 1)),
                new ArrayList<>(c.millisPerStep().keySet()));
        assertTrue(c.millisPerStep().containsKey(c.chosen()));
        assertTrue(c.describe().startsWith("replicas auto: 1 -> "), c.describe());
        assertEquals(6, r.steps());
        // the probe's steps are not part of the run: it starts from the initial state at step 1
        TrainingResult fixed = Training.of(TrainingApiTest.tinyCnn(false))
                .batchSize(16)
                .epochs(1)
                .threads(2)
                .replicas(c.chosen().replicas())
                .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2));
        assertEquals(fixed.state(), r.state());
    }

    @Test
    void bad_replica_counts_are_refused_with_the_fix() {
        assertThrows(IllegalArgumentException.class, () -> Training.of(bnCnn()).replicas(0));
        assertThrows(IllegalArgumentException.class, () -> Replicas.parse("two"));
        assertEquals(Replicas.auto(), Replicas.parse("AUTO"));
        assertEquals(Replicas.of(3), Replicas.parse("3"));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Training.of(bnCnn())
                        .batchSize(4)
                        .replicas(5)
                        .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2)));
        assertEquals(
                "replicas 5 exceed the batch size 4: every replica needs at least one row of each batch; "
                        + "use at most 4 replicas",
                e.getMessage());
        TrainingGraph tg = TrainingGraph.build(bnCnn(), Loss.CROSS_ENTROPY, Optimizer.sgd(0.1));
        assertThrows(IllegalArgumentException.class, () -> new ReplicatedTrainer(tg, 1, ONE_THREAD, 0));
        assertThrows(IllegalArgumentException.class, () -> new ReplicatedTrainer(tg, 1, 1, ONE_THREAD, 0));
        assertThrows(IllegalArgumentException.class, () -> Training.of(bnCnn()).microBatch(-1));
        e = assertThrows(
                IllegalArgumentException.class,
                () -> Training.of(bnCnn())
                        .microBatch(4)
                        .device(Device.cuda())
                        .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2)));
        assertTrue(e.getMessage().startsWith("microBatch 4 runs on the CPU only"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> Training.of(bnCnn())
                        .replicas(2)
                        .device(Device.cuda())
                        .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2)));
        assertTrue(e.getMessage().startsWith("replicas 2 share the CPU's cores"), e.getMessage());
    }
}
