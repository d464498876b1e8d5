package dev.forge.spark.train;

import java.io.Serializable;
import java.util.Comparator;
import java.util.List;

/** One worker's rows, packed: ids, labels and the flattened images in rank order ({@link ShardPlan}). */
final class Shard implements Serializable {
    private static final long serialVersionUID = 1L;

    /** One row on its way to a shard. */
    record Sample(long rank, long id, float[] image, int label) implements Serializable {}

    final int worker;
    final long[] ids;
    final int[] labels;
    final float[] images;
    final int sampleSize;

    private Shard(int worker, long[] ids, int[] labels, float[] images, int sampleSize) {
        this.worker = worker;
        this.ids = ids;
        this.labels = labels;
        this.images = images;
        this.sampleSize = sampleSize;
    }

    /** Packs a worker's samples, sorting them by rank (a shuffle delivers them in no particular order). */
    static Shard pack(int worker, List<Sample> samples, int sampleSize) {
        samples.sort(Comparator.comparingLong(Sample::rank));
        int n = samples.size();
        long[] ids = new long[n];
        int[] labels = new int[n];
        float[] images = new float[Math.multiplyExact(n, sampleSize)];
        for (int i = 0; i < n; i++) {
            Sample s = samples.get(i);
            if (s.image().length != sampleSize) {
                throw new IllegalArgumentException("SparkTrainer: row id " + s.id() + " has an image of "
                        + s.image().length + " floats, the net's input needs " + sampleSize);
            }
            ids[i] = s.id();
            labels[i] = s.label();
            System.arraycopy(s.image(), 0, images, i * sampleSize, sampleSize);
        }
        return new Shard(worker, ids, labels, images, sampleSize);
    }

    int size() {
        return ids.length;
    }
}
