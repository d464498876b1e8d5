package dev.forge.compiler.data;

import java.util.List;
import java.util.Objects;

/** A contiguous range of another dataset's samples ({@link Dataset#subset}). */
final class Subset implements Dataset {
    private final Dataset base;
    private final int from;
    private final int size;

    Subset(Dataset base, int from, int to) {
        this.base = Objects.requireNonNull(base, "base");
        Objects.checkFromToIndex(from, to, base.size());
        this.from = from;
        this.size = to - from;
    }

    @Override
    public int size() {
        return size;
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
        base.copySample(from + Objects.checkIndex(index, size), dst, offset);
    }

    @Override
    public void copySample(int index, float[] dst, int offset, long draw) {
        base.copySample(from + Objects.checkIndex(index, size), dst, offset, draw);
    }

    @Override
    public long label(int index) {
        return base.label(from + Objects.checkIndex(index, size));
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
        base.copyTargets(from + Objects.checkIndex(index, size), dst, offset);
    }

    @Override
    public String toString() {
        return base + "[" + from + ".." + (from + size) + ")";
    }
}
