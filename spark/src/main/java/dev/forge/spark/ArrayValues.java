package dev.forge.spark;

import java.nio.FloatBuffer;
import java.util.List;

/**
 * Reads the value of an {@code array<float>} or {@code array<double>} column as Spark hands it to a {@code Row}
 * (a Scala {@code Seq} of boxed numbers, or a Java array or list) into a float buffer.
 */
final class ArrayValues {
    /** {@link #copyFloats} found a null element. */
    static final int NULL_ELEMENT = -2;
    /** {@link #copyFloats} found every value finite. */
    static final int ALL_FINITE = -1;

    private ArrayValues() {}

    /** The number of elements of an array value. */
    static int length(Object value) {
        if (value instanceof scala.collection.Seq<?> s) {
            return s.length();
        }
        if (value instanceof float[] a) {
            return a.length;
        }
        if (value instanceof double[] a) {
            return a.length;
        }
        if (value instanceof Object[] a) {
            return a.length;
        }
        if (value instanceof List<?> l) {
            return l.size();
        }
        throw new IllegalArgumentException(
                "not an array value: " + value.getClass().getName());
    }

    /**
     * Copies an array value (of {@link #length} elements) to {@code dst} from {@code offset}, rounding doubles to
     * float32.
     *
     * @return {@link #ALL_FINITE}, the index of the first NaN or infinite value, or {@link #NULL_ELEMENT}
     */
    static int copyFloats(Object value, FloatBuffer dst, int offset) {
        int firstNonFinite = ALL_FINITE;
        if (value instanceof float[] a) {
            dst.put(offset, a);
            for (int i = 0; i < a.length && firstNonFinite < 0; i++) {
                firstNonFinite = Float.isFinite(a[i]) ? ALL_FINITE : i;
            }
            return firstNonFinite;
        }
        int n = length(value);
        scala.collection.Seq<?> seq = value instanceof scala.collection.Seq<?> s ? s : null;
        Object[] array = value instanceof Object[] a ? a : null;
        double[] doubles = value instanceof double[] d ? d : null;
        List<?> list = value instanceof List<?> l ? l : null;
        for (int i = 0; i < n; i++) {
            float v;
            if (doubles != null) {
                v = (float) doubles[i];
            } else {
                Object e = seq != null ? seq.apply(i) : array != null ? array[i] : list.get(i);
                if (e == null) {
                    return NULL_ELEMENT;
                }
                v = ((Number) e).floatValue();
            }
            if (firstNonFinite < 0 && !Float.isFinite(v)) {
                firstNonFinite = i;
            }
            dst.put(offset + i, v);
        }
        return firstNonFinite;
    }
}
