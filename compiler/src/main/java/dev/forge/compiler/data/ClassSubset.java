package dev.forge.compiler.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Some classes of another classification dataset, renumbered in the order given, with at most a given number
 * of samples per class ({@link Dataset#classes}): a new task carved from an old data set, or a few-label
 * version of it.
 */
final class ClassSubset implements Dataset {
    private final Dataset base;
    private final int[] indices;
    private final long[] labels;
    private final List<String> names;

    ClassSubset(Dataset base, int[] classes, int perClass) {
        this.base = Objects.requireNonNull(base, "base");
        if (!base.isClassification()) {
            throw new IllegalArgumentException(
                    "classes(...) needs a classification dataset; this one has float targets");
        }
        if (classes.length == 0) {
            throw new IllegalArgumentException("classes(...) needs at least one class");
        }
        if (perClass < 1) {
            throw new IllegalArgumentException("classes(...): samples per class must be at least 1, got " + perClass);
        }
        int[] newLabel = new int[base.numClasses()];
        Arrays.fill(newLabel, -1);
        List<String> n = new ArrayList<>();
        for (int k = 0; k < classes.length; k++) {
            int c = classes[k];
            if (c < 0 || c >= base.numClasses()) {
                throw new IllegalArgumentException("classes(...): class " + c + " is not one of the data set's "
                        + base.numClasses() + " classes (0 to " + (base.numClasses() - 1) + ")");
            }
            if (newLabel[c] >= 0) {
                throw new IllegalArgumentException("classes(...): class " + c + " is listed twice");
            }
            newLabel[c] = k;
            n.add(
                    base.classNames().isEmpty()
                            ? Integer.toString(c)
                            : base.classNames().get(c));
        }
        int[] taken = new int[classes.length];
        int[] idx = new int[base.size()];
        long[] lab = new long[base.size()];
        int size = 0;
        for (int i = 0; i < base.size(); i++) {
            int k = newLabel[(int) base.label(i)];
            if (k >= 0 && taken[k] < perClass) {
                taken[k]++;
                idx[size] = i;
                lab[size++] = k;
            }
        }
        this.indices = Arrays.copyOf(idx, size);
        this.labels = Arrays.copyOf(lab, size);
        this.names = List.copyOf(n);
    }

    @Override
    public int size() {
        return indices.length;
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
        return names.size();
    }

    @Override
    public List<String> classNames() {
        return names;
    }

    @Override
    public void copySample(int index, float[] dst, int offset) {
        base.copySample(indices[index], dst, offset);
    }

    @Override
    public void copySample(int index, float[] dst, int offset, long draw) {
        base.copySample(indices[index], dst, offset, draw);
    }

    @Override
    public long label(int index) {
        return labels[index];
    }
}
