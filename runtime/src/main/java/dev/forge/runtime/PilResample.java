package dev.forge.runtime;

/**
 * Pillow's {@code Image.resize(size, BILINEAR)} on 8-bit planes, the resize torchvision's {@code
 * transforms.Resize} performs on PIL images — so that a model fine-tuned on PIL-resized images sees the
 * same pixels here.
 *
 * <p>The filter is the triangle {@code f(x) = max(0, 1 - |x|)}, stretched by the downscale factor when
 * shrinking: output pixel {@code i} of an axis scaled by {@code scale = in / out} has its centre at
 * {@code c = (i + 0.5) * scale} in input coordinates, and input pixel {@code j} (centre {@code j + 0.5})
 * gets the weight {@code f((j + 0.5 - c) / max(scale, 1))}, normalized to sum 1 over the pixels within
 * {@code max(scale, 1)} of {@code c}. So a shrink averages every input pixel under the stretched
 * triangle (antialiasing), and an enlargement is ordinary bilinear interpolation with clamped edges.
 *
 * <p>Like Pillow ({@code libImaging/Resample.c}), the image is resized horizontally first, then
 * vertically; weights are fixed-point with 22 fractional bits, each pass rounds to the nearest byte and
 * clamps, and the horizontal result is stored as bytes before the vertical pass. Every one of these
 * steps is reproduced, so the output is bit-identical to Pillow's (checked against Pillow 9.4 by {@code
 * testdata/scripts/make_preprocess_golden.py}).
 */
final class PilResample {
    /** Pillow's {@code PRECISION_BITS}: 32 bits - 8 for the value - 2 for headroom. */
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private PilResample() {}

    /**
     * Resizes one row-major 8-bit plane.
     *
     * @param src {@code sh * sw} bytes
     * @param sh source height
     * @param sw source width
     * @param dh output height
     * @param dw output width
     * @return {@code dh * dw} bytes
     */
    static byte[] resize(byte[] src, int sh, int sw, int dh, int dw) {
        byte[] plane = src;
        int w = sw;
        if (dw != sw) {
            Coefficients cx = Coefficients.of(sw, dw);
            byte[] tmp = new byte[sh * dw];
            for (int y = 0; y < sh; y++) {
                for (int x = 0; x < dw; x++) {
                    int min = cx.min[x];
                    int n = cx.count[x];
                    int k = x * cx.size;
                    int ss = 1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < n; i++) {
                        ss += (plane[y * w + min + i] & 0xff) * cx.weights[k + i];
                    }
                    tmp[y * dw + x] = clip8(ss);
                }
            }
            plane = tmp;
            w = dw;
        }
        if (dh != sh) {
            Coefficients cy = Coefficients.of(sh, dh);
            byte[] tmp = new byte[dh * w];
            for (int y = 0; y < dh; y++) {
                int min = cy.min[y];
                int n = cy.count[y];
                int k = y * cy.size;
                for (int x = 0; x < w; x++) {
                    int ss = 1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < n; i++) {
                        ss += (plane[(min + i) * w + x] & 0xff) * cy.weights[k + i];
                    }
                    tmp[y * w + x] = clip8(ss);
                }
            }
            plane = tmp;
        }
        return plane == src ? src.clone() : plane;
    }

    private static byte clip8(int v) {
        if (v >= (1 << PRECISION_BITS << 8)) {
            return (byte) 255;
        }
        if (v <= 0) {
            return 0;
        }
        return (byte) (v >> PRECISION_BITS);
    }

    /** The fixed-point weights of one axis: output {@code i} reads inputs {@code min[i] .. min[i] + count[i] - 1}. */
    static final class Coefficients {
        final int size;
        final int[] min;
        final int[] count;
        final int[] weights;
        /** The same weights before the fixed-point rounding, for tests. */
        final double[] exact;

        private Coefficients(int size, int out) {
            this.size = size;
            this.min = new int[out];
            this.count = new int[out];
            this.weights = new int[out * size];
            this.exact = new double[out * size];
        }

        /** Pillow's {@code precompute_coeffs} and {@code normalize_coeffs_8bpc} for the bilinear filter. */
        static Coefficients of(int in, int out) {
            double scale = (double) in / out;
            double filterScale = Math.max(scale, 1.0);
            double support = 1.0 * filterScale;
            double ss = 1.0 / filterScale;
            Coefficients c = new Coefficients((int) Math.ceil(support) * 2 + 1, out);
            for (int x = 0; x < out; x++) {
                double center = (x + 0.5) * scale;
                // Pillow rounds the window ends with a C cast (truncation toward zero) after adding 0.5
                int xmin = Math.max((int) (center - support + 0.5), 0);
                int xmax = Math.min((int) (center + support + 0.5), in) - xmin;
                double sum = 0;
                int k = x * c.size;
                for (int i = 0; i < xmax; i++) {
                    double w = triangle((i + xmin - center + 0.5) * ss);
                    c.exact[k + i] = w;
                    sum += w;
                }
                for (int i = 0; i < xmax; i++) {
                    if (sum != 0) {
                        c.exact[k + i] /= sum;
                    }
                    double v = c.exact[k + i] * (1 << PRECISION_BITS);
                    c.weights[k + i] = (int) (v < 0 ? v - 0.5 : v + 0.5);
                }
                c.min[x] = xmin;
                c.count[x] = xmax;
            }
            return c;
        }

        private static double triangle(double x) {
            double a = Math.abs(x);
            return a < 1.0 ? 1.0 - a : 0.0;
        }
    }
}
