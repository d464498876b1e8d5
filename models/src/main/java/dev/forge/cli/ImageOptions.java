package dev.forge.cli;

import dev.forge.compiler.data.Augmentation;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Normalize;
import dev.forge.compiler.train.ExportOptions;
import dev.forge.runtime.ImagePreprocessing;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The image flags of {@code forge train}: the preprocessing stored in the exported model ({@link
 * PreprocessOptions}; folder images are then decoded through it, and its mean/std normalize the data) and
 * {@code --augment} for the training set.
 */
final class ImageOptions {
    @Mixin
    PreprocessOptions preprocessing;

    @Option(
            names = "--augment",
            paramLabel = "LIST",
            description = "Augment the training images (never the test set), seeded by --seed and reproducible:"
                    + " a comma-separated list of crop (random resized crop, scale 0.08-1, ratio 3/4-4/3), flip"
                    + " (horizontal, p 0.5) and jitter (brightness, contrast, saturation 0.2). E.g."
                    + " crop,flip,jitter.")
    String augment;

    private ImagePreprocessing resolved;
    private boolean done;

    /** The preprocessing for a model with this input, or null without {@code --preprocess}. */
    ImagePreprocessing preprocessing(long[] inputShape) {
        if (!done) {
            resolved = preprocessing.toPreprocessing(inputShape);
            done = true;
        }
        return resolved;
    }

    /** The data normalization: the preprocessing's mean/std when it has them, else {@code fallback}. */
    Normalize normalize(long[] inputShape, Normalize fallback) {
        ImagePreprocessing p = preprocessing(inputShape);
        if (p == null || p.mean().isEmpty()) {
            return fallback;
        }
        return Normalize.of(p.mean().get(), p.std().get());
    }

    /** The training set, augmented when {@code --augment} is given. */
    Dataset augment(Dataset train) {
        if (augment == null) {
            return train;
        }
        try {
            return Augmentation.parse(augment).apply(train);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--augment: " + e.getMessage(), e);
        }
    }

    /** Records the preprocessing, if any, in the exported model's metadata. */
    void addTo(ExportOptions.Builder export, long[] inputShape) {
        ImagePreprocessing p = preprocessing(inputShape);
        if (p != null) {
            export.preprocessing(p);
        }
    }
}
