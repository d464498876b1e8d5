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
import java.nio.IntBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import javax.imageio.ImageIO;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.InternalRow$;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.JoinedRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Scores one partition: rows are read lazily in batches of {@link ScoringPlan#batchSize()}, each row checked and
 * written into a direct buffer that ONNX Runtime reads without a copy, the batch run on the executor's shared
 * model, and every input row emitted with its prediction (and error) appended, in the input order.
 *
 * <p>It works on Spark's internal rows: an image arrives as an {@code UnsafeArrayData} and leaves the row in
 * Spark's binary form, so its floats are copied in bulk instead of being boxed into a {@code Row} and back, which
 * cost as much as running the model (docs/SCALING.md, "Spark scoring").
 */
final class PartitionScorer implements FlatMapFunction<Iterator<InternalRow>, InternalRow> {
    private static final long serialVersionUID = 1L;

    /** The largest array a task keeps for a batch's input rows; a batch that needs more copies the rest row by row. */
    private static final long ARENA_LIMIT = 1 << 26;

    private final Broadcast<byte[]> modelBytes;
    private final ScoringPlan plan;

    PartitionScorer(Broadcast<byte[]> modelBytes, ScoringPlan plan) {
        this.modelBytes = modelBytes;
        this.plan = plan;
    }

    @Override
    public Iterator<InternalRow> call(Iterator<InternalRow> rows) {
        Model model = ExecutorModels.get(plan.modelHash(), plan.intraOpThreads(), modelBytes::value);
        TaskContext task = TaskContext.get();
        return new Batches(model, rows, task == null ? -1 : task.partitionId());
    }

    /** The output rows of a partition, scored one batch ahead of the consumer. */
    private final class Batches implements Iterator<InternalRow> {
        private final Model model;
        private final Iterator<InternalRow> rows;
        private final int partition;
        private final ArrayDeque<InternalRow> ready = new ArrayDeque<>();
        private final InternalRow[] batch;
        private final Object[] ids;
        private final long[] positions;
        private final String[] errors;
        private final int[] valid;
        private final ByteBuffer buffer;
        private final FloatBuffer floats;
        private final IntBuffer bits;
        private final int[] sample;
        private byte[] arena;
        private int arenaUsed;
        private long arenaWanted;
        private final ImagePreprocessing preprocessing;
        private long position;

        Batches(Model model, Iterator<InternalRow> rows, int partition) {
            this.model = model;
            this.rows = rows;
            this.partition = partition;
            int b = plan.batchSize();
            this.batch = new InternalRow[b];
            this.ids = new Object[b];
            this.positions = new long[b];
            this.errors = new String[b];
            this.valid = new int[b];
            this.buffer = ByteBuffer.allocateDirect(
                            Math.multiplyExact(Math.multiplyExact(b, plan.sampleSize()), Float.BYTES))
                    .order(ByteOrder.LITTLE_ENDIAN);
            this.floats = buffer.asFloatBuffer();
            this.bits = buffer.asIntBuffer();
            this.sample = new int[plan.sampleSize()];
            // a batch's input rows are copied into one array, sized by the batches seen (it starts empty: the first
            // batch copies row by row and tells how much room a batch needs)
            this.arena = new byte[0];
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
        public InternalRow next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            return ready.poll();
        }

        private void scoreNextBatch() {
            if (arenaWanted > arena.length) {
                arena = new byte[(int) Math.min(ARENA_LIMIT, arenaWanted)];
            }
            arenaUsed = 0;
            arenaWanted = 0;
            int n = 0;
            int count = 0;
            while (n < batch.length && rows.hasNext()) {
                InternalRow in = rows.next();
                String problem = fill(in, count * plan.sampleSize());
                // what names the row if the model fails on it below, when the input row is gone
                ids[n] = plan.idIndex() < 0 || in.isNullAt(plan.idIndex())
                        ? null
                        : InternalRow$.MODULE$.copyValue(in.get(plan.idIndex(), plan.idType()));
                positions[n] = position;
                errors[n] = problem == null ? null : name(in) + ": " + problem;
                if (problem == null) {
                    valid[count++] = n;
                } else if (!plan.errorColumn()) {
                    throw new MalformedRowException(
                            rowId(in),
                            plan.name() + ": " + errors[n] + "; fix or filter the row, or set errorCol to route"
                                    + " malformed rows to an error column");
                }
                // the scan reuses its row object: keep a copy (of the kept columns) until the batch is emitted
                batch[n] = kept(in);
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
                                plan.name() + ": the model failed on the batch of rows " + describe(valid[0]) + " to "
                                        + describe(valid[count - 1]) + ": " + e.getMessage(),
                                e);
                    }
                    // find the rows it fails on: score them one at a time (their values are still in place)
                    for (int i = 0; i < count; i++) {
                        try {
                            predictions[valid[i]] = predict(i, 1)[0];
                        } catch (RuntimeException one) {
                            errors[valid[i]] = describe(valid[i]) + ": the model failed: " + one.getMessage();
                        }
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                ready.add(output(batch[i], predictions[i], errors[i]));
                batch[i] = null;
                ids[i] = null;
            }
        }

        /** The row the output is built on: a copy of the input row, or of the columns the output keeps. */
        private InternalRow kept(InternalRow in) {
            int[] columns = plan.keptColumns();
            if (columns == null) {
                if (!(in instanceof UnsafeRow u)) {
                    return in.copy();
                }
                arenaWanted += u.getSizeInBytes();
                if (arenaUsed + u.getSizeInBytes() <= arena.length) {
                    // the batch's rows share one array, reused by the next batch: a row is read by Spark's
                    // projection to the output (RDDScanExec) as soon as it is returned, before the next batch
                    UnsafeRow copy = new UnsafeRow(u.numFields());
                    copy.pointTo(arena, Platform.BYTE_ARRAY_OFFSET + arenaUsed, u.getSizeInBytes());
                    u.writeToMemory(arena, Platform.BYTE_ARRAY_OFFSET + arenaUsed);
                    arenaUsed += u.getSizeInBytes();
                    return copy;
                }
                return in.copy();
            }
            Object[] values = new Object[columns.length];
            for (int i = 0; i < columns.length; i++) {
                values[i] = in.isNullAt(columns[i])
                        ? null
                        : InternalRow$.MODULE$.copyValue(in.get(columns[i], plan.keptTypes()[i]));
            }
            return new GenericInternalRow(values);
        }

        /** The name of row {@code i} of the batch, for a message. */
        private String describe(int i) {
            return plan.idIndex() >= 0 ? "row id=" + ids[i] : "row #" + positions[i] + " of partition " + partition;
        }

        /** Writes a row's input at {@code offset} of the buffer; returns what is wrong with it, or null. */
        private String fill(InternalRow row, int offset) {
            int column = plan.inputIndex();
            if (row.isNullAt(column)) {
                return "column '" + plan.inputCol() + "' is null";
            }
            int n = plan.sampleSize();
            if (plan.inputKind() == ScoringPlan.InputKind.IMAGE_BYTES) {
                return fillImage(row.getBinary(column), offset);
            }
            ArrayData value = row.getArray(column);
            int length = value.numElements();
            if (length != n) {
                return "column '" + plan.inputCol() + "' has " + length + " values, expected " + n
                        + " (the model input " + Arrays.toString(plan.inputShape()) + " without its batch axis)";
            }
            // a column whose type says its arrays hold no nulls (ImageTables' tables) is not checked value by value
            int nullAt = plan.elementsNullable() ? firstNull(value) : -1;
            if (nullAt >= 0) {
                return "column '" + plan.inputCol() + "' element " + nullAt + " is null";
            }
            // the values as float bits: checked for finiteness as ints (a loop the JIT vectorizes) and copied to
            // the buffer in bulk
            int[] x = sample;
            if (plan.inputKind() == ScoringPlan.InputKind.FLOAT_ARRAY && value instanceof UnsafeArrayData u) {
                // Spark's binary array: the values follow the header (length and null bits)
                Platform.copyMemory(
                        u.getBaseObject(),
                        u.getBaseOffset() + UnsafeArrayData.calculateHeaderPortionInBytes(length),
                        x,
                        Platform.INT_ARRAY_OFFSET,
                        (long) length * Float.BYTES);
            } else if (plan.inputKind() == ScoringPlan.InputKind.FLOAT_ARRAY) {
                for (int i = 0; i < length; i++) {
                    x[i] = Float.floatToRawIntBits(value.getFloat(i));
                }
            } else {
                for (int i = 0; i < length; i++) {
                    x[i] = Float.floatToRawIntBits((float) value.getDouble(i));
                }
            }
            if (plan.rejectNonFinite()) {
                int nonFinite = firstNonFinite(x, length);
                if (nonFinite >= 0) {
                    return "column '" + plan.inputCol() + "' element " + nonFinite + " is "
                            + Float.intBitsToFloat(x[nonFinite])
                            + "; inputs must be finite (setRejectNonFinite(false) passes them to the model)";
                }
            }
            bits.put(offset, x, 0, length);
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

        /** The index of the first null element, or -1. */
        private static int firstNull(ArrayData value) {
            int length = value.numElements();
            if (value instanceof UnsafeArrayData u) {
                // the null bits are words after the 8-byte length: a row without nulls is a few zero words
                long words = (length + 63L) / 64;
                boolean any = false;
                for (long w = 0; w < words && !any; w++) {
                    any = Platform.getLong(u.getBaseObject(), u.getBaseOffset() + 8 + 8 * w) != 0;
                }
                if (!any) {
                    return -1;
                }
            }
            for (int i = 0; i < length; i++) {
                if (value.isNullAt(i)) {
                    return i;
                }
            }
            return -1;
        }

        /**
         * The index of the first NaN or infinity among the first {@code length} float bit patterns, or -1.
         * Branch-free over the values (a non-finite value's exponent bits are all ones: plus one sets the sign
         * bit), so the common all-finite row is one pass of int operations that the JIT vectorizes.
         */
        private static int firstNonFinite(int[] x, int length) {
            int any = 0;
            for (int i = 0; i < length; i++) {
                any |= (x[i] & 0x7f800000) + 0x00800000;
            }
            if (any >= 0) {
                return -1;
            }
            for (int i = 0; i < length; i++) {
                if (!Float.isFinite(Float.intBitsToFloat(x[i]))) {
                    return i;
                }
            }
            return -1;
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
                        out[i] = UnsafeArrayData.fromPrimitiveArray(Arrays.copyOfRange(v, i * per, (i + 1) * per));
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
                        out[i] = UnsafeArrayData.fromPrimitiveArray(p);
                    }
                }
                case TOPK -> {
                    List<List<Prediction>> top = model.topK(x, plan.k());
                    for (int i = 0; i < count; i++) {
                        Object[] best = new Object[plan.k()];
                        for (int j = 0; j < best.length; j++) {
                            Prediction c = top.get(i).get(j);
                            best[j] = new GenericInternalRow(
                                    new Object[] {c.index(), UTF8String.fromString(c.label()), c.probability()});
                        }
                        out[i] = new GenericArrayData(best);
                    }
                }
                default -> throw new AssertionError(plan.output());
            }
            return out;
        }

        /** The input row followed by the prediction (and error), for Spark to write out in its binary form. */
        private InternalRow output(InternalRow in, Object prediction, String error) {
            Object[] appended = plan.errorColumn()
                    ? new Object[] {prediction, error == null ? null : UTF8String.fromString(error)}
                    : new Object[] {prediction};
            return new JoinedRow(in, new GenericInternalRow(appended));
        }

        private String rowId(InternalRow row) {
            if (plan.idIndex() >= 0) {
                return String.valueOf(row.get(plan.idIndex(), plan.idType()));
            }
            return "#" + position + " of partition " + partition;
        }

        private String name(InternalRow row) {
            return plan.idIndex() >= 0 ? "row id=" + rowId(row) : "row " + rowId(row);
        }
    }
}
