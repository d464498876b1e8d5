package dev.forge.compiler.builder;

/**
 * A pooling window: size, stride (defaults to the window size, the usual 2x2 stride 2), padding and
 * ceil mode.
 */
public final class Pool2d {
    final long kernelH;
    final long kernelW;
    long strideH;
    long strideW;
    Padding padding = Padding.of(0);
    boolean ceilMode;
    boolean countIncludePad = true;

    private Pool2d(long kh, long kw) {
        if (kh < 1 || kw < 1) {
            throw new IllegalArgumentException("pool window must be >= 1, got " + kh + "x" + kw);
        }
        kernelH = kh;
        kernelW = kw;
        strideH = kh;
        strideW = kw;
    }

    /** A square window with stride equal to its size. */
    public static Pool2d of(long kernel) {
        return new Pool2d(kernel, kernel);
    }

    /** A {@code kh} x {@code kw} window with stride equal to its size. */
    public static Pool2d of(long kh, long kw) {
        return new Pool2d(kh, kw);
    }

    /** The same stride along both axes. */
    public Pool2d stride(long s) {
        if (s < 1) {
            throw new IllegalArgumentException("stride must be >= 1, got " + s);
        }
        strideH = s;
        strideW = s;
        return this;
    }

    /** Zero padding on every side. */
    public Pool2d padding(long p) {
        padding = Padding.of(p);
        return this;
    }

    /** Padding: explicit, SAME or VALID. */
    public Pool2d padding(Padding p) {
        padding = p;
        return this;
    }

    /** Round the output size up instead of down (and allow a partial last window). */
    public Pool2d ceilMode(boolean ceil) {
        ceilMode = ceil;
        return this;
    }

    /** For average pooling: count padded zeros in the divisor (PyTorch's default is true). */
    public Pool2d countIncludePad(boolean include) {
        countIncludePad = include;
        return this;
    }
}
