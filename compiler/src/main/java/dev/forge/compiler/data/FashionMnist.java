package dev.forge.compiler.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Fashion-MNIST (Zalando): 60,000 training and 10,000 test images of clothing, 28x28 gray pixels, ten
 * classes — a drop-in replacement for MNIST in the same IDX format.
 *
 * <p>The data comes from the Debian package {@code dataset-fashion-mnist} ({@code apt-get install
 * dataset-fashion-mnist}), which installs the four gzipped IDX files in {@value #DEBIAN_DIR}: {@code
 * train-images-idx3-ubyte.gz}, {@code train-labels-idx1-ubyte.gz}, {@code t10k-images-idx3-ubyte.gz},
 * {@code t10k-labels-idx1-ubyte.gz}. Any directory holding the same four files, gzipped or not, can be
 * passed instead. The files are read in place, never copied; their structure is checked by {@link Idx}
 * (dpkg already verified the package's checksums).
 *
 * <p>Pixels come out scaled to [0, 1], with no mean/std normalization.
 */
public final class FashionMnist {
    /** Where the Debian package {@code dataset-fashion-mnist} installs the files. */
    public static final String DEBIAN_DIR = "/usr/share/datasets/fashion-mnist";
    /** The class names, in label order. */
    public static final List<String> CLASS_NAMES = List.of(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    private FashionMnist() {}

    /**
     * The 60,000 training images from {@value #DEBIAN_DIR}.
     *
     * @return the dataset, samples of shape [1, 28, 28]
     * @throws DatasetException if the package is not installed or a file is bad
     */
    public static ImageDataset train() {
        return train(Path.of(DEBIAN_DIR));
    }

    /**
     * The 60,000 training images from {@code dir}.
     *
     * @param dir a directory holding {@code train-images-idx3-ubyte[.gz]} and {@code
     *     train-labels-idx1-ubyte[.gz]}
     * @return the dataset, samples of shape [1, 28, 28]
     * @throws DatasetException if a file is missing or bad
     */
    public static ImageDataset train(Path dir) {
        return load("Fashion-MNIST train", dir, "train");
    }

    /**
     * The 10,000 test images from {@value #DEBIAN_DIR}.
     *
     * @return the dataset, samples of shape [1, 28, 28]
     * @throws DatasetException if the package is not installed or a file is bad
     */
    public static ImageDataset test() {
        return test(Path.of(DEBIAN_DIR));
    }

    /**
     * The 10,000 test images from {@code dir}.
     *
     * @param dir a directory holding {@code t10k-images-idx3-ubyte[.gz]} and {@code
     *     t10k-labels-idx1-ubyte[.gz]}
     * @return the dataset, samples of shape [1, 28, 28]
     * @throws DatasetException if a file is missing or bad
     */
    public static ImageDataset test(Path dir) {
        return load("Fashion-MNIST test", dir, "t10k");
    }

    private static ImageDataset load(String name, Path dir, String split) {
        Objects.requireNonNull(dir, "dir");
        List<String> missing = new ArrayList<>();
        Path images = find(dir, split + "-images-idx3-ubyte", missing);
        Path labels = find(dir, split + "-labels-idx1-ubyte", missing);
        if (!missing.isEmpty()) {
            String fix = dir.equals(Path.of(DEBIAN_DIR))
                    ? "install the Debian package: apt-get install dataset-fashion-mnist"
                    : "pass the directory that holds them (the Debian package dataset-fashion-mnist installs them in "
                            + DEBIAN_DIR + ")";
            throw new DatasetException(name + ": " + dir + " has no " + String.join(", no ", missing) + "; " + fix);
        }
        return Idx.load(name, images, labels, CLASS_NAMES);
    }

    /** The gzipped file if present, else the plain one; records the name when neither exists. */
    private static Path find(Path dir, String base, List<String> missing) {
        Path gz = dir.resolve(base + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        Path plain = dir.resolve(base);
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        missing.add(base + ".gz (or " + base + ")");
        return null;
    }
}
