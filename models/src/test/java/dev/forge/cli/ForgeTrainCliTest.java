package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Checkpoint;
import dev.forge.runtime.Model;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** forge train, eval and predict through {@link Forge#execute}. */
class ForgeTrainCliTest {
    @TempDir
    Path dir;

    static ForgeCliTest.Result forge(String... args) {
        return ForgeCliTest.forge(args);
    }

    @Test
    void train_simple_net_runs_the_seeds_sgd_step_and_lowers_the_loss() throws Exception {
        Path out = dir.resolve("simple.onnx");
        String text = forge("train", "simple-net", "--no-progress", "--out", out.toString())
                .ok()
                .out();
        assertTrue(text.contains("loss l1") && text.contains("sgd(lr=0.01"), text);
        String[] finalLine = text.substring(text.indexOf("final loss: train ")).split("[ ,\n]+");
        double before = Double.parseDouble(finalLine[3]);
        double after = Double.parseDouble(finalLine[5]);
        assertTrue(after < before, text);
        assertTrue(Files.isRegularFile(out) && Files.isRegularFile(dir.resolve("simple.ckpt")));
        assertTrue(Files.size(dir.resolve("simple.loss.png")) > 1000);
    }

    /** A small classifier written as an ONNX file, as another tool would have exported it. */
    private Path tinyOnnx() {
        GraphBuilder b = new GraphBuilder("tiny").seed(3);
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.relu(b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1)));
        x = b.maxPool("pool", x, Pool2d.of(2));
        Graph g = b.output(b.linear("fc", b.flatten(x), 3), "logits").build();
        Path p = dir.resolve("tiny.onnx");
        OnnxWriter.write(g, p);
        return p;
    }

    @Test
    void train_an_imported_model_on_npy_tensors_is_exactly_reproducible_without_shuffle() throws Exception {
        Path model = tinyOnnx();
        Random r = new Random(5);
        float[] x = new float[40 * 64];
        long[] y = new long[40];
        for (int i = 0; i < 40; i++) {
            y[i] = i % 3;
            for (int k = 0; k < 64; k++) {
                x[i * 64 + k] = (float) (r.nextGaussian() + (k % 3 == y[i] ? 1 : 0));
            }
        }
        Path xs = dir.resolve("x.npy");
        Path ys = dir.resolve("y.npy");
        Npy.write(xs, Tensor.of(x, 40, 1, 8, 8));
        Npy.write(ys, Tensor.of(y, 40));
        Path a = dir.resolve("a.onnx");
        Path b = dir.resolve("b.onnx");
        for (Path out : new Path[] {a, b}) {
            String text = forge(
                            "train",
                            "--model",
                            model.toString(),
                            "--inputs",
                            xs.toString(),
                            "--labels",
                            ys.toString(),
                            "--loss",
                            "cross-entropy",
                            "--steps",
                            "12",
                            "--batch",
                            "8",
                            "--no-shuffle",
                            "--no-progress",
                            "--optimizer",
                            "adam",
                            "--lr",
                            "0.01",
                            "--out",
                            out.toString())
                    .ok()
                    .out();
            assertTrue(text.contains("12 steps"), text);
        }
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "two runs in file order give the same model");
        Checkpoint c = Checkpoint.read(dir.resolve("a.ckpt"));
        assertEquals(12, c.step());
        try (Model trained = Model.load(a);
                Model initial = Model.load(model)) {
            Tensor input = Tensor.of(java.util.Arrays.copyOf(x, 64 * 8), 8, 1, 8, 8);
            assertTrue(!trained.run(input).equals(initial.run(input)), "training changed the model");
            assertEquals("0,1,2", trained.metadata().get("class_labels"));
        }
    }

    @Test
    void eval_and_predict_use_the_models_labels() throws Exception {
        Path model = tinyOnnx();
        // images: 8x8 gray PNGs in folder layout, for predict and a folder data set
        for (String split : new String[] {"train", "test"}) {
            for (int c = 0; c < 3; c++) {
                Path cls = Files.createDirectories(
                        dir.resolve("imgs").resolve(split).resolve("class" + c));
                for (int i = 0; i < 4; i++) {
                    BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
                    for (int p = 0; p < 64; p++) {
                        img.getRaster().setSample(p % 8, p / 8, 0, (p * (c + 1) * 13 + i * 7) % 256);
                    }
                    ImageIO.write(img, "png", cls.resolve(i + ".png").toFile());
                }
            }
        }
        String eval = forge("eval", model.toString(), "--data", "folder:" + dir.resolve("imgs"))
                .ok()
                .out();
        assertTrue(eval.contains("samples: 12") && eval.contains("confusion matrix"), eval);
        Path png = dir.resolve("imgs/test/class1/0.png");
        String predict = forge("predict", model.toString(), png.toString(), "--top", "2")
                .ok()
                .out();
        assertTrue(predict.startsWith(png + ":"), predict);
        assertEquals(2, predict.trim().split("\\s+").length / 2, predict);
        String fromData = forge("predict", model.toString(), "--data", "folder:" + dir.resolve("imgs"), "--count", "3")
                .ok()
                .out();
        assertTrue(fromData.startsWith("test image 0 (true class0):") && fromData.contains(" of 3 correct"), fromData);
    }

    @Test
    void replicas_train_an_imported_model_and_bad_counts_are_usage_errors() throws Exception {
        Path model = tinyOnnx();
        Random r = new Random(5);
        float[] x = new float[24 * 64];
        long[] y = new long[24];
        for (int i = 0; i < 24; i++) {
            y[i] = i % 3;
            for (int k = 0; k < 64; k++) {
                x[i * 64 + k] = (float) (r.nextGaussian() + (k % 3 == y[i] ? 1 : 0));
            }
        }
        Path xs = dir.resolve("x.npy");
        Path ys = dir.resolve("y.npy");
        Npy.write(xs, Tensor.of(x, 24, 1, 8, 8));
        Npy.write(ys, Tensor.of(y, 24));
        String[] common = {
            "train",
            "--model",
            model.toString(),
            "--inputs",
            xs.toString(),
            "--labels",
            ys.toString(),
            "--loss",
            "cross-entropy",
            "--steps",
            "4",
            "--batch",
            "8",
            "--no-progress",
            "--out",
            dir.resolve("r.onnx").toString()
        };
        String text = forge(concat(common, "--replicas", "auto")).ok().out();
        assertTrue(text.contains("replicas auto: 1 -> ") && text.contains("; chose "), text);
        forge(concat(common, "--replicas", "2")).ok();
        ForgeCliTest.Result bad = forge(concat(common, "--replicas", "0"));
        assertEquals(Forge.EXIT_USAGE, bad.code(), bad.err());
        assertTrue(bad.err().contains("replicas must be at least 1 (or auto), got 0"), bad.err());
        bad = forge(concat(common, "--replicas", "two"));
        assertEquals(Forge.EXIT_USAGE, bad.code(), bad.err());
        bad = forge(concat(common, "--replicas", "9"));
        assertEquals(Forge.EXIT_USAGE, bad.code(), bad.err());
        assertTrue(bad.err().contains("--replicas 9 exceeds the batch size 8"), bad.err());
        forge(concat(common, "--replicas", "2", "--micro-batch", "2")).ok();
        bad = forge(concat(common, "--micro-batch", "0"));
        assertEquals(Forge.EXIT_USAGE, bad.code(), bad.err());
        assertTrue(bad.err().contains("--micro-batch"), bad.err());
        bad = forge(concat(common, "--micro-batch", "4", "--device", "cuda"));
        assertEquals(Forge.EXIT_USAGE, bad.code(), bad.err());
        assertTrue(bad.err().contains("--micro-batch runs on the CPU only"), bad.err());
        bad = forge(concat(common, "--replicas", "2", "--device", "cuda"));
        assertEquals(Forge.EXIT_USAGE, bad.code(), bad.err());
        assertTrue(bad.err().contains("--replicas 2 shares the CPU's cores"), bad.err());
        assertFalse(bad.out().contains("training "), bad.out());
    }

    /**
     * {@code forge train --resume} on an imported model with Dropout: 4 epochs straight, against 2 epochs and a
     * resume to 4, give bit-identical checkpoints (parameters and Adam moments) and the same exported bytes; the
     * export has no Dropout; another seed (other masks and batch order) ends elsewhere.
     */
    @Test
    void train_resume_of_a_model_with_dropout_is_bit_identical_and_the_export_drops_dropout() throws Exception {
        GraphBuilder gb = new GraphBuilder("tiny_dropout").seed(3);
        Value in = gb.input("input", Shape.of("N", 1, 8, 8));
        Value h = gb.maxPool(
                "pool", gb.relu(gb.conv2d("conv1", in, Conv2d.of(4, 3).padding(1))), Pool2d.of(2));
        Path model = dir.resolve("tiny-dropout.onnx");
        OnnxWriter.write(
                gb.output(gb.linear("fc", gb.dropout(gb.flatten(h), 0.3f), 3), "logits")
                        .build(),
                model);
        Random r = new Random(9);
        float[] x = new float[32 * 64];
        long[] y = new long[32];
        for (int i = 0; i < 32; i++) {
            y[i] = i % 3;
            for (int k = 0; k < 64; k++) {
                x[i * 64 + k] = (float) (r.nextGaussian() + (k % 3 == y[i] ? 1 : 0));
            }
        }
        Path xs = dir.resolve("x.npy");
        Path ys = dir.resolve("y.npy");
        Npy.write(xs, Tensor.of(x, 32, 1, 8, 8));
        Npy.write(ys, Tensor.of(y, 32));
        java.util.function.BiFunction<String, String, String[]> train = (out, seed) -> new String[] {
            "train",
            "--model",
            model.toString(),
            "--inputs",
            xs.toString(),
            "--labels",
            ys.toString(),
            "--loss",
            "cross-entropy",
            "--batch",
            "8",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--seed",
            seed,
            "--no-progress",
            "--out",
            dir.resolve(out + ".onnx").toString()
        };
        forge(concat(train.apply("straight", "4"), "--epochs", "4")).ok();
        forge(concat(train.apply("split", "4"), "--epochs", "2")).ok();
        assertEquals(8, Checkpoint.read(dir.resolve("split.ckpt")).step());
        String resumed = forge(concat(
                        train.apply("split", "4"),
                        "--epochs",
                        "4",
                        "--resume",
                        dir.resolve("split.ckpt").toString()))
                .ok()
                .out();
        assertTrue(resumed.contains("resuming after epoch 2"), resumed);
        Checkpoint straight = Checkpoint.read(dir.resolve("straight.ckpt"));
        Checkpoint split = Checkpoint.read(dir.resolve("split.ckpt"));
        assertEquals(16, straight.step());
        assertEquals(straight.step(), split.step());
        assertTrue(straight.state().keySet().containsAll(java.util.List.of("conv1/W", "fc/W")));
        assertTrue(
                straight.state().size() > 4,
                "parameters and Adam's moments: " + straight.state().keySet());
        assertEquals(straight.state().keySet(), split.state().keySet());
        for (String name : straight.state().keySet()) {
            assertEquals(straight.state().get(name), split.state().get(name), "state tensor " + name);
        }
        assertArrayEquals(
                Files.readAllBytes(dir.resolve("straight.onnx")),
                Files.readAllBytes(dir.resolve("split.onnx")),
                "resumed export = uninterrupted export");
        Graph exported = dev.forge.compiler.onnx.OnnxReader.read(dir.resolve("straight.onnx"));
        assertTrue(
                exported.nodes().stream().noneMatch(n -> n.opType().equals("Dropout")),
                "exported nodes " + exported.nodes());
        try (Model m = Model.load(dir.resolve("straight.onnx"))) {
            Tensor batch = Tensor.of(java.util.Arrays.copyOf(x, 4 * 64), 4, 1, 8, 8);
            assertEquals(m.run(batch), m.run(batch));
        }
        forge(concat(train.apply("other", "5"), "--epochs", "4")).ok();
        assertTrue(
                !straight.state()
                        .get("fc/W")
                        .equals(Checkpoint.read(dir.resolve("other.ckpt"))
                                .state()
                                .get("fc/W")),
                "another seed ends elsewhere");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void bad_training_input_is_one_clear_error() {
        // a bad value of a typed option is a usage error (exit 2) that lists the valid choices
        ForgeCliTest.Result r = forge("train", "mnist-cnn", "--data", "nonsense");
        assertEquals(2, r.code());
        assertTrue(
                r.err().startsWith("forge: error: ") && r.err().contains("unknown data set 'nonsense'; use mnist, "),
                r.err());
        r = forge("train", "cifar10-net");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--data is required"), r.err());
        r = forge("train", "mnist-cnn", "--resume", dir.resolve("missing.ckpt").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("checkpoint not found"), r.err());
        r = forge("train", "mnist-cnn", "--optimizer", "lion");
        assertEquals(2, r.code());
        assertTrue(
                r.err()
                        .contains(
                                "unknown optimizer 'lion'; choose one of sgd, momentum, nesterov, rmsprop, adagrad, adam, adamw"),
                r.err());
        r = forge("train", "mnist-cnn", "--loss", "hinge");
        assertEquals(2, r.code());
        assertTrue(
                r.err().contains("unknown loss 'hinge'; choose one of cross-entropy, l1, mse, bce-with-logits"),
                r.err());
        r = forge("train", "mnist-cnn", "--schedule", "cosine:x");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("bad schedule 'cosine:x'"), r.err());
        r = forge(
                "train",
                "simple-net",
                "--device",
                "cuda",
                "--no-progress",
                "--out",
                dir.resolve("cuda.onnx").toString());
        assertEquals(1, r.code());
        assertTrue(
                r.err().startsWith("forge: error: CUDA requested (cuda:0) but this ONNX Runtime build has no CUDA"),
                r.err());
    }
}
