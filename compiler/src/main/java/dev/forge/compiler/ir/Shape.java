package dev.forge.compiler.ir;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** The shape of a tensor value: an ordered list of {@link Dim dimensions}. Immutable. */
public final class Shape {
    private final List<Dim> dims;

    private Shape(List<Dim> dims) {
        this.dims = Collections.unmodifiableList(new ArrayList<>(dims));
    }

    /**
     * A shape from numbers and symbol names, e.g. {@code Shape.of("N", 1, 28, 28)}; {@code null} or
     * {@code "?"} is an unknown dimension.
     */
    public static Shape of(Object... dims) {
        List<Dim> list = new ArrayList<>(dims.length);
        for (Object d : dims) {
            if (d == null || "?".equals(d)) {
                list.add(Dim.unknown());
            } else if (d instanceof Number n) {
                list.add(Dim.of(n.longValue()));
            } else if (d instanceof String s) {
                list.add(Dim.symbol(s));
            } else if (d instanceof Dim dim) {
                list.add(dim);
            } else {
                throw new IllegalArgumentException("not a dimension: " + d);
            }
        }
        return new Shape(list);
    }

    /** A shape of fixed dimensions. */
    public static Shape fixed(long... dims) {
        List<Dim> list = new ArrayList<>(dims.length);
        for (long d : dims) {
            list.add(Dim.of(d));
        }
        return new Shape(list);
    }

    /** A shape from a list of dimensions. */
    public static Shape of(List<Dim> dims) {
        return new Shape(dims);
    }

    /** The number of dimensions. */
    public int rank() {
        return dims.size();
    }

    /** Dimension {@code i}; negative indices count from the end. */
    public Dim dim(int i) {
        return dims.get(i < 0 ? dims.size() + i : i);
    }

    /** The dimensions, unmodifiable. */
    public List<Dim> dims() {
        return dims;
    }

    /** True when every dimension is a fixed number. */
    public boolean isFixed() {
        return dims.stream().allMatch(Dim::isFixed);
    }

    /** The fixed sizes; fails if any dimension is not fixed. */
    public long[] toArray() {
        long[] out = new long[dims.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = dims.get(i).value();
        }
        return out;
    }

    /** The sizes with -1 for every symbolic or unknown dimension. */
    public long[] toArrayWithWildcards() {
        long[] out = new long[dims.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = dims.get(i).isFixed() ? dims.get(i).value() : -1;
        }
        return out;
    }

    /** Product of all dimensions; fails if any dimension is not fixed. */
    public long elementCount() {
        long n = 1;
        for (Dim d : dims) {
            n = Math.multiplyExact(n, d.value());
        }
        return n;
    }

    /** Product of dimensions {@code [from, to)}, or -1 if one of them is not fixed. */
    public long product(int from, int to) {
        long n = 1;
        for (int i = from; i < to; i++) {
            if (!dims.get(i).isFixed()) {
                return -1;
            }
            n = Math.multiplyExact(n, dims.get(i).value());
        }
        return n;
    }

    /** A copy with dimension {@code i} replaced. */
    public Shape with(int i, Dim d) {
        List<Dim> copy = new ArrayList<>(dims);
        copy.set(i, d);
        return new Shape(copy);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && s.dims.equals(dims);
    }

    @Override
    public int hashCode() {
        return dims.hashCode();
    }

    @Override
    public String toString() {
        return dims.toString().replace(" ", "");
    }

    /** Formats a long array like a shape, e.g. {@code [1,28,28]}. */
    public static String format(long[] dims) {
        return Arrays.toString(dims).replace(" ", "");
    }
}
