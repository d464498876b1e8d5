package dev.forge.compiler.train;

import dev.forge.compiler.data.Normalize;
import dev.forge.runtime.ModelMetadata;
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
    private final Map<String, String> metadata;

    private ExportOptions(Builder b) {
        this.classLabels = b.classLabels;
        this.normalization = b.normalization;
        this.trainingSummary = b.trainingSummary;
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

    /** Further metadata entries, in insertion order. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Builds {@link ExportOptions}. */
    public static final class Builder {
        private List<String> classLabels;
        private Normalize normalization;
        private String trainingSummary;
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

        /** Any other metadata entry; written after the ones above. */
        public Builder metadata(String key, String value) {
            metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** Builds the options. */
        public ExportOptions build() {
            return new ExportOptions(this);
        }
    }
}
