package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {
    @TempDir
    Path dir;

    /** An IDX file: magic, big-endian dims, then the data bytes. */
    static byte[] idx(int magic, int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length); // big-endian by default
        b.putInt(magic);
        for (int d : dims) {
            b.putInt(d);
        }
        b.put(data);
        return b.array();
    }

    /** Three 2x3 images with pixel value 10*image + position, labels 2, 0, 1. */
    static byte[] images() {
        byte[] px = new byte[3 * 2 * 3];
        for (int i = 0; i < px.length; i++) {
            px[i] = (byte) (10 * (i / 6) + i % 6);
        }
        px[5] = (byte) 255;
        return idx(Idx.IMAGES_MAGIC, new int[] {3, 2, 3}, px);
    }

    static byte[] labels(int... values) {
        byte[] l = new byte[values.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = (byte) values[i];
        }
        return idx(Idx.LABELS_MAGIC, new int[] {values.length}, l);
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(bos)) {
            gz.write(bytes);
        }
        return bos.toByteArray();
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "message lacks '" + p + "': " + e.getMessage());
        }
    }

    @Test
    void readsGeneratedImagesAndLabels() throws IOException {
        Path im = write("im-idx3-ubyte", images());
        Path lb = write("lb-idx1-ubyte", labels(2, 0, 1));
        Idx.Images images = Idx.readImages(im);
        assertEquals(3, images.count());
        assertEquals(2, images.rows());
        assertEquals(3, images.cols());
        assertEquals(18, images.pixels().length);
        assertArrayEquals(new int[] {2, 0, 1}, Idx.readLabels(lb));

        ImageDataset ds = Idx.load("tiny", im, lb, Mnist.CLASS_NAMES.subList(0, 3));
        assertEquals(3, ds.size());
        assertArrayEquals(new long[] {1, 2, 3}, ds.sampleShape());
        assertEquals(1, ds.label(2));
        float[] x = new float[6 + 2];
        ds.copySample(1, x, 2);
        assertEquals(0f, x[0]);
        assertEquals(10 / 255f, x[2]);
        assertEquals(15 / 255f, x[7]);
        ds.copySample(0, x, 0);
        assertEquals(1f, x[5], "255 scales to exactly 1");
    }

    @Test
    void readsGzippedFilesWhateverTheirName() throws IOException {
        Path im = write("images.gz", gzip(images()));
        Path lb = write("labels", gzip(labels(2, 0, 1)));
        ImageDataset ds = Idx.load("gz", im, lb, Mnist.CLASS_NAMES);
        assertEquals(3, ds.size());
        assertArrayEquals(new int[] {1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, ds.classCounts());
    }

    @Test
    void wrongMagicNamesFileAndSaysSwapped() throws IOException {
        Path lb = write("train-labels-idx1-ubyte", labels(1, 2));
        DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(lb));
        assertMessage(e, lb.toString(), "wrong magic number 0x00000801", "expected 0x00000803", "swapped");
    }

    @Test
    void notAnIdxFile() throws IOException {
        Path html =
                write("page.html", "<!DOCTYPE html><html></html>".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        DatasetException e = assertThrows(DatasetException.class, () -> Idx.readLabels(html));
        assertMessage(e, html.toString(), "wrong magic number 0x3c21444f", "not an IDX file");
    }

    @Test
    void wrongTypeCode() throws IOException {
        Path f = write("floats", idx(0x00000d01, new int[] {1}, new byte[4]));
        DatasetException e = assertThrows(DatasetException.class, () -> Idx.readLabels(f));
        assertMessage(e, "type code 0x0d", "unsigned byte");
    }

    @Test
    void truncatedData() throws IOException {
        byte[] full = images();
        Path f = write("cut", Arrays.copyOf(full, full.length - 5));
        DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(f));
        assertMessage(e, f.toString(), "truncated", "3 x 2 x 3 = 18 bytes", "only 13 bytes follow the 16-byte header");
    }

    @Test
    void truncatedHeader() throws IOException {
        Path f = write("cut-header", Arrays.copyOf(images(), 9));
        DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(f));
        assertMessage(e, f.toString(), "truncated", "inside the header");
        Path g = write("two-bytes", new byte[] {0, 0});
        assertMessage(assertThrows(DatasetException.class, () -> Idx.readLabels(g)), "truncated", "magic");
    }

    @Test
    void truncatedGzip() throws IOException {
        byte[] gz = gzip(images());
        Path f = write("cut.gz", Arrays.copyOf(gz, gz.length / 2));
        DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(f));
        assertMessage(e, f.toString(), "truncated");
    }

    @Test
    void extraBytesAreALengthMismatch() throws IOException {
        byte[] full = labels(1, 2, 3);
        Path f = write("long", Arrays.copyOf(full, full.length + 4));
        DatasetException e = assertThrows(DatasetException.class, () -> Idx.readLabels(f));
        assertMessage(e, f.toString(), "length mismatch", "3 bytes of data", "4 more bytes");
    }

    @Test
    void imageAndLabelCountsMustAgree() throws IOException {
        Path im = write("im", images());
        Path lb = write("lb", labels(1, 2));
        DatasetException e =
                assertThrows(DatasetException.class, () -> Idx.load("MNIST train", im, lb, Mnist.CLASS_NAMES));
        assertMessage(e, "MNIST train", im.toString(), "3 images", lb.toString(), "2 labels");
    }

    @Test
    void labelOutOfRange() throws IOException {
        Path im = write("im", images());
        Path lb = write("lb", labels(1, 12, 3));
        DatasetException e = assertThrows(DatasetException.class, () -> Idx.load("x", im, lb, Mnist.CLASS_NAMES));
        assertMessage(e, lb.toString(), "label 12 at index 1", "outside 0..9");
    }

    @Test
    void missingFile() {
        Path f = dir.resolve("nope");
        assertMessage(assertThrows(DatasetException.class, () -> Idx.readImages(f)), f.toString(), "no such file");
    }
}
