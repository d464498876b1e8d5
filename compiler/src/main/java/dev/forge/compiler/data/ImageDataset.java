package dev.forge.compiler.data;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A classification dataset of 8-bit images held in memory as bytes, channels first: MNIST,
 * Fashion-MNIST, CIFAR-10 and image folders all load into one.
 *
 * <p>Pixels are stored as unsigned bytes (MNIST's 60,000 training images take 47 MB, a quarter of what
 * floats would) and converted while copied: {@link #copySample} writes {@code v / 255f}, the float32
 * value torchvision's {@code ToTensor} produces, so every value lies in [0, 1]. Wrap the dataset in
 * {@link Normalize} for a mean/std normalization on top.
 *
 * <p>Immutable and safe to share between threads.
 */
public final class ImageDataset implements Dataset {
    /** {@code SCALE[v] = v / 255f}, exactly the float32 division ToTensor performs. */
    private static final float[] SCALE = new float[256];

    static {
        for (int v = 0; v < 256; v++) {
            SCALE[v] = v / 255f;
        }
    }

    private final String name;
    private final byte[] pixels;
    private final int[] labels;
    private final long[] sampleShape;
    private final int sampleSize;
    private final List<String> classNames;

    private ImageDataset(String name, byte[] pixels, int[] labels, long[] sampleShape, List<String> classNames) {
        this.name = name;
        this.pixels = pixels;
        this.labels = labels;
        this.sampleShape = sampleShape;
        this.classNames = classNames;
        long n = 1;
        for (long d : sampleShape) {
            n *= d;
        }
        this.sampleSize = (int) n;
    }

    /**
     * A dataset over copies of the given arrays.
     *
     * @param name a short description for messages, e.g. "MNIST train"
     * @param pixels all samples' pixels, sample after sample, each in row-major order of {@code
     *     sampleShape}; unsigned bytes
     * @param labels one class index per sample
     * @param sampleShape one sample's shape, channels first, e.g. {@code [3, 32, 32]}
     * @param classNames one name per class
     * @return the dataset
     * @throws IllegalArgumentException if the lengths do not agree or a label is out of range
     */
    public static ImageDataset of(
            String name, byte[] pixels, int[] labels, long[] sampleShape, List<String> classNames) {
        Objects.requireNonNull(pixels, "pixels");
        Objects.requireNonNull(labels, "labels");
        return adopt(name, pixels.clone(), labels.clone(), sampleShape, classNames);
    }

    /** Like {@link #of} but takes ownership of the arrays (no copy). */
    static ImageDataset adopt(String name, byte[] pixels, int[] labels, long[] sampleShape, List<String> classNames) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(pixels, "pixels");
        Objects.requireNonNull(labels, "labels");
        Objects.requireNonNull(sampleShape, "sampleShape");
        Objects.requireNonNull(classNames, "classNames");
        long[] shape = sampleShape.clone();
        long per = 1;
        for (long d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException(
                        name + ": sample shape " + Arrays.toString(shape) + " has a dimension <= 0");
            }
            per = Math.multiplyExact(per, d);
        }
        if (per * labels.length != pixels.length) {
            throw new IllegalArgumentException(
                    name + ": " + labels.length + " labels x " + per + " pixels per sample " + Arrays.toString(shape)
                            + " = " + per * labels.length + " pixels, but " + pixels.length + " were given");
        }
        if (classNames.isEmpty()) {
            throw new IllegalArgumentException(
                    name + ": no class names; a classification dataset needs at least one class");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classNames.size()) {
                throw new IllegalArgumentException(name + ": label " + labels[i] + " of sample " + i + " is outside 0.."
                        + (classNames.size() - 1) + " (" + classNames.size() + " classes)");
            }
        }
        return new ImageDataset(name, pixels, labels, shape, List.copyOf(classNames));
    }

    /**
     * A short description of where the data came from, e.g. {@code "MNIST train"}.
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    @Override
    public int size() {
        return labels.length;
    }

    @Override
    public long[] sampleShape() {
        return sampleShape.clone();
    }

    @Override
    public int sampleSize() {
        return sampleSize;
    }

    @Override
    public int numClasses() {
        return classNames.size();
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    @Override
    public void copySample(int index, float[] dst, int offset) {
        Objects.checkIndex(index, labels.length);
        Objects.checkFromIndexSize(offset, sampleSize, dst.length);
        int src = index * sampleSize;
        for (int k = 0; k < sampleSize; k++) {
            dst[offset + k] = SCALE[pixels[src + k] & 0xff];
        }
    }

    /**
     * Copies sample {@code index}'s raw 8-bit pixels (0..255 as unsigned bytes), e.g. to show the image.
     *
     * @param index 0 ≤ index &lt; {@link #size()}
     * @param dst the destination
     * @param offset where the first byte goes
     * @throws IndexOutOfBoundsException if the index or the destination range is out of bounds
     */
    public void copyPixels(int index, byte[] dst, int offset) {
        Objects.checkIndex(index, labels.length);
        System.arraycopy(pixels, index * sampleSize, dst, offset, sampleSize);
    }

    @Override
    public long label(int index) {
        return labels[Objects.checkIndex(index, labels.length)];
    }

    /**
     * How many samples each class has.
     *
     * @return {@code counts[k]} = the number of samples labelled {@code k}
     */
    public int[] classCounts() {
        int[] counts = new int[classNames.size()];
        for (int l : labels) {
            counts[l]++;
        }
        return counts;
    }

    /** E.g. {@code MNIST train: 60000 samples of [1, 28, 28] uint8, 10 classes}. */
    @Override
    public String toString() {
        return name + ": " + labels.length + " samples of " + Arrays.toString(sampleShape) + " uint8, "
                + classNames.size() + " classes";
    }
}
