package dev.forge.compiler.data;

import dev.forge.runtime.DType;
import dev.forge.runtime.Npy;
import dev.forge.runtime.NpyFormatException;
import dev.forge.runtime.Tensor;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * A dataset from two NumPy arrays: inputs whose first axis is the sample axis, and one label or target
 * per sample.
 *
 * <p>Inputs may be float32 (held as loaded, no copy), float64 (converted once to float32) or uint8
 * (held as bytes and scaled to [0, 1] while copied, like 8-bit images); a sample's shape is the
 * inputs' shape without the first axis. Labels decide the kind of dataset:
 *
 * <ul>
 *   <li>integers (int64, int32, uint8, int8), shape {@code (N,)}: class indices, a classification
 *       dataset; the class count is given, or one more than the largest label; names are "0", "1", ...
 *   <li>floats (float32, float64), shape {@code (N, ...)}: regression targets of shape {@code (...)}.
 *       To use float labels as classes, save them as int64.
 * </ul>
 *
 * <p>Errors name the files: unsupported dtypes, sample counts that differ, labels of the wrong rank,
 * negative or out-of-range labels.
 */
public final class NpyDataset implements Dataset {
    private static final float[] SCALE = new float[256];

    static {
        for (int v = 0; v < 256; v++) {
            SCALE[v] = v / 255f;
        }
    }

    private final String name;
    private final int size;
    private final long[] sampleShape;
    private final int sampleSize;
    /** Exactly one of these holds the inputs. */
    private final FloatBuffer floatInputs;

    private final byte[] byteInputs;
    private final int numClasses;
    private final List<String> classNames;
    private final long[] labels;
    private final float[] targets;
    private final long[] targetShape;
    private final int targetSize;

    private NpyDataset(
            String name,
            int size,
            long[] sampleShape,
            FloatBuffer floatInputs,
            byte[] byteInputs,
            int numClasses,
            long[] labels,
            float[] targets,
            long[] targetShape) {
        this.name = name;
        this.size = size;
        this.sampleShape = sampleShape;
        this.sampleSize = (int) product(sampleShape, 0);
        this.floatInputs = floatInputs;
        this.byteInputs = byteInputs;
        this.numClasses = numClasses;
        List<String> names = new ArrayList<>();
        for (int k = 0; k < Math.max(numClasses, 0); k++) {
            names.add(Integer.toString(k));
        }
        this.classNames = Collections.unmodifiableList(names);
        this.labels = labels;
        this.targets = targets;
        this.targetShape = targetShape;
        this.targetSize = (int) product(targetShape, 0);
    }

    /**
     * Loads inputs and labels; integer labels make a classification dataset with one more class than the
     * largest label, float labels a regression dataset.
     *
     * @param inputs the {@code .npy} file of inputs, shape {@code (N, ...)}
     * @param labels the {@code .npy} file of labels {@code (N,)} or float targets {@code (N, ...)}
     * @return the dataset
     * @throws DatasetException if a file is unreadable or malformed, or the two do not agree
     */
    public static NpyDataset load(Path inputs, Path labels) {
        return load(inputs, labels, 0);
    }

    /**
     * Loads inputs and integer class labels, each in 0 ≤ label &lt; {@code numClasses}.
     *
     * @param inputs the {@code .npy} file of inputs, shape {@code (N, ...)}
     * @param labels the {@code .npy} file of integer labels, shape {@code (N,)}
     * @param numClasses the class count, or 0 to infer it (largest label + 1)
     * @return the dataset
     * @throws DatasetException if a file is unreadable or malformed, the two do not agree, or a label is
     *     out of range
     */
    public static NpyDataset load(Path inputs, Path labels, int numClasses) {
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(labels, "labels");
        return of(
                inputs + " + " + labels, read(inputs), inputs.toString(), read(labels), labels.toString(), numClasses);
    }

    /**
     * A dataset over tensors already in memory (float32 inputs are shared, not copied).
     *
     * @param inputs float32, float64, float16 or uint8 inputs, shape {@code (N, ...)}
     * @param labels integer labels {@code (N,)} or float targets {@code (N, ...)}
     * @param numClasses for integer labels the class count, or 0 to infer it; ignored for float targets
     * @return the dataset
     * @throws DatasetException if the tensors do not agree or a label is out of range
     */
    public static NpyDataset of(Tensor inputs, Tensor labels, int numClasses) {
        return of("tensors", inputs, "inputs", labels, "labels", numClasses);
    }

    private static NpyDataset of(String name, Tensor x, String xName, Tensor y, String yName, int numClasses) {
        Objects.requireNonNull(x, "inputs");
        Objects.requireNonNull(y, "labels");
        if (numClasses < 0) {
            throw new IllegalArgumentException("numClasses must be >= 0 (0 = infer), got " + numClasses);
        }
        long[] xs = x.shape();
        long[] ys = y.shape();
        if (xs.length == 0) {
            throw new DatasetException(
                    xName + ": inputs are a 0-d scalar; expected shape (N, ...) with the samples on the first axis");
        }
        if (ys.length == 0) {
            throw new DatasetException(
                    yName + ": labels are a 0-d scalar; expected shape (N,) with one label per sample");
        }
        if (xs[0] != ys[0]) {
            throw new DatasetException(name + ": the inputs have " + xs[0] + " samples (" + xName + ", shape " + py(xs)
                    + ") but the labels have " + ys[0] + " (" + yName + ", shape " + py(ys)
                    + "); the first axes must agree");
        }
        int n = (int) xs[0];
        long[] sampleShape = Arrays.copyOfRange(xs, 1, xs.length);
        FloatBuffer floats = null;
        byte[] bytes = null;
        switch (x.dtype()) {
            case FLOAT32:
                floats = x.buffer().asFloatBuffer();
                break;
            case FLOAT64:
            case FLOAT16:
                floats = FloatBuffer.wrap(x.toFloatArray());
                break;
            case UINT8:
                bytes = x.toByteArray();
                break;
            default:
                throw new DatasetException(
                        xName + ": inputs of dtype " + x.dtype().typeName() + " are not supported, expected"
                                + " float32, float64, float16 or uint8; convert with a.astype(np.float32)");
        }
        if (y.dtype().isFloatingPoint()) {
            long[] targetShape = Arrays.copyOfRange(ys, 1, ys.length);
            return new NpyDataset(name, n, sampleShape, floats, bytes, -1, null, y.toFloatArray(), targetShape);
        }
        if (y.dtype() == DType.BOOL) {
            throw new DatasetException(yName + ": bool labels are not supported; save class indices as int64");
        }
        if (y.dtype() == DType.STRING) {
            throw new DatasetException(yName + ": string labels are not supported; save class indices as int64 (and the"
                    + " names as the model's class_labels)");
        }
        if (ys.length != 1) {
            throw new DatasetException(
                    yName + ": integer labels must have shape (N,), one class index per sample, got " + py(ys)
                            + (ys.length == 2 && ys[1] == 1
                                    ? "; save labels.reshape(-1)"
                                    : "; one-hot labels: save labels.argmax(1)"));
        }
        long[] labels = y.toLongArray();
        long max = -1;
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0) {
                throw new DatasetException(
                        yName + ": label " + labels[i] + " at index " + i + " is negative; class indices start at 0");
            }
            max = Math.max(max, labels[i]);
        }
        int classes = numClasses;
        if (classes == 0) {
            if (max >= Integer.MAX_VALUE) {
                throw new DatasetException(yName + ": largest label " + max + " is too large to be a class index");
            }
            classes = (int) Math.max(1, max + 1);
        } else {
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] >= classes) {
                    throw new DatasetException(yName + ": label " + labels[i] + " at index " + i + " is outside 0.."
                            + (classes - 1) + " (" + classes + " classes)");
                }
            }
        }
        return new NpyDataset(name, n, sampleShape, floats, bytes, classes, labels, null, new long[0]);
    }

    private static Tensor read(Path file) {
        try {
            return Npy.read(file);
        } catch (NpyFormatException e) {
            throw new DatasetException(e.getMessage(), e);
        }
    }

    @Override
    public int size() {
        return size;
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
        return numClasses;
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    @Override
    public void copySample(int index, float[] dst, int offset) {
        Objects.checkIndex(index, size);
        Objects.checkFromIndexSize(offset, sampleSize, dst.length);
        int src = index * sampleSize;
        if (floatInputs != null) {
            floatInputs.get(src, dst, offset, sampleSize);
        } else {
            for (int k = 0; k < sampleSize; k++) {
                dst[offset + k] = SCALE[byteInputs[src + k] & 0xff];
            }
        }
    }

    @Override
    public long label(int index) {
        Objects.checkIndex(index, size);
        if (labels == null) {
            throw new IllegalStateException(
                    "label: " + name + " is a regression dataset (float targets); use copyTargets");
        }
        return labels[index];
    }

    @Override
    public long[] targetShape() {
        return targetShape.clone();
    }

    @Override
    public int targetSize() {
        return targetSize;
    }

    @Override
    public void copyTargets(int index, float[] dst, int offset) {
        Objects.checkIndex(index, size);
        if (targets == null) {
            throw new IllegalStateException("copyTargets: " + name + " is a classification dataset with " + numClasses
                    + " classes; use label(index)");
        }
        System.arraycopy(targets, index * targetSize, dst, offset, targetSize);
    }

    /** E.g. {@code x.npy + y.npy: 100 samples of [3, 8, 8], 10 classes}. */
    @Override
    public String toString() {
        return name + ": " + size + " samples of " + Arrays.toString(sampleShape)
                + (numClasses > 0
                        ? ", " + numClasses + " classes"
                        : ", float targets of " + Arrays.toString(targetShape));
    }

    private static long product(long[] shape, int from) {
        long p = 1;
        for (int i = from; i < shape.length; i++) {
            p *= shape[i];
        }
        return p;
    }

    private static String py(long[] shape) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i > 0 ? ", " : "").append(shape[i]);
        }
        return sb.append(shape.length == 1 ? ",)" : ")").toString();
    }
}
