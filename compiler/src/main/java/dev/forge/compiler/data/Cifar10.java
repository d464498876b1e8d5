package dev.forge.compiler.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * CIFAR-10 in its official binary format: 32x32 RGB images in ten classes, read from a directory the
 * user names (no package registry serves the data).
 *
 * <p>The directory is the one the official {@code cifar-10-binary.tar.gz} unpacks to ({@code
 * cifar-10-batches-bin}), or its parent. It holds {@code data_batch_1.bin} .. {@code data_batch_5.bin}
 * (10,000 training images each) and {@code test_batch.bin} (10,000 test images). Each file is a
 * sequence of 3073-byte records: one label byte (0..9), then 3072 pixel bytes — the 1024 red values,
 * then the 1024 green, then the 1024 blue, each plane row-major. That is exactly the channels-first
 * [3, 32, 32] layout a sample has here, so pixel (row h, column w) of channel c is byte {@code 1 + c *
 * 1024 + h * 32 + w} of its record. Class names come from {@code batches.meta.txt} (one per line) when
 * present, else {@link #CLASS_NAMES}.
 *
 * <p>Errors name the files: the missing ones (all of them at once), a file whose size is not a whole
 * number of records, a label above 9. Pixels come out scaled to [0, 1]; the seed's CIFAR-10 example
 * then normalizes with mean 0.5 and std 0.5 per channel: {@code Normalize.of(0.5f, 0.5f).apply(data)}.
 */
public final class Cifar10 {
    /** The standard class names, in label order. */
    public static final List<String> CLASS_NAMES =
            List.of("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck");
    /** The training files, in the order their records are concatenated. */
    public static final List<String> TRAIN_FILES =
            List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin");
    /** The test file. */
    public static final String TEST_FILE = "test_batch.bin";
    /** The optional file of class names, one per line. */
    public static final String META_FILE = "batches.meta.txt";
    /** The bytes of one record: one label byte and 3 x 32 x 32 pixel bytes. */
    public static final int RECORD_BYTES = 1 + 3 * 32 * 32;

    private static final int PIXELS = RECORD_BYTES - 1;
    private static final int RECORDS_PER_FILE = 10_000;
    private static final String SUBDIR = "cifar-10-batches-bin";

    private Cifar10() {}

    /**
     * The training images: all records of {@code data_batch_1.bin} .. {@code data_batch_5.bin}, in order.
     *
     * @param dir the directory holding the batch files, or its parent holding {@code cifar-10-batches-bin}
     * @return the dataset, samples of shape [3, 32, 32]
     * @throws DatasetException if a file is missing or malformed
     */
    public static ImageDataset train(Path dir) {
        return load("CIFAR-10 train", dir, TRAIN_FILES);
    }

    /**
     * The test images: the records of {@code test_batch.bin}.
     *
     * @param dir the directory holding the batch files, or its parent holding {@code cifar-10-batches-bin}
     * @return the dataset, samples of shape [3, 32, 32]
     * @throws DatasetException if the file is missing or malformed
     */
    public static ImageDataset test(Path dir) {
        return load("CIFAR-10 test", dir, List.of(TEST_FILE));
    }

    private static ImageDataset load(String name, Path dir, List<String> files) {
        Objects.requireNonNull(dir, "dir");
        Path base = dir;
        if (!Files.isRegularFile(dir.resolve(files.get(0))) && Files.isDirectory(dir.resolve(SUBDIR))) {
            base = dir.resolve(SUBDIR);
        }
        List<String> missing = new ArrayList<>();
        for (String f : files) {
            if (!Files.isRegularFile(base.resolve(f))) {
                missing.add(f);
            }
        }
        if (!missing.isEmpty()) {
            throw new DatasetException(name + ": " + base + " is missing " + missing + " (needs " + files
                    + "); point it at the directory the official cifar-10-binary.tar.gz unpacks to ("
                    + SUBDIR + "), which holds data_batch_1.bin .. data_batch_5.bin and test_batch.bin");
        }
        long total = 0;
        long[] sizes = new long[files.size()];
        for (int i = 0; i < files.size(); i++) {
            Path f = base.resolve(files.get(i));
            try {
                sizes[i] = Files.size(f);
            } catch (IOException e) {
                throw new DatasetException(f + ": cannot be read (" + e + ")", e);
            }
            if (sizes[i] == 0 || sizes[i] % RECORD_BYTES != 0) {
                long whole = sizes[i] / RECORD_BYTES;
                throw new DatasetException(
                        f + ": size " + sizes[i] + " bytes is not a positive multiple of " + RECORD_BYTES
                                + " (1 label byte + 3072 pixel bytes per record): " + whole + " records and "
                                + (sizes[i] % RECORD_BYTES)
                                + " bytes left over; the official files are " + (long) RECORDS_PER_FILE * RECORD_BYTES
                                + " bytes ("
                                + RECORDS_PER_FILE
                                + " records). Is it cut short, or not the binary version (the Python version is"
                                + " pickled, the MATLAB version .mat)?");
            }
            total += sizes[i] / RECORD_BYTES;
        }
        if (total * PIXELS > Integer.MAX_VALUE - 8) {
            throw new DatasetException(name + ": " + total + " records are too many to hold in one array");
        }
        int n = (int) total;
        byte[] pixels = new byte[n * PIXELS];
        int[] labels = new int[n];
        byte[] record = new byte[RECORD_BYTES];
        int k = 0;
        for (int i = 0; i < files.size(); i++) {
            Path f = base.resolve(files.get(i));
            long records = sizes[i] / RECORD_BYTES;
            try (InputStream in = Files.newInputStream(f)) {
                for (long r = 0; r < records; r++, k++) {
                    if (in.readNBytes(record, 0, RECORD_BYTES) != RECORD_BYTES) {
                        throw new DatasetException(
                                f + ": truncated at record " + r + " (the file shrank while being read)");
                    }
                    int label = record[0] & 0xff;
                    if (label > 9) {
                        throw new DatasetException(
                                f + ": record " + r + " (byte offset " + r * RECORD_BYTES + ") has label " + label
                                        + ", expected 0..9; the file is corrupt or not a CIFAR-10 batch (CIFAR-100's binary records have"
                                        + " two label bytes)");
                    }
                    labels[k] = label;
                    System.arraycopy(record, 1, pixels, k * PIXELS, PIXELS);
                }
            } catch (IOException e) {
                throw new DatasetException(f + ": cannot be read (" + e + ")", e);
            }
        }
        return ImageDataset.adopt(name, pixels, labels, new long[] {3, 32, 32}, classNames(base));
    }

    private static List<String> classNames(Path base) {
        Path meta = base.resolve(META_FILE);
        if (!Files.isRegularFile(meta)) {
            return CLASS_NAMES;
        }
        List<String> names = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(meta, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    names.add(line.strip());
                }
            }
        } catch (IOException e) {
            throw new DatasetException(meta + ": cannot be read (" + e + ")", e);
        }
        if (names.size() != 10) {
            throw new DatasetException(meta + ": has " + names.size() + " class names " + names
                    + ", expected 10 (one per line); fix or delete it to use the standard names " + CLASS_NAMES);
        }
        return names;
    }
}
