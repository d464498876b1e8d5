package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Cifar10Test {
    @TempDir
    Path dir;

    /**
     * A fake batch in the official format. Record r has label (r + seed) % 10 and pixel (c, h, w) =
     * (r * 7 + c * 50 + h * 3 + w + seed) % 256, except that record 1 carries a marker pixel at (row 5,
     * column 7): R = 200, G = 100, B = 50.
     */
    static byte[] batch(int records, int seed) {
        byte[] b = new byte[records * Cifar10.RECORD_BYTES];
        for (int r = 0; r < records; r++) {
            int base = r * Cifar10.RECORD_BYTES;
            b[base] = (byte) ((r + seed) % 10);
            for (int c = 0; c < 3; c++) {
                for (int h = 0; h < 32; h++) {
                    for (int w = 0; w < 32; w++) {
                        b[base + 1 + c * 1024 + h * 32 + w] = (byte) ((r * 7 + c * 50 + h * 3 + w + seed) % 256);
                    }
                }
            }
        }
        if (records > 1) {
            int base = Cifar10.RECORD_BYTES;
            b[base + 1 + 0 * 1024 + 5 * 32 + 7] = (byte) 200;
            b[base + 1 + 1 * 1024 + 5 * 32 + 7] = (byte) 100;
            b[base + 1 + 2 * 1024 + 5 * 32 + 7] = (byte) 50;
        }
        return b;
    }

    private void writeAll(Path d, int records) throws IOException {
        Files.createDirectories(d);
        for (int i = 0; i < 5; i++) {
            Files.write(d.resolve(Cifar10.TRAIN_FILES.get(i)), batch(records, i));
        }
        Files.write(d.resolve(Cifar10.TEST_FILE), batch(records, 9));
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "message lacks '" + p + "': " + e.getMessage());
        }
    }

    @Test
    void readsFakeBatchesWithChannelsFirstLayout() throws IOException {
        writeAll(dir, 4);
        ImageDataset train = Cifar10.train(dir);
        assertEquals(20, train.size());
        assertArrayEquals(new long[] {3, 32, 32}, train.sampleShape());
        assertEquals(Cifar10.CLASS_NAMES, train.classNames());
        // record 1 of data_batch_1 carries R=200, G=100, B=50 at row 5, column 7
        float[] x = new float[3 * 32 * 32];
        train.copySample(1, x, 0);
        assertEquals(200 / 255f, x[0 * 1024 + 5 * 32 + 7]);
        assertEquals(100 / 255f, x[1 * 1024 + 5 * 32 + 7]);
        assertEquals(50 / 255f, x[2 * 1024 + 5 * 32 + 7]);
        // a generic pixel of record 2 of data_batch_3 (sample 10): (r*7 + c*50 + h*3 + w + seed) % 256
        train.copySample(10, x, 0);
        int c = 2;
        int h = 31;
        int w = 4;
        assertEquals(((2 * 7 + c * 50 + h * 3 + w + 2) % 256) / 255f, x[c * 1024 + h * 32 + w]);
        // files are concatenated in order data_batch_1..5; labels (r + seed) % 10
        assertEquals(0, train.label(0));
        assertEquals((3 + 4) % 10, train.label(19));

        ImageDataset test = Cifar10.test(dir);
        assertEquals(4, test.size());
        assertEquals(9, test.label(0));
    }

    @Test
    void acceptsTheParentOfCifar10BatchesBin() throws IOException {
        writeAll(dir.resolve("cifar-10-batches-bin"), 1);
        assertEquals(5, Cifar10.train(dir).size());
    }

    @Test
    void classNamesFromBatchesMeta() throws IOException {
        writeAll(dir, 1);
        List<String> names = List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j");
        Files.writeString(dir.resolve("batches.meta.txt"), String.join("\n", names) + "\n\n", StandardCharsets.UTF_8);
        assertEquals(names, Cifar10.test(dir).classNames());
        Files.writeString(dir.resolve("batches.meta.txt"), "a\nb\n", StandardCharsets.UTF_8);
        assertMessage(
                assertThrows(DatasetException.class, () -> Cifar10.test(dir)),
                "batches.meta.txt",
                "2 class names",
                "expected 10");
    }

    @Test
    void missingFilesAreAllListed() throws IOException {
        writeAll(dir, 1);
        Files.delete(dir.resolve("data_batch_2.bin"));
        Files.delete(dir.resolve("data_batch_5.bin"));
        DatasetException e = assertThrows(DatasetException.class, () -> Cifar10.train(dir));
        assertMessage(e, dir.toString(), "missing [data_batch_2.bin, data_batch_5.bin]");
        Files.delete(dir.resolve("test_batch.bin"));
        assertMessage(assertThrows(DatasetException.class, () -> Cifar10.test(dir)), "missing [test_batch.bin]");
    }

    @Test
    void sizeNotAMultipleOfTheRecord() throws IOException {
        writeAll(dir, 2);
        Path f = dir.resolve("data_batch_3.bin");
        Files.write(f, java.util.Arrays.copyOf(batch(2, 0), 2 * 3073 - 100));
        DatasetException e = assertThrows(DatasetException.class, () -> Cifar10.train(dir));
        assertMessage(
                e,
                f.toString(),
                "size 6046 bytes",
                "not a positive multiple of 3073",
                "1 records and 2973 bytes left over",
                "30730000 bytes");
    }

    @Test
    void labelAboveNine() throws IOException {
        writeAll(dir, 3);
        byte[] b = batch(3, 9);
        b[2 * 3073] = 11;
        Files.write(dir.resolve("test_batch.bin"), b);
        DatasetException e = assertThrows(DatasetException.class, () -> Cifar10.test(dir));
        assertMessage(e, "test_batch.bin", "record 2", "label 11", "expected 0..9");
    }

    @Test
    void normalizedLikeTheSeed() throws IOException {
        writeAll(dir, 2);
        Dataset d = Normalize.of(0.5f, 0.5f).apply(Cifar10.test(dir));
        float[] x = new float[3072];
        d.copySample(1, x, 0);
        assertEquals((200 / 255f - 0.5f) / 0.5f, x[5 * 32 + 7]);
        for (float v : x) {
            assertTrue(v >= -1f && v <= 1f);
        }
    }
}
