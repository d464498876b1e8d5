package dev.forge.compiler.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads the IDX files of the MNIST family (MNIST, Fashion-MNIST): unsigned-byte label vectors (magic
 * {@code 0x00000801}) and unsigned-byte image stacks (magic {@code 0x00000803}).
 *
 * <p>The format (Y. LeCun's MNIST page): a 4-byte big-endian magic number — two zero bytes, a type
 * code ({@code 0x08} = unsigned byte) and the number of dimensions — then one big-endian 32-bit size
 * per dimension, then the data, row-major. A gzip-compressed file ({@code .gz}, as Debian ships
 * Fashion-MNIST) is recognised by its first two bytes and decompressed on the fly, whatever its name.
 *
 * <p>Everything is checked and reported with the file's name: a wrong magic number (with a hint when
 * the images and labels files look swapped), a file cut short, bytes left over after the data the
 * header announces, image and label counts that differ, a label outside the class range.
 */
public final class Idx {
    /** The magic number of a 1-D unsigned-byte file: a label vector. */
    public static final int LABELS_MAGIC = 0x00000801;
    /** The magic number of a 3-D unsigned-byte file: a stack of images (count, rows, columns). */
    public static final int IMAGES_MAGIC = 0x00000803;

    private Idx() {}

    /**
     * The contents of an IDX images file.
     *
     * @param file the file it was read from
     * @param count the number of images
     * @param rows the height of each image
     * @param cols the width of each image
     * @param pixels {@code count * rows * cols} unsigned bytes, image after image, row-major (not copied)
     */
    public record Images(Path file, int count, int rows, int cols, byte[] pixels) {}

    /**
     * Reads an images file (magic {@code 0x00000803}), plain or gzip-compressed.
     *
     * @param file the file
     * @return the images
     * @throws DatasetException if the file is missing, unreadable, not an IDX images file, truncated, or
     *     longer than its header says
     */
    public static Images readImages(Path file) {
        Raw raw = read(file, IMAGES_MAGIC);
        return new Images(file, raw.dims[0], raw.dims[1], raw.dims[2], raw.data);
    }

    /**
     * Reads a labels file (magic {@code 0x00000801}), plain or gzip-compressed.
     *
     * @param file the file
     * @return one unsigned value (0..255) per label
     * @throws DatasetException if the file is missing, unreadable, not an IDX labels file, truncated, or
     *     longer than its header says
     */
    public static int[] readLabels(Path file) {
        Raw raw = read(file, LABELS_MAGIC);
        int[] labels = new int[raw.data.length];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = raw.data[i] & 0xff;
        }
        return labels;
    }

    /**
     * Reads a matching pair of images and labels files into a dataset of shape {@code [1, rows, cols]}.
     *
     * @param name a short description for messages, e.g. "MNIST train"
     * @param images the images file
     * @param labels the labels file
     * @param classNames the class names; every label must be below their count
     * @return the dataset
     * @throws DatasetException if either file is bad, the counts differ, or a label is out of range
     */
    public static ImageDataset load(String name, Path images, Path labels, List<String> classNames) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(classNames, "classNames");
        Images im = readImages(images);
        int[] lab = readLabels(labels);
        if (im.count() != lab.length) {
            throw new DatasetException(name + ": " + images + " has " + im.count() + " images but " + labels + " has "
                    + lab.length + " labels; they must come from the same split (train or t10k) of the same dataset");
        }
        for (int i = 0; i < lab.length; i++) {
            if (lab[i] >= classNames.size()) {
                throw new DatasetException(name + ": " + labels + ": label " + lab[i] + " at index " + i
                        + " is outside 0.." + (classNames.size() - 1) + " (" + classNames.size()
                        + " classes); the file is corrupt or belongs to another dataset");
            }
        }
        return ImageDataset.adopt(name, im.pixels(), lab, new long[] {1, im.rows(), im.cols()}, classNames);
    }

    // ---------------------------------------------------------------- reading

    private static final class Raw {
        final int[] dims;
        final byte[] data;

        Raw(int[] dims, byte[] data) {
            this.dims = dims;
            this.data = data;
        }
    }

    private static Raw read(Path file, int expectedMagic) {
        Objects.requireNonNull(file, "file");
        if (Files.isDirectory(file)) {
            throw new DatasetException(file + ": is a directory, expected an IDX " + kind(expectedMagic) + " file");
        }
        try (InputStream in = open(file)) {
            byte[] magicBytes = in.readNBytes(4);
            if (magicBytes.length < 4) {
                throw new DatasetException(file + ": truncated: the file has " + magicBytes.length
                        + " bytes, too few for the 4-byte IDX magic number");
            }
            int magic = bigEndian(magicBytes, 0);
            if (magic != expectedMagic) {
                throw new DatasetException(file + ": wrong magic number " + hex(magic) + ", expected "
                        + hex(expectedMagic) + " (IDX " + kind(expectedMagic) + ")" + magicHint(magic, expectedMagic));
            }
            int ndims = magic & 0xff;
            byte[] dimBytes = in.readNBytes(4 * ndims);
            if (dimBytes.length < 4 * ndims) {
                throw new DatasetException(
                        file + ": truncated: the file ends inside the header (" + (4 + dimBytes.length)
                                + " bytes, the header of a " + ndims + "-D IDX file is " + (4 + 4 * ndims) + " bytes)");
            }
            int[] dims = new int[ndims];
            long total = 1;
            for (int d = 0; d < ndims; d++) {
                long v = bigEndian(dimBytes, 4 * d) & 0xffffffffL;
                if (v > Integer.MAX_VALUE || (d > 0 && v == 0)) {
                    throw new DatasetException(
                            file + ": header dimension " + d + " is " + v + "; the header is corrupt");
                }
                dims[d] = (int) v;
                total *= v;
                if (total > Integer.MAX_VALUE - 8) {
                    throw new DatasetException(file + ": the header announces " + dimsString(dims, d + 1)
                            + " bytes, more than one Java array holds; the header is corrupt");
                }
            }
            int headerBytes = 4 + 4 * ndims;
            byte[] data = in.readNBytes((int) total);
            if (data.length < total) {
                throw new DatasetException(
                        file + ": truncated: the header says " + dimsString(dims, ndims) + " = " + total
                                + " bytes of data, but only " + data.length + " bytes follow the " + headerBytes
                                + "-byte header; the file was cut short — delete it and fetch it again");
            }
            long extra = 0;
            byte[] skip = new byte[8192];
            for (int n; (n = in.read(skip)) > 0; ) {
                extra += n;
            }
            if (extra > 0) {
                throw new DatasetException(file + ": length mismatch: the header says " + dimsString(dims, ndims)
                        + " = " + total + " bytes of data, but " + extra
                        + " more bytes follow them; the header does not describe this data");
            }
            return new Raw(dims, data);
        } catch (NoSuchFileException e) {
            throw new DatasetException(file + ": no such file", e);
        } catch (EOFException e) {
            throw new DatasetException(
                    file + ": truncated: the gzip stream ends early (" + e.getMessage()
                            + "); the file was cut short — delete it and fetch it again",
                    e);
        } catch (ZipException e) {
            throw new DatasetException(file + ": corrupt gzip data (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw new DatasetException(file + ": cannot be read (" + e + ")", e);
        }
    }

    /** Opens the file, decompressing it when it starts with the gzip magic bytes 1f 8b. */
    private static InputStream open(Path file) throws IOException {
        BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        if (b0 == 0x1f && b1 == 0x8b) {
            return new GZIPInputStream(in, 1 << 16);
        }
        return in;
    }

    private static int bigEndian(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }

    private static String hex(int v) {
        return String.format("0x%08x", v);
    }

    private static String kind(int magic) {
        return magic == LABELS_MAGIC ? "labels, 1-D unsigned bytes" : "images, 3-D unsigned bytes";
    }

    private static String magicHint(int magic, int expected) {
        if (magic == LABELS_MAGIC || magic == IMAGES_MAGIC) {
            return "; this is an IDX " + kind(magic) + " file — are the images and labels files swapped?";
        }
        if ((magic >>> 16) == 0 && ((magic >>> 8) & 0xff) != 0x08) {
            return "; type code " + String.format("0x%02x", (magic >>> 8) & 0xff)
                    + " is not unsigned byte (0x08), the only one" + " MNIST-style files use";
        }
        return "; this is not an IDX file (an IDX file starts with two zero bytes, a type code and a dimension count)";
    }

    private static String dimsString(int[] dims, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(i > 0 ? " x " : "").append(dims[i]);
        }
        return sb.toString();
    }
}
