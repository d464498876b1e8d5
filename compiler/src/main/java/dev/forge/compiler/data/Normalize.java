package dev.forge.compiler.data;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Per-channel normalization {@code x' = (x - mean[c]) / std[c]}, applied while a sample is copied —
 * torchvision's {@code transforms.Normalize}. The seed's CIFAR-10 example uses {@code Normalize.of(0.5f,
 * 0.5f)}, which maps [0, 1] pixels to [-1, 1].
 *
 * <p>The channel axis is the first axis of a sample ({@code [C, H, W]}). The arithmetic is float32 in
 * the same order as torchvision (subtract, then divide), so results match it bit for bit. One mean and
 * std may be given for all channels.
 *
 * <p>Immutable and safe to share between threads.
 */
public final class Normalize {
    private final float[] mean;
    private final float[] std;

    private Normalize(float[] mean, float[] std) {
        this.mean = mean;
        this.std = std;
    }

    /**
     * The same mean and std for every channel.
     *
     * @param mean subtracted from every value
     * @param std every value is divided by it; finite and &gt; 0
     * @return the normalization
     * @throws IllegalArgumentException if std is not finite and positive, or mean is not finite
     */
    public static Normalize of(float mean, float std) {
        return of(new float[] {mean}, new float[] {std});
    }

    /**
     * One mean and std per channel (arrays of length 1 apply to every channel).
     *
     * @param mean the per-channel means
     * @param std the per-channel standard deviations; finite and &gt; 0
     * @return the normalization
     * @throws IllegalArgumentException if the lengths differ or are 0, or a value is invalid
     */
    public static Normalize of(float[] mean, float[] std) {
        Objects.requireNonNull(mean, "mean");
        Objects.requireNonNull(std, "std");
        if (mean.length == 0 || mean.length != std.length) {
            throw new IllegalArgumentException("Normalize: mean has " + mean.length + " values and std " + std.length
                    + "; give one per channel (or one for all)");
        }
        for (int c = 0; c < mean.length; c++) {
            if (!Float.isFinite(mean[c])) {
                throw new IllegalArgumentException("Normalize: mean[" + c + "] = " + mean[c] + " is not finite");
            }
            if (!Float.isFinite(std[c]) || std[c] <= 0) {
                throw new IllegalArgumentException(
                        "Normalize: std[" + c + "] = " + std[c] + "; it must be finite and > 0");
            }
        }
        return new Normalize(mean.clone(), std.clone());
    }

    /**
     * The means, one per channel (or one for all).
     *
     * @return a copy
     */
    public float[] mean() {
        return mean.clone();
    }

    /**
     * The standard deviations, one per channel (or one for all).
     *
     * @return a copy
     */
    public float[] std() {
        return std.clone();
    }

    /**
     * Normalizes one sample in place.
     *
     * @param values the array holding the sample
     * @param offset where the sample starts
     * @param channels the size of the sample's first axis
     * @param planeSize the number of values per channel (product of the other axes)
     * @throws IllegalArgumentException if {@code channels} does not match the number of means (unless
     *     there is one)
     */
    public void apply(float[] values, int offset, int channels, int planeSize) {
        checkChannels(channels, null);
        Objects.checkFromIndexSize(offset, channels * planeSize, values.length);
        for (int c = 0; c < channels; c++) {
            float m = mean[mean.length == 1 ? 0 : c];
            float s = std[std.length == 1 ? 0 : c];
            int start = offset + c * planeSize;
            int end = start + planeSize;
            for (int k = start; k < end; k++) {
                values[k] = (values[k] - m) / s;
            }
        }
    }

    /**
     * A view of {@code data} whose samples come out normalized (labels and targets unchanged).
     *
     * @param data the dataset; its samples' first axis is the channel axis
     * @return the normalized view, sharing the data
     * @throws IllegalArgumentException if the channel count does not match the number of means
     */
    public Dataset apply(Dataset data) {
        Objects.requireNonNull(data, "data");
        long[] shape = data.sampleShape();
        int channels = shape.length == 0 ? 1 : (int) shape[0];
        checkChannels(channels, shape);
        return new Normalized(data, this, channels, data.sampleSize() / Math.max(channels, 1));
    }

    /**
     * Applies {@code f} under the normalization of a {@link #apply(Dataset) normalized view} (so that an
     * augmentation sees [0, 1] pixels) and normalizes the result again; other datasets are given to {@code
     * f} as they are.
     */
    static Dataset underNormalization(Dataset data, java.util.function.UnaryOperator<Dataset> f) {
        if (data instanceof Normalized n) {
            return n.norm.apply(f.apply(n.base));
        }
        return f.apply(data);
    }

    private void checkChannels(int channels, long[] shape) {
        if (mean.length != 1 && mean.length != channels) {
            throw new IllegalArgumentException("Normalize: " + mean.length + " means/stds " + Arrays.toString(mean)
                    + " but the samples have " + channels + " channels"
                    + (shape == null ? "" : " (sample shape " + Arrays.toString(shape) + ", channels first)")
                    + "; give one mean and std per channel, or one for all");
        }
    }

    /** E.g. {@code Normalize(mean=[0.5], std=[0.5])}. */
    @Override
    public String toString() {
        return "Normalize(mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + ")";
    }

    /** A dataset view that normalizes each sample as it is copied. */
    private static final class Normalized implements Dataset {
        private final Dataset base;
        private final Normalize norm;
        private final int channels;
        private final int plane;

        Normalized(Dataset base, Normalize norm, int channels, int plane) {
            this.base = base;
            this.norm = norm;
            this.channels = channels;
            this.plane = plane;
        }

        @Override
        public int size() {
            return base.size();
        }

        @Override
        public long[] sampleShape() {
            return base.sampleShape();
        }

        @Override
        public int sampleSize() {
            return base.sampleSize();
        }

        @Override
        public int numClasses() {
            return base.numClasses();
        }

        @Override
        public List<String> classNames() {
            return base.classNames();
        }

        @Override
        public void copySample(int index, float[] dst, int offset) {
            base.copySample(index, dst, offset);
            norm.apply(dst, offset, channels, plane);
        }

        @Override
        public void copySample(int index, float[] dst, int offset, long draw) {
            base.copySample(index, dst, offset, draw);
            norm.apply(dst, offset, channels, plane);
        }

        @Override
        public long label(int index) {
            return base.label(index);
        }

        @Override
        public long[] targetShape() {
            return base.targetShape();
        }

        @Override
        public int targetSize() {
            return base.targetSize();
        }

        @Override
        public void copyTargets(int index, float[] dst, int offset) {
            base.copyTargets(index, dst, offset);
        }

        @Override
        public String toString() {
            return base + " | " + norm;
        }
    }
}
