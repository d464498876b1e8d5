package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.models.MnistCnn;
import dev.forge.models.SimpleNet;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The training stage against PyTorch autograd and torch.optim (testdata/golden-training, made by
 * scripts/make_training_golden.py): losses, every parameter gradient, BatchNorm running statistics,
 * and parameters after two steps of every optimizer.
 */
class TrainingVsPyTorchTest {
    static final Path DIR = Path.of("golden-training");

    /** Loads {@code dir/weights/*.npy} (PyTorch keys) into the graph's initializers. */
    static void loadWeights(Graph g, Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String key = f.getFileName().toString().replaceFirst("\\.npy$", "");
                g.replaceInitializer(BuilderVsPyTorchTest.forgeName(key, g), Npy.read(f));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs a gradient graph through the runtime and returns every output. */
    static Map<String, Tensor> runGradients(TrainingGraph tg, Tensor x, Tensor y) {
        Map<String, Tensor> in = new HashMap<>(tg.initialState());
        in.put(tg.dataInput(), x);
        in.put(TrainingGraph.TARGET, y);
        try (Model m = Model.load(OnnxWriter.toBytes(tg.graph()), "gradients", ModelOptions.defaults())) {
            return m.run(in);
        }
    }

    static Tensor npy(Path p) {
        return Npy.read(p);
    }

    @Test
    void mnist_cnn_cross_entropy_gradients_and_running_stats_match_pytorch() {
        Path d = DIR.resolve("mnist-cnn-ce");
        Graph g = MnistCnn.build(0);
        loadWeights(g, d.resolve("weights"));
        TrainingGraph tg = TrainingGraph.gradients(g, Loss.CROSS_ENTROPY, true);
        Map<String, Tensor> out = runGradients(tg, npy(d.resolve("input.npy")), npy(d.resolve("labels.npy")));
        Golden.assertClose(npy(d.resolve("loss.npy")), out.get("loss"), 2e-6, "loss");
        Golden.assertClose(npy(d.resolve("logits.npy")), out.get("logits"), 1e-5, "logits");
        for (String key : new String[] {"conv1.weight", "bn1.weight", "bn1.bias", "fc.weight", "fc.bias"}) {
            String name = BuilderVsPyTorchTest.forgeName(key, g) + ".grad";
            Golden.assertClose(npy(d.resolve("grad/" + key + ".npy")), out.get(name), 2e-5, name);
        }
        // a bias in front of training-mode BatchNorm has no effect: both gradients are rounding noise
        float[] convBias = out.get("conv1/B.grad").toFloatArray();
        for (float v : convBias) {
            assertTrue(Math.abs(v) < 1e-5, "conv1/B.grad should be ~0, got " + v);
        }
        Golden.assertClose(npy(d.resolve("grad/input.npy")), out.get("input.grad"), 2e-5, "input.grad");
        Golden.assertClose(
                npy(d.resolve("after/bn1.running_mean.npy")), out.get("bn1/mean.next"), 1e-5, "running mean");
        Golden.assertClose(npy(d.resolve("after/bn1.running_var.npy")), out.get("bn1/var.next"), 1e-5, "running var");
    }

    /** The simple-net-l1 weights: an integer hash of the flat index, as documented in its README. */
    static float[] hashWeights(int count, int k, int fanIn) {
        float[] w = new float[count];
        double bound = 1.0 / Math.sqrt(fanIn);
        for (int i = 0; i < count; i++) {
            int x = i + (k << 24);
            x ^= x >>> 16;
            x *= 0x7feb352d;
            x ^= x >>> 15;
            x *= 0x846ca68b;
            x ^= x >>> 16;
            double u = (x & 0xFFFFFFFFL) / 4294967296.0;
            w[i] = (float) (bound * (2.0 * u - 1.0));
        }
        return w;
    }

    static Graph simpleNetWithHashWeights() {
        Graph g = SimpleNet.build(0);
        String[] names = {
            "conv1/W", "conv1/B", "conv2/W", "conv2/B", "fc1/W", "fc1/B", "fc2/W", "fc2/B", "fc3/W", "fc3/B"
        };
        int[] fanIn = {9, 9, 54, 54, 12544, 12544, 512, 512, 64, 64};
        for (int k = 0; k < names.length; k++) {
            Tensor old = g.initializers().get(names[k]);
            g.replaceInitializer(names[k], Tensor.of(hashWeights((int) old.size(), k + 1, fanIn[k]), old.shape()));
        }
        return g;
    }

    @Test
    void seed_simple_net_l1_gradients_match_pytorch_and_one_sgd_step_lowers_the_loss() {
        Path d = DIR.resolve("simple-net-l1");
        Graph g = simpleNetWithHashWeights();
        Tensor x = npy(d.resolve("input.npy"));
        Tensor y = npy(d.resolve("target.npy"));
        TrainingGraph tg = TrainingGraph.gradients(g, Loss.L1, false);
        Map<String, Tensor> out = runGradients(tg, x, y);
        Golden.assertClose(npy(d.resolve("loss.npy")), out.get("loss"), 2e-6, "loss");
        for (String key : new String[] {
            "conv1.weight",
            "conv1.bias",
            "conv2.weight",
            "conv2.bias",
            "fc1.bias",
            "fc2.weight",
            "fc2.bias",
            "fc3.weight",
            "fc3.bias"
        }) {
            String name = BuilderVsPyTorchTest.forgeName(key, g) + ".grad";
            Golden.assertClose(npy(d.resolve("grad/" + key + ".npy")), out.get(name), 2e-5, name);
        }
        // fc1.weight's gradient (25 MB) is checked through a sample and its row and column sums
        float[] fc1 = out.get("fc1/W.grad").toFloatArray();
        long[] idx = npy(d.resolve("grad/fc1.weight.indices.npy")).toLongArray();
        float[] sample = new float[idx.length];
        for (int i = 0; i < idx.length; i++) {
            sample[i] = fc1[(int) idx[i]];
        }
        Golden.assertClose(
                npy(d.resolve("grad/fc1.weight.sample.npy")), Tensor.of(sample, idx.length), 2e-5, "fc1 sample");
        double[] rows = new double[512];
        double[] cols = new double[12544];
        for (int r = 0; r < 512; r++) {
            for (int c = 0; c < 12544; c++) {
                rows[r] += fc1[r * 12544 + c];
                cols[c] += fc1[r * 12544 + c];
            }
        }
        Golden.assertClose(npy(d.resolve("grad/fc1.weight.rowsum.npy")), Tensor.of(rows, 512), 1e-4, "fc1 row sums");
        Golden.assertClose(
                npy(d.resolve("grad/fc1.weight.colsum.npy")), Tensor.of(cols, 12544), 1e-4, "fc1 column sums");

        // the seed's experiment: one SGD step (lr 0.01) with L1 loss lowers the loss on the same input
        TrainingGraph step = TrainingGraph.build(g, Loss.L1, Optimizer.sgd(0.01));
        try (Trainer t = new Trainer(step, 0, 0)) {
            double before = t.step(x, y, 1, 0.01).loss();
            double after = t.evaluate(x, y).loss();
            assertEquals(npy(d.resolve("loss.npy")).getDouble(0), before, 2e-6);
            assertEquals(npy(d.resolve("loss_after_sgd_step.npy")).getDouble(0), after, 1e-5);
            assertTrue(after < before, "loss " + before + " -> " + after);
        }
    }

    /** The optimizer oracles' TinyNet: conv1 1->4 3x3, relu, maxpool 2, flatten, fc 36->3. */
    static Graph tinyNet() {
        GraphBuilder b = new GraphBuilder("tiny");
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.relu(b.conv2d("conv1", x, Conv2d.of(4, 3)));
        x = b.maxPool("pool", x, Pool2d.of(2));
        x = b.linear("fc", b.flatten(x), 3);
        Graph g = b.output(x, "logits").build();
        loadWeights(g, DIR.resolve("optimizers/weights"));
        return g;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sgd", "sgd_wd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adam_wd", "adamw"})
    void two_optimizer_steps_match_torch_optim(String config) {
        Optimizer opt = switch (config) {
            case "sgd" -> Optimizer.sgd(0.1);
            case "sgd_wd" -> Optimizer.sgd(0.1).withWeightDecay(0.01);
            case "momentum" -> Optimizer.momentum(0.1, 0.9);
            case "nesterov" -> Optimizer.nesterov(0.1, 0.9);
            case "rmsprop" -> Optimizer.rmsprop(0.01);
            case "adagrad" -> Optimizer.adagrad(0.1);
            case "adam" -> Optimizer.adam(0.01);
            case "adam_wd" -> Optimizer.adam(0.01).withWeightDecay(0.01);
            case "adamw" -> Optimizer.adamw(0.01).withWeightDecay(0.01);
            default -> throw new IllegalArgumentException(config);
        };
        Path d = DIR.resolve("optimizers");
        Graph g = tinyNet();
        Tensor x = npy(d.resolve("input.npy"));
        Tensor y = npy(d.resolve("labels.npy"));
        float[] losses = npy(d.resolve(config + "/losses.npy")).toFloatArray();
        try (Trainer t = new Trainer(TrainingGraph.build(g, Loss.CROSS_ENTROPY, opt), 0, 0)) {
            for (int step = 1; step <= 2; step++) {
                double loss = t.step(x, y).loss(); // the trainer counts the steps and holds the rate
                assertEquals(step, t.steps());
                assertEquals(losses[step - 1], loss, 2e-6, config + " loss of step " + step);
                Map<String, Tensor> state = t.state();
                for (String key : new String[] {"conv1.weight", "conv1.bias", "fc.weight", "fc.bias"}) {
                    String name = BuilderVsPyTorchTest.forgeName(key, g);
                    Golden.assertClose(
                            npy(d.resolve(config + "/step" + step + "/" + key + ".npy")),
                            state.get(name),
                            1e-5,
                            config + " " + name + " after step " + step);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cross_entropy", "l1_loss", "mse_loss", "binary_cross_entropy_with_logits"})
    void losses_and_their_gradients_match_pytorch(String name) {
        Path d = DIR.resolve("losses").resolve(name);
        Tensor input = npy(d.resolve("input.npy"));
        Loss loss = switch (name) {
            case "cross_entropy" -> Loss.CROSS_ENTROPY;
            case "l1_loss" -> Loss.L1;
            case "mse_loss" -> Loss.MSE;
            default -> Loss.BCE_WITH_LOGITS;
        };
        // a model whose prediction is its input plus a zero parameter, so the input gradient is the loss gradient
        GraphBuilder b = new GraphBuilder("loss_" + name);
        long[] s = input.shape();
        Value x = b.input("input", Shape.fixed(s));
        Value p = b.parameter("zero", Tensor.of(new float[(int) s[1]], s[1]));
        Graph g = b.output(b.add(x, p), "prediction").build();
        Map<String, Tensor> out =
                runGradients(TrainingGraph.gradients(g, loss, true), input, npy(d.resolve("target.npy")));
        Golden.assertClose(npy(d.resolve("loss.npy")), out.get("loss"), 2e-6, name + " loss");
        Golden.assertClose(npy(d.resolve("grad.npy")), out.get("input.grad"), 2e-6, name + " gradient");
    }

    @Test
    void learning_rate_schedules_match_torch_lr_scheduler() {
        Path d = DIR.resolve("optimizers/schedules");
        float[] step = npy(d.resolve("step.npy")).toFloatArray();
        float[] cosine = npy(d.resolve("cosine.npy")).toFloatArray();
        dev.forge.compiler.train.Schedule stepLr = dev.forge.compiler.train.Schedule.step(2, 0.5);
        dev.forge.compiler.train.Schedule cos = dev.forge.compiler.train.Schedule.cosine(5);
        for (int e = 0; e < step.length; e++) {
            assertEquals(step[e], stepLr.lr(0.1, e), 1e-7, "StepLR epoch " + e);
            assertEquals(cosine[e], cos.lr(0.1, e), 1e-7, "CosineAnnealingLR epoch " + e);
        }
    }
}
