package dev.forge.compiler.data;

import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Cuts a {@link Dataset} into mini-batches, epoch after epoch, in a shuffled order that depends only
 * on (seed, epoch).
 *
 * <pre>{@code
 * try (DataLoader loader = DataLoader.builder(Mnist.train(), 64).shuffle(true).seed(42).build()) {
 *   for (int epoch = 0; epoch < 10; epoch++) {
 *     for (Batch b : loader.epoch(epoch)) {
 *       trainer.step(b.inputs(), b.labels());   // b is valid until the next batch is requested
 *     }
 *   }
 * }
 * }</pre>
 *
 * <p><b>Order.</b> Without shuffling, samples come in dataset (file) order. With shuffling, epoch
 * {@code e} visits the samples in the order {@link #permutation(int, long, int) permutation(n, seed,
 * e)}: a Fisher–Yates shuffle driven by SplitMix64, specified exactly there so that a run resumed at
 * epoch {@code e}, batch {@code k} ({@link #epoch(int, int)}) sees exactly the batches the
 * uninterrupted run would have seen, on any JVM. Every sample appears exactly once per epoch. The last
 * batch holds the {@code n % batchSize} left-over samples, or is dropped with {@code dropLast}.
 *
 * <p><b>Buffers and ownership.</b> Batches are written into direct, little-endian buffers allocated
 * once per loader ({@code prefetch + 1} sets), wrapped by {@link Tensor}s that are also made once; in
 * steady state a batch allocates nothing. A batch belongs to the caller until the caller asks for the
 * next one (or closes the epoch or loader); then its buffers are reused.
 *
 * <p><b>Prefetch.</b> With {@code prefetch(k)}, k ≥ 1, a background thread prepares up to k batches
 * ahead while the caller trains on the current one. The batches are identical to those without
 * prefetching: each is a pure function of (dataset, seed, epoch, batch index). {@link #close()} (or
 * closing the epoch) stops the thread. Since data is held in memory, preparing a batch is cheap (tens
 * of microseconds for MNIST), so the default is no prefetching.
 *
 * <p>Only one epoch is active at a time: starting another closes the previous one, whose iterator then
 * throws {@link IllegalStateException}. A loader is used from one thread.
 */
public final class DataLoader implements AutoCloseable {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    /** Put in the ready queue by a producer that failed. */
    private static final Object FAILED = new Object();

    private final Dataset data;
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final boolean dropLast;
    private final int prefetch;
    private final boolean augment;
    private final int sampleSize;
    private final int targetSize;
    private final boolean classification;
    private final long[] sampleShape;
    private final long[] targetShape;
    private final int numBatches;
    private final Slot[] slots;
    private Epoch active;
    private boolean closed;

    private DataLoader(Builder b) {
        this.data = b.data;
        this.batchSize = b.batchSize;
        this.shuffle = b.shuffle;
        this.seed = b.seed;
        this.dropLast = b.dropLast;
        this.prefetch = b.prefetch;
        this.augment = b.augment;
        this.sampleShape = data.sampleShape();
        this.sampleSize = data.sampleSize();
        this.classification = data.isClassification();
        this.targetShape = classification ? new long[0] : data.targetShape();
        this.targetSize = classification ? 1 : data.targetSize();
        int n = data.size();
        this.numBatches = dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
        long inputBytes = (long) batchSize * sampleSize * 4;
        long labelBytes = (long) batchSize * targetSize * (classification ? 8 : 4);
        if (inputBytes > Tensor.MAX_BYTES || labelBytes > Tensor.MAX_BYTES) {
            throw new IllegalArgumentException(
                    "DataLoader: a batch of " + batchSize + " samples of " + sampleSize + " floats is " + inputBytes
                            + " bytes, more than one tensor holds (" + Tensor.MAX_BYTES + "); use a smaller batch");
        }
        this.slots = new Slot[prefetch + 1];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Slot((int) inputBytes, (int) labelBytes);
        }
    }

    /**
     * Starts configuring a loader.
     *
     * @param data the dataset
     * @param batchSize samples per batch, ≥ 1
     * @return a builder with no shuffling, seed 0, no dropLast and no prefetching
     * @throws IllegalArgumentException if batchSize &lt; 1
     */
    public static Builder builder(Dataset data, int batchSize) {
        return new Builder(data, batchSize);
    }

    /** Configures a {@link DataLoader}. */
    public static final class Builder {
        private final Dataset data;
        private final int batchSize;
        private boolean shuffle;
        private long seed;
        private boolean dropLast;
        private int prefetch;
        private boolean augment;

        private Builder(Dataset data, int batchSize) {
            this.data = Objects.requireNonNull(data, "data");
            if (batchSize < 1) {
                throw new IllegalArgumentException("DataLoader: batch size must be >= 1, got " + batchSize);
            }
            this.batchSize = batchSize;
        }

        /**
         * Whether to shuffle each epoch (default false: dataset order, the CLI's {@code --no-shuffle}).
         *
         * @param shuffle true to shuffle
         * @return this builder
         */
        public Builder shuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        /**
         * The shuffle seed (default 0); with the epoch number it fixes each epoch's order.
         *
         * @param seed any value
         * @return this builder
         */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Whether to drop the last batch of an epoch when it has fewer than batchSize samples (default
         * false).
         *
         * @param dropLast true to drop it
         * @return this builder
         */
        public Builder dropLast(boolean dropLast) {
            this.dropLast = dropLast;
            return this;
        }

        /**
         * How many batches a background thread may prepare ahead (default 0: none, batches are prepared
         * by {@code next()} on the caller's thread).
         *
         * @param batches 0 to 4
         * @return this builder
         * @throws IllegalArgumentException outside 0..4
         */
        public Builder prefetch(int batches) {
            if (batches < 0 || batches > 4) {
                throw new IllegalArgumentException("DataLoader: prefetch must be 0..4 batches, got " + batches);
            }
            this.prefetch = batches;
            return this;
        }

        /**
         * Whether batches are randomly augmented (default false): when true, each sample is copied with
         * {@link Dataset#copySample(int, float[], int, long)} and the draw {@link #draw(long, int, int)
         * draw(seed, epoch, index)}, so an {@link Augmentation} view of the dataset varies from epoch to
         * epoch, reproducibly for a seed whatever the prefetching. For training sets only: evaluation
         * loaders leave it off and see the images as they are.
         *
         * @param augment true to augment
         * @return this builder
         */
        public Builder augment(boolean augment) {
            this.augment = augment;
            return this;
        }

        /**
         * Builds the loader and allocates its batch buffers.
         *
         * @return the loader
         * @throws IllegalArgumentException if one batch would not fit in a tensor
         */
        public DataLoader build() {
            return new DataLoader(this);
        }
    }

    // ---------------------------------------------------------------- configuration

    /**
     * The dataset batches are cut from.
     *
     * @return the dataset
     */
    public Dataset dataset() {
        return data;
    }

    /**
     * Samples per batch (the last batch of an epoch may have fewer unless {@link #dropLast()}).
     *
     * @return the batch size
     */
    public int batchSize() {
        return batchSize;
    }

    /**
     * Whether epochs are shuffled.
     *
     * @return true if shuffled
     */
    public boolean shuffle() {
        return shuffle;
    }

    /**
     * The shuffle seed.
     *
     * @return the seed
     */
    public long seed() {
        return seed;
    }

    /**
     * Whether a short last batch is dropped.
     *
     * @return true if dropped
     */
    public boolean dropLast() {
        return dropLast;
    }

    /**
     * How many batches are prepared ahead on a background thread.
     *
     * @return 0 for none
     */
    public int prefetch() {
        return prefetch;
    }

    /**
     * The number of batches in each epoch.
     *
     * @return {@code ceil(n / batchSize)}, or {@code floor(n / batchSize)} with dropLast
     */
    public int batchesPerEpoch() {
        return numBatches;
    }

    /**
     * The order in which epoch {@code epoch} visits the samples.
     *
     * @param epoch the epoch number, ≥ 0
     * @return dataset indices; the identity without shuffling
     */
    public int[] permutation(int epoch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("DataLoader: epoch must be >= 0, got " + epoch);
        }
        if (!shuffle) {
            int[] p = new int[data.size()];
            for (int i = 0; i < p.length; i++) {
                p[i] = i;
            }
            return p;
        }
        return permutation(data.size(), seed, epoch);
    }

    /**
     * The shuffled order of {@code n} samples for (seed, epoch), exactly:
     *
     * <pre>
     * mix(z):   z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >>> 27)) * 0x94D049BB133111EB;
     *           return z ^ (z >>> 31)                       (64-bit wrapping arithmetic)
     * state   = mix(mix(seed) + epoch)
     * next()  = state += 0x9E3779B97F4A7C15; return mix(state)      (SplitMix64)
     * below(b)= repeat r = next() >>> 32 until r >= 2^32 mod b; return r mod b   (unbiased)
     * p = [0, 1, ..., n-1]; for i = n-1 down to 1: j = below(i + 1); swap p[i], p[j]
     * </pre>
     *
     * @param n the number of samples
     * @param seed the seed
     * @param epoch the epoch number
     * @return a permutation of 0..n-1
     */
    public static int[] permutation(int n, long seed, int epoch) {
        if (n < 0) {
            throw new IllegalArgumentException("permutation: n must be >= 0, got " + n);
        }
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        long[] state = {mix(mix(seed) + epoch)};
        for (int i = n - 1; i > 0; i--) {
            int j = below(state, i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /**
     * The seed of sample {@code index}'s random augmentation in epoch {@code epoch}: {@code mix(mix(mix(seed
     * ^ 0x6A09E667F3BCC909) + epoch) + index)} with {@link #permutation(int, long, int)}'s {@code mix}. A
     * function of these three only, so batches do not depend on which thread prepares them or when.
     *
     * @param seed the loader's seed
     * @param epoch the epoch number
     * @param index the sample's index in the dataset
     * @return the draw
     */
    public static long draw(long seed, int epoch, int index) {
        return mix(mix(mix(seed ^ 0x6A09E667F3BCC909L) + epoch) + index);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static int below(long[] state, int bound) {
        long threshold = (1L << 32) % bound;
        while (true) {
            state[0] += GOLDEN;
            long r = mix(state[0]) >>> 32;
            if (r >= threshold) {
                return (int) (r % bound);
            }
        }
    }

    // ---------------------------------------------------------------- epochs

    /**
     * Starts epoch {@code epoch} from its first batch, closing any epoch still active.
     *
     * @param epoch the epoch number, ≥ 0
     * @return the epoch's batches
     * @throws IllegalStateException if the loader is closed
     */
    public Epoch epoch(int epoch) {
        return epoch(epoch, 0);
    }

    /**
     * Starts epoch {@code epoch} at batch {@code firstBatch} — to resume an interrupted run exactly
     * where it stopped — closing any epoch still active.
     *
     * @param epoch the epoch number, ≥ 0
     * @param firstBatch the first batch to yield, 0 ≤ firstBatch ≤ {@link #batchesPerEpoch()}
     * @return the remaining batches of the epoch
     * @throws IllegalStateException if the loader is closed
     * @throws IllegalArgumentException if epoch or firstBatch is out of range
     */
    public Epoch epoch(int epoch, int firstBatch) {
        if (closed) {
            throw new IllegalStateException("DataLoader is closed");
        }
        if (epoch < 0) {
            throw new IllegalArgumentException("DataLoader: epoch must be >= 0, got " + epoch);
        }
        if (firstBatch < 0 || firstBatch > numBatches) {
            throw new IllegalArgumentException("DataLoader: first batch " + firstBatch + " is outside 0.." + numBatches
                    + " (" + numBatches + " batches per epoch)");
        }
        if (active != null) {
            active.shutdown("epoch " + epoch + " was started");
        }
        active = new Epoch(epoch, firstBatch, permutation(epoch));
        return active;
    }

    /** Stops the prefetch thread, if any, and invalidates the active epoch. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (active != null) {
            active.shutdown("the DataLoader was closed");
            active = null;
        }
    }

    /**
     * The batches of one epoch, in order; single use. Iterating to the end releases the background
     * thread; closing early stops it.
     */
    public final class Epoch implements Iterator<Batch>, Iterable<Batch>, AutoCloseable {
        private final int epoch;
        private final int[] order;
        private int nextBatch;
        private final float[] sampleScratch = new float[sampleSize];
        private final float[] targetScratch = new float[classification ? 0 : targetSize];
        private final BlockingQueue<Slot> free;
        private final BlockingQueue<Object> ready;
        private final Thread producer;
        private volatile Throwable failure;
        private Slot held;
        private boolean done;
        private String supersededBy;

        private Epoch(int epoch, int firstBatch, int[] order) {
            this.epoch = epoch;
            this.order = order;
            this.nextBatch = firstBatch;
            if (prefetch == 0 || firstBatch == numBatches) {
                free = null;
                ready = null;
                producer = null;
                return;
            }
            free = new ArrayBlockingQueue<>(slots.length);
            ready = new ArrayBlockingQueue<>(slots.length + 1);
            for (Slot s : slots) {
                free.add(s);
            }
            producer = new Thread(() -> produce(firstBatch), "forge-data-loader-epoch-" + epoch);
            producer.setDaemon(true);
            producer.start();
        }

        /**
         * The epoch number.
         *
         * @return the epoch
         */
        public int epochNumber() {
            return epoch;
        }

        /**
         * The index of the batch the next call to {@link #next()} returns (a resume point).
         *
         * @return 0 ≤ index ≤ {@link #batchesPerEpoch()}
         */
        public int nextBatchIndex() {
            return nextBatch;
        }

        /** Returns this iterator, so that an epoch can be the target of a for-each loop (once). */
        @Override
        public Iterator<Batch> iterator() {
            return this;
        }

        /**
         * Whether another batch follows.
         *
         * @throws IllegalStateException if another epoch was started or the loader closed meanwhile
         */
        @Override
        public boolean hasNext() {
            checkNotSuperseded();
            return !done && nextBatch < numBatches;
        }

        /**
         * The next batch; the previous batch of this loader becomes invalid.
         *
         * @throws NoSuchElementException after the last batch
         * @throws IllegalStateException if another epoch was started or the loader closed meanwhile
         */
        @Override
        public Batch next() {
            if (!hasNext()) {
                throw new NoSuchElementException(
                        "DataLoader: epoch " + epoch + " has no more batches (" + numBatches + " per epoch)");
            }
            int b = nextBatch;
            Slot s;
            if (producer == null) {
                s = slots[0];
                fill(s, b);
            } else {
                if (held != null) {
                    free.add(held);
                    held = null;
                }
                Object o;
                try {
                    o = ready.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(
                            "DataLoader: interrupted while waiting for batch " + b + " of epoch " + epoch, e);
                }
                if (o == FAILED) {
                    done = true;
                    Throwable t = failure;
                    if (t instanceof RuntimeException) {
                        throw (RuntimeException) t;
                    }
                    if (t instanceof Error) {
                        throw (Error) t;
                    }
                    throw new IllegalStateException(
                            "DataLoader: preparing batch " + b + " of epoch " + epoch + " failed", t);
                }
                s = (Slot) o;
                held = s;
            }
            nextBatch++;
            return s.batch(Math.min(batchSize, order.length - b * batchSize));
        }

        /** Stops the background thread, if any; the epoch yields no more batches. Idempotent. */
        @Override
        public void close() {
            stop();
            done = true;
        }

        private void shutdown(String reason) {
            stop();
            if (!done && supersededBy == null) {
                supersededBy = reason;
            }
            done = true;
        }

        private void stop() {
            if (producer == null) {
                return;
            }
            producer.interrupt();
            boolean interrupted = false;
            while (producer.isAlive()) {
                try {
                    producer.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        private void checkNotSuperseded() {
            if (supersededBy != null) {
                throw new IllegalStateException("DataLoader: this iterator over epoch " + epoch
                        + " is no longer valid: " + supersededBy + " (one epoch at a time; batches share buffers)");
            }
        }

        private void produce(int firstBatch) {
            try {
                for (int b = firstBatch; b < numBatches; b++) {
                    Slot s = free.take();
                    fill(s, b);
                    ready.put(s);
                }
            } catch (InterruptedException e) {
                // closed: stop quietly
            } catch (Throwable t) {
                failure = t;
                ready.add(FAILED);
            }
        }

        /** Writes batch {@code b} of this epoch into {@code s}; a function of (dataset, order, b) only. */
        private void fill(Slot s, int b) {
            int start = b * batchSize;
            int size = Math.min(batchSize, order.length - start);
            for (int j = 0; j < size; j++) {
                int idx = order[start + j];
                if (augment) {
                    data.copySample(idx, sampleScratch, 0, draw(seed, epoch, idx));
                } else {
                    data.copySample(idx, sampleScratch, 0);
                }
                s.inputFloats.put(j * sampleSize, sampleScratch, 0, sampleSize);
                if (classification) {
                    s.labelLongs.put(j, data.label(idx));
                } else {
                    data.copyTargets(idx, targetScratch, 0);
                    s.labelFloats.put(j * targetSize, targetScratch, 0, targetSize);
                }
            }
        }
    }

    /** One set of batch buffers and the tensors that wrap them (made once per size). */
    private final class Slot {
        private final ByteBuffer inputBytes;
        private final ByteBuffer labelBytes;
        private final FloatBuffer inputFloats;
        private final LongBuffer labelLongs;
        private final FloatBuffer labelFloats;
        private Batch full;
        private Batch partial;

        Slot(int inputCapacity, int labelCapacity) {
            inputBytes = ByteBuffer.allocateDirect(inputCapacity).order(ByteOrder.LITTLE_ENDIAN);
            labelBytes = ByteBuffer.allocateDirect(labelCapacity).order(ByteOrder.LITTLE_ENDIAN);
            inputFloats = inputBytes.asFloatBuffer();
            labelLongs = classification ? labelBytes.asLongBuffer() : null;
            labelFloats = classification ? null : labelBytes.asFloatBuffer();
        }

        Batch batch(int size) {
            if (size == batchSize) {
                if (full == null) {
                    full = make(size);
                }
                return full;
            }
            if (partial == null || partial.size() != size) {
                partial = make(size);
            }
            return partial;
        }

        private Batch make(int size) {
            long[] xShape = new long[sampleShape.length + 1];
            xShape[0] = size;
            System.arraycopy(sampleShape, 0, xShape, 1, sampleShape.length);
            ByteBuffer x = inputBytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            x.limit(size * sampleSize * 4);
            Tensor inputs = Tensor.wrap(DType.FLOAT32, x, xShape);
            ByteBuffer y = labelBytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            Tensor labels;
            if (classification) {
                y.limit(size * 8);
                labels = Tensor.wrap(DType.INT64, y, size);
            } else {
                long[] yShape = new long[targetShape.length + 1];
                yShape[0] = size;
                System.arraycopy(targetShape, 0, yShape, 1, targetShape.length);
                y.limit(size * targetSize * 4);
                labels = Tensor.wrap(DType.FLOAT32, y, yShape);
            }
            return new Batch(inputs, labels, size);
        }
    }
}
