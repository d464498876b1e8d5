package dev.forge.compiler.reference;

import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;

/**
 * An immutable, dense, row-major tensor of doubles with an ONNX element-type tag: the value type of the
 * {@link ReferenceEvaluator}.
 *
 * <p>Every element is held as a {@code double} whatever the tag says. The tag records which ONNX type
 * the value stands for, so that shape and index tensors ({@code int64}), masks ({@code bool}) and float
 * activations can flow through one evaluator: a {@code float32}-tagged tensor carries its values in full
 * double precision (the evaluator never rounds to float), an {@code int64} one carries whole numbers
 * (exact up to 2^53), a {@code bool} one carries 0 and 1.
 *
 * <p>A shape of length 0 is a scalar (one element).
 */
public final class DoubleTensor {
    private final DType dtype;
    private final long[] shape;
    private final double[] data;

    /** Takes ownership of {@code shape} and {@code data} (no copy); callers in this package only. */
    DoubleTensor(DType dtype, long[] shape, double[] data) {
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape;
        this.data = data;
        long n = checkedCount(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("DoubleTensor: " + data.length + " values do not fill shape "
                    + Arrays.toString(shape) + " (" + n + " elements)");
        }
    }

    // ---- factories -------------------------------------------------------------------------------

    /** A float32-tagged tensor holding a copy of {@code data}. */
    public static DoubleTensor of(double[] data, long... shape) {
        return new DoubleTensor(DType.FLOAT32, shape.clone(), data.clone());
    }

    /** A tensor of the given element type holding a copy of {@code data}. */
    public static DoubleTensor of(DType dtype, double[] data, long... shape) {
        return new DoubleTensor(dtype, shape.clone(), data.clone());
    }

    /** A float32-tagged tensor from float values (each widened exactly to double). */
    public static DoubleTensor ofFloats(float[] data, long... shape) {
        double[] d = new double[data.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = data[i];
        }
        return new DoubleTensor(DType.FLOAT32, shape.clone(), d);
    }

    /** An int64-tagged tensor. */
    public static DoubleTensor ofLongs(long[] data, long... shape) {
        double[] d = new double[data.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = data[i];
        }
        return new DoubleTensor(DType.INT64, shape.clone(), d);
    }

    /** A bool-tagged tensor (true is 1, false is 0). */
    public static DoubleTensor ofBools(boolean[] data, long... shape) {
        double[] d = new double[data.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = data[i] ? 1 : 0;
        }
        return new DoubleTensor(DType.BOOL, shape.clone(), d);
    }

    /** A float32-tagged scalar (shape {@code []}). */
    public static DoubleTensor scalar(double value) {
        return new DoubleTensor(DType.FLOAT32, new long[0], new double[] {value});
    }

    /** A tensor of zeros. */
    public static DoubleTensor zeros(DType dtype, long... shape) {
        return new DoubleTensor(dtype, shape.clone(), new double[(int) checkedCount(shape)]);
    }

    /** A float32-tagged tensor of values drawn uniformly from [-1, 1). */
    public static DoubleTensor random(SplittableRandom random, long... shape) {
        double[] d = new double[(int) checkedCount(shape)];
        for (int i = 0; i < d.length; i++) {
            d[i] = random.nextDouble(-1, 1);
        }
        return new DoubleTensor(DType.FLOAT32, shape.clone(), d);
    }

    /** The values of a runtime tensor, converted exactly to double (int64 beyond 2^53 rounds). */
    public static DoubleTensor of(Tensor t) {
        return new DoubleTensor(t.dtype(), t.shape(), t.toDoubleArray());
    }

    // ---- accessors -------------------------------------------------------------------------------

    /** The ONNX element type this tensor stands for. */
    public DType dtype() {
        return dtype;
    }

    /** The dimensions, as a copy. */
    public long[] shape() {
        return shape.clone();
    }

    /** The number of dimensions (0 for a scalar). */
    public int rank() {
        return shape.length;
    }

    /** One dimension; negative axes count from the end. */
    public long dim(int axis) {
        return shape[axis < 0 ? axis + shape.length : axis];
    }

    /** The number of elements. */
    public int size() {
        return data.length;
    }

    /** The element at a multi-index. */
    public double get(long... index) {
        return data[flatIndex(index)];
    }

    /** The element at a row-major (flat) index. */
    public double getFlat(int flatIndex) {
        return data[flatIndex];
    }

    /** The row-major flat index of a multi-index, checking every coordinate. */
    public int flatIndex(long... index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("index " + Arrays.toString(index) + " has " + index.length
                    + " coordinates; the tensor has rank " + shape.length);
        }
        long flat = 0;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw new IndexOutOfBoundsException(
                        "index " + Arrays.toString(index) + " is outside shape " + Arrays.toString(shape));
            }
            flat = flat * shape[i] + index[i];
        }
        return (int) flat;
    }

    /** The multi-index of a row-major flat index. */
    public long[] unravel(int flatIndex) {
        return unravel(flatIndex, shape);
    }

    /** The values, as a copy. */
    public double[] toDoubleArray() {
        return data.clone();
    }

    /** The values rounded to float. */
    public float[] toFloatArray() {
        float[] f = new float[data.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) data[i];
        }
        return f;
    }

    /** The values as longs (truncated toward zero). */
    public long[] toLongArray() {
        long[] l = new long[data.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = (long) data[i];
        }
        return l;
    }

    /** A float32 runtime tensor of these values (rounded to float), whatever the tag. */
    public Tensor toTensorFloat() {
        return Tensor.of(toFloatArray(), shape);
    }

    /** A runtime tensor of this tensor's own element type. */
    public Tensor toTensor() {
        switch (dtype) {
            case FLOAT32:
                return toTensorFloat();
            case FLOAT64:
                return Tensor.of(data.clone(), shape);
            case FLOAT16:
                return Tensor.ofFloat16(toFloatArray(), shape);
            case BFLOAT16:
                return Tensor.ofBFloat16(toFloatArray(), shape);
            case INT16: {
                short[] v = new short[data.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (short) (long) data[i];
                }
                return Tensor.ofInt16(v, shape);
            }
            case INT64:
                return Tensor.of(toLongArray(), shape);
            case INT32: {
                int[] v = new int[data.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (int) data[i];
                }
                return Tensor.of(v, shape);
            }
            case BOOL: {
                boolean[] v = new boolean[data.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = data[i] != 0;
                }
                return Tensor.ofBool(v, shape);
            }
            case UINT8:
            case INT8: {
                byte[] v = new byte[data.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (byte) (long) data[i];
                }
                return dtype == DType.UINT8 ? Tensor.ofUint8(v, shape) : Tensor.ofInt8(v, shape);
            }
            default:
                throw new AssertionError(dtype);
        }
    }

    // ---- derived tensors -------------------------------------------------------------------------

    /** The same values with another shape of the same element count. */
    public DoubleTensor reshape(long... newShape) {
        if (checkedCount(newShape) != data.length) {
            throw new IllegalArgumentException(
                    "cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return new DoubleTensor(dtype, newShape.clone(), data);
    }

    /** The same values with another element-type tag (no conversion). */
    public DoubleTensor withDtype(DType newType) {
        return new DoubleTensor(newType, shape, data);
    }

    /** A copy with one element replaced: the building block of finite-difference checks. */
    public DoubleTensor withFlat(int flatIndex, double value) {
        double[] d = data.clone();
        d[flatIndex] = value;
        return new DoubleTensor(dtype, shape, d);
    }

    /** {@code f} applied to every element, same tag. */
    public DoubleTensor map(DoubleUnaryOperator f) {
        double[] d = new double[data.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = f.applyAsDouble(data[i]);
        }
        return new DoubleTensor(dtype, shape, d);
    }

    /** The sum of the elementwise products with {@code other} (same element count): {@code <this, other>}. */
    public double dot(DoubleTensor other) {
        if (other.data.length != data.length) {
            throw new IllegalArgumentException(
                    "dot of " + Arrays.toString(shape) + " and " + Arrays.toString(other.shape));
        }
        double s = 0;
        for (int i = 0; i < data.length; i++) {
            s += data[i] * other.data[i];
        }
        return s;
    }

    // ---- package helpers -------------------------------------------------------------------------

    /** The backing array (no copy); rules read it and never write to it. */
    double[] raw() {
        return data;
    }

    /** The backing shape (no copy). */
    long[] rawShape() {
        return shape;
    }

    /** Row-major strides of a shape, in elements. */
    static long[] strides(long[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    /** The multi-index of a row-major flat index in {@code shape}. */
    static long[] unravel(long flatIndex, long[] shape) {
        long[] idx = new long[shape.length];
        long rest = flatIndex;
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = rest % shape[i];
            rest /= shape[i];
        }
        return idx;
    }

    /** The product of the dimensions, checked to fit one Java array. */
    static long checkedCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(
                    "shape " + Arrays.toString(shape) + " has too many elements (" + n + ")");
        }
        return n;
    }

    // ---- object ----------------------------------------------------------------------------------

    /** Equal when tag, shape and every value are equal ({@link Double#compare} semantics). */
    @Override
    public boolean equals(Object o) {
        return o instanceof DoubleTensor t
                && t.dtype == dtype
                && Arrays.equals(t.shape, shape)
                && Arrays.equals(t.data, data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(dtype, Arrays.hashCode(shape), Arrays.hashCode(data));
    }

    /** E.g. {@code DoubleTensor(float32[2,3]: 1.0, 2.0, ...)}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("DoubleTensor(")
                .append(dtype.typeName())
                .append(Arrays.toString(shape).replace(" ", ""))
                .append(':');
        int n = Math.min(data.length, 8);
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? " " : ", ").append(data[i]);
        }
        if (data.length > n) {
            sb.append(", ... (").append(data.length).append(" values)");
        }
        return sb.append(')').toString();
    }
}
