package dev.forge.cli;

import dev.forge.compiler.data.Cifar10;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.FashionMnist;
import dev.forge.compiler.data.ImageFolder;
import dev.forge.compiler.data.Mnist;
import dev.forge.compiler.data.Normalize;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A {@code --data} argument: {@code mnist}, {@code fashion-mnist} (or {@code fashion-mnist:DIR}, the four IDX files
 * in another directory), {@code cifar10:DIR} (the binary
 * batches), {@code folder:DIR} (DIR/train/CLASS/*.png and DIR/test/CLASS/*.png) or {@code random} (the
 * seed's one random input and target, for simple-net).
 *
 * @param text the argument as given
 * @param train the training set
 * @param test the test set
 * @param normalize the per-channel normalization applied to both (null for none)
 */
record DataSpec(String text, Dataset train, Dataset test, Normalize normalize) {
    /** The kinds of data set, the part before any ':'. */
    static final java.util.Set<String> KINDS =
            java.util.Set.of("mnist", "fashion-mnist", "cifar10", "folder", "random");

    static final String HELP =
            "mnist, fashion-mnist[:DIR] (IDX files, gzipped or not), cifar10:DIR (data_batch_*.bin, test_batch.bin), "
                    + "folder:DIR (DIR/train/<class>/*.png|jpg and DIR/test/<class>/...), or random (one random sample)";

    /**
     * Loads a data set for a model input of shape [N, C, H, W].
     *
     * @param text the --data value
     * @param sampleShape [C, H, W] of the model input
     * @param outputs the model's output size (random targets)
     * @param normalize explicit normalization, or null for the data set's default (CIFAR-10: 0.5/0.5)
     */
    static DataSpec load(String text, long[] sampleShape, int outputs, Normalize normalize) {
        String kind = text.contains(":") ? text.substring(0, text.indexOf(':')) : text;
        String arg = text.contains(":") ? text.substring(text.indexOf(':') + 1) : null;
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
                    Path dir = requireDir(arg, text);
                    train = FashionMnist.train(dir);
                    test = FashionMnist.test(dir);
                }
            }
            case "cifar10" -> {
                Path dir = requireDir(arg, text);
                train = Cifar10.train(dir);
                test = Cifar10.test(dir);
                if (norm == null) {
                    norm = Normalize.of(0.5f, 0.5f);
                }
            }
            case "folder" -> {
                Path dir = requireDir(arg, text);
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
                train = ImageFolder.load(trainDir, c, h, w).data();
                test = ImageFolder.load(testDir, c, h, w).data();
            }
            case "random" -> {
                train = random(sampleShape, outputs);
                test = train;
            }
            default -> throw new IllegalArgumentException("unknown data set '" + text + "'; use " + HELP);
        }
        if (!Arrays.equals(train.sampleShape(), sampleShape)) {
            throw new IllegalArgumentException("data set '" + text + "' has samples of shape "
                    + Arrays.toString(train.sampleShape()) + " but the model expects " + Arrays.toString(sampleShape));
        }
        if (norm != null) {
            train = norm.apply(train);
            test = norm.apply(test);
        }
        return new DataSpec(text, train, test, norm);
    }

    /** The seed's SimpleNet experiment: one standard-normal input and a standard-normal target. */
    private static Dataset random(long[] sampleShape, int outputs) {
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

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    private static Path requireDir(String arg, String text) {
        if (arg == null || arg.isEmpty()) {
            throw new IllegalArgumentException(
                    "'" + text + "' needs a directory, e.g. " + text + ":/data/cifar-10-batches-bin");
        }
        Path dir = Path.of(arg);
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + ": no such directory (for --data " + text + ")");
        }
        return dir;
    }

    /** The class names, comma-separated for the model's class_labels metadata (empty for regression). */
    String classLabels() {
        List<String> names = train.classNames();
        return names == null ? "" : String.join(",", names);
    }
}
