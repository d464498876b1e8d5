package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.train.Checkpoint;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line tried carelessly, as a new user would (issue 13, item 6): data sets of other than 10
 * classes, {@code --data random}, labels and images that do not fit the model, bad option values, a step
 * limit in the middle of an epoch, resuming with other settings, and images with transparency, inverted
 * colors, missing files or float64 arrays.
 */
class ForgeCarelessUserCliTest {
    @TempDir
    static Path dir;

    /** A folder data set of 3 classes (a, b, c): a bright bar on a dark background, at a place per class. */
    static Path folder;

    static ForgeCliTest.Result forge(String... args) {
        return ForgeCliTest.forge(args);
    }

    static String p(String name) {
        return dir.resolve(name).toString();
    }

    @BeforeAll
    static void fixtures() throws Exception {
        System.setProperty("java.awt.headless", "true");
        folder = writeFolder(dir.resolve("three"));
    }

    /** Writes the 3-class folder data set under {@code root}. */
    static Path writeFolder(Path root) throws Exception {
        Random r = new Random(1);
        String[] classes = {"a", "b", "c"};
        for (String split : List.of("train", "test")) {
            for (int k = 0; k < 3; k++) {
                for (int i = 0; i < (split.equals("train") ? 6 : 3); i++) {
                    BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
                    for (int y = 0; y < 28; y++) {
                        for (int x = 0; x < 28; x++) {
                            int v = x >= 9 * k && x < 9 * k + 9 && y > 3 && y < 24 ? 255 : r.nextInt(40);
                            img.getRaster().setSample(x, y, 0, v);
                        }
                    }
                    Path f = root.resolve(split).resolve(classes[k]).resolve(i + ".png");
                    Files.createDirectories(f.getParent());
                    ImageIO.write(img, "png", f.toFile());
                }
            }
        }
        return root;
    }

    /** Trains mnist-cnn on the 3-class folder; its classes are stored as x, y, z (the folders are a, b, c). */
    static Path trainedOnFolder() {
        return trainOnFolder(folder, dir.resolve("three.onnx"));
    }

    static synchronized Path trainOnFolder(Path data, Path out) {
        if (!Files.exists(out)) {
            forge(
                            "train",
                            "mnist-cnn",
                            "--data",
                            "folder:" + data,
                            "--epochs",
                            "8",
                            "--batch",
                            "6",
                            "--class-names",
                            "x,y,z",
                            "--no-progress",
                            "--out",
                            out.toString())
                    .ok();
        }
        return out;
    }

    // ------------------------------------------------------------------ class counts

    @Test
    void a_built_in_network_takes_its_class_count_from_a_folder_data_set() throws Exception {
        Path model = trainedOnFolder();
        try (Model m = Model.load(model)) {
            assertEquals(3, m.outputs().get(0).shape()[1], "the classifier is sized by the data set's classes");
            assertEquals("x,y,z", m.metadata().get(ModelMetadata.CLASS_LABELS));
        }
    }

    @Test
    void predict_on_a_folder_counts_correct_answers_by_class_index_not_by_label_text() {
        Path model = trainedOnFolder();
        String out = forge("predict", model.toString(), "--data", "folder:" + folder, "--count", "9")
                .ok()
                .out();
        // the model calls the classes x, y, z; the folder calls them a, b, c: index i is the same class
        String truthNames = "abc";
        String modelNames = "xyz";
        int correct = 0;
        for (String line : out.split("\n")) {
            if (line.startsWith("test image")) {
                char truth = line.charAt(line.indexOf("(true ") + 6);
                char top = line.substring(line.indexOf("):") + 2).trim().charAt(0);
                if (truthNames.indexOf(truth) == modelNames.indexOf(top)) {
                    correct++;
                }
            }
        }
        assertTrue(correct > 0, out);
        assertTrue(out.contains(correct + " of 9 correct"), out);
    }

    // ------------------------------------------------------------------ --data random

    @Test
    void data_random_trains_evaluates_and_predicts_a_classifier() {
        String model = p("random.onnx");
        String train = forge("train", "mnist-cnn", "--data", "random", "--steps", "2", "--no-progress", "--out", model)
                .ok()
                .out();
        assertTrue(train.contains("evaluated through the runtime on 128 test images"), train);
        String eval = forge("eval", model, "--data", "random").ok().out();
        assertTrue(eval.contains("samples: 128") && eval.contains("accuracy: "), eval);
        String predict =
                forge("predict", model, "--data", "random", "--count", "3").ok().out();
        assertTrue(predict.contains("of 3 correct"), predict);
        // a model that was never trained on it: the data set is shaped by the model
        forge("eval", trainedOnFolder().toString(), "--data", "random").ok();
    }

    // ------------------------------------------------------------------ data that does not fit

    private Path npyData(String name, long[] shape, boolean floatLabels) throws Exception {
        int n = (int) shape[0];
        int size = (int) (shape[1] * shape[2] * shape[3]);
        Npy.write(dir.resolve(name + "-x.npy"), Tensor.of(new float[n * size], shape));
        long[] y = new long[n];
        float[] yf = new float[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 3;
            yf[i] = i % 3;
        }
        Npy.write(dir.resolve(name + "-y.npy"), floatLabels ? Tensor.of(yf, n) : Tensor.of(y, n));
        return dir.resolve(name + "-x.npy");
    }

    @Test
    void train_model_refuses_float_labels_for_cross_entropy_and_wrong_image_sizes_before_training() throws Exception {
        Path model = trainedOnFolder();
        npyData("floats", new long[] {6, 1, 28, 28}, true);
        ForgeCliTest.Result r = forge(
                "train",
                "--model",
                model.toString(),
                "--inputs",
                p("floats-x.npy"),
                "--labels",
                p("floats-y.npy"),
                "--loss",
                "cross-entropy",
                "--no-progress",
                "--out",
                p("floats.onnx"));
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().startsWith("forge: error: cross-entropy needs int64 class indices"), r.err());
        assertTrue(r.err().contains("astype(np.int64)"), r.err());
        assertFalse(r.out().contains("epoch 1"), r.out());
        assertFalse(r.err().contains("ONNX Runtime"), r.err());

        npyData("small", new long[] {6, 1, 27, 27}, false);
        r = forge(
                "train",
                "--model",
                model.toString(),
                "--inputs",
                p("small-x.npy"),
                "--labels",
                p("small-y.npy"),
                "--no-progress",
                "--out",
                p("small.onnx"));
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("[1, 27, 27]") && r.err().contains("[N, 1, 28, 28]"), r.err());
        assertTrue(r.err().contains("resize the images to 28x28"), r.err());
        assertFalse(r.out().contains("epoch 1"), r.out());
    }

    // ------------------------------------------------------------------ options

    @Test
    void bad_option_values_are_usage_errors_naming_the_option_before_any_work() throws Exception {
        Files.writeString(dir.resolve("a-file"), "x");
        String[][] cases = {
            {"--threads", "-1"},
            {"--lr", "-1"},
            {"--lr", "NaN"},
            {"--batch", "0"},
            {"--epochs", "-1"},
            {"--steps", "0"},
            {"--momentum", "-0.5"},
            {"--out", p("a-file") + "/model.onnx"},
            {"--checkpoint", p("a-file") + "/model.ckpt"},
        };
        for (String[] c : cases) {
            ForgeCliTest.Result r = forge(
                    "train",
                    "mnist-cnn",
                    "--data",
                    "random",
                    "--no-progress",
                    c[0],
                    c[1],
                    c[0].equals("--out") ? "--checkpoint" : "--out",
                    c[0].equals("--out") ? p("ok.ckpt") : p("ok.onnx"));
            String what = String.join(" ", c) + ": " + r.err() + r.out();
            assertEquals(Forge.EXIT_USAGE, r.code(), what);
            assertTrue(r.err().startsWith("forge: error: ") && r.err().contains(c[0]), what);
            assertEquals("", r.out(), "nothing ran: " + what);
            assertFalse(r.err().contains(".tmp") || r.err().contains(".probe"), "names the file as given: " + what);
        }
        assertEquals(
                Forge.EXIT_USAGE,
                forge("eval", p("x.onnx"), "--data", "random", "--batch", "0").code());
    }

    // ------------------------------------------------------------------ --steps

    @Test
    void a_step_limit_in_the_middle_of_an_epoch_records_a_partial_epoch_and_no_empty_one() throws Exception {
        // random: 128 samples, batch 64: 2 steps per epoch; 3 steps end in the middle of epoch 2 of 3
        String out = forge(
                        "train",
                        "mnist-cnn",
                        "--data",
                        "random",
                        "--epochs",
                        "3",
                        "--steps",
                        "3",
                        "--no-progress",
                        "--out",
                        p("steps.onnx"))
                .ok()
                .out();
        assertFalse(out.contains("NaN") || out.contains("(0 img/s)") || out.contains("epoch 3/3"), out);
        assertTrue(out.contains("epoch 2/3 (partial: 50% of its steps)"), out);
        List<String> csv = Files.readAllLines(dir.resolve("steps.history.csv"));
        assertEquals(3, csv.size(), "header and two epochs: " + csv);
        assertTrue(csv.get(0).endsWith(",epoch_fraction"), csv.get(0));
        assertTrue(csv.get(1).startsWith("1,") && csv.get(1).endsWith(",1"), csv.get(1));
        assertTrue(csv.get(2).startsWith("2,") && csv.get(2).endsWith(",0.500000"), csv.get(2));
        assertFalse(String.join("\n", csv).contains("NaN"), csv.toString());
        assertEquals(3, Checkpoint.read(dir.resolve("steps.ckpt")).step());
    }

    // ------------------------------------------------------------------ --resume

    @Test
    void resume_refuses_another_optimizer_batch_or_data_set_and_accepts_an_explicit_new_learning_rate() {
        String[] base = {"train", "mnist-cnn", "--no-progress", "--out", p("res.onnx")};
        forge(concat(base, "--data", "random", "--epochs", "1")).ok();
        String ckpt = p("res.ckpt");
        String[][] refused = {
            {"--data", "random", "--optimizer", "sgd"},
            {"--data", "random", "--batch", "32"},
            {"--data", "folder:" + folder},
        };
        String[] differs = {"sgd", "batch size 64", "other data"};
        for (int i = 0; i < refused.length; i++) {
            ForgeCliTest.Result r = forge(concat(concat(base, refused[i]), "--epochs", "2", "--resume", ckpt));
            String what = String.join(" ", refused[i]) + ": " + r.err();
            assertEquals(Forge.EXIT_USAGE, r.code(), what);
            assertTrue(r.err().startsWith("forge: error: --resume " + ckpt + ": "), what);
            assertTrue(r.err().contains(differs[i]), what);
            assertFalse(r.out().contains("epoch 2/2"), what);
        }
        // the same settings continue; a learning rate given explicitly is a deliberate change
        String out = forge(concat(base, "--data", "random", "--epochs", "2", "--lr", "0.002", "--resume", ckpt))
                .ok()
                .out();
        assertTrue(out.contains("resuming after epoch 1") && out.contains("epoch 2/2"), out);
        // and the next resume without --lr is told that the rate differs from the checkpoint's
        ForgeCliTest.Result r = forge(concat(base, "--data", "random", "--epochs", "3", "--resume", ckpt));
        assertEquals(Forge.EXIT_USAGE, r.code(), r.err());
        assertTrue(r.err().contains("lr=0.002") && r.err().contains("--lr"), r.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    // ------------------------------------------------------------------ images and arrays

    /** A 28x28 vertical bar of {@code ink} on {@code background}; alpha 0 where there is no ink if transparent. */
    static Path bar(String name, int ink, int background, boolean transparent) throws Exception {
        return bar(dir, name, ink, background, transparent);
    }

    static Path bar(Path dir, String name, int ink, int background, boolean transparent) throws Exception {
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                boolean on = x >= 9 && x < 18 && y > 3 && y < 24;
                int v = on ? ink : background;
                int a = on || !transparent ? 255 : 0;
                // a transparent pixel's stored color is black, as most painting programs leave it
                int rgb = transparent && !on ? 0 : (v << 16) | (v << 8) | v;
                img.setRGB(x, y, (a << 24) | rgb);
            }
        }
        Path f = dir.resolve(name);
        ImageIO.write(img, "png", f.toFile());
        return f;
    }

    @Test
    void a_transparent_png_is_composited_so_that_its_ink_stays_visible() throws Exception {
        String model = trainedOnFolder().toString();
        Path whiteOnClear = bar("white-on-clear.png", 255, 0, true);
        Path whiteOnBlack = bar("white-on-black.png", 255, 0, false);
        Path blackOnClear = bar("black-on-clear.png", 0, 0, true);
        Path blackOnWhite = bar("black-on-white.png", 0, 255, false);
        String out = forge(
                        "predict",
                        model,
                        whiteOnClear.toString(),
                        whiteOnBlack.toString(),
                        blackOnClear.toString(),
                        blackOnWhite.toString())
                .ok()
                .out();
        String[] lines = out.strip().split("\n");
        // white ink over transparency is the white-on-black image; black ink, the black-on-white one
        assertEquals(lines[1].substring(lines[1].indexOf(':')), lines[0].substring(lines[0].indexOf(':')), out);
        assertEquals(lines[3].substring(lines[3].indexOf(':')), lines[2].substring(lines[2].indexOf(':')), out);
        assertTrue(lines[0].contains(":  y "), "the middle bar is class y: " + out);
    }

    @Test
    void a_missing_image_is_not_found_not_corrupt() {
        String model = trainedOnFolder().toString();
        ForgeCliTest.Result r = forge("predict", model, p("no-such.png"));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no-such.png: image not found"), r.err());
        assertFalse(r.err().contains("corrupt"), r.err());
        r = forge("predict", dir.resolve("absent.onnx").toString(), p("no-such.png"));
        assertEquals(1, r.code());
    }

    @Test
    void a_model_records_its_training_images_background() throws Exception {
        try (Model m = Model.load(trainedOnFolder())) {
            assertEquals("dark", m.metadata().get(ModelMetadata.IMAGE_BACKGROUND));
        }
    }

    @Test
    void float64_arrays_are_converted_to_float32_inputs_when_they_fit() throws Exception {
        String model = trainedOnFolder().toString();
        Random r = new Random(3);
        double[] wide = new double[2 * 28 * 28];
        float[] narrow = new float[wide.length];
        for (int i = 0; i < wide.length; i++) {
            wide[i] = r.nextDouble();
            narrow[i] = (float) wide[i];
        }
        Npy.write(dir.resolve("f64.npy"), Tensor.of(wide, 2, 1, 28, 28));
        Npy.write(dir.resolve("f32.npy"), Tensor.of(narrow, 2, 1, 28, 28));
        forge("run", model, "-i", p("f64.npy"), "-o", p("out64")).ok();
        forge("run", model, "-i", p("f32.npy"), "-o", p("out32")).ok();
        assertArrayEquals(
                Npy.read(dir.resolve("out32/logits.npy")).toFloatArray(),
                Npy.read(dir.resolve("out64/logits.npy")).toFloatArray());
    }
}
