package dev.forge.compiler.data;

import java.util.List;

/**
 * A fixed, indexed collection of samples of one shape, held in memory, for training or evaluation.
 *
 * <p>A sample's inputs are copied out as float32 in row-major order by {@link #copySample} — already
 * scaled (8-bit pixels to [0, 1]) and, if the dataset is wrapped by {@link Normalize}, normalized.
 * A classification dataset ({@link #numClasses()} &gt; 0) gives each sample a class index by {@link
 * #label}; a regression dataset ({@link #numClasses()} == -1) gives float targets of shape {@link
 * #targetShape()} by {@link #copyTargets}.
 *
 * <p>Implementations are immutable after construction and safe to read from several threads at once
 * (the {@link DataLoader} reads on a background thread while the caller may read too).
 */
public interface Dataset {

    /**
     * The number of samples.
     *
     * @return the sample count, at least 0
     */
    int size();

    /**
     * The shape of one sample's inputs, without the batch axis: {@code [1, 28, 28]} for MNIST, {@code
     * [3, 32, 32]} for CIFAR-10 (channels first).
     *
     * @return a copy of the shape
     */
    long[] sampleShape();

    /**
     * The number of floats one sample's inputs occupy: the product of {@link #sampleShape()}.
     *
     * @return the element count of one sample
     */
    default int sampleSize() {
        long n = 1;
        for (long d : sampleShape()) {
            n *= d;
        }
        return Math.toIntExact(n);
    }

    /**
     * The number of classes of a classification dataset, or -1 for a regression dataset (float targets).
     *
     * @return the class count, or -1
     */
    int numClasses();

    /**
     * The class names, index {@code k} naming class {@code k} (digits "0".."9" for MNIST); empty for a
     * regression dataset.
     *
     * @return an unmodifiable list of {@link #numClasses()} names
     */
    List<String> classNames();

    /**
     * Whether samples carry class indices ({@link #label}) rather than float targets ({@link
     * #copyTargets}).
     *
     * @return true when {@link #numClasses()} &gt; 0
     */
    default boolean isClassification() {
        return numClasses() > 0;
    }

    /**
     * Copies sample {@code index}'s inputs, as float32 in row-major order, into {@code dst} starting at
     * {@code offset}; writes exactly {@link #sampleSize()} floats.
     *
     * @param index 0 ≤ index &lt; {@link #size()}
     * @param dst the destination
     * @param offset where the first value goes
     * @throws IndexOutOfBoundsException if the index or the destination range is out of bounds
     */
    void copySample(int index, float[] dst, int offset);

    /**
     * Copies sample {@code index}'s inputs as a training batch sees them: randomly augmented when the
     * dataset is (an {@link Augmentation} view), with all randomness drawn from {@code draw}, so that the
     * same draw gives the same sample on any thread. The {@link DataLoader} passes a draw that depends only
     * on (seed, epoch, sample index) when built with {@code augment(true)}. Datasets without augmentation
     * ignore the draw: this default is {@link #copySample(int, float[], int)}.
     *
     * @param index 0 ≤ index &lt; {@link #size()}
     * @param dst the destination
     * @param offset where the first value goes
     * @param draw the seed of this copy's random choices
     * @throws IndexOutOfBoundsException if the index or the destination range is out of bounds
     */
    default void copySample(int index, float[] dst, int offset, long draw) {
        copySample(index, dst, offset);
    }

    /**
     * The class index of sample {@code index}, in 0 ≤ label &lt; {@link #numClasses()}.
     *
     * @param index 0 ≤ index &lt; {@link #size()}
     * @return the label
     * @throws IndexOutOfBoundsException if the index is out of range
     * @throws IllegalStateException for a regression dataset (use {@link #copyTargets})
     */
    long label(int index);

    /**
     * The shape of one sample's float targets, without the batch axis: {@code []} (one scalar) for a
     * classification dataset and for scalar regression targets.
     *
     * @return a copy of the shape
     */
    default long[] targetShape() {
        return new long[0];
    }

    /**
     * The number of floats one sample's targets occupy: the product of {@link #targetShape()}.
     *
     * @return the element count of one target
     */
    default int targetSize() {
        long n = 1;
        for (long d : targetShape()) {
            n *= d;
        }
        return Math.toIntExact(n);
    }

    /**
     * Copies the float targets of sample {@code index} of a regression dataset into {@code dst} starting
     * at {@code offset}; writes exactly {@link #targetSize()} floats.
     *
     * @param index 0 ≤ index &lt; {@link #size()}
     * @param dst the destination
     * @param offset where the first value goes
     * @throws IndexOutOfBoundsException if the index or the destination range is out of bounds
     * @throws IllegalStateException for a classification dataset (use {@link #label})
     */
    default void copyTargets(int index, float[] dst, int offset) {
        throw new IllegalStateException(
                "copyTargets: this is a classification dataset with " + numClasses() + " classes; use label(index)");
    }

    /**
     * A view of the samples {@code from} (inclusive) to {@code to} (exclusive), sharing the data; for a
     * quick run on part of a dataset or a train/validation split.
     *
     * @param from the first sample
     * @param to one past the last sample
     * @return the view, of {@code to - from} samples
     * @throws IndexOutOfBoundsException unless 0 ≤ from ≤ to ≤ {@link #size()}
     */
    default Dataset subset(int from, int to) {
        return new Subset(this, from, to);
    }

    /**
     * A view of the samples of some classes, relabelled {@code 0, 1, ...} in the order given, keeping at most
     * {@code perClass} samples of each (the first ones, in this data set's order): a new task carved from an
     * old data set (Fashion-MNIST's footwear), or a few-label version of it for fine-tuning.
     *
     * @param perClass the most samples kept per class ({@code Integer.MAX_VALUE} for all)
     * @param classes the classes to keep, by their index in this data set
     * @return the view; its class names are the kept classes' names
     * @throws IllegalArgumentException for a regression data set, no classes, a class out of range or listed
     *     twice, or {@code perClass < 1}
     */
    default Dataset classes(int perClass, int... classes) {
        return new ClassSubset(this, classes, perClass);
    }
}
