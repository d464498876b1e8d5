package dev.forge.spark;

import dev.forge.runtime.DType;
import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.Model;
import dev.forge.runtime.Prediction;
import dev.forge.runtime.Tensor;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import javax.imageio.ImageIO;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * Scores one partition: rows are read lazily in batches of {@link ScoringPlan#batchSize()}, each row checked and
 * written into a direct buffer that ONNX Runtime reads without a copy, the batch run on the executor's shared
 * model, and every input row emitted with its prediction (and error) appended, in the input order.
 */
final class PartitionScorer implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    private final Broadcast<byte[]> modelBytes;
    private final ScoringPlan plan;

    PartitionScorer(Broadcast<byte[]> modelBytes, ScoringPlan plan) {
        this.modelBytes = modelBytes;
        this.plan = plan;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        Model model = ExecutorModels.get(plan.modelHash(), plan.intraOpThreads(), modelBytes::value);
        TaskContext task = TaskContext.get();
        return new Batches(model, rows, task == null ? -1 : task.partitionId());
    }

    /** The output rows of a partition, scored one batch ahead of the consumer. */
    private final class Batches implements Iterator<Row> {
        private final Model model;
        private final Iterator<Row> rows;
        private final int partition;
        private final ArrayDeque<Row> ready = new ArrayDeque<>();
        private final Row[] batch;
        private final String[] errors;
        private final int[] valid;
        private final ByteBuffer buffer;
        private final FloatBuffer floats;
        private final ImagePreprocessing preprocessing;
        private long position;

        Batches(Model model, Iterator<Row> rows, int partition) {
            this.model = model;
            this.rows = rows;
            this.partition = partition;
            int b = plan.batchSize();
            this.batch = new Row[b];
            this.errors = new String[b];
            this.valid = new int[b];
            this.buffer = ByteBuffer.allocateDirect(Math.multiplyExact(b, plan.sampleSize()) * Float.BYTES)
                    .order(ByteOrder.LITTLE_ENDIAN);
            this.floats = buffer.asFloatBuffer();
            this.preprocessing = plan.inputKind() == ScoringPlan.InputKind.IMAGE_BYTES
                    ? ForgeModelTransformer.imagePreprocessing(model, plan.inputShape())
                    : null;
        }

        @Override
        public boolean hasNext() {
            while (ready.isEmpty() && rows.hasNext()) {
                scoreNextBatch();
            }
            return !ready.isEmpty();
        }

        @Override
        public Row next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            return ready.poll();
        }

        private void scoreNextBatch() {
            int n = 0;
            int count = 0;
            while (n < batch.length && rows.hasNext()) {
                Row row = rows.next();
                batch[n] = row;
                String problem = fill(row, count * plan.sampleSize());
                errors[n] = problem == null ? null : name(row) + ": " + problem;
                if (problem == null) {
                    valid[count++] = n;
                } else if (!plan.errorColumn()) {
                    throw new MalformedRowException(
                            rowId(row),
                            plan.name() + ": " + errors[n] + "; fix or filter the row, or set errorCol to route"
                                    + " malformed rows to an error column");
                }
                position++;
                n++;
            }
            Object[] predictions = new Object[n];
            if (count > 0) {
                try {
                    Object[] p = predict(0, count);
                    for (int i = 0; i < count; i++) {
                        predictions[valid[i]] = p[i];
                    }
                } catch (RuntimeException e) {
                    if (!plan.errorColumn()) {
                        throw new IllegalStateException(
                                plan.name() + ": the model failed on the batch of rows " + name(batch[valid[0]])
                                        + " to " + name(batch[valid[count - 1]]) + ": " + e.getMessage(),
                                e);
                    }
                    // find the rows it fails on: score them one at a time (their values are still in place)
                    for (int i = 0; i < count; i++) {
                        try {
                            predictions[valid[i]] = predict(i, 1)[0];
                        } catch (RuntimeException one) {
                            errors[valid[i]] = name(batch[valid[i]]) + ": the model failed: " + one.getMessage();
                        }
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                ready.add(output(batch[i], predictions[i], errors[i]));
                batch[i] = null;
            }
        }

        /** Writes a row's input at {@code offset} of the buffer; returns what is wrong with it, or null. */
        private String fill(Row row, int offset) {
            Object value = row.get(plan.inputIndex());
            if (value == null) {
                return "column '" + plan.inputCol() + "' is null";
            }
            int n = plan.sampleSize();
            if (plan.inputKind() == ScoringPlan.InputKind.IMAGE_BYTES) {
                return fillImage((byte[]) value, offset);
            }
            int length = ArrayValues.length(value);
            if (length != n) {
                return "column '" + plan.inputCol() + "' has " + length + " values, expected " + n
                        + " (the model input " + java.util.Arrays.toString(plan.inputShape())
                        + " without its batch axis)";
            }
            int nonFinite = ArrayValues.copyFloats(value, floats, offset);
            if (nonFinite == -2) {
                return "column '" + plan.inputCol() + "' holds a null element";
            }
            if (nonFinite >= 0 && plan.rejectNonFinite()) {
                return "column '" + plan.inputCol() + "' element " + nonFinite + " is " + floats.get(offset + nonFinite)
                        + "; inputs must be finite (setRejectNonFinite(false) passes them to the model)";
            }
            return null;
        }

        private String fillImage(byte[] bytes, int offset) {
            BufferedImage image;
            try {
                image = ImageIO.read(new ByteArrayInputStream(bytes));
            } catch (IOException | RuntimeException e) {
                return "column '" + plan.inputCol() + "' (" + bytes.length + " bytes) cannot be decoded: " + e;
            }
            if (image == null) {
                return "column '" + plan.inputCol() + "' (" + bytes.length
                        + " bytes) is not a PNG or JPEG image (empty, truncated or another format?)";
            }
            float[] x;
            try {
                x = preprocessing.toTensor(List.of(image), plan.inputShape()).toFloatArray();
            } catch (RuntimeException e) {
                return "column '" + plan.inputCol() + "': " + e.getMessage();
            }
            floats.put(offset, x);
            return null;
        }

        /** Runs rows {@code [first, first + count)} of the buffer; one prediction per row. */
        private Object[] predict(int first, int count) {
            int n = plan.sampleSize();
            ByteBuffer slice = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            slice.position(first * n * Float.BYTES).limit((first + count) * n * Float.BYTES);
            long[] shape = plan.inputShape().clone();
            shape[0] = count;
            Tensor x = Tensor.wrap(DType.FLOAT32, slice, shape);
            Object[] out = new Object[count];
            switch (plan.output()) {
                case SCORES -> {
                    Tensor y = model.run(x);
                    float[] v = y.toFloatArray();
                    int per = v.length / count;
                    for (int i = 0; i < count; i++) {
                        out[i] = Arrays.copyOfRange(v, i * per, (i + 1) * per);
                    }
                }
                case LABEL -> {
                    List<List<Prediction>> top = model.topK(x, 1);
                    for (int i = 0; i < count; i++) {
                        out[i] = top.get(i).get(0).index();
                    }
                }
                case PROBABILITIES -> {
                    List<List<Prediction>> all = model.topK(x, plan.classes());
                    for (int i = 0; i < count; i++) {
                        float[] p = new float[plan.classes()];
                        for (Prediction c : all.get(i)) {
                            p[c.index()] = c.probability();
                        }
                        out[i] = p;
                    }
                }
                case TOPK -> {
                    List<List<Prediction>> top = model.topK(x, plan.k());
                    for (int i = 0; i < count; i++) {
                        Row[] best = new Row[plan.k()];
                        for (int j = 0; j < best.length; j++) {
                            Prediction c = top.get(i).get(j);
                            best[j] = RowFactory.create(c.index(), c.label(), c.probability());
                        }
                        out[i] = best;
                    }
                }
                default -> throw new AssertionError(plan.output());
            }
            return out;
        }

        private Row output(Row in, Object prediction, String error) {
            int width = in.length();
            Object[] v = new Object[width + (plan.errorColumn() ? 2 : 1)];
            for (int i = 0; i < width; i++) {
                v[i] = in.get(i);
            }
            v[width] = prediction;
            if (plan.errorColumn()) {
                v[width + 1] = error;
            }
            return RowFactory.create(v);
        }

        private String rowId(Row row) {
            if (plan.idIndex() >= 0) {
                return String.valueOf(row.get(plan.idIndex()));
            }
            return "#" + position + " of partition " + partition;
        }

        private String name(Row row) {
            return plan.idIndex() >= 0 ? "row id=" + rowId(row) : "row " + rowId(row);
        }
    }
}
