package dev.forge.compiler.data;

import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.InvalidInputException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * A classification dataset from a directory of images, one sub-folder per class — torchvision's
 * {@code ImageFolder} layout: {@code root/cat/001.png}, {@code root/dog/a/002.jpg}, ...
 *
 * <p>The class names are the sub-folder names sorted by {@link String#compareTo} (code-point order,
 * like Python's {@code sorted}), and class {@code k} is the {@code k}-th of them. Sub-folders and files
 * whose names start with a dot are ignored. In each class folder every file ending in {@code .png},
 * {@code .jpg} or {@code .jpeg} (any case), at any depth, is a sample; samples are ordered by class,
 * then by path. Other files are ignored. A class folder without images is an error.
 *
 * <p>Images are decoded with {@link ImageIO} and converted to the caller's fixed {@code [channels,
 * height, width]}:
 *
 * <ul>
 *   <li>channels 3: RGB; a gray image is repeated in all three channels. Channels 1: gray; an RGB image
 *       becomes {@code L = (19595 R + 38470 G + 7471 B + 32768) >> 16} (ITU-R 601 luma, as Pillow's
 *       {@code convert("L")}). Gray PNGs are read from their raw samples, not through {@code
 *       getRGB}, which would brighten them by a gamma conversion. An alpha channel is dropped, not
 *       composited (as Pillow's {@code convert("RGB")}). 16-bit samples are scaled to 8 bits.
 *   <li>A different size is resized with bilinear interpolation on half-pixel centres, edges clamped
 *       (PyTorch's {@code interpolate(mode="bilinear", align_corners=False)}, no antialiasing: shrink
 *       by more than 2x beforehand if aliasing matters), rounded to 8 bits.
 * </ul>
 *
 * <p>The result is held as bytes in an {@link ImageDataset} and copied out scaled to [0, 1]. An image
 * that cannot be decoded is an error naming the file, unless the folder is loaded with {@code
 * skipUnreadable}, which logs a warning for each such file and leaves it out ({@link #skipped()}).
 * Decoding runs on the common fork-join pool; the result does not depend on it.
 */
public final class ImageFolder implements Dataset {
    private static final System.Logger LOG = System.getLogger(ImageFolder.class.getName());
    private static final List<String> EXTENSIONS = List.of(".png", ".jpg", ".jpeg");

    private final ImageDataset data;
    private final List<Path> files;
    private final List<Path> skipped;

    private ImageFolder(ImageDataset data, List<Path> files, List<Path> skipped) {
        this.data = data;
        this.files = files;
        this.skipped = skipped;
    }

    /**
     * Loads every image under {@code root}; an unreadable image is an error.
     *
     * @param root the directory with one sub-folder per class
     * @param channels 1 (gray) or 3 (RGB)
     * @param height the sample height in pixels
     * @param width the sample width in pixels
     * @return the dataset, samples of shape [channels, height, width]
     * @throws DatasetException if the folder is missing or empty, a class has no images, or an image
     *     cannot be decoded (the message names the file)
     * @throws IllegalArgumentException if channels is not 1 or 3, or a size is not positive
     */
    public static ImageFolder load(Path root, int channels, int height, int width) {
        return load(root, channels, height, width, false);
    }

    /**
     * Loads every image under {@code root}.
     *
     * @param root the directory with one sub-folder per class
     * @param channels 1 (gray) or 3 (RGB)
     * @param height the sample height in pixels
     * @param width the sample width in pixels
     * @param skipUnreadable when true an image that cannot be decoded is logged as a warning and left
     *     out; when false it is an error
     * @return the dataset, samples of shape [channels, height, width]
     * @throws DatasetException if the folder is missing or empty, a class has no images, or (unless
     *     skipped) an image cannot be decoded
     * @throws IllegalArgumentException if channels is not 1 or 3, or a size is not positive
     */
    public static ImageFolder load(Path root, int channels, int height, int width, boolean skipUnreadable) {
        Objects.requireNonNull(root, "root");
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("ImageFolder: channels must be 1 (gray) or 3 (RGB), got " + channels);
        }
        if (height <= 0 || width <= 0) {
            throw new IllegalArgumentException(
                    "ImageFolder: height and width must be positive, got " + height + "x" + width);
        }
        return load(root, channels, height, width, skipUnreadable, f -> decode(f, channels, height, width));
    }

    /**
     * Loads every image under {@code root} prepared the way a model with this preprocessing sees it at
     * inference ({@link ImagePreprocessing#pixels}: color, shorter-side resize with Pillow's antialiased
     * bilinear filter, center crop, channel order), so that training and {@code Model.predict} agree.
     * The preprocessing's mean and std are not applied here (wrap the result in {@link Normalize}), and
     * samples are channels first whatever its layout.
     *
     * @param root the directory with one sub-folder per class
     * @param preprocessing how to prepare each image; it must have a crop, which fixes the sample size
     * @param skipUnreadable when true an image that cannot be decoded is logged and left out
     * @return the dataset, samples of shape [channels, crop height, crop width]
     * @throws IllegalArgumentException if the preprocessing has no crop
     * @throws DatasetException as {@link #load(Path, int, int, int, boolean)}
     */
    public static ImageFolder load(Path root, ImagePreprocessing preprocessing, boolean skipUnreadable) {
        Objects.requireNonNull(root, "root");
        Objects.requireNonNull(preprocessing, "preprocessing");
        if (preprocessing.cropHeight() == 0) {
            throw new IllegalArgumentException("ImageFolder: the preprocessing (" + preprocessing + ") has no crop,"
                    + " so images of different sizes would give samples of different sizes; add a crop");
        }
        return load(
                root,
                preprocessing.channels(),
                preprocessing.cropHeight(),
                preprocessing.cropWidth(),
                skipUnreadable,
                f -> {
                    BufferedImage img;
                    try {
                        img = ImagePreprocessing.read(f);
                    } catch (InvalidInputException e) {
                        throw new DatasetException(e.getMessage(), e);
                    }
                    try {
                        return preprocessing.pixels(img);
                    } catch (RuntimeException e) {
                        throw new DatasetException(f + ": cannot prepare the decoded image (" + e + ")", e);
                    }
                });
    }

    private static ImageFolder load(
            Path root, int channels, int height, int width, boolean skipUnreadable, Function<Path, byte[]> decoder) {
        if (!Files.isDirectory(root)) {
            throw new DatasetException(
                    root + ": no such directory; expected one sub-folder of PNG/JPEG images per class");
        }
        List<String> classes = new ArrayList<>();
        List<Path> candidates = new ArrayList<>();
        List<Integer> candidateLabels = new ArrayList<>();
        List<String> empty = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(root)) {
            dirs.filter(Files::isDirectory)
                    .filter(d -> !hidden(d))
                    .map(d -> d.getFileName().toString())
                    .sorted()
                    .forEach(classes::add);
        } catch (IOException e) {
            throw new DatasetException(root + ": cannot be listed (" + e + ")", e);
        }
        if (classes.isEmpty()) {
            throw new DatasetException(
                    root + ": has no class sub-folders; expected " + root + "/<class name>/<image>.png");
        }
        for (int k = 0; k < classes.size(); k++) {
            Path dir = root.resolve(classes.get(k));
            List<Path> images = imagesUnder(dir);
            if (images.isEmpty()) {
                empty.add(classes.get(k));
            }
            for (Path p : images) {
                candidates.add(p);
                candidateLabels.add(k);
            }
        }
        if (!empty.isEmpty()) {
            throw new DatasetException(root + ": class folder(s) " + empty + " have no images ("
                    + String.join(", ", EXTENSIONS) + "); add images or remove the folders");
        }
        int sampleSize = channels * height * width;
        Object[] decoded = new Object[candidates.size()];
        IntStream.range(0, candidates.size()).parallel().forEach(i -> {
            try {
                decoded[i] = decoder.apply(candidates.get(i));
            } catch (DatasetException e) {
                decoded[i] = e;
            }
        });
        List<Path> files = new ArrayList<>();
        List<Path> skipped = new ArrayList<>();
        List<byte[]> kept = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        for (int i = 0; i < decoded.length; i++) {
            if (decoded[i] instanceof DatasetException) {
                DatasetException e = (DatasetException) decoded[i];
                if (!skipUnreadable) {
                    throw e;
                }
                LOG.log(Level.WARNING, "Skipping an unreadable image: {0}", e.getMessage());
                skipped.add(candidates.get(i));
                continue;
            }
            files.add(candidates.get(i));
            kept.add((byte[]) decoded[i]);
            labels.add(candidateLabels.get(i));
        }
        if (kept.isEmpty()) {
            throw new DatasetException(root + ": none of the " + candidates.size() + " image files could be decoded");
        }
        byte[] pixels = new byte[Math.multiplyExact(kept.size(), sampleSize)];
        for (int i = 0; i < kept.size(); i++) {
            System.arraycopy(kept.get(i), 0, pixels, i * sampleSize, sampleSize);
        }
        int[] lab = labels.stream().mapToInt(Integer::intValue).toArray();
        ImageDataset data =
                ImageDataset.adopt("ImageFolder " + root, pixels, lab, new long[] {channels, height, width}, classes);
        return new ImageFolder(data, Collections.unmodifiableList(files), Collections.unmodifiableList(skipped));
    }

    /**
     * The image file of each sample, in sample order.
     *
     * @return an unmodifiable list of {@link #size()} paths
     */
    public List<Path> files() {
        return files;
    }

    /**
     * The files that could not be decoded and were left out (always empty unless loaded with {@code
     * skipUnreadable}).
     *
     * @return an unmodifiable list
     */
    public List<Path> skipped() {
        return skipped;
    }

    /**
     * The decoded images as an 8-bit dataset.
     *
     * @return the data
     */
    public ImageDataset data() {
        return data;
    }

    @Override
    public int size() {
        return data.size();
    }

    @Override
    public long[] sampleShape() {
        return data.sampleShape();
    }

    @Override
    public int sampleSize() {
        return data.sampleSize();
    }

    @Override
    public int numClasses() {
        return data.numClasses();
    }

    @Override
    public List<String> classNames() {
        return data.classNames();
    }

    @Override
    public void copySample(int index, float[] dst, int offset) {
        data.copySample(index, dst, offset);
    }

    @Override
    public long label(int index) {
        return data.label(index);
    }

    @Override
    public String toString() {
        return data.toString() + (skipped.isEmpty() ? "" : " (" + skipped.size() + " unreadable files skipped)");
    }

    // ---------------------------------------------------------------- decoding

    private static boolean hidden(Path p) {
        return p.getFileName().toString().startsWith(".");
    }

    private static List<Path> imagesUnder(Path dir) {
        try (Stream<Path> s = Files.walk(dir, FileVisitOption.FOLLOW_LINKS)) {
            return s.filter(p -> !dir.relativize(p).toString().isEmpty())
                    .filter(p -> {
                        for (Path part : dir.relativize(p)) {
                            if (part.toString().startsWith(".")) {
                                return false;
                            }
                        }
                        return true;
                    })
                    .filter(Files::isRegularFile)
                    .filter(p -> {
                        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
                        return EXTENSIONS.stream().anyMatch(n::endsWith);
                    })
                    .sorted(Comparator.comparing(p -> dir.relativize(p).toString()))
                    .collect(Collectors.toList());
        } catch (IOException | UncheckedIOException e) {
            throw new DatasetException(dir + ": cannot be listed (" + e + ")", e);
        }
    }

    /**
     * Decodes one PNG or JPEG file into channels-first 8-bit planes of the requested shape (converted to
     * gray or RGB, resized bilinearly when its size differs).
     *
     * @param file the image
     * @param channels 1 (gray) or 3 (RGB)
     * @param height output height
     * @param width output width
     * @return {@code channels * height * width} bytes, row-major per channel
     * @throws DatasetException naming the file when it cannot be decoded
     */
    public static byte[] decode(Path file, int channels, int height, int width) {
        BufferedImage img;
        try (InputStream in = Files.newInputStream(file)) {
            img = ImageIO.read(in);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new DatasetException(file + ": image not found (no such file)", e);
        } catch (IOException | RuntimeException e) {
            throw new DatasetException(file + ": corrupt or unreadable image (" + e.getMessage() + ")", e);
        }
        if (img == null) {
            throw new DatasetException(
                    file + ": not a PNG or JPEG image that ImageIO can decode (no decoder recognises its"
                            + " contents; is the file empty, truncated or in another format?)");
        }
        int w = img.getWidth();
        int h = img.getHeight();
        byte[][] planes;
        try {
            planes = ImagePreprocessing.planes(img, channels);
        } catch (RuntimeException e) {
            throw new DatasetException(file + ": cannot convert the decoded " + w + "x" + h + " image (" + e + ")", e);
        }
        byte[] out = new byte[channels * height * width];
        for (int c = 0; c < channels; c++) {
            byte[] plane = (h == height && w == width) ? planes[c] : resizeBilinear(planes[c], h, w, height, width);
            System.arraycopy(plane, 0, out, c * height * width, height * width);
        }
        return out;
    }

    /**
     * Bilinear resampling of one 8-bit plane with half-pixel centres and clamped edges (PyTorch's
     * {@code align_corners=False}), rounded to the nearest byte.
     */
    static byte[] resizeBilinear(byte[] src, int sh, int sw, int dh, int dw) {
        byte[] dst = new byte[dh * dw];
        int[] x0 = new int[dw];
        int[] x1 = new int[dw];
        float[] fx = new float[dw];
        for (int x = 0; x < dw; x++) {
            float sx = Math.max(0f, (x + 0.5f) * sw / dw - 0.5f);
            x0[x] = Math.min((int) sx, sw - 1);
            x1[x] = Math.min(x0[x] + 1, sw - 1);
            fx[x] = sx - x0[x];
        }
        for (int y = 0; y < dh; y++) {
            float sy = Math.max(0f, (y + 0.5f) * sh / dh - 0.5f);
            int y0 = Math.min((int) sy, sh - 1);
            int y1 = Math.min(y0 + 1, sh - 1);
            float fy = sy - y0;
            for (int x = 0; x < dw; x++) {
                float a = src[y0 * sw + x0[x]] & 0xff;
                float b = src[y0 * sw + x1[x]] & 0xff;
                float c = src[y1 * sw + x0[x]] & 0xff;
                float d = src[y1 * sw + x1[x]] & 0xff;
                float top = a + (b - a) * fx[x];
                float bottom = c + (d - c) * fx[x];
                int v = Math.round(top + (bottom - top) * fy);
                dst[y * dw + x] = (byte) Math.max(0, Math.min(255, v));
            }
        }
        return dst;
    }
}
