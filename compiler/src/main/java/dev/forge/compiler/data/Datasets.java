package dev.forge.compiler.data;

import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Opens a training and test split by a short spec, the form the {@code forge} command line's {@code --data}
 * takes: {@code mnist}, {@code fashion-mnist} (or {@code fashion-mnist:DIR}, the four IDX files in another
 * directory), {@code cifar10:DIR} (the binary batches, normalized with mean 0.5 and std 0.5 unless another
 * normalization is given), {@code folder:DIR} ({@code DIR/train/<class>/*.png} and {@code DIR/test/<class>/...},
 * decoded to the model's [C, H, W]) or {@code random}: for a regression the seed's SimpleNet experiment (one
 * standard-normal input and target), for a classifier {@value #RANDOM_SAMPLES} standard-normal inputs with
 * random int64 class labels; train and test alike, the same every time.
 *
 * <pre>{@code
 * Datasets.Split data = Datasets.open("cifar10:/data/cifar-10-batches-bin", new long[] {3, 32, 32}, 10, null);
 * TrainingResult r = Training.of(net).fit(data.train(), data.test());
 * }</pre>
 */
public final class Datasets {
    /** The kinds of spec, the part before any {@code ':'}. */
    public static final Set<String> KINDS = Set.of("mnist", "fashion-mnist", "cifar10", "folder", "npy", "random");

    /** The forms of a spec, for messages and help. */
    public static final String FORMS =
            "mnist, fashion-mnist[:DIR] (IDX files, gzipped or not), cifar10:DIR (data_batch_*.bin, test_batch.bin), "
                    + "folder:DIR (DIR/train/<class>/*.png|jpg and DIR/test/<class>/...), npy:X.npy,Y.npy[,TEST_X.npy,TEST_Y.npy]"
                    + " (NumPy inputs and integer labels; without test files both splits are these), or random (random inputs"
                    + " shaped for the model: with random class labels for a classifier, one random target for a"
                    + " regression)";

    /** The number of samples of {@code random} for a classifier. */
    public static final int RANDOM_SAMPLES = 128;

    private Datasets() {}

    /**
     * A training and a test set, with the normalization applied to both.
     *
     * @param train the training set
     * @param test the test set
     * @param normalize the per-channel normalization applied to both (null for none)
     */
    public record Split(Dataset train, Dataset test, Normalize normalize) {
        public Split {
            Objects.requireNonNull(train, "train");
            Objects.requireNonNull(test, "test");
        }

        /** The class names of the training set, or an empty list for regression. */
        public List<String> classNames() {
            List<String> names = train.classNames();
            return names == null ? List.of() : names;
        }
    }

    /**
     * Opens the data set a spec names, for a model whose input samples have shape {@code sampleShape}.
     *
     * @param spec e.g. {@code mnist} or {@code cifar10:/data/cifar-10-batches-bin} (see the class comment)
     * @param sampleShape the model input without the batch axis, e.g. {@code [1, 28, 28]}; the data must match it
     * @param outputs the model's output size: the target size of {@code random} (unused by the other kinds)
     * @param normalize the normalization to apply, or null for the data set's default (CIFAR-10: 0.5/0.5, others
     *     none)
     * @return the two splits, normalized
     * @throws IllegalArgumentException for an unknown kind, a missing directory or samples of another shape
     * @throws DatasetException for a missing or malformed data file
     */
    public static Split open(String spec, long[] sampleShape, int outputs, Normalize normalize) {
        return open(spec, sampleShape, outputs, normalize, null);
    }

    /**
     * {@link #open(String, long[], int, Normalize)}, decoding {@code folder:DIR} images with a model's image
     * preprocessing ({@link ImageFolder#load(Path, ImagePreprocessing, boolean)}: shorter-side resize and
     * center crop, as at inference) instead of resizing them straight to the input size. The other kinds
     * hold images of a fixed size and ignore it; its mean and std are not applied (pass them as {@code
     * normalize}).
     *
     * @param preprocessing the preprocessing, or null to resize folder images straight to the input size
     */
    public static Split open(
            String spec, long[] sampleShape, int outputs, Normalize normalize, ImagePreprocessing preprocessing) {
        return open(spec, sampleShape, outputs, false, normalize, preprocessing);
    }

    /**
     * {@link #open(String, long[], int, Normalize, ImagePreprocessing)} for a model that is a classifier
     * ({@code classifier}: {@code random} then has int64 labels in {@code [0, outputs)}, as cross-entropy needs)
     * or a regression ({@code random} has a float target of {@code outputs} values).
     *
     * @param outputs the model's output size (classes, or target values); only {@code random} uses it, and
     *     it must then be at least 1
     */
    public static Split open(
            String spec,
            long[] sampleShape,
            int outputs,
            boolean classifier,
            Normalize normalize,
            ImagePreprocessing preprocessing) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(sampleShape, "sampleShape");
        String kind = spec.contains(":") ? spec.substring(0, spec.indexOf(':')) : spec;
        String arg = spec.contains(":") ? spec.substring(spec.indexOf(':') + 1) : null;
        Dataset train;
        Dataset test;
        Normalize norm = normalize;
        switch (kind) {
            case "mnist" -> {
                train = Mnist.train();
                test = Mnist.test();
            }
            case "fashion-mnist" -> {
                if (arg == null) {
                    train = FashionMnist.train();
                    test = FashionMnist.test();
                } else {
                    Path dir = requireDir(arg, spec);
                    train = FashionMnist.train(dir);
                    test = FashionMnist.test(dir);
                }
            }
            case "cifar10" -> {
                Path dir = requireDir(arg, spec);
                train = Cifar10.train(dir);
                test = Cifar10.test(dir);
                if (norm == null) {
                    norm = Normalize.of(0.5f, 0.5f);
                }
            }
            case "folder" -> {
                Path dir = requireDir(arg, spec);
                if (sampleShape.length != 3) {
                    throw new IllegalArgumentException("folder data needs a model input [N, C, H, W], got sample shape "
                            + Arrays.toString(sampleShape));
                }
                Path trainDir = dir.resolve("train");
                Path testDir = dir.resolve("test");
                if (!Files.isDirectory(trainDir) || !Files.isDirectory(testDir)) {
                    throw new IllegalArgumentException(
                            dir + " must contain train/ and test/ folders, each with one subfolder per class");
                }
                int c = (int) sampleShape[0];
                int h = (int) sampleShape[1];
                int w = (int) sampleShape[2];
                if (preprocessing != null) {
                    train = ImageFolder.load(trainDir, preprocessing, false).data();
                    test = ImageFolder.load(testDir, preprocessing, false).data();
                } else {
                    train = ImageFolder.load(trainDir, c, h, w).data();
                    test = ImageFolder.load(testDir, c, h, w).data();
                }
            }
            case "npy" -> {
                String[] files = arg == null ? new String[0] : arg.split(",");
                if (files.length != 2 && files.length != 4) {
                    throw new IllegalArgumentException("data set '" + spec + "': npy takes X.npy,Y.npy or"
                            + " X.npy,Y.npy,TEST_X.npy,TEST_Y.npy (inputs with the sample axis first, one label each)");
                }
                train = NpyDataset.load(Path.of(files[0]), Path.of(files[1]));
                test = files.length == 4
                        ? NpyDataset.load(Path.of(files[2]), Path.of(files[3]), train.numClasses())
                        : train;
            }
            case "random" -> {
                if (outputs < 1) {
                    throw new IllegalArgumentException("data set 'random' needs the model's output size (classes or"
                            + " target values) and got " + outputs + "; the model's first output must be [batch, K]");
                }
                train = classifier ? randomClasses(sampleShape, outputs, RANDOM_SAMPLES) : random(sampleShape, outputs);
                test = train;
            }
            default -> throw new IllegalArgumentException("unknown data set '" + spec + "'; use " + FORMS);
        }
        if (!Arrays.equals(train.sampleShape(), sampleShape)) {
            throw new IllegalArgumentException("data set '" + spec + "' has samples of shape "
                    + Arrays.toString(train.sampleShape()) + " but the model expects " + Arrays.toString(sampleShape));
        }
        if (norm != null) {
            train = norm.apply(train);
            test = norm.apply(test);
        }
        return new Split(train, test, norm);
    }

    /**
     * The seed's SimpleNet experiment: one standard-normal input of shape {@code [1, sampleShape...]} and a
     * standard-normal target of {@code outputs} values, always the same (seed 0, Box-Muller).
     */
    public static Dataset random(long[] sampleShape, int outputs) {
        SplittableRandom r = new SplittableRandom(0);
        long n = 1;
        for (long d : sampleShape) {
            n *= d;
        }
        float[] x = new float[(int) n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) gaussian(r);
        }
        float[] y = new float[outputs];
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) gaussian(r);
        }
        long[] xs = new long[sampleShape.length + 1];
        xs[0] = 1;
        System.arraycopy(sampleShape, 0, xs, 1, sampleShape.length);
        return NpyDataset.of(Tensor.of(x, xs), Tensor.of(y, 1, outputs), 0);
    }

    /**
     * Random data for a classifier: {@code samples} standard-normal inputs of shape {@code sampleShape} with
     * int64 labels drawn uniformly from {@code [0, classes)}, always the same (seed 0). Nothing to learn, but
     * every shape and type is the real thing: a quick check that a network trains, evaluates and exports.
     */
    public static Dataset randomClasses(long[] sampleShape, int classes, int samples) {
        if (classes < 1 || samples < 1) {
            throw new IllegalArgumentException(
                    "random classes need at least 1 class and 1 sample, got " + classes + " and " + samples);
        }
        SplittableRandom r = new SplittableRandom(0);
        long n = 1;
        for (long d : sampleShape) {
            n *= d;
        }
        float[] x = new float[Math.toIntExact(n * samples)];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) gaussian(r);
        }
        long[] y = new long[samples];
        for (int i = 0; i < samples; i++) {
            y[i] = r.nextInt(classes);
        }
        long[] xs = new long[sampleShape.length + 1];
        xs[0] = samples;
        System.arraycopy(sampleShape, 0, xs, 1, sampleShape.length);
        return NpyDataset.of(Tensor.of(x, xs), Tensor.of(y, samples), classes);
    }

    /**
     * Whether a data set's images have a {@code dark} or a {@code light} background, from the mean brightness of
     * the outermost pixels of up to 256 samples (spread over the set), with the normalization undone: below
     * 0.3 dark, above 0.7 light (MNIST's border is 0, a scanned page's near 1). Recorded in an exported model
     * ({@code ModelMetadata.IMAGE_BACKGROUND}) so that inference can warn about an inverted image.
     *
     * @param data samples of shape [C, H, W] with values in [0, 1] before {@code normalize}
     * @param normalize the normalization applied to {@code data}, or null
     * @return {@code dark}, {@code light}, or empty for other shapes, mixed or mid-gray backgrounds
     */
    public static Optional<String> imageBackground(Dataset data, Normalize normalize) {
        long[] s = data.sampleShape();
        if (s.length != 3 || s[1] < 3 || s[2] < 3 || data.size() == 0) {
            return Optional.empty();
        }
        int c = (int) s[0];
        int h = (int) s[1];
        int w = (int) s[2];
        float[] x = new float[c * h * w];
        int samples = Math.min(256, data.size());
        double sum = 0;
        long n = 0;
        for (int k = 0; k < samples; k++) {
            data.copySample((int) ((long) k * data.size() / samples), x, 0);
            for (int ch = 0; ch < c; ch++) {
                float mean = normalize == null ? 0 : normalize.mean()[normalize.mean().length == 1 ? 0 : ch];
                float std = normalize == null ? 1 : normalize.std()[normalize.std().length == 1 ? 0 : ch];
                for (int y = 0; y < h; y++) {
                    for (int xx = 0; xx < w; xx++) {
                        if (y == 0 || y == h - 1 || xx == 0 || xx == w - 1) {
                            sum += x[ch * h * w + y * w + xx] * std + mean;
                            n++;
                        }
                    }
                }
            }
        }
        double m = sum / n;
        return m < 0.3 ? Optional.of("dark") : m > 0.7 ? Optional.of("light") : Optional.empty();
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    private static Path requireDir(String arg, String spec) {
        if (arg == null || arg.isEmpty()) {
            throw new IllegalArgumentException(
                    "'" + spec + "' needs a directory, e.g. " + spec + ":/data/cifar-10-batches-bin");
        }
        Path dir = Path.of(arg);
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + ": no such directory (for --data " + spec + ")");
        }
        return dir;
    }
}
