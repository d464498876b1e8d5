package dev.forge.compiler.builder;

/**
 * The four elements of a convolution filter bank (seed section 3): the number of filters K, the filter
 * size F, the stride S and the zero padding P, plus dilation, groups and whether there is a bias.
 *
 * <pre>{@code Conv2d.of(32, 5).padding(2)            // 32 filters 5x5, stride 1, padding 2
 * Conv2d.of(64, 3).stride(2).padding(Padding.same())}</pre>
 */
public final class Conv2d {
    final long filters;
    long kernelH;
    long kernelW;
    long strideH = 1;
    long strideW = 1;
    Padding padding = Padding.of(0);
    long dilationH = 1;
    long dilationW = 1;
    long groups = 1;
    boolean bias = true;

    private Conv2d(long filters, long kernelH, long kernelW) {
        if (filters < 1 || kernelH < 1 || kernelW < 1) {
            throw new IllegalArgumentException("filters and kernel size must be >= 1, got filters=" + filters
                    + " kernel=" + kernelH + "x" + kernelW);
        }
        this.filters = filters;
        this.kernelH = kernelH;
        this.kernelW = kernelW;
    }

    /** {@code filters} square filters of size {@code kernel} x {@code kernel}. */
    public static Conv2d of(long filters, long kernel) {
        return new Conv2d(filters, kernel, kernel);
    }

    /** {@code filters} filters of size {@code kernelH} x {@code kernelW}. */
    public static Conv2d of(long filters, long kernelH, long kernelW) {
        return new Conv2d(filters, kernelH, kernelW);
    }

    /** The same stride along height and width. */
    public Conv2d stride(long s) {
        return stride(s, s);
    }

    /** Strides along height and width. */
    public Conv2d stride(long sh, long sw) {
        if (sh < 1 || sw < 1) {
            throw new IllegalArgumentException("stride must be >= 1, got " + sh + "x" + sw);
        }
        strideH = sh;
        strideW = sw;
        return this;
    }

    /** The same zero padding on every side. */
    public Conv2d padding(long p) {
        return padding(Padding.of(p));
    }

    /** Zero padding: explicit, SAME or VALID. */
    public Conv2d padding(Padding p) {
        padding = p;
        return this;
    }

    /** The same dilation along height and width. */
    public Conv2d dilation(long d) {
        if (d < 1) {
            throw new IllegalArgumentException("dilation must be >= 1, got " + d);
        }
        dilationH = d;
        dilationW = d;
        return this;
    }

    /** Grouped convolution: input and output channels split into {@code g} groups. */
    public Conv2d groups(long g) {
        if (g < 1) {
            throw new IllegalArgumentException("groups must be >= 1, got " + g);
        }
        groups = g;
        return this;
    }

    /** Whether the layer adds a bias per filter (default true). */
    public Conv2d bias(boolean b) {
        bias = b;
        return this;
    }
}
