package dev.forge.runtime;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import javax.imageio.ImageIO;

/**
 * How a network's images were prepared when it was trained, so that the runtime prepares a photo the same
 * way: torchvision's {@code Resize(S)} + {@code CenterCrop(H, W)} + {@code ToTensor()} + {@code
 * Normalize(mean, std)} on a PIL image, in these steps:
 *
 * <ol>
 *   <li><b>Color.</b> The decoded image becomes RGB (a gray image repeated in three channels; alpha
 *       dropped, as Pillow's {@code convert("RGB")}) or gray ({@code L = (19595 R + 38470 G + 7471 B +
 *       32768) >> 16}, Pillow's {@code convert("L")}); gray PNGs are read from their raw samples.
 *   <li><b>Resize</b> (optional): the shorter side becomes {@code S} and the longer {@code floor(S * long
 *       / short)}, as torchvision computes it, with Pillow's antialiased bilinear filter ({@link
 *       PilResample}: a triangle filter whose support grows with the downscale factor, 8-bit rounding
 *       after each pass, bit-identical to Pillow).
 *   <li><b>Center crop</b> (optional) to {@code H x W}: top {@code = round((h - H) / 2)}, left {@code =
 *       round((w - W) / 2)}, rounding half to even as Python's {@code round}; an image smaller than the
 *       crop is padded with zeros first, as torchvision does.
 *   <li><b>Scale</b> to [0, 1]: {@code v / 255f}, in float32 as {@code ToTensor}.
 *   <li><b>Normalize</b> (optional): {@code (x - mean[c]) / std[c]} in float32, with mean and std in the
 *       model's channel order.
 *   <li><b>Channel order and layout:</b> BGR reverses the three channels (after the color step, so
 *       {@code mean} and {@code std} are given in B, G, R order); the result is laid out NCHW or NHWC.
 * </ol>
 *
 * <p>Stored in a model's metadata ({@link #toMetadata()}, {@link #fromMetadata(Map)}) under {@link
 * ModelMetadata#IMAGE_RESIZE}, {@link ModelMetadata#IMAGE_CROP}, {@link ModelMetadata#IMAGE_COLOR},
 * {@link ModelMetadata#IMAGE_LAYOUT}, with mean and std in the existing {@link ModelMetadata#INPUT_MEAN}
 * and {@link ModelMetadata#INPUT_STD} (same meaning: per-channel normalization of [0, 1] inputs), and
 * applied by {@link Model#predict(Path, int)} and {@link Model#runImage(Path)}. Immutable.
 *
 * <pre>{@code
 * ImagePreprocessing p = ImagePreprocessing.imagenet(256, 224);  // Resize(256), CenterCrop(224), ImageNet mean/std
 * }</pre>
 */
public final class ImagePreprocessing {
    /** ImageNet's per-channel mean in R, G, B order, as torchvision's reference training scripts use it. */
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    /** ImageNet's per-channel standard deviation in R, G, B order. */
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    /** The color channels the model reads. */
    public enum Color {
        /** Red, green, blue. */
        RGB,
        /** Blue, green, red (Caffe- and OpenCV-trained models). */
        BGR,
        /** One luma channel. */
        GRAY;

        /** The number of channels. */
        public int channels() {
            return this == GRAY ? 1 : 3;
        }
    }

    /** Where the channel axis is. */
    public enum Layout {
        /** {@code [N, C, H, W]}, PyTorch's. */
        NCHW,
        /** {@code [N, H, W, C]}, TensorFlow's. */
        NHWC
    }

    private final int resize;
    private final int cropHeight;
    private final int cropWidth;
    private final float[] mean;
    private final float[] std;
    private final Color color;
    private final Layout layout;

    private ImagePreprocessing(Builder b) {
        this.resize = b.resize;
        this.cropHeight = b.cropHeight;
        this.cropWidth = b.cropWidth;
        this.mean = b.mean;
        this.std = b.std;
        this.color = b.color;
        this.layout = b.layout;
    }

    /**
     * torchvision's ImageNet evaluation transform: {@code Resize(resize)}, {@code CenterCrop(crop)},
     * {@code ToTensor()}, {@code Normalize(IMAGENET_MEAN, IMAGENET_STD)}, RGB, NCHW.
     *
     * @param resize the shorter side after resizing, e.g. 256
     * @param crop the square crop, e.g. 224
     * @return the preprocessing
     */
    public static ImagePreprocessing imagenet(int resize, int crop) {
        return builder().resize(resize).crop(crop, crop).imagenetNormalization().build();
    }

    /**
     * Parses the short form the command line takes: {@code NORM:RESIZE:CROP}, where NORM is {@code
     * imagenet} (ImageNet mean/std) or {@code unit} (scale to [0, 1] only), RESIZE the shorter side
     * ({@code 0} for no resize) and CROP {@code N} or {@code HxW} ({@code 0} for no crop); e.g. {@code
     * imagenet:256:224}. RGB and NCHW; refine with a {@link #toBuilder()}.
     *
     * @param spec the text
     * @return the preprocessing
     * @throws IllegalArgumentException naming the part that does not parse and the expected form
     */
    public static ImagePreprocessing parse(String spec) {
        return parse(spec, Color.RGB);
    }

    /**
     * {@link #parse(String)} for a model that reads the given color (ImageNet's mean and std are then put
     * in that channel order).
     *
     * @param spec the text
     * @param color the color channels
     * @return the preprocessing
     * @throws IllegalArgumentException naming the part that does not parse and the expected form
     */
    public static ImagePreprocessing parse(String spec, Color color) {
        Objects.requireNonNull(spec, "spec");
        String[] p = spec.split(":", -1);
        String form = "expected NORM:RESIZE:CROP with NORM imagenet, unit or MEAN/STD (comma-separated per"
                + " channel, or one value for all), e.g. imagenet:256:224 or 0.5/0.25:32:28";
        if (p.length != 3) {
            throw new IllegalArgumentException("preprocessing '" + spec + "' has " + p.length + " parts; " + form);
        }
        Builder b = builder().color(color);
        String norm = p[0].trim().toLowerCase(Locale.ROOT);
        if (norm.equals("imagenet")) {
            b.imagenetNormalization();
        } else if (norm.contains("/")) {
            String[] ms = norm.split("/", -1);
            float[][] v = null;
            if (ms.length == 2) {
                try {
                    v = ModelMetadata.normalization(
                                    Map.of(ModelMetadata.INPUT_MEAN, ms[0], ModelMetadata.INPUT_STD, ms[1]))
                            .orElseThrow();
                } catch (IllegalArgumentException e) {
                    v = null;
                }
            }
            if (v == null) {
                throw new IllegalArgumentException(
                        "preprocessing '" + spec + "': normalization '" + p[0] + "' is not MEAN/STD; " + form);
            }
            b.normalization(v[0], v[1]);
        } else if (!norm.equals("unit")) {
            throw new IllegalArgumentException(
                    "preprocessing '" + spec + "': unknown normalization '" + p[0] + "'; " + form);
        }
        int s = positiveOrZero(p[1], "resize", spec + "' (" + form + ")");
        if (s > 0) {
            b.resize(s);
        }
        if (!p[2].trim().equals("0")) {
            int[] hw = ModelMetadata.size(p[2], "crop of '" + spec + "'");
            b.crop(hw[0], hw[1]);
        }
        return b.build();
    }

    /**
     * The preprocessing stored in a model's metadata, if any: present when at least one of {@link
     * ModelMetadata#IMAGE_RESIZE}, {@link ModelMetadata#IMAGE_CROP}, {@link ModelMetadata#IMAGE_COLOR} or
     * {@link ModelMetadata#IMAGE_LAYOUT} is; mean and std come from {@link ModelMetadata#INPUT_MEAN} and
     * {@link ModelMetadata#INPUT_STD} when present (a model with only those has no image preprocessing).
     *
     * @param metadata a model's metadata
     * @return the preprocessing, or empty
     * @throws IllegalArgumentException naming the key, its value and the expected form when a value is
     *     malformed, or the mean has another number of channels than the color
     */
    public static Optional<ImagePreprocessing> fromMetadata(Map<String, String> metadata) {
        Objects.requireNonNull(metadata, "metadata");
        String resize = metadata.get(ModelMetadata.IMAGE_RESIZE);
        String crop = metadata.get(ModelMetadata.IMAGE_CROP);
        String color = metadata.get(ModelMetadata.IMAGE_COLOR);
        String layout = metadata.get(ModelMetadata.IMAGE_LAYOUT);
        if (resize == null && crop == null && color == null && layout == null) {
            return Optional.empty();
        }
        Builder b = builder();
        if (resize != null) {
            if (resize.toLowerCase(Locale.ROOT).contains("x")) {
                throw new IllegalArgumentException("metadata " + ModelMetadata.IMAGE_RESIZE + " = '" + resize
                        + "' must be one number, the shorter side after resizing (e.g. 256)");
            }
            b.resize(ModelMetadata.size(resize, "metadata " + ModelMetadata.IMAGE_RESIZE)[0]);
        }
        if (crop != null) {
            int[] hw = ModelMetadata.size(crop, "metadata " + ModelMetadata.IMAGE_CROP);
            b.crop(hw[0], hw[1]);
        }
        if (color != null) {
            b.color(ModelMetadata.choice(ModelMetadata.IMAGE_COLOR, color, Color.class));
        }
        if (layout != null) {
            b.layout(ModelMetadata.choice(ModelMetadata.IMAGE_LAYOUT, layout, Layout.class));
        }
        Optional<float[][]> ms = ModelMetadata.normalization(metadata);
        if (ms.isPresent()) {
            b.normalization(ms.get()[0], ms.get()[1]);
        }
        return Optional.of(b.build());
    }

    /**
     * The metadata entries that store this preprocessing (read back by {@link #fromMetadata(Map)}): always
     * the color and layout, the resize and crop when set, mean and std when set.
     *
     * @return the entries, in a fixed order
     */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        if (resize > 0) {
            m.put(ModelMetadata.IMAGE_RESIZE, Integer.toString(resize));
        }
        if (cropHeight > 0) {
            m.put(ModelMetadata.IMAGE_CROP, cropHeight + "x" + cropWidth);
        }
        m.put(ModelMetadata.IMAGE_COLOR, color.name().toLowerCase(Locale.ROOT));
        m.put(ModelMetadata.IMAGE_LAYOUT, layout.name().toLowerCase(Locale.ROOT));
        if (mean != null) {
            m.put(ModelMetadata.INPUT_MEAN, ModelMetadata.join(mean));
            m.put(ModelMetadata.INPUT_STD, ModelMetadata.join(std));
        }
        return m;
    }

    /** A builder: no resize, no crop, no normalization, RGB, NCHW. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from this preprocessing. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.resize = resize;
        b.cropHeight = cropHeight;
        b.cropWidth = cropWidth;
        b.mean = mean;
        b.std = std;
        b.color = color;
        b.layout = layout;
        return b;
    }

    /** The shorter side after resizing, or 0 for no resize. */
    public int resize() {
        return resize;
    }

    /** The crop height, or 0 for no crop. */
    public int cropHeight() {
        return cropHeight;
    }

    /** The crop width, or 0 for no crop. */
    public int cropWidth() {
        return cropWidth;
    }

    /** The per-channel mean in the model's channel order, or empty for no normalization. */
    public Optional<float[]> mean() {
        return Optional.ofNullable(mean).map(float[]::clone);
    }

    /** The per-channel standard deviation in the model's channel order, or empty for no normalization. */
    public Optional<float[]> std() {
        return Optional.ofNullable(std).map(float[]::clone);
    }

    /** The color channels. */
    public Color color() {
        return color;
    }

    /** The layout. */
    public Layout layout() {
        return layout;
    }

    /** The number of channels, 1 or 3. */
    public int channels() {
        return color.channels();
    }

    /**
     * The {@code [height, width]} of an image of the given size after resizing and cropping.
     *
     * @param height the source height
     * @param width the source width
     * @return the output size
     */
    public int[] outputSize(int height, int width) {
        if (cropHeight > 0) {
            return new int[] {cropHeight, cropWidth};
        }
        return resize > 0 ? resizedSize(height, width) : new int[] {height, width};
    }

    /**
     * Reads a PNG or JPEG file (or any format ImageIO decodes).
     *
     * @param file the image
     * @return the decoded image
     * @throws InvalidInputException naming the file when it cannot be read or decoded
     */
    public static BufferedImage read(Path file) {
        Objects.requireNonNull(file, "file");
        BufferedImage img;
        try (InputStream in = Files.newInputStream(file)) {
            img = ImageIO.read(in);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new InvalidInputException(file + ": image not found (no such file)", e);
        } catch (IOException | RuntimeException e) {
            throw new InvalidInputException(file + ": cannot read the image (" + e + ")", e);
        }
        if (img == null) {
            throw new InvalidInputException(file
                    + ": not an image ImageIO can decode (PNG or JPEG); is it empty, truncated or another format?");
        }
        return img;
    }

    /**
     * Prepares one image: color, resize, crop, scale, normalize, channel order, layout.
     *
     * @param image the decoded image, any size
     * @return {@code channels * H * W} floats in this layout ({@code [C, H, W]} or {@code [H, W, C]})
     */
    public float[] apply(BufferedImage image) {
        byte[] pixels = pixels(image);
        int channels = channels();
        int plane = pixels.length / channels;
        float[] out = new float[pixels.length];
        for (int c = 0; c < channels; c++) {
            for (int i = 0; i < plane; i++) {
                // float32 as ToTensor's div(255), then Normalize's sub_(mean).div_(std), each rounded to float
                float v = (pixels[c * plane + i] & 0xff) / 255f;
                if (mean != null) {
                    v = (v - mean[c]) / std[c];
                }
                out[layout == Layout.NCHW ? c * plane + i : i * channels + c] = v;
            }
        }
        return out;
    }

    /**
     * The 8-bit pixels of one image after the color, resize, crop and channel-order steps, before scaling
     * and normalization: for loading training images the way the model will see them.
     *
     * @param image the decoded image, any size
     * @return {@code channels * H * W} bytes, channels first whatever the layout
     */
    public byte[] pixels(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        int h = image.getHeight();
        int w = image.getWidth();
        byte[][] planes = planes(image, color == Color.GRAY ? 1 : 3);
        if (resize > 0) {
            int[] s = resizedSize(h, w);
            if (s[0] != h || s[1] != w) {
                for (int c = 0; c < planes.length; c++) {
                    planes[c] = PilResample.resize(planes[c], h, w, s[0], s[1]);
                }
                h = s[0];
                w = s[1];
            }
        }
        if (cropHeight > 0) {
            for (int c = 0; c < planes.length; c++) {
                planes[c] = centerCrop(planes[c], h, w, cropHeight, cropWidth);
            }
            h = cropHeight;
            w = cropWidth;
        }
        if (color == Color.BGR) {
            byte[] t = planes[0];
            planes[0] = planes[2];
            planes[2] = t;
        }
        byte[] out = new byte[planes.length * h * w];
        for (int c = 0; c < planes.length; c++) {
            System.arraycopy(planes[c], 0, out, c * h * w, h * w);
        }
        return out;
    }

    /**
     * Prepares a batch of images for a model whose input has the given shape; every image must come out
     * at the input's height and width.
     *
     * @param images the images
     * @param inputShape the model input's shape, {@code [N, C, H, W]} or {@code [N, H, W, C]} by this
     *     layout; -1 (or 0) for a free dimension
     * @return a float32 tensor of shape {@code [images, ...]}
     * @throws InvalidInputException if the channels or an image's prepared size differ from the input's,
     *     saying which resize or crop would fit
     */
    public Tensor toTensor(List<BufferedImage> images, long[] inputShape) {
        Objects.requireNonNull(images, "images");
        if (images.isEmpty()) {
            throw new IllegalArgumentException("no images to prepare");
        }
        if (inputShape.length != 4) {
            throw new InvalidInputException("image preprocessing needs a model input of rank 4 (" + layout + "), got "
                    + Tensor.shapeString(inputShape));
        }
        int ca = layout == Layout.NCHW ? 1 : 3;
        int ha = layout == Layout.NCHW ? 2 : 1;
        long wantC = inputShape[ca];
        if (wantC > 0 && wantC != channels()) {
            throw new InvalidInputException("image preprocessing makes " + channels() + " channel(s) (" + color
                    + ") but the model input " + Tensor.shapeString(inputShape) + " (" + layout + ") has " + wantC
                    + "; store color " + (wantC == 1 ? "gray" : "rgb or bgr") + " in " + ModelMetadata.IMAGE_COLOR);
        }
        float[][] each = new float[images.size()][];
        int[] size = null;
        for (int i = 0; i < images.size(); i++) {
            BufferedImage img = images.get(i);
            int[] s = outputSize(img.getHeight(), img.getWidth());
            long wantH = inputShape[ha];
            long wantW = inputShape[ha + 1];
            if ((wantH > 0 && s[0] != wantH) || (wantW > 0 && s[1] != wantW)) {
                throw new InvalidInputException("image " + i + " (" + img.getWidth() + "x" + img.getHeight()
                        + " pixels) comes out " + s[0] + "x" + s[1] + " (H x W) after " + this + ", but the model"
                        + " input " + Tensor.shapeString(inputShape) + " needs " + wantH + "x" + wantW
                        + "; store a crop of that size in " + ModelMetadata.IMAGE_CROP);
            }
            if (size != null && !Arrays.equals(size, s)) {
                throw new InvalidInputException("images of one batch must come out the same size, but image 0 is "
                        + size[0] + "x" + size[1] + " and image " + i + " is " + s[0] + "x" + s[1]
                        + "; add a crop, or prepare them one at a time");
            }
            size = s;
            each[i] = apply(img);
        }
        int per = each[0].length;
        float[] all = new float[images.size() * per];
        for (int i = 0; i < each.length; i++) {
            System.arraycopy(each[i], 0, all, i * per, per);
        }
        long[] shape = layout == Layout.NCHW
                ? new long[] {images.size(), channels(), size[0], size[1]}
                : new long[] {images.size(), size[0], size[1], channels()};
        return Tensor.of(all, shape);
    }

    /** E.g. {@code resize 256, center crop 224x224, rgb, mean [..], std [..], nchw}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        if (resize > 0) {
            sb.append("resize ").append(resize).append(", ");
        }
        if (cropHeight > 0) {
            sb.append("center crop ")
                    .append(cropHeight)
                    .append('x')
                    .append(cropWidth)
                    .append(", ");
        }
        sb.append(color.name().toLowerCase(Locale.ROOT)).append(" scaled to [0, 1]");
        if (mean != null) {
            sb.append(", mean ")
                    .append(ModelMetadata.join(mean))
                    .append(" std ")
                    .append(ModelMetadata.join(std));
        }
        return sb.append(", ").append(layout.name().toLowerCase(Locale.ROOT)).toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ImagePreprocessing p
                && resize == p.resize
                && cropHeight == p.cropHeight
                && cropWidth == p.cropWidth
                && Arrays.equals(mean, p.mean)
                && Arrays.equals(std, p.std)
                && color == p.color
                && layout == p.layout;
    }

    @Override
    public int hashCode() {
        return Objects.hash(resize, cropHeight, cropWidth, Arrays.hashCode(mean), Arrays.hashCode(std), color, layout);
    }

    // ---------------------------------------------------------------- steps

    /** torchvision's {@code _compute_resized_output_size} for an int size: {h, w}. */
    private int[] resizedSize(int h, int w) {
        int shorter = Math.min(h, w);
        int longer = Math.max(h, w);
        // Python's int(size * long / short): a float64 division, truncated
        int newLong = (int) ((double) ((long) resize * longer) / shorter);
        return w <= h ? new int[] {newLong, resize} : new int[] {resize, newLong};
    }

    /** torchvision's {@code center_crop}: zero padding when the image is smaller, then round-half-even offsets. */
    static byte[] centerCrop(byte[] src, int h, int w, int ch, int cw) {
        int padTop = ch > h ? (ch - h) / 2 : 0;
        int padLeft = cw > w ? (cw - w) / 2 : 0;
        int ph = ch > h ? ch : h;
        int pw = cw > w ? cw : w;
        int top = (int) Math.rint((ph - ch) / 2.0) - padTop;
        int left = (int) Math.rint((pw - cw) / 2.0) - padLeft;
        byte[] out = new byte[ch * cw];
        for (int y = 0; y < ch; y++) {
            int sy = y + top;
            if (sy < 0 || sy >= h) {
                continue;
            }
            for (int x = 0; x < cw; x++) {
                int sx = x + left;
                if (sx >= 0 && sx < w) {
                    out[y * cw + x] = src[sy * w + sx];
                }
            }
        }
        return out;
    }

    /**
     * The image as row-major 8-bit planes of its own size, with Pillow's conversions: R, G, B for 3 channels (a
     * gray image repeated), or one gray plane for 1 (ITU-R 601 luma of a color image, as {@code convert("L")});
     * gray images are read from their raw samples, 16-bit samples scaled to 8 bits. An image with alpha is
     * composited first, over white under dark ink and over black under light ink ({@link
     * #compositeBackground}); Pillow's {@code convert} would drop alpha and keep whatever color transparent
     * pixels store.
     *
     * @param img a decoded image
     * @param channels 1 or 3
     * @return {@code channels} planes of {@code width * height} bytes
     */
    public static byte[][] planes(BufferedImage img, int channels) {
        int w = img.getWidth();
        int h = img.getHeight();
        ColorModel cm = img.getColorModel();
        boolean gray = !(cm instanceof IndexColorModel)
                && cm.getColorSpace().getType() == ColorSpace.TYPE_GRAY
                && cm.getNumColorComponents() == 1;
        byte[][] planes = new byte[channels][w * h];
        boolean alpha = cm.hasAlpha();
        int background = alpha ? compositeBackground(img, gray) : 255;
        if (gray) {
            // raw samples: getRGB would brighten a gray PNG by a gamma conversion
            Raster r = img.getRaster();
            int bits = cm.getComponentSize(0);
            long max = (1L << bits) - 1;
            int alphaBits = alpha ? cm.getComponentSize(1) : 0;
            long alphaMax = (1L << alphaBits) - 1;
            int[] row = new int[w];
            int[] alphaRow = new int[w];
            for (int y = 0; y < h; y++) {
                r.getSamples(0, y, w, 1, 0, row);
                if (alpha) {
                    r.getSamples(0, y, w, 1, 1, alphaRow);
                }
                for (int x = 0; x < w; x++) {
                    int v = bits == 8 ? row[x] : (int) ((row[x] * 255L + max / 2) / max);
                    if (alpha) {
                        v = over(v, (int) ((alphaRow[x] * 255L + alphaMax / 2) / alphaMax), background);
                    }
                    for (int c = 0; c < channels; c++) {
                        planes[c][y * w + x] = (byte) v;
                    }
                }
            }
            return planes;
        }
        int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
        for (int i = 0; i < argb.length; i++) {
            int r = (argb[i] >> 16) & 0xff;
            int g = (argb[i] >> 8) & 0xff;
            int b = argb[i] & 0xff;
            if (alpha) {
                int a = (argb[i] >>> 24) & 0xff;
                r = over(r, a, background);
                g = over(g, a, background);
                b = over(b, a, background);
            }
            if (channels == 3) {
                planes[0][i] = (byte) r;
                planes[1][i] = (byte) g;
                planes[2][i] = (byte) b;
            } else {
                planes[0][i] = (byte) ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
            }
        }
        return planes;
    }

    /**
     * A color value with its alpha (0-255) composited over a background gray level: {@code v * a + bg * (1 - a)},
     * rounded. Transparent pixels keep no color of their own, whatever their stored RGB (often black) is.
     */
    static int over(int v, int a, int background) {
        return (v * a + background * (255 - a) + 127) / 255;
    }

    /**
     * The background a transparent image is composited over: one that contrasts with what is drawn on it,
     * white (255) under dark ink and black (0) under light ink, judged by the mean gray level of the pixels that
     * are at least half opaque; white when there are none. A digit drawn on a transparent canvas stays visible
     * whatever its color (over a fixed white, white strokes would vanish; over black, black ones).
     */
    private static int compositeBackground(BufferedImage img, boolean gray) {
        int w = img.getWidth();
        int h = img.getHeight();
        long sum = 0;
        long n = 0;
        if (gray) {
            Raster r = img.getRaster();
            ColorModel cm = img.getColorModel();
            long max = (1L << cm.getComponentSize(0)) - 1;
            long alphaMax = (1L << cm.getComponentSize(1)) - 1;
            int[] row = new int[w];
            int[] alphaRow = new int[w];
            for (int y = 0; y < h; y++) {
                r.getSamples(0, y, w, 1, 0, row);
                r.getSamples(0, y, w, 1, 1, alphaRow);
                for (int x = 0; x < w; x++) {
                    if (alphaRow[x] * 2 >= alphaMax) {
                        sum += row[x] * 255L / max;
                        n++;
                    }
                }
            }
        } else {
            int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
            for (int p : argb) {
                if (((p >>> 24) & 0xff) >= 128) {
                    sum += (((p >> 16) & 0xff) * 19595 + ((p >> 8) & 0xff) * 38470 + (p & 0xff) * 7471 + 0x8000) >> 16;
                    n++;
                }
            }
        }
        return n == 0 || sum < 128 * n ? 255 : 0;
    }

    /**
     * The mean brightness (0 dark to 1 light) of an image's border: the outermost row and column of pixels all
     * around, alpha composited over white, gray as {@link #planes} makes it. A digit or object is usually in the
     * middle; the border shows the background, so it tells a light-on-dark image from a dark-on-light one.
     */
    public static double borderBrightness(BufferedImage img) {
        byte[] p = planes(img, 1)[0];
        int w = img.getWidth();
        int h = img.getHeight();
        long sum = 0;
        int n = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (y == 0 || y == h - 1 || x == 0 || x == w - 1) {
                    sum += p[y * w + x] & 0xff;
                    n++;
                }
            }
        }
        return n == 0 ? 0 : sum / (255.0 * n);
    }

    private static int positiveOrZero(String text, String what, String where) {
        try {
            int v = Integer.parseInt(text.trim());
            if (v >= 0) {
                return v;
            }
        } catch (NumberFormatException e) {
            // fall through to the message
        }
        throw new IllegalArgumentException(what + " '" + text + "' of '" + where + " must be a whole number >= 0");
    }

    /** Builds an {@link ImagePreprocessing}. */
    public static final class Builder {
        private int resize;
        private int cropHeight;
        private int cropWidth;
        private float[] mean;
        private float[] std;
        private boolean imagenet;
        private Color color = Color.RGB;
        private Layout layout = Layout.NCHW;

        private Builder() {}

        /** Resize so that the shorter side is {@code shorter} pixels (torchvision's {@code Resize(int)}). */
        public Builder resize(int shorter) {
            if (shorter < 1) {
                throw new IllegalArgumentException("resize: the shorter side must be >= 1 pixel, got " + shorter);
            }
            this.resize = shorter;
            return this;
        }

        /** No resize. */
        public Builder noResize() {
            this.resize = 0;
            return this;
        }

        /** Center crop to {@code height x width} (torchvision's {@code CenterCrop((h, w))}). */
        public Builder crop(int height, int width) {
            if (height < 1 || width < 1) {
                throw new IllegalArgumentException("crop: height and width must be >= 1, got " + height + "x" + width);
            }
            this.cropHeight = height;
            this.cropWidth = width;
            return this;
        }

        /** No crop. */
        public Builder noCrop() {
            this.cropHeight = 0;
            this.cropWidth = 0;
            return this;
        }

        /**
         * Normalize with this per-channel mean and standard deviation, in the model's channel order (B, G, R
         * for {@link Color#BGR}).
         */
        public Builder normalization(float[] mean, float[] std) {
            Objects.requireNonNull(mean, "mean");
            Objects.requireNonNull(std, "std");
            if (mean.length != std.length) {
                throw new IllegalArgumentException("normalization: " + mean.length + " means but " + std.length
                        + " standard deviations; give one of each per channel");
            }
            for (float s : std) {
                if (!(s > 0) || Float.isInfinite(s)) {
                    throw new IllegalArgumentException("normalization: standard deviations must be positive and"
                            + " finite, got " + Arrays.toString(std));
                }
            }
            this.mean = mean.clone();
            this.std = std.clone();
            this.imagenet = false;
            return this;
        }

        /**
         * Normalize with {@link #IMAGENET_MEAN} and {@link #IMAGENET_STD}, put in B, G, R order if the color is
         * (or becomes) {@link Color#BGR}; needs a three-channel color.
         */
        public Builder imagenetNormalization() {
            this.imagenet = true;
            this.mean = null;
            this.std = null;
            return this;
        }

        /** No normalization: values in [0, 1]. */
        public Builder noNormalization() {
            this.imagenet = false;
            this.mean = null;
            this.std = null;
            return this;
        }

        /** The color channels (default RGB). */
        public Builder color(Color color) {
            this.color = Objects.requireNonNull(color, "color");
            return this;
        }

        /** The layout (default NCHW). */
        public Builder layout(Layout layout) {
            this.layout = Objects.requireNonNull(layout, "layout");
            return this;
        }

        /**
         * Builds the preprocessing.
         *
         * @throws IllegalArgumentException if the normalization has another number of channels than the color
         */
        public ImagePreprocessing build() {
            if (imagenet) {
                if (color == Color.GRAY) {
                    throw new IllegalArgumentException(
                            "ImageNet normalization has 3 channels but the color is gray; give a 1-channel mean/std");
                }
                mean = IMAGENET_MEAN.clone();
                std = IMAGENET_STD.clone();
                if (color == Color.BGR) {
                    mean = new float[] {mean[2], mean[1], mean[0]};
                    std = new float[] {std[2], std[1], std[0]};
                }
            }
            if (mean != null && mean.length == 1 && color.channels() == 3) {
                // one value for all channels, as Normalize.of(mean, std)
                mean = new float[] {mean[0], mean[0], mean[0]};
                std = new float[] {std[0], std[0], std[0]};
            }
            if (mean != null && mean.length != color.channels()) {
                throw new IllegalArgumentException("normalization has " + mean.length + " channel(s) but color "
                        + color.name().toLowerCase(Locale.ROOT) + " has " + color.channels()
                        + "; give one mean and std per channel");
            }
            ImagePreprocessing p = new ImagePreprocessing(this);
            if (imagenet) {
                mean = null;
                std = null;
            }
            return p;
        }
    }
}
