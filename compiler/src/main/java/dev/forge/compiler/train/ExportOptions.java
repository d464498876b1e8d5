package dev.forge.compiler.train;

import dev.forge.compiler.data.Normalize;
import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.ModelMetadata;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What an exported model carries besides its weights: class labels, the input normalization, a training
 * summary and any other {@code metadata_props} entries (keys in {@link ModelMetadata}). Immutable; build
 * with {@link #builder()}.
 */
public final class ExportOptions {
    private static final ExportOptions DEFAULTS = builder().build();

    private final List<String> classLabels;
    private final Normalize normalization;
    private final String trainingSummary;
    private final ImagePreprocessing preprocessing;
    private final Map<String, String> metadata;

    private ExportOptions(Builder b) {
        this.classLabels = b.classLabels;
        this.normalization = b.normalization;
        this.trainingSummary = b.trainingSummary;
        this.preprocessing = b.preprocessing;
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(b.metadata));
    }

    /** Class labels of a classifier's training data, no normalization, a generated summary. */
    public static ExportOptions defaults() {
        return DEFAULTS;
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** The class labels, or null for those of the training data (classifiers only). */
    public List<String> classLabels() {
        return classLabels;
    }

    /** The input normalization to record, or null for none. */
    public Normalize normalization() {
        return normalization;
    }

    /** The training summary, or null for the generated one. */
    public String trainingSummary() {
        return trainingSummary;
    }

    /** The image preprocessing to record, or null for none. */
    public ImagePreprocessing preprocessing() {
        return preprocessing;
    }

    /** Further metadata entries, in insertion order. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Builds {@link ExportOptions}. */
    public static final class Builder {
        private List<String> classLabels;
        private Normalize normalization;
        private String trainingSummary;
        private ImagePreprocessing preprocessing;
        private final Map<String, String> metadata = new LinkedHashMap<>();

        private Builder() {}

        /** The class labels, one per output class ({@link ModelMetadata#CLASS_LABELS}); default: the training data's. */
        public Builder classLabels(List<String> labels) {
            for (String l : labels) {
                if (l.contains(",")) {
                    throw new IllegalArgumentException("class label '" + l
                            + "' contains a comma, which separates labels in " + ModelMetadata.CLASS_LABELS);
                }
            }
            this.classLabels = List.copyOf(labels);
            return this;
        }

        /**
         * The per-channel normalization the inputs were trained with ({@link ModelMetadata#INPUT_MEAN},
         * {@link ModelMetadata#INPUT_STD}), so that {@code ModelOptions.normalizeInputs(true)} and
         * {@code forge predict} apply it to raw inputs.
         */
        public Builder normalization(Normalize normalization) {
            this.normalization = Objects.requireNonNull(normalization, "normalization");
            return this;
        }

        /** The one-line training summary ({@link ModelMetadata#TRAINING}); default: optimizer, loss, batch, steps, final loss. */
        public Builder trainingSummary(String summary) {
            this.trainingSummary = Objects.requireNonNull(summary, "summary");
            return this;
        }

        /**
         * How the model's images are prepared ({@link ImagePreprocessing#toMetadata()}: {@link
         * ModelMetadata#IMAGE_RESIZE}, {@link ModelMetadata#IMAGE_CROP}, {@link ModelMetadata#IMAGE_COLOR},
         * {@link ModelMetadata#IMAGE_LAYOUT}), so that {@code Model.predict(Path, int)} and {@code forge
         * predict} take an image file of any size. Its mean and std, when it has them, go to {@link
         * ModelMetadata#INPUT_MEAN}/{@link ModelMetadata#INPUT_STD}; {@link #normalization}, if also given,
         * must then be the same (a model is trained with one normalization).
         */
        public Builder preprocessing(ImagePreprocessing preprocessing) {
            this.preprocessing = Objects.requireNonNull(preprocessing, "preprocessing");
            return this;
        }

        /** Any other metadata entry; written after the ones above. */
        public Builder metadata(String key, String value) {
            metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Builds the options.
         *
         * @throws IllegalArgumentException if the normalization and the preprocessing's mean and std differ,
         *     or their channel counts do
         */
        public ExportOptions build() {
            if (preprocessing != null && normalization != null) {
                int channels = preprocessing.channels();
                float[] mean = perChannel(normalization.mean(), channels);
                float[] std = perChannel(normalization.std(), channels);
                if (preprocessing.mean().isEmpty()) {
                    // the preprocessing takes the data's normalization, one value per channel
                    preprocessing =
                            preprocessing.toBuilder().normalization(mean, std).build();
                } else if (!Arrays.equals(mean, preprocessing.mean().get())
                        || !Arrays.equals(std, preprocessing.std().get())) {
                    throw new IllegalArgumentException("ExportOptions: the normalization " + normalization
                            + " differs from the preprocessing's (" + preprocessing + "); a model is trained with"
                            + " one normalization: give the same, or only one of them");
                }
            }
            return new ExportOptions(this);
        }

        /** One value per channel: a single value repeated, or the values as they are. */
        private static float[] perChannel(float[] v, int channels) {
            if (v.length == channels) {
                return v;
            }
            if (v.length != 1) {
                throw new IllegalArgumentException("ExportOptions: the normalization has " + v.length
                        + " values but the preprocessing has " + channels + " channel(s)");
            }
            float[] out = new float[channels];
            Arrays.fill(out, v[0]);
            return out;
        }
    }
}
