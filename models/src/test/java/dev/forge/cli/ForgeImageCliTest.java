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
import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Prediction;
import dev.forge.runtime.Tensor;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** forge export/train --preprocess, train --augment and predict on images of any size. */
class ForgeImageCliTest {
    /** 64x48 RGB JPEG (testdata/scripts/make_preprocess_golden.py). */
    static final Path PHOTO = Path.of("../testdata/golden-preprocess/photo.jpg");

    @TempDir
    Path dir;

    static ForgeCliTest.Result forge(String... args) {
        return ForgeCliTest.forge(args);
    }

    /** A small gray classifier, input [N, 1, 8, 8], 3 classes. */
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

    /** train/ and test/ folders of RGB PNGs of several sizes, none of them 8x8. */
    private Path folder() throws Exception {
        Path root = dir.resolve("imgs");
        int[][] sizes = {{12, 10}, {20, 14}, {9, 30}, {16, 16}};
        for (String split : new String[] {"train", "test"}) {
            for (int c = 0; c < 3; c++) {
                Path cls = Files.createDirectories(root.resolve(split).resolve("class" + c));
                for (int i = 0; i < sizes.length; i++) {
                    BufferedImage img = new BufferedImage(sizes[i][0], sizes[i][1], BufferedImage.TYPE_INT_RGB);
                    for (int y = 0; y < img.getHeight(); y++) {
                        for (int x = 0; x < img.getWidth(); x++) {
                            int v = (x * 37 * (c + 1) + y * 11 + i * 5) % 256;
                            img.setRGB(x, y, (v << 16) | ((255 - v) << 8) | (c * 80));
                        }
                    }
                    ImageIO.write(img, "png", cls.resolve(i + ".png").toFile());
                }
            }
        }
        return root;
    }

    private float[] logitsOf(Path model) {
        try (Model m = Model.load(model)) {
            return m.runImage(PHOTO).toFloatArray();
        }
    }

    @Test
    void export_stores_the_preprocessing_and_predict_takes_a_jpeg_of_any_size() {
        Path model = dir.resolve("mnist.onnx");
        String out = forge("export", "mnist-cnn", "--preprocess", "0.1307/0.3081:32:28", "--out", model.toString())
                .ok()
                .out();
        assertTrue(out.contains("images: resize 32, center crop 28x28, gray"), out);
        try (Model m = Model.load(model)) {
            Map<String, String> meta = m.metadata();
            assertEquals("32", meta.get(ModelMetadata.IMAGE_RESIZE));
            assertEquals("28x28", meta.get(ModelMetadata.IMAGE_CROP));
            assertEquals("gray", meta.get(ModelMetadata.IMAGE_COLOR));
            assertEquals("0.1307", meta.get(ModelMetadata.INPUT_MEAN));
            // the CLI prints what the library computes for the same file
            List<Prediction> want = m.predict(PHOTO, 2);
            String predict = forge("predict", model.toString(), PHOTO.toString(), "--top", "2")
                    .ok()
                    .out();
            assertEquals(
                    String.format(
                            Locale.ROOT,
                            "%s:  %s %.4f  %s %.4f%n",
                            PHOTO,
                            want.get(0).label(),
                            want.get(0).probability(),
                            want.get(1).label(),
                            want.get(1).probability()),
                    predict);
        }
    }

    @Test
    void preprocessing_that_does_not_fit_the_model_is_one_clear_error() {
        String out = dir.resolve("m.onnx").toString();
        ForgeCliTest.Result r = forge("export", "mnist-cnn", "--preprocess", "imagenet:256:224", "--out", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("ImageNet normalization has 3 channels but the color is gray"), r.err());
        r = forge("export", "mnist-cnn", "--preprocess", "unit:256:224", "--out", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("the crop must be the model input's height x width 28x28"), r.err());
        assertTrue(r.err().contains("e.g. unit:256:28x28"), r.err());
        r = forge("export", "mnist-cnn", "--preprocess", "unit:32", "--out", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("expected NORM:RESIZE:CROP"), r.err());
        r = forge("export", "mnist-cnn", "--preprocess", "unit:32:28", "--color", "cmyk", "--out", out);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--color 'cmyk' is not one of rgb, bgr, gray"), r.err());
        r = forge("train", "mnist-cnn", "--augment", "flip,rotate", "--steps", "1", "--no-progress");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--augment: augmentation 'flip,rotate': unknown 'rotate'"), r.err());
    }

    @Test
    void train_decodes_folders_through_the_preprocessing_augments_reproducibly_and_exports_it() throws Exception {
        Path tiny = tinyOnnx();
        Path data = folder();
        String[] common = {
            "train",
            "--model",
            tiny.toString(),
            "--data",
            "folder:" + data,
            "--preprocess",
            "0.5/0.25:10:8",
            "--steps",
            "3",
            "--batch",
            "4",
            "--no-progress"
        };
        Path a = dir.resolve("a.onnx");
        Path b = dir.resolve("b.onnx");
        Path other = dir.resolve("other.onnx");
        Path plain = dir.resolve("plain.onnx");
        forge(concat(common, "--augment", "crop,flip,jitter", "--seed", "5", "--out", a.toString()))
                .ok();
        forge(concat(common, "--augment", "crop,flip,jitter", "--seed", "5", "--out", b.toString()))
                .ok();
        forge(concat(common, "--augment", "crop,flip,jitter", "--seed", "6", "--out", other.toString()))
                .ok();
        forge(concat(common, "--seed", "5", "--out", plain.toString())).ok();
        // same seed, same augmentations, same weights; another seed or no augmentation, other weights
        assertArrayEquals(logitsOf(a), logitsOf(b));
        assertFalse(java.util.Arrays.equals(logitsOf(a), logitsOf(other)));
        assertFalse(java.util.Arrays.equals(logitsOf(a), logitsOf(plain)));
        try (Model m = Model.load(a)) {
            ImagePreprocessing p = m.imagePreprocessing().orElseThrow();
            assertEquals(
                    ImagePreprocessing.builder()
                            .color(ImagePreprocessing.Color.GRAY)
                            .resize(10)
                            .crop(8, 8)
                            .normalization(new float[] {0.5f}, new float[] {0.25f})
                            .build(),
                    p);
            assertEquals(List.of("class0", "class1", "class2"), ModelMetadata.classLabels(m.metadata()));
            // the exported model classifies a 64x48 JPEG in one call
            Tensor y = m.runImage(PHOTO);
            assertArrayEquals(new long[] {1, 3}, y.shape());
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
