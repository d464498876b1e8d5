package dev.forge.runtime;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code metadata_props} keys Forge writes into the models it exports and reads back when it runs
 * them, with small parsers for their values. One spelling for the trainer, the exporter, the command
 * line and {@link Model}.
 */
public final class ModelMetadata {
    /** Comma-separated class names, one per output class ({@link Model#topK}). */
    public static final String CLASS_LABELS = "class_labels";
    /** Comma-separated per-channel mean the model's inputs were normalized with: {@code (x - mean) / std}. */
    public static final String INPUT_MEAN = "input_mean";
    /** Comma-separated per-channel standard deviation of the input normalization. */
    public static final String INPUT_STD = "input_std";
    /**
     * Image preprocessing ({@link ImagePreprocessing}): the shorter side in pixels after resizing, e.g.
     * {@code 256}.
     */
    public static final String IMAGE_RESIZE = "image_resize";
    /** Image preprocessing: the center crop, {@code HxW} (e.g. {@code 224x224}) or one number for a square. */
    public static final String IMAGE_CROP = "image_crop";
    /** Image preprocessing: the color channels the model reads, {@code rgb}, {@code bgr} or {@code gray}. */
    public static final String IMAGE_COLOR = "image_color";
    /** Image preprocessing: the input layout, {@code nchw} or {@code nhwc}. */
    public static final String IMAGE_LAYOUT = "image_layout";
    /** A one-line summary of the training run (network, data, optimizer, loss, steps, final loss). */
    public static final String TRAINING = "training";
    /** The {@code producer_name} of models Forge writes. */
    public static final String PRODUCER_NAME = "forge";

    /**
     * Key: the background of the training images, {@code dark} (light strokes on black, like MNIST) or
     * {@code light}; {@code forge predict} warns when an image's background is the other one.
     */
    public static final String IMAGE_BACKGROUND = "image_background";

    private ModelMetadata() {}

    /**
     * The training images' background of {@link #IMAGE_BACKGROUND}.
     *
     * @return {@code dark} or {@code light}; empty when absent or another value
     */
    public static Optional<String> imageBackground(Map<String, String> metadata) {
        String v = metadata.get(IMAGE_BACKGROUND);
        return "dark".equals(v) || "light".equals(v) ? Optional.of(v) : Optional.empty();
    }

    /**
     * The class labels of {@link #CLASS_LABELS}, trimmed.
     *
     * @param metadata a model's metadata
     * @return the labels, empty when the key is absent
     */
    public static List<String> classLabels(Map<String, String> metadata) {
        String text = metadata.get(CLASS_LABELS);
        if (text == null || text.isEmpty()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String s : text.split(",", -1)) {
            out.add(s.trim());
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * The input normalization of {@link #INPUT_MEAN} and {@link #INPUT_STD}.
     *
     * @param metadata a model's metadata
     * @return {mean, std}, or empty when either key is absent
     * @throws IllegalArgumentException if a value is not a list of numbers, the two lengths differ, or a
     *     standard deviation is not positive
     */
    public static Optional<float[][]> normalization(Map<String, String> metadata) {
        String mean = metadata.get(INPUT_MEAN);
        String std = metadata.get(INPUT_STD);
        if (mean == null || std == null) {
            return Optional.empty();
        }
        float[] m = floats(INPUT_MEAN, mean);
        float[] s = floats(INPUT_STD, std);
        if (m.length != s.length) {
            throw new IllegalArgumentException("metadata " + INPUT_MEAN + " has " + m.length + " values but "
                    + INPUT_STD + " has " + s.length + "; give one per channel in both");
        }
        for (float v : s) {
            if (!(v > 0) || Float.isInfinite(v)) {
                throw new IllegalArgumentException(
                        "metadata " + INPUT_STD + " = '" + std + "' must hold positive finite values");
            }
        }
        return Optional.of(new float[][] {m, s});
    }

    /**
     * Formats values as this metadata stores them: comma-separated, Java's shortest float text.
     *
     * @param values the values
     * @return e.g. {@code 0.5,0.5,0.5}
     */
    public static String join(float[] values) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? "" : ",").append(values[i]);
        }
        return sb.toString();
    }

    /**
     * Parses an image size: {@code N} (a square, or one length) or {@code HxW}.
     *
     * @param text the value
     * @param what the key or option, for the message
     * @return {height, width}, both at least 1
     * @throws IllegalArgumentException naming {@code what} and the expected form
     */
    static int[] size(String text, String what) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        String[] p = t.split("x", -1);
        try {
            if (p.length == 1 || p.length == 2) {
                int h = Integer.parseInt(p[0].trim());
                int w = p.length == 2 ? Integer.parseInt(p[1].trim()) : h;
                if (h >= 1 && w >= 1) {
                    return new int[] {h, w};
                }
            }
        } catch (NumberFormatException e) {
            // fall through to the message
        }
        throw new IllegalArgumentException(
                what + " = '" + text + "' is not a size; expected N or HxW with whole numbers >= 1, e.g. 224x224");
    }

    /** Parses an enum constant by its lower-case name, listing the valid ones in the error. */
    static <E extends Enum<E>> E choice(String key, String text, Class<E> type) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(text.trim())) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(e.name().toLowerCase(java.util.Locale.ROOT));
        }
        throw new IllegalArgumentException(
                "metadata " + key + " = '" + text + "' is not one of " + String.join(", ", names));
    }

    private static float[] floats(String key, String csv) {
        String[] p = csv.split(",", -1);
        float[] out = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            try {
                out[i] = Float.parseFloat(p[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "metadata " + key + " = '" + csv + "' is not a comma-separated list of numbers", e);
            }
        }
        return out;
    }
}
