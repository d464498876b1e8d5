package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.autodiff.Emitter.attrInts;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Shape;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Small helpers the gradient rules of several operator families share. */
final class Grad {
    private Grad() {}

    /** Input {@code input}'s share of a broadcast gradient, or null when that input needs none. */
    static String unb(GradContext c, String grad, int input) {
        return c.needs(input) ? c.unbroadcast(grad, c.x(input)) : null;
    }

    /** 1.0 where {@code x > 0}, else 0.0, as float32. */
    static String positive(GradContext c, String x) {
        return c.op("Cast", List.of(c.op("Greater", x, c.scalar(0f))), Map.of("to", attrInt(1)));
    }

    /** 1.0 where {@code lo < x < hi}, else 0.0, as float32 (either bound may be null for none). */
    static String between(GradContext c, String x, String lo, String hi) {
        String inside = null;
        if (lo != null) {
            inside = c.op("Greater", x, lo);
        }
        if (hi != null) {
            String below = c.op("Less", x, hi);
            inside = inside == null ? below : c.op("And", inside, below);
        }
        if (inside == null) {
            return null;
        }
        return c.op("Cast", List.of(inside), Map.of("to", attrInt(1)));
    }

    /** Reshapes {@code grad} to the shape of {@code like}, statically when that shape is fixed. */
    static String reshapeTo(GradContext c, String grad, String like) {
        Shape s = c.shape(like);
        return s.isFixed() ? c.op("Reshape", grad, c.emit().ints(s.toArray())) : c.reshapeLike(grad, like);
    }

    static long[] reversed(int rank) {
        long[] p = new long[rank];
        for (int i = 0; i < rank; i++) {
            p[i] = rank - 1 - i;
        }
        return p;
    }

    static long[] ones(int n) {
        long[] v = new long[n];
        Arrays.fill(v, 1);
        return v;
    }

    static long product(long[] v) {
        return Arrays.stream(v).reduce(1, (a, b) -> a * b);
    }

    /** The attributes of a plain convolution with explicit pads. */
    static Map<String, Attribute> convAttributes(long[] kernel, long[] strides, long[] pads, long[] dilations) {
        Map<String, Attribute> a = new LinkedHashMap<>();
        a.put("kernel_shape", attrInts(kernel));
        a.put("strides", attrInts(strides));
        a.put("pads", attrInts(pads));
        a.put("dilations", attrInts(dilations));
        return a;
    }

    /** {@code v[start:end]} along one axis. */
    static String slice(GradContext c, String v, long axis, long start, long end) {
        return c.op(
                "Slice", v, c.emit().ints(start), c.emit().ints(end), c.emit().ints(axis));
    }
}
