package dev.forge.compiler.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Random augmentation of image samples for training, torchvision's usual three in its order: {@code
 * RandomResizedCrop}, {@code RandomHorizontalFlip}, {@code ColorJitter}. Immutable; build with {@link
 * #builder()} or {@link #parse(String)}, then wrap the training set:
 *
 * <pre>{@code
 * Augmentation aug = Augmentation.parse("crop,flip,jitter");
 * TrainingResult r = Training.of(net).seed(7).fit(aug.apply(data.train()), data.test());
 * }</pre>
 *
 * <p><b>When.</b> The wrapped dataset augments only when a sample is copied with a draw ({@link
 * Dataset#copySample(int, float[], int, long)}), which the {@link DataLoader} does when built with {@code
 * augment(true)} — as {@code Training} builds its training loader, on the loader's producer thread. The
 * plain {@link Dataset#copySample(int, float[], int)} (evaluation, the test loader, {@code Evaluation})
 * gives the image unchanged, so a test set is never augmented even by mistake.
 *
 * <p><b>Reproducible.</b> Every random choice comes from a {@link SplittableRandom} seeded with the draw,
 * and the loader's draw depends only on (seed, epoch, sample index) ({@link DataLoader#draw}): the same
 * seed gives the same batches, whatever the prefetching or thread timing, and a resumed run continues
 * with the same augmentations.
 *
 * <p><b>Where.</b> Samples are {@code [C, H, W]} with C = 1 or 3, values in [0, 1]; wrapping a {@link
 * Normalize}d dataset puts the augmentation under the normalization, so color jitter sees [0, 1] pixels
 * as torchvision's does before {@code ToTensor}/{@code Normalize}.
 *
 * <ul>
 *   <li><b>Random resized crop:</b> torchvision's {@code RandomResizedCrop.get_params}: up to 10 tries of
 *       an area {@code U(scale) * H * W} and an aspect ratio {@code exp(U(log ratio))}, width {@code
 *       round(sqrt(area * ratio))}, height {@code round(sqrt(area / ratio))}, at a uniform position when it
 *       fits; else the largest centered crop within the ratio range. Defaults scale [0.08, 1], ratio [3/4,
 *       4/3]. The crop is resized back to H x W bilinearly (half-pixel centres, clamped edges; a crop is
 *       never larger than the image, so this is an enlargement, where Pillow's filter is the same).
 *   <li><b>Horizontal flip</b> with probability p (default 0.5): each row reversed.
 *   <li><b>Color jitter:</b> brightness, contrast and saturation factors uniform in {@code [max(0, 1 - x),
 *       1 + x]}, applied in a random order as torchvision's {@code ColorJitter}: brightness scales the
 *       pixels, contrast blends with the mean luma, saturation with each pixel's luma (ITU-R 601: 0.299,
 *       0.587, 0.114; none for gray images), each clamped to [0, 1]. Default 0.2 each.
 * </ul>
 */
public final class Augmentation {
    /** The names {@link #parse(String)} takes. */
    public static final List<String> NAMES = List.of("crop", "flip", "jitter");

    private final boolean crop;
    private final double scaleMin;
    private final double scaleMax;
    private final double ratioMin;
    private final double ratioMax;
    private final double flip;
    private final double brightness;
    private final double contrast;
    private final double saturation;

    private Augmentation(Builder b) {
        this.crop = b.crop;
        this.scaleMin = b.scaleMin;
        this.scaleMax = b.scaleMax;
        this.ratioMin = b.ratioMin;
        this.ratioMax = b.ratioMax;
        this.flip = b.flip;
        this.brightness = b.brightness;
        this.contrast = b.contrast;
        this.saturation = b.saturation;
    }

    /** A builder with nothing enabled. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The command line's form: comma-separated names from {@link #NAMES} with their defaults, e.g. {@code
     * crop,flip,jitter}.
     *
     * @param spec the names
     * @return the augmentation
     * @throws IllegalArgumentException for an unknown or repeated name, naming the valid ones
     */
    public static Augmentation parse(String spec) {
        Objects.requireNonNull(spec, "spec");
        Builder b = builder();
        List<String> seen = new ArrayList<>();
        for (String part : spec.split(",", -1)) {
            String name = part.trim().toLowerCase(Locale.ROOT);
            if (seen.contains(name)) {
                throw new IllegalArgumentException("augmentation '" + spec + "' names " + name + " twice");
            }
            seen.add(name);
            switch (name) {
                case "crop" -> b.randomResizedCrop();
                case "flip" -> b.horizontalFlip(0.5);
                case "jitter" -> b.colorJitter(0.2, 0.2, 0.2);
                default ->
                    throw new IllegalArgumentException("augmentation '" + spec + "': unknown '" + part
                            + "'; use a comma-separated list of " + String.join(", ", NAMES));
            }
        }
        return b.build();
    }

    /**
     * A view of {@code data} whose samples are augmented when copied with a draw; under the normalization
     * when {@code data} is a {@link Normalize}d view.
     *
     * @param data image samples [C, H, W], C = 1 or 3, values in [0, 1] before any normalization
     * @return the augmented view, sharing the data
     * @throws IllegalArgumentException if the samples are not [1 or 3, H, W]
     */
    public Dataset apply(Dataset data) {
        Objects.requireNonNull(data, "data");
        long[] s = data.sampleShape();
        if (s.length != 3 || (s[0] != 1 && s[0] != 3)) {
            throw new IllegalArgumentException("Augmentation: samples must be images [1 or 3, H, W], got "
                    + Arrays.toString(s) + "; augment only image data sets");
        }
        return Normalize.underNormalization(data, Augmented::new);
    }

    /**
     * Augments one sample in place.
     *
     * @param x the sample, [channels, height, width] from {@code offset}
     * @param offset where it starts
     * @param channels 1 or 3
     * @param height the height
     * @param width the width
     * @param draw the seed of the random choices
     */
    public void augment(float[] x, int offset, int channels, int height, int width, long draw) {
        SplittableRandom r = new SplittableRandom(draw);
        int plane = height * width;
        if (crop) {
            int[] box = cropBox(height, width, r);
            float[] src = Arrays.copyOfRange(x, offset, offset + channels * plane);
            for (int c = 0; c < channels; c++) {
                resizeRegion(src, c * plane, width, box, x, offset + c * plane, height, width);
            }
        }
        if (flip > 0 && r.nextDouble() < flip) {
            for (int c = 0; c < channels; c++) {
                for (int y = 0; y < height; y++) {
                    int row = offset + c * plane + y * width;
                    for (int a = 0, b = width - 1; a < b; a++, b--) {
                        float t = x[row + a];
                        x[row + a] = x[row + b];
                        x[row + b] = t;
                    }
                }
            }
        }
        if (brightness > 0 || contrast > 0 || saturation > 0) {
            jitter(x, offset, channels, plane, r);
        }
    }

    /** {top, left, height, width} of torchvision's {@code RandomResizedCrop.get_params}. */
    int[] cropBox(int height, int width, SplittableRandom r) {
        double area = (double) height * width;
        double logMin = Math.log(ratioMin);
        double logMax = Math.log(ratioMax);
        for (int attempt = 0; attempt < 10; attempt++) {
            double target = area * uniform(r, scaleMin, scaleMax);
            double aspect = Math.exp(uniform(r, logMin, logMax));
            // Python's round: half to even
            int w = (int) Math.rint(Math.sqrt(target * aspect));
            int h = (int) Math.rint(Math.sqrt(target / aspect));
            if (0 < w && w <= width && 0 < h && h <= height) {
                int top = r.nextInt(height - h + 1);
                int left = r.nextInt(width - w + 1);
                return new int[] {top, left, h, w};
            }
        }
        double in = (double) width / height;
        int w;
        int h;
        if (in < ratioMin) {
            w = width;
            h = (int) Math.rint(w / ratioMin);
        } else if (in > ratioMax) {
            h = height;
            w = (int) Math.rint(h * ratioMax);
        } else {
            w = width;
            h = height;
        }
        return new int[] {(height - h) / 2, (width - w) / 2, h, w};
    }

    private static double uniform(SplittableRandom r, double lo, double hi) {
        return lo == hi ? lo : lo + (hi - lo) * r.nextDouble();
    }

    /** Bilinear resize of the box of one plane to the full {@code height x width} (half-pixel centres, clamped). */
    private static void resizeRegion(
            float[] src, int srcOff, int srcWidth, int[] box, float[] dst, int dstOff, int height, int width) {
        int top = box[0];
        int left = box[1];
        int bh = box[2];
        int bw = box[3];
        for (int y = 0; y < height; y++) {
            double sy = Math.max(0, (y + 0.5) * bh / height - 0.5);
            int y0 = Math.min((int) sy, bh - 1);
            int y1 = Math.min(y0 + 1, bh - 1);
            double fy = sy - y0;
            for (int x = 0; x < width; x++) {
                double sx = Math.max(0, (x + 0.5) * bw / width - 0.5);
                int x0 = Math.min((int) sx, bw - 1);
                int x1 = Math.min(x0 + 1, bw - 1);
                double fx = sx - x0;
                int r0 = srcOff + (top + y0) * srcWidth + left;
                int r1 = srcOff + (top + y1) * srcWidth + left;
                double a = src[r0 + x0] + (src[r0 + x1] - src[r0 + x0]) * fx;
                double b = src[r1 + x0] + (src[r1 + x1] - src[r1 + x0]) * fx;
                dst[dstOff + y * width + x] = (float) (a + (b - a) * fy);
            }
        }
    }

    private void jitter(float[] x, int offset, int channels, int plane, SplittableRandom r) {
        // factors first, then a random order of the three, as torchvision's ColorJitter.get_params
        double fb = factor(r, brightness);
        double fc = factor(r, contrast);
        double fs = factor(r, saturation);
        int[] order = {0, 1, 2};
        for (int i = 2; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int op : order) {
            if (op == 0 && brightness > 0) {
                for (int i = 0; i < channels * plane; i++) {
                    x[offset + i] = clamp(fb * x[offset + i]);
                }
            } else if (op == 1 && contrast > 0) {
                double mean = 0;
                for (int i = 0; i < plane; i++) {
                    mean += luma(x, offset, channels, plane, i);
                }
                mean /= plane;
                for (int i = 0; i < channels * plane; i++) {
                    x[offset + i] = clamp(fc * x[offset + i] + (1 - fc) * mean);
                }
            } else if (op == 2 && saturation > 0 && channels == 3) {
                for (int i = 0; i < plane; i++) {
                    double l = luma(x, offset, channels, plane, i);
                    for (int c = 0; c < 3; c++) {
                        int k = offset + c * plane + i;
                        x[k] = clamp(fs * x[k] + (1 - fs) * l);
                    }
                }
            }
        }
    }

    private static double factor(SplittableRandom r, double amount) {
        return amount > 0 ? uniform(r, Math.max(0, 1 - amount), 1 + amount) : 1;
    }

    private static double luma(float[] x, int offset, int channels, int plane, int i) {
        if (channels == 1) {
            return x[offset + i];
        }
        return 0.299 * x[offset + i] + 0.587 * x[offset + plane + i] + 0.114 * x[offset + 2 * plane + i];
    }

    private static float clamp(double v) {
        return (float) Math.min(1, Math.max(0, v));
    }

    /** E.g. {@code crop(scale 0.08..1, ratio 0.75..1.333), flip(0.5), jitter(0.2, 0.2, 0.2)}. */
    @Override
    public String toString() {
        List<String> parts = new ArrayList<>();
        if (crop) {
            parts.add(String.format(
                    Locale.ROOT, "crop(scale %.3g..%.3g, ratio %.3g..%.3g)", scaleMin, scaleMax, ratioMin, ratioMax));
        }
        if (flip > 0) {
            parts.add(String.format(Locale.ROOT, "flip(%.3g)", flip));
        }
        if (brightness > 0 || contrast > 0 || saturation > 0) {
            parts.add(String.format(Locale.ROOT, "jitter(%.3g, %.3g, %.3g)", brightness, contrast, saturation));
        }
        return parts.isEmpty() ? "none" : String.join(", ", parts);
    }

    /** Builds an {@link Augmentation}. */
    public static final class Builder {
        private boolean crop;
        private double scaleMin;
        private double scaleMax;
        private double ratioMin;
        private double ratioMax;
        private double flip;
        private double brightness;
        private double contrast;
        private double saturation;

        private Builder() {}

        /** Random resized crop with torchvision's defaults: scale [0.08, 1], ratio [3/4, 4/3]. */
        public Builder randomResizedCrop() {
            return randomResizedCrop(0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0);
        }

        /**
         * Random resized crop.
         *
         * @param scaleMin smallest crop area as a fraction of the image, in (0, scaleMax]
         * @param scaleMax largest, at most 1
         * @param ratioMin smallest aspect ratio (width / height), &gt; 0
         * @param ratioMax largest, ≥ ratioMin
         */
        public Builder randomResizedCrop(double scaleMin, double scaleMax, double ratioMin, double ratioMax) {
            if (!(scaleMin > 0 && scaleMin <= scaleMax && scaleMax <= 1)) {
                throw new IllegalArgumentException(
                        "randomResizedCrop: need 0 < scaleMin <= scaleMax <= 1, got " + scaleMin + ".." + scaleMax);
            }
            if (!(ratioMin > 0 && ratioMin <= ratioMax) || Double.isInfinite(ratioMax)) {
                throw new IllegalArgumentException(
                        "randomResizedCrop: need 0 < ratioMin <= ratioMax, got " + ratioMin + ".." + ratioMax);
            }
            this.crop = true;
            this.scaleMin = scaleMin;
            this.scaleMax = scaleMax;
            this.ratioMin = ratioMin;
            this.ratioMax = ratioMax;
            return this;
        }

        /** Horizontal flip with probability {@code p} in [0, 1]. */
        public Builder horizontalFlip(double p) {
            if (!(p >= 0 && p <= 1)) {
                throw new IllegalArgumentException("horizontalFlip: probability must be in [0, 1], got " + p);
            }
            this.flip = p;
            return this;
        }

        /** Color jitter: factors uniform in [max(0, 1 - x), 1 + x] for each x ≥ 0 (0 turns that one off). */
        public Builder colorJitter(double brightness, double contrast, double saturation) {
            if (!(brightness >= 0 && contrast >= 0 && saturation >= 0)) {
                throw new IllegalArgumentException(
                        "colorJitter: amounts must be >= 0, got " + brightness + ", " + contrast + ", " + saturation);
            }
            this.brightness = brightness;
            this.contrast = contrast;
            this.saturation = saturation;
            return this;
        }

        /** Builds the augmentation. */
        public Augmentation build() {
            return new Augmentation(this);
        }
    }

    /** The augmented view: plain copies unchanged, copies with a draw augmented. */
    private final class Augmented implements Dataset {
        private final Dataset base;
        private final int channels;
        private final int height;
        private final int width;

        Augmented(Dataset base) {
            this.base = base;
            long[] s = base.sampleShape();
            this.channels = (int) s[0];
            this.height = (int) s[1];
            this.width = (int) s[2];
        }

        @Override
        public int size() {
            return base.size();
        }

        @Override
        public long[] sampleShape() {
            return base.sampleShape();
        }

        @Override
        public int sampleSize() {
            return base.sampleSize();
        }

        @Override
        public int numClasses() {
            return base.numClasses();
        }

        @Override
        public List<String> classNames() {
            return base.classNames();
        }

        @Override
        public void copySample(int index, float[] dst, int offset) {
            base.copySample(index, dst, offset);
        }

        @Override
        public void copySample(int index, float[] dst, int offset, long draw) {
            base.copySample(index, dst, offset, draw);
            augment(dst, offset, channels, height, width, draw);
        }

        @Override
        public long label(int index) {
            return base.label(index);
        }

        @Override
        public long[] targetShape() {
            return base.targetShape();
        }

        @Override
        public int targetSize() {
            return base.targetSize();
        }

        @Override
        public void copyTargets(int index, float[] dst, int offset) {
            base.copyTargets(index, dst, offset);
        }

        @Override
        public String toString() {
            return base + " | augmented " + Augmentation.this;
        }
    }
}
