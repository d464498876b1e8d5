package dev.forge.runtime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * An immutable, dense, row-major (C order) host tensor: an element type, a shape and a little-endian
 * byte buffer.
 *
 * <p>Tensors made by the array factories ({@link #of(float[], long...)} and friends) live on the Java
 * heap; {@link Model#run} copies them once into native memory. A tensor made by {@link #wrap} from a
 * <em>direct</em> buffer shares that buffer (no copy) and is handed to ONNX Runtime without copying —
 * the fastest way to feed large batches. Such a tensor is only as immutable as its buffer: do not
 * write to the buffer while the tensor is in use.
 *
 * <p>A shape of length 0 is a scalar (one element). Dimensions may be 0 (an empty tensor), never
 * negative. A tensor holds at most {@value #MAX_BYTES} bytes (one Java buffer).
 *
 * <p>A {@link DType#STRING} tensor ({@link #ofStrings}) keeps its values as Java strings instead of
 * bytes: its {@link #buffer()} is empty, and {@link #toStringArray()} reads it. Unsigned 16-, 32- and
 * 64-bit tensors hold their raw bits ({@link #ofUint16}, {@link #ofUint32}, {@link #ofUint64}); {@link
 * #toLongArray()} widens uint16 and uint32 exactly, and returns uint64 bits as they are (values of 2^63
 * and more come back negative: read them with {@link Long#toUnsignedString(long)}).
 *
 * <p>Instances are safe to share between threads: nothing reads the buffer's position or limit.
 */
public final class Tensor implements Value {
    /**
     * A tensor is a value of kind {@link ValueKind#TENSOR}.
     *
     * @return {@link ValueKind#TENSOR}
     */
    @Override
    public ValueKind kind() {
        return ValueKind.TENSOR;
    }

    /** The largest data size a tensor can hold, in bytes (the largest Java buffer). */
    public static final int MAX_BYTES = Integer.MAX_VALUE - 8;

    private static final int TO_STRING_VALUES = 6;

    private final DType dtype;
    private final long[] shape;
    private final int size;
    /** Little-endian, position 0, limit = size * byteSize; never handed out writable. Empty for strings. */
    private final ByteBuffer data;
    /** The values of a string tensor (never handed out); null for every other type. */
    private final String[] strings;

    private Tensor(DType dtype, long[] shape, ByteBuffer data) {
        this(dtype, shape, data, null);
    }

    private Tensor(DType dtype, long[] shape, ByteBuffer data, String[] strings) {
        this.dtype = dtype;
        this.shape = shape;
        this.size = (int) elementCount(shape, dtype);
        this.data = data;
        this.strings = strings;
    }

    // ---------------------------------------------------------------- factories

    /**
     * A float32 tensor holding a copy of {@code data}.
     *
     * @param data the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or its element count differs from {@code
     *     data.length}
     */
    public static Tensor of(float[] data, long... shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(DType.FLOAT32, shape, data.length);
        ByteBuffer b = allocate(DType.FLOAT32, data.length);
        b.asFloatBuffer().put(data);
        return new Tensor(DType.FLOAT32, s, b);
    }

    /**
     * A float64 tensor holding a copy of {@code data}.
     *
     * @param data the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor of(double[] data, long... shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(DType.FLOAT64, shape, data.length);
        ByteBuffer b = allocate(DType.FLOAT64, data.length);
        b.asDoubleBuffer().put(data);
        return new Tensor(DType.FLOAT64, s, b);
    }

    /**
     * An int64 tensor holding a copy of {@code data}.
     *
     * @param data the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor of(long[] data, long... shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(DType.INT64, shape, data.length);
        ByteBuffer b = allocate(DType.INT64, data.length);
        b.asLongBuffer().put(data);
        return new Tensor(DType.INT64, s, b);
    }

    /**
     * An int32 tensor holding a copy of {@code data}.
     *
     * @param data the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor of(int[] data, long... shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(DType.INT32, shape, data.length);
        ByteBuffer b = allocate(DType.INT32, data.length);
        b.asIntBuffer().put(data);
        return new Tensor(DType.INT32, s, b);
    }

    /**
     * A uint8 tensor holding a copy of {@code data}; each byte is read as unsigned (0..255).
     *
     * @param data the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor ofUint8(byte[] data, long... shape) {
        return ofBytes(DType.UINT8, data, shape);
    }

    /**
     * An int8 tensor holding a copy of {@code data} (signed, -128..127).
     *
     * @param data the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor ofInt8(byte[] data, long... shape) {
        return ofBytes(DType.INT8, data, shape);
    }

    /**
     * A bool tensor holding a copy of {@code data}, one byte per element (0 or 1).
     *
     * @param data the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor ofBool(boolean[] data, long... shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(DType.BOOL, shape, data.length);
        ByteBuffer b = allocate(DType.BOOL, data.length);
        for (int i = 0; i < data.length; i++) {
            b.put(i, data[i] ? (byte) 1 : (byte) 0);
        }
        return new Tensor(DType.BOOL, s, b);
    }

    /**
     * An int16 tensor holding a copy of {@code data}.
     *
     * @param data the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor ofInt16(short[] data, long... shape) {
        return ofShorts(DType.INT16, data, shape);
    }

    /**
     * A float16 tensor holding a copy of raw binary16 bits (see {@link HalfFloats}).
     *
     * @param bits the values' bits in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code bits.length}
     */
    public static Tensor ofFloat16Bits(short[] bits, long... shape) {
        return ofShorts(DType.FLOAT16, bits, shape);
    }

    /**
     * A bfloat16 tensor holding a copy of raw bfloat16 bits (see {@link HalfFloats}).
     *
     * @param bits the values' bits in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code bits.length}
     */
    public static Tensor ofBFloat16Bits(short[] bits, long... shape) {
        return ofShorts(DType.BFLOAT16, bits, shape);
    }

    /**
     * A float16 tensor of {@code values} rounded to the nearest binary16, ties to even (overflow to
     * infinity, small values to subnormals; {@link HalfFloats#toFloat16}).
     *
     * @param values the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code values.length}
     */
    public static Tensor ofFloat16(float[] values, long... shape) {
        Objects.requireNonNull(values, "values");
        short[] bits = new short[values.length];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = HalfFloats.toFloat16(values[i]);
        }
        return ofShorts(DType.FLOAT16, bits, shape);
    }

    /**
     * A bfloat16 tensor of {@code values} rounded to the nearest bfloat16, ties to even ({@link
     * HalfFloats#toBFloat16}).
     *
     * @param values the values in row-major order
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code values.length}
     */
    public static Tensor ofBFloat16(float[] values, long... shape) {
        Objects.requireNonNull(values, "values");
        short[] bits = new short[values.length];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = HalfFloats.toBFloat16(values[i]);
        }
        return ofShorts(DType.BFLOAT16, bits, shape);
    }

    /**
     * A uint16 tensor holding a copy of {@code data}; each short is read as unsigned (0..65535).
     *
     * @param data the values' bits in row-major order ({@code (short) 65535} is 65535)
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor ofUint16(short[] data, long... shape) {
        return ofShorts(DType.UINT16, data, shape);
    }

    /**
     * A uint32 tensor holding a copy of {@code data}; each int is read as unsigned (0..2^32-1).
     *
     * @param data the values' bits in row-major order ({@code -1} is 4294967295)
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor ofUint32(int[] data, long... shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(DType.UINT32, shape, data.length);
        ByteBuffer b = allocate(DType.UINT32, data.length);
        b.asIntBuffer().put(data);
        return new Tensor(DType.UINT32, s, b);
    }

    /**
     * A uint64 tensor holding a copy of {@code data}; each long is read as unsigned (0..2^64-1).
     *
     * @param data the values' bits in row-major order ({@code -1L} is 2^64-1)
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid or does not match {@code data.length}
     */
    public static Tensor ofUint64(long[] data, long... shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(DType.UINT64, shape, data.length);
        ByteBuffer b = allocate(DType.UINT64, data.length);
        b.asLongBuffer().put(data);
        return new Tensor(DType.UINT64, s, b);
    }

    /**
     * A string tensor holding a copy of {@code data}.
     *
     * @param data the values in row-major order; none may be null
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid, does not match {@code data.length}, or a
     *     value is null
     */
    public static Tensor ofStrings(String[] data, long... shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(DType.STRING, shape, data.length);
        String[] copy = data.clone();
        for (int i = 0; i < copy.length; i++) {
            if (copy[i] == null) {
                throw new IllegalArgumentException("string element " + i + " is null; use \"\" for an empty string");
            }
        }
        return new Tensor(DType.STRING, s, ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN), copy);
    }

    private static Tensor ofShorts(DType dtype, short[] data, long[] shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(dtype, shape, data.length);
        ByteBuffer b = allocate(dtype, data.length);
        b.asShortBuffer().put(data);
        return new Tensor(dtype, s, b);
    }

    private static Tensor ofBytes(DType dtype, byte[] data, long[] shape) {
        Objects.requireNonNull(data, "data");
        long[] s = checkedShape(dtype, shape, data.length);
        ByteBuffer b = allocate(dtype, data.length);
        b.put(0, data);
        return new Tensor(dtype, s, b);
    }

    /**
     * A tensor over the bytes between {@code buffer}'s position and limit, which must hold exactly
     * {@code product(shape) * dtype.byteSize()} bytes of little-endian data in row-major order.
     *
     * <p>A <em>direct</em> buffer is shared, not copied, and later passed to ONNX Runtime without a copy;
     * do not modify it while the tensor is in use. A heap buffer is copied. The buffer's position and
     * limit are not changed.
     *
     * @param dtype the element type
     * @param buffer the data; for multi-byte types its {@link ByteBuffer#order()} must be {@link
     *     ByteOrder#LITTLE_ENDIAN} (a fresh {@code ByteBuffer} is big-endian: call {@code
     *     order(ByteOrder.LITTLE_ENDIAN)} before writing to it)
     * @param shape the dimensions; empty for a scalar
     * @return the tensor
     * @throws IllegalArgumentException if the shape is invalid, the byte count does not match, the byte
     *     order is big-endian, a bool buffer holds a byte other than 0 or 1, or the type is string
     */
    public static Tensor wrap(DType dtype, ByteBuffer buffer, long... shape) {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(buffer, "buffer");
        Objects.requireNonNull(shape, "shape");
        if (dtype == DType.STRING) {
            throw new IllegalArgumentException("Tensor.wrap: string tensors have no byte layout; use Tensor.ofStrings");
        }
        long[] s = shape.clone();
        long count = elementCount(s, dtype);
        long needed = count * dtype.byteSize();
        if (buffer.remaining() != needed) {
            throw new IllegalArgumentException("Tensor.wrap: a "
                    + dtype.typeName()
                    + shapeString(s)
                    + " tensor needs "
                    + needed
                    + " bytes ("
                    + count
                    + " elements x "
                    + dtype.byteSize()
                    + " bytes), but the buffer has "
                    + buffer.remaining()
                    + " bytes between position "
                    + buffer.position()
                    + " and limit "
                    + buffer.limit()
                    + " (capacity "
                    + buffer.capacity()
                    + ")");
        }
        if (dtype.byteSize() > 1 && buffer.order() != ByteOrder.LITTLE_ENDIAN) {
            throw new IllegalArgumentException("Tensor.wrap: the buffer's byte order is BIG_ENDIAN but "
                    + dtype.typeName()
                    + " data must be little-endian; call buffer.order(ByteOrder.LITTLE_ENDIAN) before"
                    + " writing the values");
        }
        ByteBuffer view;
        if (buffer.isDirect()) {
            view = buffer.slice().order(ByteOrder.LITTLE_ENDIAN);
        } else {
            view = ByteBuffer.allocate((int) needed).order(ByteOrder.LITTLE_ENDIAN);
            view.put(0, buffer, buffer.position(), (int) needed);
        }
        if (dtype == DType.BOOL) {
            checkBoolBytes(view, (int) count, "Tensor.wrap");
        }
        return new Tensor(dtype, s, view);
    }

    /**
     * A tensor of zeros (false for bool, empty strings for string).
     *
     * @param dtype the element type
     * @param shape the dimensions; empty for a scalar
     * @return the tensor, on the heap
     * @throws IllegalArgumentException if the shape is invalid
     */
    public static Tensor zeros(DType dtype, long... shape) {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        long[] s = shape.clone();
        long count = elementCount(s, dtype);
        if (dtype == DType.STRING) {
            String[] empty = new String[(int) count];
            Arrays.fill(empty, "");
            return new Tensor(dtype, s, allocate(dtype, 0), empty);
        }
        return new Tensor(dtype, s, allocate(dtype, (int) count));
    }

    /**
     * Builds a tensor from bytes in the platform's native order (as ONNX Runtime hands them out),
     * taking ownership of {@code bytes}.
     */
    static Tensor fromNativeOrder(DType dtype, long[] shape, ByteBuffer bytes) {
        long count = elementCount(shape, dtype);
        ByteBuffer b = bytes.duplicate();
        b.position(0);
        if (b.capacity() != count * dtype.byteSize()) {
            throw new ForgeRuntimeException("ONNX Runtime returned "
                    + b.capacity()
                    + " bytes for a "
                    + dtype.typeName()
                    + shapeString(shape)
                    + " tensor, expected "
                    + count * dtype.byteSize());
        }
        if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN || dtype.byteSize() == 1) {
            return new Tensor(dtype, shape.clone(), b.order(ByteOrder.LITTLE_ENDIAN));
        }
        ByteBuffer le = allocate(dtype, (int) count);
        copySwapped(b.order(ByteOrder.nativeOrder()), le, dtype, (int) count);
        return new Tensor(dtype, shape.clone(), le);
    }

    /**
     * Takes ownership of a heap or direct buffer of little-endian data (no copy, no checks beyond the
     * size); for readers such as {@link Npy} that already validated the bytes.
     */
    static Tensor adoptLittleEndian(DType dtype, long[] shape, ByteBuffer littleEndian) {
        long count = elementCount(shape, dtype);
        if (littleEndian.capacity() != count * dtype.byteSize()) {
            throw new IllegalArgumentException("buffer size does not match shape " + shapeString(shape));
        }
        ByteBuffer b = littleEndian.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        b.clear();
        return new Tensor(dtype, shape.clone(), b);
    }

    // ---------------------------------------------------------------- accessors

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The dimensions, as a copy.
     *
     * @return the shape; empty for a scalar
     */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * One dimension.
     *
     * @param axis 0 ≤ axis &lt; rank
     * @return the size of that axis
     * @throws IndexOutOfBoundsException if the axis is out of range
     */
    public long dim(int axis) {
        Objects.checkIndex(axis, shape.length);
        return shape[axis];
    }

    /**
     * The number of dimensions.
     *
     * @return 0 for a scalar
     */
    public int rank() {
        return shape.length;
    }

    /**
     * The number of elements (the product of the shape; 1 for a scalar).
     *
     * @return the element count
     */
    public long size() {
        return size;
    }

    /**
     * The data size in bytes ({@code size() * dtype().byteSize()}; 0 for a string tensor).
     *
     * @return the byte count
     */
    public long byteSize() {
        return (long) size * dtype.byteSize();
    }

    /**
     * Whether the data lives in a direct (off-heap) buffer, which {@link Model#run} passes to ONNX
     * Runtime without copying.
     *
     * @return true if direct
     */
    public boolean isDirect() {
        return data.isDirect();
    }

    /**
     * A read-only, little-endian view of the data: position 0, limit {@link #byteSize()}. No copy. Empty for
     * a string tensor (use {@link #toStringArray()}).
     *
     * @return the view
     */
    public ByteBuffer buffer() {
        return data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The values as floats, converted from any numeric dtype (int64, int32 and float64 may lose
     * precision; float16 and bfloat16 widen exactly; unsigned types are unsigned; bool is 0 or 1).
     *
     * @return a new array of {@link #size()} values
     * @throws IllegalStateException for a string tensor
     */
    public float[] toFloatArray() {
        requireNumeric("toFloatArray");
        float[] out = new float[size];
        if (dtype == DType.FLOAT32) {
            view().asFloatBuffer().get(out);
        } else {
            for (int i = 0; i < size; i++) {
                out[i] = (float) doubleAt(i);
            }
        }
        return out;
    }

    /**
     * The values as doubles, converted from any numeric dtype (int64 and uint64 beyond 2^53 lose
     * precision; unsigned types are unsigned; bool is 0 or 1).
     *
     * @return a new array of {@link #size()} values
     * @throws IllegalStateException for a string tensor
     */
    public double[] toDoubleArray() {
        requireNumeric("toDoubleArray");
        double[] out = new double[size];
        if (dtype == DType.FLOAT64) {
            view().asDoubleBuffer().get(out);
        } else {
            for (int i = 0; i < size; i++) {
                out[i] = doubleAt(i);
            }
        }
        return out;
    }

    /**
     * The values as longs, from an integer or bool tensor (uint8, uint16 and uint32 are unsigned; uint64
     * comes back as its bits; bool is 0 or 1).
     *
     * @return a new array of {@link #size()} values
     * @throws IllegalStateException for float and string tensors (use {@link #toDoubleArray()})
     */
    public long[] toLongArray() {
        requireInteger("toLongArray", "toDoubleArray()");
        long[] out = new long[size];
        if (dtype == DType.INT64 || dtype == DType.UINT64) {
            view().asLongBuffer().get(out);
        } else {
            for (int i = 0; i < size; i++) {
                out[i] = longAt(i);
            }
        }
        return out;
    }

    /**
     * The values as ints, from an integer or bool tensor (unsigned types are unsigned; bool is 0 or 1;
     * int64, uint32 and uint64 values must fit in an int).
     *
     * @return a new array of {@link #size()} values
     * @throws IllegalStateException for float tensors, or if an int64 value does not fit in an int
     */
    public int[] toIntArray() {
        requireInteger("toIntArray", "toFloatArray()");
        int[] out = new int[size];
        if (dtype == DType.INT32) {
            view().asIntBuffer().get(out);
            return out;
        }
        for (int i = 0; i < size; i++) {
            long v = longAt(i);
            if (v != (int) v || (dtype == DType.UINT64 && v < 0)) {
                throw new IllegalStateException("toIntArray: element " + i + " of this " + dtype.typeName()
                        + " tensor is " + (dtype == DType.UINT64 ? Long.toUnsignedString(v) : Long.toString(v))
                        + ", outside the int range; use toLongArray()");
            }
            out[i] = (int) v;
        }
        return out;
    }

    /**
     * The values of a two-byte tensor as raw shorts: the bits of float16 and bfloat16 values (widen them
     * with {@link HalfFloats} or {@link #toFloatArray()}), int16 values, or uint16 bits ({@code & 0xffff}).
     *
     * @return a new array of {@link #size()} shorts
     * @throws IllegalStateException for types that are not two bytes wide
     */
    public short[] toShortArray() {
        if (dtype.byteSize() != 2) {
            throw new IllegalStateException(
                    "toShortArray needs a float16, bfloat16, int16 or uint16 tensor, this one is "
                            + dtype.typeName()
                            + "; use toFloatArray() or buffer()");
        }
        short[] out = new short[size];
        view().asShortBuffer().get(out);
        return out;
    }

    /**
     * The values of a one-byte tensor (uint8, int8 or bool) as raw bytes: uint8 255 comes back as
     * {@code (byte) -1}. For the bytes of a wider type use {@link #buffer()}.
     *
     * @return a new array of {@link #size()} bytes
     * @throws IllegalStateException for types wider than one byte
     */
    public byte[] toByteArray() {
        if (dtype.byteSize() != 1) {
            throw new IllegalStateException("toByteArray needs a uint8, int8 or bool tensor, this one is "
                    + dtype.typeName()
                    + "; use buffer() for its raw little-endian bytes");
        }
        byte[] out = new byte[size];
        data.get(0, out);
        return out;
    }

    /**
     * The values of a string tensor.
     *
     * @return a new array of {@link #size()} strings
     * @throws IllegalStateException for other types
     */
    public String[] toStringArray() {
        if (strings == null) {
            throw new IllegalStateException(
                    "toStringArray needs a string tensor, this one is " + dtype.typeName() + "; use toDoubleArray()");
        }
        return strings.clone();
    }

    /**
     * One value of a string tensor, by row-major (flat) index.
     *
     * @param flatIndex 0 ≤ index &lt; {@link #size()}
     * @return the value
     * @throws IndexOutOfBoundsException if the index is out of range
     * @throws IllegalStateException for other types
     */
    public String getString(long flatIndex) {
        if (strings == null) {
            throw new IllegalStateException(
                    "getString needs a string tensor, this one is " + dtype.typeName() + "; use getDouble(index)");
        }
        return strings[checkIndex(flatIndex)];
    }

    /**
     * One value as a float, by row-major (flat) index, converted like {@link #toFloatArray()}.
     *
     * @param flatIndex 0 ≤ index &lt; {@link #size()}
     * @return the value
     * @throws IndexOutOfBoundsException if the index is out of range
     */
    public float getFloat(long flatIndex) {
        requireNumeric("getFloat");
        int i = checkIndex(flatIndex);
        return dtype == DType.FLOAT32 ? data.getFloat(i * 4) : (float) doubleAt(i);
    }

    /**
     * One value as a double, by row-major (flat) index, converted like {@link #toDoubleArray()}.
     *
     * @param flatIndex 0 ≤ index &lt; {@link #size()}
     * @return the value
     * @throws IndexOutOfBoundsException if the index is out of range
     */
    public double getDouble(long flatIndex) {
        requireNumeric("getDouble");
        return doubleAt(checkIndex(flatIndex));
    }

    /**
     * One value as a long, by row-major (flat) index, from an integer or bool tensor.
     *
     * @param flatIndex 0 ≤ index &lt; {@link #size()}
     * @return the value
     * @throws IndexOutOfBoundsException if the index is out of range
     * @throws IllegalStateException for float tensors
     */
    public long getLong(long flatIndex) {
        requireInteger("getLong", "getDouble(index)");
        return longAt(checkIndex(flatIndex));
    }

    /**
     * A tensor with the same data and a new shape of the same element count. Shares the data (no copy).
     *
     * @param newShape the new dimensions
     * @return the reshaped tensor
     * @throws IllegalArgumentException if the element counts differ or the shape is invalid
     */
    public Tensor reshape(long... newShape) {
        Objects.requireNonNull(newShape, "newShape");
        long[] s = newShape.clone();
        long count = elementCount(s, dtype);
        if (count != size) {
            throw new IllegalArgumentException("reshape: cannot view " + size + " elements " + shapeString(shape)
                    + " as " + shapeString(s) + " (" + count + " elements)");
        }
        return new Tensor(dtype, s, data, strings);
    }

    /**
     * Equal when dtype, shape and the data bytes (or strings) are equal (so floats compare bitwise: NaN equals the
     * same NaN, 0.0 differs from -0.0).
     */
    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Tensor)) {
            return false;
        }
        Tensor t = (Tensor) o;
        return dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && data.duplicate().equals(t.data.duplicate())
                && Arrays.equals(strings, t.strings);
    }

    @Override
    public int hashCode() {
        return Objects.hash(dtype, Arrays.hashCode(shape), data.duplicate().hashCode(), Arrays.hashCode(strings));
    }

    /** A short description: dtype, shape and the first few values, e.g. {@code Tensor(float32[2,3]: 1.0, 2.0, ...)}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Tensor(")
                .append(dtype.typeName())
                .append(shapeString(shape))
                .append(':');
        int n = Math.min(size, TO_STRING_VALUES);
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? " " : ", ").append(valueString(i));
        }
        if (size > n) {
            sb.append(", ... (").append(size).append(" values)");
        }
        return sb.append(')').toString();
    }

    // ---------------------------------------------------------------- package-private helpers

    /**
     * A direct buffer in native byte order holding the data, for ONNX Runtime: the tensor's own buffer
     * when it is direct (zero copy), else a one-time copy.
     */
    ByteBuffer directNativeBuffer() {
        boolean nativeLe = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
        if (data.isDirect() && (nativeLe || dtype.byteSize() == 1)) {
            return data.duplicate().order(ByteOrder.nativeOrder());
        }
        ByteBuffer out = ByteBuffer.allocateDirect((int) byteSize()).order(ByteOrder.nativeOrder());
        if (nativeLe || dtype.byteSize() == 1) {
            out.put(0, data, 0, (int) byteSize());
        } else {
            copySwapped(view(), out, dtype, size);
        }
        return out;
    }

    /** "[2,3]" or "[]" for a scalar. */
    static String shapeString(long[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(shape[i]);
        }
        return sb.append(']').toString();
    }

    /**
     * Checks a shape and returns its element count.
     *
     * @throws IllegalArgumentException for negative dimensions, overflow, or more than {@link #MAX_BYTES}
     */
    static long elementCount(long[] shape, DType dtype) {
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new IllegalArgumentException("Shape " + shapeString(shape) + " has a negative dimension "
                        + shape[i] + " at axis " + i + "; dimensions must be >= 0");
            }
        }
        for (long d : shape) {
            try {
                count = Math.multiplyExact(count, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("Shape " + shapeString(shape)
                        + " has more elements than fit in a long (the product overflows)");
            }
        }
        // a string's size is not fixed: count its reference (at least a byte) so the element count stays bounded
        int elementBytes = Math.max(1, dtype.byteSize());
        if (count > MAX_BYTES / elementBytes) {
            throw new IllegalArgumentException("Shape "
                    + shapeString(shape)
                    + " has "
                    + count
                    + " "
                    + dtype.typeName()
                    + " elements, more than one tensor can hold ("
                    + MAX_BYTES / elementBytes
                    + " elements, "
                    + MAX_BYTES
                    + " bytes); split the data into batches");
        }
        return count;
    }

    // ---------------------------------------------------------------- private helpers

    private static long[] checkedShape(DType dtype, long[] shape, int dataLength) {
        Objects.requireNonNull(shape, "shape");
        long[] s = shape.clone();
        long count = elementCount(s, dtype);
        if (count != dataLength) {
            throw new IllegalArgumentException("Data has "
                    + dataLength
                    + " elements but shape "
                    + shapeString(s)
                    + " needs "
                    + count
                    + (s.length == 0
                            ? " (an empty shape is a scalar; pass the dimensions, e.g. Tensor.of(data, " + dataLength
                                    + "))"
                            : ""));
        }
        return s;
    }

    private static ByteBuffer allocate(DType dtype, int count) {
        return ByteBuffer.allocate(count * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    }

    static void checkBoolBytes(ByteBuffer b, int count, String where) {
        for (int i = 0; i < count; i++) {
            byte v = b.get(i);
            if (v != 0 && v != 1) {
                throw new IllegalArgumentException(
                        where + ": bool element " + i + " is the byte " + (v & 0xff) + "; bool data must be 0 or 1");
            }
        }
    }

    private static void copySwapped(ByteBuffer from, ByteBuffer to, DType dtype, int count) {
        for (int i = 0; i < count; i++) {
            switch (dtype.byteSize()) {
                case 4:
                    to.putInt(i * 4, from.getInt(i * 4));
                    break;
                case 8:
                    to.putLong(i * 8, from.getLong(i * 8));
                    break;
                case 2:
                    to.putShort(i * 2, from.getShort(i * 2));
                    break;
                default:
                    to.put(i, from.get(i));
            }
        }
    }

    private ByteBuffer view() {
        return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    private int checkIndex(long flatIndex) {
        if (flatIndex < 0 || flatIndex >= size) {
            throw new IndexOutOfBoundsException("Flat index " + flatIndex + " out of range for " + dtype.typeName()
                    + shapeString(shape) + " (size " + size + ")");
        }
        return (int) flatIndex;
    }

    private void requireNumeric(String method) {
        if (dtype == DType.STRING) {
            throw new IllegalStateException(
                    method + " needs a numeric tensor, this one is string; use toStringArray() or getString(index)");
        }
    }

    private void requireInteger(String method, String alternative) {
        requireNumeric(method);
        if (dtype.isFloatingPoint()) {
            throw new IllegalStateException(method + " needs an integer or bool tensor, this one is " + dtype.typeName()
                    + "; use " + alternative);
        }
    }

    private double doubleAt(int i) {
        switch (dtype) {
            case FLOAT32:
                return data.getFloat(i * 4);
            case FLOAT64:
                return data.getDouble(i * 8);
            case FLOAT16:
                return HalfFloats.fromFloat16(data.getShort(i * 2));
            case BFLOAT16:
                return HalfFloats.fromBFloat16(data.getShort(i * 2));
            case UINT64: {
                long bits = data.getLong(i * 8);
                // unsigned: the top bit is worth 2^63
                return bits >= 0 ? bits : (double) (bits >>> 1) * 2.0 + (bits & 1);
            }
            default:
                return longAt(i);
        }
    }

    private long longAt(int i) {
        switch (dtype) {
            case INT64:
                return data.getLong(i * 8);
            case INT32:
                return data.getInt(i * 4);
            case INT16:
                return data.getShort(i * 2);
            case UINT16:
                return data.getShort(i * 2) & 0xffff;
            case UINT32:
                return data.getInt(i * 4) & 0xffffffffL;
            case UINT64:
                return data.getLong(i * 8);
            case UINT8:
                return data.get(i) & 0xff;
            case INT8:
            case BOOL:
                return data.get(i);
            case FLOAT32:
                return (long) data.getFloat(i * 4);
            case FLOAT64:
                return (long) data.getDouble(i * 8);
            case FLOAT16:
            case BFLOAT16:
                return (long) doubleAt(i);
            default:
                throw new AssertionError(dtype);
        }
    }

    private String valueString(int i) {
        switch (dtype) {
            case FLOAT32:
                return Float.toString(data.getFloat(i * 4));
            case FLOAT64:
                return Double.toString(data.getDouble(i * 8));
            case FLOAT16:
            case BFLOAT16:
                return Float.toString((float) doubleAt(i));
            case BOOL:
                return data.get(i) != 0 ? "true" : "false";
            case UINT64:
                return Long.toUnsignedString(data.getLong(i * 8));
            case STRING:
                return '"' + strings[i] + '"';
            default:
                return Long.toString(longAt(i));
        }
    }
}
