package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.Model;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** forge train's fine-tuning flags ({@link TransferOptions}) and forge embed. */
class ForgeTransferCliTest {
    @TempDir
    Path dir;

    static ForgeCliTest.Result forge(String... args) {
        return ForgeCliTest.forge(args);
    }

    /** A 3-class classifier on [1, 8, 8] with a BatchNorm, written as ONNX. */
    Path backbone() {
        GraphBuilder b = new GraphBuilder("tiny").seed(3);
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.relu(b.batchNorm("bn1", b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1))));
        x = b.maxPool("pool", x, Pool2d.of(2));
        Graph g = b.output(b.linear("fc", b.flatten(x), 3), "logits").build();
        Path p = dir.resolve("tiny.onnx");
        OnnxWriter.write(g, p);
        return p;
    }

    /** {@code imgs/train|test/<class>/k.png}: 8x8 images with {@code channels} channels, 4 per class. */
    Path folder(String name, int channels, String... classes) throws Exception {
        Path root = dir.resolve(name);
        for (String split : new String[] {"train", "test"}) {
            for (int c = 0; c < classes.length; c++) {
                Path cls = Files.createDirectories(root.resolve(split).resolve(classes[c]));
                for (int i = 0; i < 4; i++) {
                    BufferedImage img = new BufferedImage(
                            8, 8, channels == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
                    for (int p = 0; p < 64; p++) {
                        int v = (p * (c + 1) * 13 + i * 7) % 256;
                        if (channels == 1) {
                            img.getRaster().setSample(p % 8, p / 8, 0, v);
                        } else {
                            img.setRGB(p % 8, p / 8, (v << 16) | ((255 - v) << 8) | (v / 2));
                        }
                    }
                    ImageIO.write(img, "png", cls.resolve(i + ".png").toFile());
                }
            }
        }
        return root;
    }

    @Test
    void a_new_head_for_the_folders_classes_trains_with_a_frozen_backbone_and_exports_their_names() throws Exception {
        Path model = backbone();
        Path data = folder("pets", 1, "cat", "dog");
        Path out = dir.resolve("pets.onnx");
        String text = forge(
                        "train",
                        "--model",
                        model.toString(),
                        "--data",
                        "folder:" + data,
                        "--new-head",
                        "--freeze",
                        "backbone",
                        "--warmup",
                        "1",
                        "--optimizer",
                        "sgd",
                        "--lr",
                        "0.1",
                        "--epochs",
                        "2",
                        "--batch",
                        "4",
                        "--no-progress",
                        "--out",
                        out.toString())
                .ok()
                .out();
        assertTrue(text.contains("exported model, evaluated through the runtime on 8 test images"), text);
        Graph before = OnnxReader.read(model);
        Graph after = OnnxReader.read(out);
        assertEquals("[N,2]", after.outputs().get(0).type().shape().toString());
        try (Model m = Model.load(out)) {
            assertEquals("cat,dog", m.metadata().get("class_labels"));
        }
        assertEquals(3, before.initializers().get("fc/W").shape()[0]);
        // the frozen backbone (conv1, bn1 in inference mode) computes the same features before and after
        Path f0 = dir.resolve("f0.npy");
        Path f1 = dir.resolve("f1.npy");
        forge("embed", model.toString(), "--layer", "pool", "--data", "folder:" + data, "--out", f0.toString())
                .ok();
        forge("embed", out.toString(), "--layer", "pool", "--data", "folder:" + data, "--out", f1.toString())
                .ok();
        float[] a = Npy.read(f0).toFloatArray();
        float[] b = Npy.read(f1).toFloatArray();
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], 1e-5 * (1 + Math.abs(a[i])), "feature " + i);
        }
    }

    @Test
    void num_classes_class_names_and_learning_rate_groups_go_together() throws Exception {
        Path model = backbone();
        Path data = folder("abc", 1, "a", "b", "c", "d");
        Path out = dir.resolve("abcd.onnx");
        forge(
                        "train",
                        "--model",
                        model.toString(),
                        "--data",
                        "folder:" + data,
                        "--num-classes",
                        "4",
                        "--class-names",
                        "w,x,y,z",
                        "--freeze",
                        "conv1/*",
                        "--lr-for",
                        "fc/*=2",
                        "--backbone-lr",
                        "0.5",
                        "--steps",
                        "2",
                        "--batch",
                        "4",
                        "--no-progress",
                        "--out",
                        out.toString())
                .ok();
        try (Model m = Model.load(out)) {
            assertEquals("w,x,y,z", m.metadata().get("class_labels"));
            assertArrayEquals(
                    new long[] {1, 4},
                    m.run(Tensor.of(new float[64], 1, 1, 8, 8)).shape());
        }
    }

    @Test
    void bad_fine_tuning_values_are_usage_errors_and_unmatched_patterns_list_parameters() throws Exception {
        Path model = backbone();
        String[][] bad = {
            {"--num-classes", "0"},
            {"--lr-for", "fc/W"},
            {"--lr-for", "fc/W=-1"},
            {"--freeze", "re:conv[1"},
            {"--warmup", "soon"},
            {"--backbone-lr", "fast"}
        };
        for (String[] flag : bad) {
            ForgeCliTest.Result r = forge("train", "--model", model.toString(), "--data", "random", flag[0], flag[1]);
            assertEquals(2, r.code(), String.join(" ", flag) + ": " + r.err());
            assertTrue(r.err().startsWith("forge: error: "), r.err());
        }
        ForgeCliTest.Result r = forge(
                "train",
                "--model",
                model.toString(),
                "--inputs",
                "x.npy",
                "--labels",
                "y.npy",
                "--freeze",
                "features.*");
        assertEquals(1, r.code(), r.err());
        Path data = folder("two", 1, "a", "b");
        r = forge(
                "train",
                "--model",
                model.toString(),
                "--data",
                "folder:" + data,
                "--freeze",
                "features.*",
                "--steps",
                "1",
                "--no-progress",
                "--out",
                dir.resolve("x.onnx").toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(
                r.err()
                        .contains("freeze(\"features.*\") matches no trainable parameter of 'tiny'; its parameters are"
                                + " [conv1/W, conv1/B, bn1/scale, bn1/B, fc/W, fc/B]"),
                r.err());
        r = forge("train", "--model", model.toString(), "--data", "random", "--new-head");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--new-head needs the number of classes"), r.err());
    }

    @Test
    void embed_writes_a_layers_features_for_a_built_network_and_an_imported_export() throws Exception {
        Path model = backbone();
        Path gray = folder("gray", 1, "a", "b");
        Path npy = dir.resolve("features.npy");
        String text = forge(
                        "embed",
                        model.toString(),
                        "--layer",
                        "pool",
                        "--data",
                        "folder:" + gray,
                        "--out",
                        npy.toString())
                .ok()
                .out();
        assertTrue(text.contains("features of 'pool' for 8 train samples"), text);
        Tensor f = Npy.read(npy);
        assertArrayEquals(new long[] {8, 4, 4, 4}, f.shape());
        forge(
                        "embed",
                        model.toString(),
                        "--layer",
                        "pool",
                        "--data",
                        "folder:" + gray,
                        "--flatten",
                        "--split",
                        "test",
                        "--out",
                        npy.toString())
                .ok();
        Tensor flat = Npy.read(npy);
        assertArrayEquals(new long[] {8, 64}, flat.shape());
        // the same numbers as the full model's pool output, computed by the exported graph's own nodes
        assertTrue(java.util.Arrays.stream(toDouble(flat.toFloatArray())).anyMatch(v -> v != 0));

        Path rgb = folder("rgb", 3, "x", "y", "z");
        Path torch = Path.of("../testdata/golden-import/bn-init/model.onnx");
        forge(
                        "embed",
                        torch.toString(),
                        "--layer",
                        "/Flatten_output_0",
                        "--data",
                        "folder:" + rgb,
                        "--out",
                        npy.toString())
                .ok();
        assertArrayEquals(new long[] {12, 4}, Npy.read(npy).shape());

        ForgeCliTest.Result r =
                forge("embed", torch.toString(), "--layer", "nope", "--data", "folder:" + rgb, "--out", npy.toString());
        assertEquals(1, r.code());
        assertTrue(
                r.err().contains("--layer 'nope' is not a float value computed by")
                        && r.err().contains("/GlobalAveragePool_output_0 [N,4,1,1]"),
                r.err());
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
