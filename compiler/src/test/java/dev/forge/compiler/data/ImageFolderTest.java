package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.ImagePreprocessing;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFolderTest {
    @TempDir
    Path root;

    /** A w x h RGB image whose pixel (x, y) is (r0 + x, g0 + y, b0). */
    static BufferedImage rgb(int w, int h, int r0, int g0, int b0) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, (r0 + x) << 16 | (g0 + y) << 8 | b0);
            }
        }
        return img;
    }

    static BufferedImage gray(int w, int h, int value) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.getRaster().setSample(x, y, 0, value);
            }
        }
        return img;
    }

    private Path png(String relative, BufferedImage img) throws IOException {
        Path p = root.resolve(relative);
        Files.createDirectories(p.getParent());
        assertTrue(ImageIO.write(img, "png", p.toFile()));
        return p;
    }

    private static byte[] pngBytes(BufferedImage img) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        ImageIO.write(img, "png", bos);
        return bos.toByteArray();
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "message lacks '" + p + "': " + e.getMessage());
        }
    }

    @Test
    void classesAreSortedFolderNamesAndPixelsAreExact() throws IOException {
        png("dog/1.png", rgb(4, 3, 10, 20, 30));
        png("cat/b.png", rgb(4, 3, 100, 0, 7));
        png("cat/a.PNG", rgb(4, 3, 200, 50, 0));
        png("cat/sub/c.png", rgb(4, 3, 0, 0, 0));
        png("ant/x.png", rgb(4, 3, 1, 2, 3));
        png(".hidden/x.png", rgb(4, 3, 1, 2, 3));
        png("cat/.thumb.png", rgb(4, 3, 1, 2, 3));
        Files.writeString(root.resolve("cat/notes.txt"), "not an image");
        Files.writeString(root.resolve("README"), "top-level files are ignored");

        ImageFolder ds = ImageFolder.load(root, 3, 3, 4);
        assertEquals(List.of("ant", "cat", "dog"), ds.classNames());
        assertEquals(5, ds.size());
        assertArrayEquals(new long[] {3, 3, 4}, ds.sampleShape());
        assertEquals(
                List.of(
                        root.resolve("ant/x.png"),
                        root.resolve("cat/a.PNG"),
                        root.resolve("cat/b.png"),
                        root.resolve("cat/sub/c.png"),
                        root.resolve("dog/1.png")),
                ds.files());
        assertArrayEquals(
                new long[] {0, 1, 1, 1, 2},
                new long[] {ds.label(0), ds.label(1), ds.label(2), ds.label(3), ds.label(4)});

        float[] x = new float[36];
        ds.copySample(4, x, 0); // dog: (10 + col, 20 + row, 30)
        for (int h = 0; h < 3; h++) {
            for (int w = 0; w < 4; w++) {
                assertEquals((10 + w) / 255f, x[0 * 12 + h * 4 + w]);
                assertEquals((20 + h) / 255f, x[1 * 12 + h * 4 + w]);
                assertEquals(30 / 255f, x[2 * 12 + h * 4 + w]);
            }
        }
    }

    @Test
    void grayPngKeepsItsRawValues() throws IOException {
        png("a/g.png", gray(5, 5, 128));
        float[] x = new float[75];
        ImageFolder.load(root, 1, 5, 5).copySample(0, x, 0);
        assertEquals(128 / 255f, x[12], "no gamma shift through getRGB");
        ImageFolder.load(root, 3, 5, 5).copySample(0, x, 0);
        assertEquals(128 / 255f, x[12]);
        assertEquals(128 / 255f, x[25 + 12]);
        assertEquals(128 / 255f, x[50 + 12]);
    }

    @Test
    void rgbToGrayIsLuma() throws IOException {
        BufferedImage img = new BufferedImage(3, 1, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, 0xff0000);
        img.setRGB(1, 0, 0x00ff00);
        img.setRGB(2, 0, 0x204060);
        png("a/c.png", img);
        float[] x = new float[3];
        ImageFolder.load(root, 1, 1, 3).copySample(0, x, 0);
        assertEquals(((255 * 19595 + 0x8000) >> 16) / 255f, x[0]); // 76, as Pillow's convert("L")
        assertEquals(((255 * 38470 + 0x8000) >> 16) / 255f, x[1]); // 150
        assertEquals(((0x20 * 19595 + 0x40 * 38470 + 0x60 * 7471 + 0x8000) >> 16) / 255f, x[2]);
    }

    @Test
    void alphaIsCompositedOverWhite() throws IOException {
        BufferedImage img = new BufferedImage(1, 1, BufferedImage.TYPE_INT_ARGB);
        img.setRGB(0, 0, 0x10_c8_64_32); // alpha 16: mostly transparent, so mostly white
        png("a/t.png", img);
        float[] x = new float[3];
        ImageFolder.load(root, 3, 1, 1).copySample(0, x, 0);
        // (v * 16 + 255 * 239 + 127) / 255
        assertArrayEquals(new float[] {252 / 255f, 245 / 255f, 242 / 255f}, x);
    }

    @Test
    void resizesBilinearWithHalfPixelCentres() throws IOException {
        // one row [0, 200] widened to 4 columns: source x = (dst + 0.5) / 2 - 0.5 -> [-0.25, 0.25, 0.75, 1.25]
        byte[] out = ImageFolder.resizeBilinear(new byte[] {0, (byte) 200}, 1, 2, 1, 4);
        assertArrayEquals(new byte[] {0, 50, (byte) 150, (byte) 200}, out);
        // shrinking 4 -> 2 averages the middle pairs: source x = 0.5, 2.5
        out = ImageFolder.resizeBilinear(new byte[] {0, 100, (byte) 200, (byte) 250}, 1, 4, 1, 2);
        assertArrayEquals(new byte[] {50, (byte) 225}, out);

        BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, 0x000000);
        img.setRGB(1, 0, 0xc8c8c8);
        png("a/r.png", img);
        png("b/u.png", rgb(1, 1, 77, 88, 99)); // a uniform image stays uniform at any size
        ImageFolder ds = ImageFolder.load(root, 3, 2, 4);
        float[] x = new float[24];
        ds.copySample(0, x, 0);
        assertArrayEquals(new float[] {0, 50 / 255f, 150 / 255f, 200 / 255f}, Arrays.copyOfRange(x, 4, 8));
        ds.copySample(1, x, 0);
        for (int k = 0; k < 8; k++) {
            assertEquals(77 / 255f, x[k]);
            assertEquals(88 / 255f, x[8 + k]);
            assertEquals(99 / 255f, x[16 + k]);
        }
    }

    @Test
    void readsJpeg() throws IOException {
        Path p = root.resolve("a/photo.jpg");
        Files.createDirectories(p.getParent());
        BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 16; x++) {
                img.setRGB(x, y, 0x3c78b4);
            }
        }
        assertTrue(ImageIO.write(img, "jpeg", p.toFile()));
        float[] x = new float[3 * 16 * 16];
        ImageFolder.load(root, 3, 16, 16).copySample(0, x, 0);
        assertEquals(0x3c / 255f, x[100], 3 / 255f);
        assertEquals(0x78 / 255f, x[256 + 100], 3 / 255f);
        assertEquals(0xb4 / 255f, x[512 + 100], 3 / 255f);
    }

    @Test
    void corruptImageIsAnErrorNamingTheFile() throws IOException {
        png("a/good.png", rgb(2, 2, 0, 0, 0));
        Path bad = root.resolve("b/bad.png");
        Files.createDirectories(bad.getParent());
        Files.write(bad, "this is not a PNG".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFolder.load(root, 3, 2, 2));
        assertMessage(e, bad.toString(), "not a PNG or JPEG image");
    }

    @Test
    void truncatedPngIsAnError() throws IOException {
        byte[] bytes = pngBytes(rgb(40, 40, 5, 6, 7));
        Path cut = root.resolve("a/cut.png");
        Files.createDirectories(cut.getParent());
        Files.write(cut, Arrays.copyOf(bytes, bytes.length / 2));
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFolder.load(root, 3, 40, 40));
        assertMessage(e, cut.toString());
    }

    @Test
    void corruptImagesCanBeSkipped() throws IOException {
        png("a/good.png", rgb(2, 2, 0, 0, 0));
        png("b/good.png", rgb(2, 2, 9, 9, 9));
        Path bad = root.resolve("b/bad.png");
        Files.write(bad, new byte[] {1, 2, 3});
        ImageFolder ds = ImageFolder.load(root, 3, 2, 2, true);
        assertEquals(2, ds.size());
        assertEquals(List.of(bad), ds.skipped());
        assertEquals(1, ds.label(1));
    }

    @Test
    void emptyClassAndEmptyRootAreErrors() throws IOException {
        Files.createDirectories(root.resolve("a"));
        png("b/x.png", rgb(1, 1, 0, 0, 0));
        assertMessage(assertThrows(DatasetException.class, () -> ImageFolder.load(root, 1, 1, 1)), "[a]", "no images");
        Path empty = Files.createDirectories(root.resolve("b/nothing-here"));
        assertMessage(
                assertThrows(DatasetException.class, () -> ImageFolder.load(empty, 1, 1, 1)), "no class sub-folders");
        Path missing = root.resolve("missing");
        assertMessage(
                assertThrows(DatasetException.class, () -> ImageFolder.load(missing, 1, 1, 1)),
                missing.toString(),
                "no such directory");
        assertThrows(IllegalArgumentException.class, () -> ImageFolder.load(root, 2, 1, 1));
    }

    @Test
    void a_preprocessing_decodes_each_image_as_the_runtime_will_and_needs_a_crop() throws IOException {
        Path a = png("cat/a.png", rgb(40, 30, 10, 20, 30));
        Path b = png("dog/b.png", rgb(17, 50, 90, 0, 200));
        ImagePreprocessing p =
                ImagePreprocessing.builder().resize(12).crop(10, 11).build();
        ImageFolder f = ImageFolder.load(root, p, false);
        assertArrayEquals(new long[] {3, 10, 11}, f.sampleShape());
        byte[] got = new byte[3 * 10 * 11];
        f.data().copyPixels(0, got, 0);
        assertArrayEquals(p.pixels(ImagePreprocessing.read(a)), got);
        f.data().copyPixels(1, got, 0);
        assertArrayEquals(p.pixels(ImagePreprocessing.read(b)), got);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ImageFolder.load(
                        root, ImagePreprocessing.builder().resize(12).build(), false));
        assertMessage(e, "has no crop", "add a crop");
    }
}
