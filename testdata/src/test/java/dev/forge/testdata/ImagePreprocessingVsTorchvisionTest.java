package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.ImagePreprocessing.Color;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The runtime's image preprocessing against torchvision's {@code Resize + CenterCrop + ToTensor +
 * Normalize} on PIL images (golden files by {@code scripts/make_preprocess_golden.py}, cases listed in
 * {@code golden-preprocess/cases.txt}).
 *
 * <p>On {@code photo.png} both sides see the same pixels, so the resized and cropped bytes must be equal
 * and the normalized tensor bit-identical. On {@code photo.jpg} each side decodes the JPEG with its own
 * decoder (ImageIO's and Pillow's libjpeg-turbo), which may round an IDCT or an upsampled chroma
 * sample one level apart; there the pixels must agree within {@value #JPEG_LEVELS} level and on average
 * within {@value #JPEG_MEAN_LEVELS}. (On this file the two decoders agree exactly: measured difference
 * 0.)
 */
class ImagePreprocessingVsTorchvisionTest {
    static final Path DIR = Path.of("golden-preprocess");
    static final int JPEG_LEVELS = 1;
    static final double JPEG_MEAN_LEVELS = 0.5;

    /** The cases of make_preprocess_golden.py, in Forge's spelling. */
    static ImagePreprocessing of(String name) {
        return switch (name) {
            case "imagenet-shrink" -> ImagePreprocessing.imagenet(20, 16);
            case "unit-enlarge" ->
                ImagePreprocessing.builder().resize(60).crop(56, 72).build();
            case "gray-shrink" ->
                ImagePreprocessing.builder()
                        .color(Color.GRAY)
                        .resize(13)
                        .crop(12, 11)
                        .normalization(new float[] {0.5f}, new float[] {0.25f})
                        .build();
            case "pad-crop" -> ImagePreprocessing.builder().crop(52, 70).build();
            default -> throw new IllegalArgumentException(name);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"imagenet-shrink", "unit-enlarge", "gray-shrink", "pad-crop"})
    void png_gives_torchvisions_pixels_and_tensor_exactly(String name) {
        ImagePreprocessing p = of(name);
        BufferedImage img = ImagePreprocessing.read(DIR.resolve("photo.png"));
        Tensor pixels = Npy.read(DIR.resolve(name).resolve("png-pixels.npy"));
        assertArrayEquals(pixels.toByteArray(), bytes(p, img), name + ": resized and cropped pixels");
        Path tensor = DIR.resolve(name).resolve("png-tensor.npy");
        if (Files.exists(tensor)) {
            float[] want = Npy.read(tensor).toFloatArray();
            float[] got = p.apply(img);
            for (int i = 0; i < want.length; i++) {
                assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i]), name + ": value " + i);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"imagenet-shrink", "unit-enlarge", "gray-shrink", "pad-crop"})
    void jpeg_gives_torchvisions_pixels_within_the_decoders_difference(String name) {
        ImagePreprocessing p = of(name);
        byte[] want = Npy.read(DIR.resolve(name).resolve("jpg-pixels.npy")).toByteArray();
        byte[] got = bytes(p, ImagePreprocessing.read(DIR.resolve("photo.jpg")));
        assertEquals(want.length, got.length);
        int worst = 0;
        long total = 0;
        for (int i = 0; i < want.length; i++) {
            int d = Math.abs((want[i] & 0xff) - (got[i] & 0xff));
            worst = Math.max(worst, d);
            total += d;
        }
        double mean = (double) total / want.length;
        assertTrue(
                worst <= JPEG_LEVELS && mean <= JPEG_MEAN_LEVELS, name + ": worst " + worst + " levels, mean " + mean);
    }

    /** The preprocessing's output before normalization, as the bytes it came from. */
    private static byte[] bytes(ImagePreprocessing p, BufferedImage img) {
        float[] v = p.toBuilder().noNormalization().build().apply(img);
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) Math.round(v[i] * 255f);
        }
        return b;
    }
}
