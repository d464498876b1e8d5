package dev.forge.cli;

import dev.forge.compiler.data.Datasets;
import dev.forge.compiler.data.ImageFolder;
import dev.forge.compiler.data.Normalize;
import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Prediction;
import dev.forge.runtime.Tensor;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code forge predict MODEL.onnx IMAGE...}: the top-k classes of each image, with labels. */
@Command(
        name = "predict",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Classify PNG or JPEG images with a model and print the top-k classes.",
            "",
            "A model that stores its image preprocessing (" + ModelMetadata.IMAGE_RESIZE + ", "
                    + ModelMetadata.IMAGE_CROP
                    + ", ...: forge export/train --preprocess) takes a PNG or JPEG of any size:"
                    + " each is resized, center-cropped, scaled and normalized as the model was trained"
                    + " (torchvision's Resize, CenterCrop, ToTensor, Normalize on PIL images).",
            "For other models each image is converted to the model's input (gray or RGB, resized straight to its"
                    + " height and width), scaled to [0, 1] and normalized with the model's "
                    + ModelMetadata.INPUT_MEAN + "/" + ModelMetadata.INPUT_STD + " metadata.",
            "Labels come from " + ModelMetadata.CLASS_LABELS + "."
        })
final class PredictCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The classifier.")
    private Path model;

    @Parameters(index = "1..*", arity = "0..*", paramLabel = "IMAGE", description = "PNG or JPEG files.")
    private List<Path> images = List.of();

    @Option(
            names = "--data",
            paramLabel = "DATASET",
            description = "Instead of files: the first --count test images of a data set (" + DataSpec.HELP
                    + "), shown with their true labels.")
    private String data;

    @Option(
            names = "--count",
            paramLabel = "N",
            defaultValue = "10",
            description = "Images to take with --data (default: ${DEFAULT-VALUE}).")
    private int count;

    @Option(
            names = "--top",
            paramLabel = "K",
            defaultValue = "3",
            description = "Classes to show per image (default: ${DEFAULT-VALUE}).")
    private int top;

    @Mixin
    private RuntimeOptions runtime;

    /** Predicts the first {@code count} test images of a data set, next to their true labels. */
    private Integer fromData(Model m, long[] sampleShape, Normalize norm) {
        Datasets.Split d = Datasets.open(data, sampleShape, ModelEvaluator.classes(m), true, norm, null);
        int n = Math.min(count, d.test().size());
        if (n < 1) {
            throw new IllegalArgumentException("--count must be at least 1");
        }
        int size = d.test().sampleSize();
        float[] batch = new float[n * size];
        for (int i = 0; i < n; i++) {
            d.test().copySample(i, batch, i * size);
        }
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = n;
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        List<List<Prediction>> result = m.topK(Tensor.of(batch, shape), top);
        PrintWriter out = spec.commandLine().getOut();
        int correct = 0;
        List<String> names = d.test().classNames();
        // a class is its index, as in training and Evaluation; names are only how it is shown
        for (int i = 0; i < n; i++) {
            int label = (int) d.test().label(i);
            String truth = names != null && label < names.size() ? names.get(label) : Integer.toString(label);
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "test image %d (true %s):", i, truth));
            for (Prediction p : result.get(i)) {
                sb.append(String.format(Locale.ROOT, "  %s %.4f", p.label(), p.probability()));
            }
            if (result.get(i).get(0).index() == label) {
                correct++;
            }
            out.println(sb);
        }
        out.printf(Locale.ROOT, "%d of %d correct%n", correct, n);
        out.flush();
        return 0;
    }

    /** Prepares each image file as the model's stored preprocessing says (any size) and prints its top classes. */
    private Integer withPreprocessing(Model m, ImagePreprocessing p) {
        List<BufferedImage> decoded = new ArrayList<>();
        for (Path f : images) {
            BufferedImage img = ImagePreprocessing.read(f);
            warnIfInverted(m, f, ImagePreprocessing.borderBrightness(img));
            decoded.add(img);
        }
        // one batch when every image comes out the same size (always, with a crop), else one at a time
        List<List<Prediction>> result = new ArrayList<>();
        if (p.cropHeight() > 0) {
            result.addAll(m.predict(decoded, p, top));
        } else {
            for (BufferedImage img : decoded) {
                result.add(m.predict(List.of(img), p, top).get(0));
            }
        }
        print(result);
        return 0;
    }

    /**
     * Warns when an image's background is the opposite of the training images' ({@link
     * ModelMetadata#IMAGE_BACKGROUND}): black-on-white digits given to a model trained on MNIST's white-on-black
     * are classified as something, confidently and wrongly.
     */
    private static void warnIfInverted(Model m, Path file, double border) {
        Optional<String> trained = ModelMetadata.imageBackground(m.metadata());
        if (trained.isEmpty()) {
            return;
        }
        String seen = border > 0.7 ? "light" : border < 0.3 ? "dark" : null;
        if (seen != null && !seen.equals(trained.get())) {
            System.getLogger(PredictCommand.class.getName())
                    .log(
                            System.Logger.Level.WARNING,
                            String.format(
                                    Locale.ROOT,
                                    "%s has a %s background (border brightness %.2f) but the model was trained on"
                                            + " images with a %s background: it sees this one inverted; invert"
                                            + " the image (ImageMagick: convert IN -negate OUT; Pillow:"
                                            + " ImageOps.invert) before predicting",
                                    file,
                                    seen,
                                    border,
                                    trained.get()));
        }
    }

    /** The mean of the outermost pixels of [C, H, W] bytes, 0 (dark) to 1 (light). */
    static double borderBrightness(byte[] pixels, int c, int h, int w) {
        long sum = 0;
        long n = 0;
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    if (y == 0 || y == h - 1 || x == 0 || x == w - 1) {
                        sum += pixels[ch * h * w + y * w + x] & 0xff;
                        n++;
                    }
                }
            }
        }
        return n == 0 ? 0 : sum / (255.0 * n);
    }

    private void print(List<List<Prediction>> result) {
        PrintWriter out = spec.commandLine().getOut();
        for (int i = 0; i < images.size(); i++) {
            StringBuilder sb = new StringBuilder(images.get(i).toString()).append(':');
            for (Prediction p : result.get(i)) {
                sb.append(String.format(Locale.ROOT, "  %s %.4f", p.label(), p.probability()));
            }
            out.println(sb);
        }
        out.flush();
    }

    @Override
    public Integer call() {
        try (Model m = Model.load(model, runtime.toModelOptions())) {
            Optional<ImagePreprocessing> stored = m.imagePreprocessing();
            if (stored.isPresent() && data == null) {
                if (images.isEmpty()) {
                    throw new IllegalArgumentException("give IMAGE files or --data DATASET");
                }
                return withPreprocessing(m, stored.get());
            }
            long[] s = ModelEvaluator.sampleShape(m);
            if (s.length != 3 || (s[0] != 1 && s[0] != 3)) {
                throw new IllegalArgumentException(model + ": predict needs an image input [N, 1 or 3, H, W], got "
                        + m.inputs().get(0));
            }
            int c = (int) s[0];
            int h = (int) s[1];
            int w = (int) s[2];
            Normalize norm = ModelEvaluator.normalization(m.metadata());
            if (data != null) {
                return fromData(m, s, norm);
            }
            if (images.isEmpty()) {
                throw new IllegalArgumentException("give IMAGE files or --data DATASET");
            }
            float[] batch = new float[images.size() * c * h * w];
            for (int i = 0; i < images.size(); i++) {
                byte[] pixels = ImageFolder.decode(images.get(i), c, h, w);
                warnIfInverted(m, images.get(i), borderBrightness(pixels, c, h, w));
                for (int k = 0; k < pixels.length; k++) {
                    batch[i * pixels.length + k] = (pixels[k] & 0xFF) / 255f;
                }
                if (norm != null) {
                    norm.apply(batch, i * pixels.length, c, h * w);
                }
            }
            print(m.topK(Tensor.of(batch, images.size(), c, h, w), top));
        }
        return 0;
    }
}
