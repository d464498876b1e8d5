package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training with Dropout (docs/ARCHITECTURE.md, "Training"): the mask of every step is drawn from a generator
 * seeded by (seed, step), so it changes from step to step; a step equals a hand computation with the mask read
 * back; a run resumed from a checkpoint is bit-identical to an uninterrupted one; the export has no Dropout and
 * gives the trained graph's eval outputs.
 */
class DropoutTrainingTest {
    static final int FEATURES = 16;
    static final int CLASSES = 3;
    static final float RATIO = 0.5f;

    @TempDir
    Path dir;

    /** x [N, 16] -> Dropout(0.5) -> fc (Gemm 16 -> 3): a net whose SGD step can be worked out by hand. */
    static Graph head() {
        GraphBuilder b = new GraphBuilder("dropout_head").seed(11);
        Value x = b.input("input", Shape.of("N", FEATURES));
        return b.output(b.linear("fc", b.dropout(x, RATIO), CLASSES), "logits").build();
    }

    /** The first {@code n} values the trainer draws for step {@code step}'s mask (its own generator and fill). */
    static float[] drawnMask(long seed, long step, int n) {
        ByteBuffer b = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder());
        Trainer.fillMask(b, n, RATIO, Trainer.maskGenerator(seed, step));
        float[] m = new float[n];
        b.asFloatBuffer().get(m);
        return m;
    }

    /**
     * With a batch of one all-ones row, SGD's step gives the mask back: the loss depends on fc's weight only
     * through {@code logits[k] = sum_j W[k][j] m[j] + B[k]}, so {@code dW[k][j] = dlogits[k] m[j]} and
     * {@code dB[k] = dlogits[k]}, and {@code m[j] = dW[k][j] / dB[k]} for any k (the update is -lr times the
     * gradient). The masks read back so are 0 or 1/(1 - p), not all ones, differ between steps on the same
     * batch, repeat for a repeated step number, and are the trainer's draw for (seed, step).
     */
    @Test
    void the_mask_read_back_from_each_sgd_step_is_the_draw_for_its_seed_and_step_and_changes_every_step() {
        long seed = 7;
        double lr = 0.5;
        Tensor x = Tensor.of(filled(FEATURES, 1f), 1, FEATURES);
        Tensor y = Tensor.of(new long[] {2}, 1);
        TrainingGraph tg = TrainingGraph.build(head(), Loss.CROSS_ENTROPY, Optimizer.sgd(lr));
        assertEquals(List.of("Dropout_1/mask"), List.copyOf(tg.dropoutMasks().keySet()));
        try (Trainer t = new Trainer(tg, 1, seed)) {
            Map<String, Tensor> initial = t.state();
            float[][] masks = new float[4][];
            for (int step = 1; step <= 3; step++) {
                t.setState(initial);
                t.step(x, y, step, lr);
                masks[step] = readBack(initial, t.state(), lr);
            }
            t.setState(initial);
            t.step(x, y, 2, lr);
            assertArrayEquals(masks[2], readBack(initial, t.state(), lr), 0f, "step 2 again: the same mask");
            for (int step = 1; step <= 3; step++) {
                float[] m = masks[step];
                float[] drawn = drawnMask(seed, step, FEATURES);
                long dropped = 0;
                for (int j = 0; j < FEATURES; j++) {
                    assertEquals(
                            drawn[j], m[j], 1e-5, "step " + step + " mask[" + j + "] read back " + Arrays.toString(m));
                    dropped += drawn[j] == 0f ? 1 : 0;
                }
                assertTrue(
                        dropped > 0 && dropped < FEATURES,
                        "step " + step + " drops some features: " + Arrays.toString(m));
            }
            assertNotEquals(
                    Arrays.toString(drawnMask(seed, 1, FEATURES)), Arrays.toString(drawnMask(seed, 2, FEATURES)));
            assertNotEquals(
                    Arrays.toString(drawnMask(seed, 2, FEATURES)), Arrays.toString(drawnMask(seed, 3, FEATURES)));
            assertNotEquals(
                    Arrays.toString(drawnMask(seed, 1, FEATURES)), Arrays.toString(drawnMask(seed + 1, 1, FEATURES)));
        }
    }

    /** m[j] = dW[k][j] / dB[k] from the SGD update (k with the largest |dB[k]|). */
    private static float[] readBack(Map<String, Tensor> before, Map<String, Tensor> after, double lr) {
        double[] w0 = before.get("fc/W").toDoubleArray();
        double[] w1 = after.get("fc/W").toDoubleArray();
        double[] b0 = before.get("fc/B").toDoubleArray();
        double[] b1 = after.get("fc/B").toDoubleArray();
        int k = 0;
        for (int c = 1; c < CLASSES; c++) {
            if (Math.abs(b0[c] - b1[c]) > Math.abs(b0[k] - b1[k])) {
                k = c;
            }
        }
        double db = (b0[k] - b1[k]) / lr;
        assertTrue(Math.abs(db) > 0.05, "the step moved the bias: dB[" + k + "] = " + db);
        float[] m = new float[FEATURES];
        for (int j = 0; j < FEATURES; j++) {
            m[j] = (float) ((w0[k * FEATURES + j] - w1[k * FEATURES + j]) / lr / db);
        }
        return m;
    }

    /**
     * One SGD step on a batch of four, by hand in double precision with the mask the trainer draws for the step:
     * h = x * m, z = h W^T + B, dz = (softmax(z) - onehot(y)) / N, W -= lr dz^T h, B -= lr sum(dz). The trainer's
     * loss and parameters match it; the same computation without the mask does not (the mask matters).
     */
    @Test
    void an_sgd_step_with_dropout_equals_the_hand_computation_with_the_drawn_mask() {
        long seed = 3;
        long step = 5;
        double lr = 0.25;
        int n = 4;
        SplittableRandom r = new SplittableRandom(21);
        float[] xs = new float[n * FEATURES];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) (2 * r.nextDouble() - 1);
        }
        long[] ys = {0, 2, 1, 2};
        TrainingGraph tg = TrainingGraph.build(head(), Loss.CROSS_ENTROPY, Optimizer.sgd(lr));
        try (Trainer t = new Trainer(tg, 1, seed)) {
            Map<String, Tensor> before = t.state();
            Trainer.StepResult result = t.step(Tensor.of(xs, n, FEATURES), Tensor.of(ys, n), step, lr);
            Map<String, Tensor> after = t.state();
            float[] mask = drawnMask(seed, step, n * FEATURES);
            Hand masked = Hand.step(before, xs, ys, mask, lr);
            assertEquals(masked.loss, result.loss(), 1e-6 * Math.max(1, masked.loss), "loss");
            assertClose(masked.w, after.get("fc/W").toDoubleArray(), 1e-6, "fc/W after the step");
            assertClose(masked.b, after.get("fc/B").toDoubleArray(), 1e-6, "fc/B after the step");
            Hand unmasked = Hand.step(before, xs, ys, filled(n * FEATURES, 1f), lr);
            assertTrue(
                    maxDiff(unmasked.w, after.get("fc/W").toDoubleArray()) > 1e-3,
                    "without the mask the step would differ, so the comparison can fail");
        }
    }

    /** The SGD step of {@link #head()} in double precision. */
    record Hand(double loss, double[] w, double[] b) {
        static Hand step(Map<String, Tensor> state, float[] x, long[] y, float[] mask, double lr) {
            double[] w = state.get("fc/W").toDoubleArray();
            double[] b = state.get("fc/B").toDoubleArray();
            int n = y.length;
            double[] dw = new double[w.length];
            double[] db = new double[b.length];
            double loss = 0;
            for (int i = 0; i < n; i++) {
                double[] h = new double[FEATURES];
                for (int j = 0; j < FEATURES; j++) {
                    h[j] = (double) x[i * FEATURES + j] * mask[i * FEATURES + j];
                }
                double[] z = new double[CLASSES];
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < CLASSES; k++) {
                    z[k] = b[k];
                    for (int j = 0; j < FEATURES; j++) {
                        z[k] += w[k * FEATURES + j] * h[j];
                    }
                    max = Math.max(max, z[k]);
                }
                double sum = 0;
                for (int k = 0; k < CLASSES; k++) {
                    sum += Math.exp(z[k] - max);
                }
                loss += -(z[(int) y[i]] - max - Math.log(sum)) / n;
                for (int k = 0; k < CLASSES; k++) {
                    double dz = (Math.exp(z[k] - max) / sum - (k == y[i] ? 1 : 0)) / n;
                    db[k] += dz;
                    for (int j = 0; j < FEATURES; j++) {
                        dw[k * FEATURES + j] += dz * h[j];
                    }
                }
            }
            double[] w1 = new double[w.length];
            for (int i = 0; i < w.length; i++) {
                w1[i] = w[i] - lr * dw[i];
            }
            double[] b1 = new double[b.length];
            for (int k = 0; k < b.length; k++) {
                b1[k] = b[k] - lr * db[k];
            }
            return new Hand(loss, w1, b1);
        }
    }

    /**
     * A CNN with Dropout trained with Adam: the training loss falls from epoch to epoch, the export has no
     * Dropout node, and the runtime gives the trainer's eval-mode outputs for it.
     */
    @Test
    void a_cnn_with_dropout_trains_and_its_export_has_no_dropout_and_gives_the_eval_outputs() throws Exception {
        Graph net = TrainingApiTest.tinyCnn(true);
        assertTrue(net.nodes().stream().anyMatch(n -> n.opType().equals("Dropout")));
        Dataset train = TrainingApiTest.blobs(1);
        Dataset test = TrainingApiTest.blobs(2);
        Optimizer adam = Optimizer.adam(0.01);
        TrainingResult r =
                Training.of(net).optimizer(adam).batchSize(16).epochs(4).seed(5).fit(train, test);
        List<EpochStats> h = r.history();
        assertTrue(
                h.get(3).trainLoss() < 0.8 * h.get(0).trainLoss(),
                "training loss " + h.get(0).trainLoss() + " -> " + h.get(3).trainLoss());
        assertTrue(r.evaluation().accuracy() > 0.8, "accuracy " + r.evaluation().accuracy());

        Path file = dir.resolve("dropout.onnx");
        r.export(file);
        Graph exported = OnnxReader.read(file);
        List<String> ops = exported.nodes().stream().map(Node::opType).toList();
        assertTrue(!ops.contains("Dropout") && ops.contains("Gemm"), "exported ops " + ops);
        java.util.Random rnd = new java.util.Random(3);
        float[] xs = new float[24 * 64];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) (rnd.nextGaussian() + (i % 3 == (i / 64) % 3 ? 1.5 : 0));
        }
        Tensor x = Tensor.of(xs, 24, 1, 8, 8);
        Tensor labels = Tensor.of(new long[24], 24);
        try (Trainer t = new Trainer(TrainingGraph.build(r.trainedGraph(), Loss.CROSS_ENTROPY, adam), 1, 5);
                Model m = Model.load(OnnxWriter.toBytes(exported), "dropout", ModelOptions.defaults());
                Model fromFile = Model.load(file)) {
            t.setState(r.state());
            Tensor eval = t.evaluate(x, labels).prediction();
            assertEquals(eval, t.evaluate(x, labels).prediction(), "eval mode draws no mask: two runs agree");
            Tensor runtime = m.run(x);
            assertArrayEquals(eval.shape(), runtime.shape());
            assertClose(eval.toDoubleArray(), runtime.toDoubleArray(), 1e-6, "runtime vs trainer eval output");
            assertEquals(runtime, fromFile.run(x));
        }
    }

    /**
     * 4 epochs of 6 steps straight, against 2 epochs, a checkpoint, and 2 more epochs resumed from it: every
     * parameter and Adam moment is bit-identical. Batches are not shuffled, so the seed acts only through the
     * dropout masks; another seed ends elsewhere, so the masks matter to the result.
     */
    @Test
    void a_run_with_dropout_resumed_from_its_checkpoint_is_bit_identical_to_an_uninterrupted_run() {
        Dataset train = TrainingApiTest.blobs(1);
        Dataset test = TrainingApiTest.blobs(2);
        Path ckpt = dir.resolve("dropout.ckpt");
        TrainingResult straight = run(5, 4).fit(train, test);
        run(5, 2).checkpointTo(ckpt).fit(train, test);
        Checkpoint half = Checkpoint.read(ckpt);
        assertEquals(2, half.epoch());
        assertEquals(12, half.step());
        TrainingResult resumed = run(5, 4).checkpointTo(ckpt).resumeFrom(ckpt).fit(train, test);
        assertEquals(24, straight.steps());
        assertEquals(straight.steps(), resumed.steps());
        assertEquals(straight.state().keySet(), resumed.state().keySet());
        assertTrue(
                straight.state().size() > straight.trainedGraph().parameters().size(),
                "the state holds Adam's moments besides the parameters: "
                        + straight.state().keySet());
        for (String name : straight.state().keySet()) {
            assertEquals(straight.state().get(name), resumed.state().get(name), "state tensor " + name);
        }
        for (int e = 0; e < 4; e++) {
            // epochs 1-2 of the resumed history come from the checkpoint's text (6 significant digits)
            double tolerance = e < 2 ? 1e-5 : 0.0;
            EpochStats a = straight.history().get(e);
            EpochStats b = resumed.history().get(e);
            assertEquals(a.trainLoss(), b.trainLoss(), tolerance, "epoch " + (e + 1) + " training loss");
            assertEquals(a.testLoss(), b.testLoss(), tolerance, "epoch " + (e + 1) + " test loss");
        }
        assertEquals(Checkpoint.read(ckpt).state(), straight.state(), "the final checkpoint");

        TrainingResult otherSeed = run(6, 4).fit(train, test);
        assertNotEquals(straight.state().get("fc/W"), otherSeed.state().get("fc/W"), "other masks, other weights");
    }

    private static Training run(long seed, int epochs) {
        return Training.of(TrainingApiTest.tinyCnn(true))
                .optimizer(Optimizer.adam(0.01))
                .batchSize(16)
                .epochs(epochs)
                .shuffle(false)
                .seed(seed);
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    private static double maxDiff(double[] a, double[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    /** max |e - a| <= tolerance * max(1, max |e|). */
    private static void assertClose(double[] expected, double[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what + ": size");
        double scale = 1;
        for (double v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        double worst = maxDiff(expected, actual);
        assertTrue(worst <= tolerance * scale, what + ": max difference " + worst + " > " + tolerance * scale);
    }
}
