package dev.forge.cli;

import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.ImagePreprocessing.Color;
import dev.forge.runtime.ImagePreprocessing.Layout;
import dev.forge.runtime.ModelMetadata;
import java.util.Arrays;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * {@code --preprocess NORM:RESIZE:CROP}, {@code --color}, {@code --layout}: the image preprocessing a
 * command writes into a model's metadata ({@link ImagePreprocessing}), for {@code forge train} and {@code
 * forge export}.
 */
final class PreprocessOptions {
    @Option(
            names = "--preprocess",
            paramLabel = "NORM:RESIZE:CROP",
            description = "Store how images are prepared for this model (" + ModelMetadata.IMAGE_RESIZE + ", "
                    + ModelMetadata.IMAGE_CROP + ", ...), so that forge predict and Model.predict take a PNG or"
                    + " JPEG of any size: shorter side resized to RESIZE (0: none) with Pillow's antialiased"
                    + " bilinear filter, center crop CROP (N or HxW, the input's size), scaled to [0, 1], then"
                    + " NORM: imagenet (ImageNet mean/std), unit (none) or MEAN/STD (e.g. 0.5/0.25, or"
                    + " 0.49,0.48,0.45/0.25,0.24,0.26). E.g. imagenet:256:224.")
    String preprocess;

    @Option(
            names = "--color",
            paramLabel = "COLOR",
            description = "With --preprocess: rgb, bgr or gray (default: gray for a 1-channel input, else rgb).")
    String color;

    @Option(names = "--layout", paramLabel = "LAYOUT", description = "With --preprocess: nchw or nhwc (default: nchw).")
    String layout;

    /**
     * The preprocessing these flags describe for a model with this input, or null without {@code
     * --preprocess}.
     *
     * @param inputShape the model input's shape with the batch axis, e.g. [N, 3, 224, 224]
     * @throws IllegalArgumentException if a flag does not parse, or the crop or channels do not fit the input
     */
    ImagePreprocessing toPreprocessing(long[] inputShape) {
        if (preprocess == null) {
            if (color != null || layout != null) {
                throw new IllegalArgumentException("--color and --layout refine --preprocess; give --preprocess too");
            }
            return null;
        }
        Layout l = layout == null ? Layout.NCHW : choice("--layout", layout, Layout.class);
        if (inputShape.length != 4) {
            throw new IllegalArgumentException("--preprocess needs an image input [N, C, H, W] or [N, H, W, C], got "
                    + Arrays.toString(inputShape));
        }
        int ca = l == Layout.NCHW ? 1 : 3;
        int ha = l == Layout.NCHW ? 2 : 1;
        Color c = color != null ? choice("--color", color, Color.class) : inputShape[ca] == 1 ? Color.GRAY : Color.RGB;
        ImagePreprocessing p;
        try {
            p = ImagePreprocessing.parse(preprocess, c).toBuilder().layout(l).build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--preprocess: " + e.getMessage(), e);
        }
        if (inputShape[ca] > 0 && inputShape[ca] != p.channels()) {
            throw new IllegalArgumentException("--color " + c.name().toLowerCase(Locale.ROOT) + " makes "
                    + p.channels() + " channel(s) but the model input " + Arrays.toString(inputShape) + " has "
                    + inputShape[ca]);
        }
        long h = inputShape[ha];
        long w = inputShape[ha + 1];
        if (p.cropHeight() == 0 || (h > 0 && p.cropHeight() != h) || (w > 0 && p.cropWidth() != w)) {
            throw new IllegalArgumentException("--preprocess " + preprocess + ": the crop must be the model input's"
                    + " height x width " + h + "x" + w + " (input " + Arrays.toString(inputShape) + "), e.g. "
                    + preprocess.substring(0, preprocess.lastIndexOf(':') + 1) + h + "x" + w);
        }
        return p;
    }

    private static <E extends Enum<E>> E choice(String flag, String text, Class<E> type) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(text.trim())) {
                return e;
            }
        }
        StringBuilder names = new StringBuilder();
        for (E e : type.getEnumConstants()) {
            names.append(names.length() == 0 ? "" : ", ").append(e.name().toLowerCase(Locale.ROOT));
        }
        throw new IllegalArgumentException(flag + " '" + text + "' is not one of " + names);
    }
}
