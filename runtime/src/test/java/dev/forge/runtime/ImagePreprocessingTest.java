package dev.forge.runtime;

import static dev.forge.runtime.TestModels.FLOAT;
import static dev.forge.runtime.TestModels.node;
import static dev.forge.runtime.TestModels.valueInfo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.ImagePreprocessing.Color;
import dev.forge.runtime.ImagePreprocessing.Layout;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link ImagePreprocessing} against values computed by hand: the resize weights of a tiny case, and the
 * whole pipeline on a real JPEG against a direct double-precision evaluation of its definition. (The
 * comparison with torchvision itself is {@code ImagePreprocessingVsTorchvisionTest} in testdata.)
 */
class ImagePreprocessingTest {
    /** 64x48 RGB, made by testdata/scripts/make_preprocess_golden.py (see there). */
    static final Path PHOTO = Path.of("../testdata/golden-preprocess/photo.jpg");

    @Test
    void halving_a_row_weights_three_pixels_by_the_stretched_triangle() {
        // scale 2: output 0 is centred at input 1.0; pixels 0, 1, 2 (centres 0.5, 1.5, 2.5) are 0.5, 0.5
        // and 1.5 away, so the triangle of half-width 2 gives 0.75, 0.75, 0.25, normalized by 1.75
        PilResample.Coefficients c = PilResample.Coefficients.of(4, 2);
        assertEquals(0, c.min[0]);
        assertEquals(3, c.count[0]);
        assertArrayEquals(new double[] {3 / 7.0, 3 / 7.0, 1 / 7.0}, slice(c, 0), 1e-15);
        assertEquals(1, c.min[1]);
        assertArrayEquals(new double[] {1 / 7.0, 3 / 7.0, 3 / 7.0}, slice(c, 1), 1e-15);
        // a row 0, 70, 140, 210 halves to (3*0 + 3*70 + 140)/7 = 50 and (70 + 3*140 + 3*210)/7 = 160
        byte[] out = PilResample.resize(new byte[] {0, 70, (byte) 140, (byte) 210}, 1, 4, 1, 2);
        assertEquals(50, out[0] & 0xff);
        assertEquals(160, out[1] & 0xff);
    }

    @Test
    void doubling_a_row_is_plain_bilinear_interpolation_with_clamped_edges() {
        // scale 1/2: output centres at 0.25, 0.75, 1.25, 1.75 in input coordinates, support 1
        byte[] out = PilResample.resize(new byte[] {0, 100}, 1, 2, 1, 4);
        // 0.25 -> clamped to pixel 0 (its centre is 0.5); 0.75 -> 0.75*0 + 0.25*100; 1.25 -> 75; 1.75 -> 100
        assertArrayEquals(new int[] {0, 25, 75, 100}, unsigned(out));
    }

    @Test
    void imagenet_preprocessing_of_a_jpeg_equals_the_definition_computed_in_double_precision() {
        BufferedImage img = ImagePreprocessing.read(PHOTO);
        assertEquals(64, img.getWidth());
        assertEquals(48, img.getHeight());
        ImagePreprocessing p = ImagePreprocessing.imagenet(20, 16);
        float[] got = p.apply(img);
        assertEquals(3 * 16 * 16, got.length);

        // by hand: 64x48 -> shorter side 20, longer floor(20 * 64 / 48) = 26; crop 16x16 at
        // top round((20 - 16) / 2) = 2, left round((26 - 16) / 2) = 5
        double[][] want = reference(img, 20, 26, 2, 5, 16, 16);
        float[] mean = ImagePreprocessing.IMAGENET_MEAN;
        float[] std = ImagePreprocessing.IMAGENET_STD;
        double worst = 0;
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 256; i++) {
                double ref = (want[c][i] / 255 - mean[c]) / std[c];
                double levels = Math.abs(got[c * 256 + i] - ref) * std[c] * 255;
                worst = Math.max(worst, levels);
            }
        }
        // Pillow's (and so our) two passes each round to a byte: at most half a level each, and the
        // vertical pass's weights are convex, so the result is within one level of the exact value
        assertTrue(worst <= 1.0, "worst difference from the exact filter: " + worst + " levels");
        assertTrue(worst > 0, "the 8-bit rounding of the passes should show somewhere");
    }

    @Test
    void bgr_and_nhwc_reorder_the_same_values() {
        BufferedImage img = ImagePreprocessing.read(PHOTO);
        ImagePreprocessing rgb = ImagePreprocessing.imagenet(20, 16);
        float[] nchw = rgb.apply(img);
        ImagePreprocessing bgr = rgb.toBuilder()
                .color(Color.BGR)
                .imagenetNormalization()
                .layout(Layout.NHWC)
                .build();
        assertArrayEquals(new float[] {0.406f, 0.456f, 0.485f}, bgr.mean().orElseThrow());
        float[] nhwc = bgr.apply(img);
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 256; i++) {
                assertEquals(nchw[c * 256 + i], nhwc[i * 3 + (2 - c)], "channel " + c + " pixel " + i);
            }
        }
    }

    @Test
    void gray_is_pillows_luma_and_crop_larger_than_the_image_pads_with_zeros() {
        BufferedImage img = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, 0xff0000);
        img.setRGB(1, 0, 0x00ff00);
        img.setRGB(2, 0, 0x0000ff);
        img.setRGB(0, 1, 0xffffff);
        ImagePreprocessing p =
                ImagePreprocessing.builder().color(Color.GRAY).crop(4, 5).build();
        float[] v = p.apply(img);
        // padding: top (4-2)/2 = 1 row, left (5-3)/2 = 1 column; L = (19595 R + 38470 G + 7471 B + 32768) >> 16
        float[] want = {
            0, 0, 0, 0, 0, //
            0, 76 / 255f, 150 / 255f, 29 / 255f, 0, //
            0, 1, 0, 0, 0, //
            0, 0, 0, 0, 0
        };
        assertArrayEquals(want, v);
    }

    @Test
    void metadata_round_trips_and_keeps_mean_and_std_in_the_existing_keys() {
        ImagePreprocessing p = ImagePreprocessing.imagenet(256, 224).toBuilder()
                .crop(224, 200)
                .layout(Layout.NHWC)
                .build();
        Map<String, String> m = p.toMetadata();
        assertEquals("256", m.get(ModelMetadata.IMAGE_RESIZE));
        assertEquals("224x200", m.get(ModelMetadata.IMAGE_CROP));
        assertEquals("rgb", m.get(ModelMetadata.IMAGE_COLOR));
        assertEquals("nhwc", m.get(ModelMetadata.IMAGE_LAYOUT));
        assertEquals("0.485,0.456,0.406", m.get(ModelMetadata.INPUT_MEAN));
        assertArrayEquals(
                new float[] {0.229f, 0.224f, 0.225f},
                ModelMetadata.normalization(m).orElseThrow()[1]);
        assertEquals(p, ImagePreprocessing.fromMetadata(m).orElseThrow());
        assertEquals(ImagePreprocessing.imagenet(256, 224), ImagePreprocessing.parse("imagenet:256:224"));
        assertEquals(ImagePreprocessing.builder().crop(28, 32).build(), ImagePreprocessing.parse("unit:0:28x32"));
        // only the normalization keys: no image preprocessing
        assertFalse(
                ImagePreprocessing.fromMetadata(Map.of(ModelMetadata.INPUT_MEAN, "0.5", ModelMetadata.INPUT_STD, "0.5"))
                        .isPresent());
    }

    @Test
    void malformed_metadata_names_the_key_the_value_and_the_form() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ImagePreprocessing.fromMetadata(Map.of(ModelMetadata.IMAGE_CROP, "224by224")));
        assertTrue(e.getMessage().contains("image_crop = '224by224'"), e.getMessage());
        assertTrue(e.getMessage().contains("HxW"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> ImagePreprocessing.fromMetadata(Map.of(ModelMetadata.IMAGE_COLOR, "rgba")));
        assertTrue(e.getMessage().contains("'rgba' is not one of rgb, bgr, gray"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> ImagePreprocessing.fromMetadata(Map.of(ModelMetadata.IMAGE_RESIZE, "256x256")));
        assertTrue(e.getMessage().contains("must be one number"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> ImagePreprocessing.fromMetadata(Map.of(
                        ModelMetadata.IMAGE_COLOR, "gray",
                        ModelMetadata.INPUT_MEAN, "0.5,0.5,0.5",
                        ModelMetadata.INPUT_STD, "1,1,1")));
        assertTrue(e.getMessage().contains("3 channel(s) but color gray has 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ImagePreprocessing.parse("imagenet:256"));
        assertTrue(e.getMessage().contains("NORM:RESIZE:CROP"), e.getMessage());
    }

    /** x: float[N, 3, 16, 16] -> GlobalAveragePool -> Flatten -> [N, 3], labels red, green, blue. */
    private static byte[] channelMeanClassifier(Map<String, String> metadata) {
        TestModels.ModelSpec m = new TestModels.ModelSpec();
        m.nodes.add(node("GlobalAveragePool", "gap", List.of("x"), List.of("p")));
        m.nodes.add(node("Flatten", "flat", List.of("p"), List.of("y")));
        m.inputs.add(valueInfo("x", FLOAT, "N", 3L, 16L, 16L));
        m.outputs.add(valueInfo("y", FLOAT, "N", 3L));
        m.metadata.put("class_labels", "red,green,blue");
        m.metadata.putAll(metadata);
        return m.build();
    }

    @Test
    void a_model_with_stored_preprocessing_classifies_an_image_file_in_one_call() {
        ImagePreprocessing p = ImagePreprocessing.imagenet(20, 16);
        float[] x = p.apply(ImagePreprocessing.read(PHOTO));
        double[] means = new double[3];
        for (int i = 0; i < x.length; i++) {
            means[i / 256] += x[i] / 256.0;
        }
        for (boolean normalizeInputs : new boolean[] {false, true}) {
            ModelOptions o =
                    ModelOptions.builder().normalizeInputs(normalizeInputs).build();
            try (Model model = Model.load(channelMeanClassifier(p.toMetadata()), "gap.onnx", o)) {
                assertEquals(p, model.imagePreprocessing().orElseThrow());
                // the stored normalization is applied once, also when ModelOptions.normalizeInputs is set
                float[] y = model.runImage(PHOTO).toFloatArray();
                for (int c = 0; c < 3; c++) {
                    assertEquals(means[c], y[c], 1e-5, "channel " + c);
                }
                List<Prediction> top = model.predict(PHOTO, 3);
                int best = means[0] >= means[1] && means[0] >= means[2] ? 0 : means[1] >= means[2] ? 1 : 2;
                assertEquals(
                        List.of("red", "green", "blue").get(best), top.get(0).label());
            }
        }
    }

    @Test
    void a_model_without_preprocessing_or_with_a_wrong_crop_says_what_to_store() {
        try (Model model = Model.load(channelMeanClassifier(Map.of()), "plain.onnx", ModelOptions.defaults())) {
            assertTrue(model.imagePreprocessing().isEmpty());
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.predict(PHOTO, 1));
            assertTrue(e.getMessage().contains("plain.onnx stores no image preprocessing"), e.getMessage());
            assertTrue(e.getMessage().contains("--preprocess"), e.getMessage());
            // an explicit preprocessing works without stored metadata
            BufferedImage img = ImagePreprocessing.read(PHOTO);
            assertEquals(
                    1,
                    model.predict(List.of(img), ImagePreprocessing.imagenet(20, 16), 1)
                            .size());
            e = assertThrows(
                    InvalidInputException.class,
                    () -> model.predict(List.of(img), ImagePreprocessing.imagenet(20, 18), 1));
            assertTrue(e.getMessage().contains("comes out 18x18"), e.getMessage());
            assertTrue(e.getMessage().contains("needs 16x16"), e.getMessage());
        }
        Map<String, String> bad = new HashMap<>();
        bad.put(ModelMetadata.IMAGE_CROP, "sixteen");
        try (Model model = Model.load(channelMeanClassifier(bad), "bad.onnx", ModelOptions.defaults())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.runImage(PHOTO));
            assertTrue(e.getMessage().startsWith("bad.onnx: metadata image_crop = 'sixteen'"), e.getMessage());
        }
    }

    // ---------------------------------------------------------------- the reference

    /**
     * The definition evaluated directly, in double precision and without any rounding: each output pixel
     * is the weighted mean of the input pixels under the triangle of half-width max(scale, 1) centred on
     * it, first along x, then along y; then the crop. Returns [channel][row-major pixel] in 0..255.
     */
    private static double[][] reference(BufferedImage img, int oh, int ow, int top, int left, int ch, int cw) {
        int h = img.getHeight();
        int w = img.getWidth();
        double[][] out = new double[3][ch * cw];
        for (int c = 0; c < 3; c++) {
            double[] src = new double[h * w];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    src[y * w + x] = (img.getRGB(x, y) >> (16 - 8 * c)) & 0xff;
                }
            }
            double[] rows = new double[h * ow];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < ow; x++) {
                    rows[y * ow + x] = filtered(src, y * w, 1, w, (x + 0.5) * w / ow, (double) w / ow);
                }
            }
            for (int y = 0; y < ch; y++) {
                for (int x = 0; x < cw; x++) {
                    int oy = y + top;
                    int ox = x + left;
                    out[c][y * cw + x] = filtered(rows, ox, ow, h, (oy + 0.5) * h / oh, (double) h / oh);
                }
            }
        }
        return out;
    }

    private static double filtered(double[] v, int start, int stride, int n, double centre, double scale) {
        double s = Math.max(scale, 1);
        double sum = 0;
        double weights = 0;
        for (int j = 0; j < n; j++) {
            double wgt = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / s));
            sum += wgt * v[start + j * stride];
            weights += wgt;
        }
        return sum / weights;
    }

    private static double[] slice(PilResample.Coefficients c, int out) {
        double[] s = new double[c.count[out]];
        System.arraycopy(c.exact, out * c.size, s, 0, s.length);
        return s;
    }

    private static int[] unsigned(byte[] b) {
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] & 0xff;
        }
        return out;
    }
}
