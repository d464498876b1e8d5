package dev.forge.compiler.builder;

import java.util.Arrays;

/**
 * Zero padding of a convolution or pooling window: explicit numbers, {@link #same() SAME} (the output
 * keeps the input size at stride 1) or {@link #valid() VALID} (no padding). SAME and VALID resolve to
 * explicit pads when the layer is added, so the emitted ONNX never depends on {@code auto_pad}.
 */
public final class Padding {
    private enum Mode {
        EXPLICIT,
        SAME,
        VALID
    }

    private final Mode mode;
    private final long[] pads;

    private Padding(Mode mode, long[] pads) {
        this.mode = mode;
        this.pads = pads;
    }

    /** The same padding {@code p} on every side. */
    public static Padding of(long p) {
        return of(p, p, p, p);
    }

    /** Padding {@code ph} above and below, {@code pw} left and right. */
    public static Padding of(long ph, long pw) {
        return of(ph, pw, ph, pw);
    }

    /** Explicit padding per side. */
    public static Padding of(long top, long left, long bottom, long right) {
        long[] p = {top, left, bottom, right};
        for (long v : p) {
            if (v < 0) {
                throw new IllegalArgumentException("padding must be >= 0, got " + Arrays.toString(p));
            }
        }
        return new Padding(Mode.EXPLICIT, p);
    }

    /** SAME: pad so the output is {@code ceil(in / stride)}; an odd total puts the extra pixel at the end. */
    public static Padding same() {
        return new Padding(Mode.SAME, null);
    }

    /** VALID: no padding; the output shrinks by the window size minus one. */
    public static Padding valid() {
        return new Padding(Mode.VALID, null);
    }

    boolean isSame() {
        return mode == Mode.SAME;
    }

    /** Explicit pads {@code [top, left, bottom, right]} (for VALID all zero); null for SAME. */
    long[] explicit() {
        return mode == Mode.SAME ? null : mode == Mode.VALID ? new long[4] : pads.clone();
    }

    @Override
    public String toString() {
        return switch (mode) {
            case SAME -> "SAME";
            case VALID -> "VALID";
            case EXPLICIT -> Arrays.toString(pads);
        };
    }
}
