package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every committed golden file is the one its manifest names: each {@code golden*} directory of this module holds a
 * {@code SHA256SUMS} (sha256sum's format, written by {@code scripts/checksums.sh}), and every file must be listed
 * with its hash, every listed file must exist. A golden changed by hand, by a partial regeneration or by a
 * checkout's line-ending conversion fails here, naming the file.
 */
class GoldenChecksumsTest {
    static final String MANIFEST = "SHA256SUMS";
    /** sha256sum's text-mode line: 64 hex digits, two spaces, the path. */
    private static final Pattern LINE = Pattern.compile("([0-9a-f]{64})  (.+)");
    /** Generated at test time and git-ignored (see testdata/.gitignore), in case someone writes them there. */
    private static final Set<String> IGNORED_DIRS = Set.of("golden/simple-net", "golden/cifar10-net");

    @TempDir
    Path tmp;

    /** The module's golden directories: {@code golden}, {@code golden-import}, ... */
    static List<Path> goldenDirectories() {
        try (Stream<Path> s = Files.list(Path.of("."))) {
            return s.filter(Files::isDirectory)
                    .filter(p -> p.getFileName().toString().startsWith("golden"))
                    .map(p -> Path.of(p.getFileName().toString()))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void every_committed_golden_file_matches_its_directorys_manifest() {
        List<Path> dirs = goldenDirectories();
        assertEquals(
                List.of("golden", "golden-import", "golden-preprocess", "golden-training"),
                dirs.stream().map(Path::toString).toList(),
                "the golden directories; a new one needs a " + MANIFEST + " (run scripts/checksums.sh)");
        List<String> problems = new ArrayList<>();
        int files = 0;
        for (Path dir : dirs) {
            problems.addAll(verify(dir));
            files += manifest(dir).size();
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        assertTrue(files > 400, "only " + files + " files listed");
    }

    /** A golden tree copied, then damaged three ways: each damage is reported with the file's name. */
    @Test
    void a_flipped_byte_a_missing_file_and_an_unlisted_file_are_each_reported() throws IOException {
        Path copy = tmp.resolve("golden-preprocess");
        copyTree(Path.of("golden-preprocess"), copy);
        assertEquals(List.of(), verify(copy), "the intact copy");

        Path flipped = copy.resolve("gray-shrink/png-pixels.npy");
        assertTrue(Files.exists(flipped), "the copy has " + flipped);
        byte[] bytes = Files.readAllBytes(flipped);
        bytes[bytes.length - 1] ^= 1;
        Files.write(flipped, bytes);
        Files.delete(copy.resolve("cases.txt"));
        Files.writeString(copy.resolve("gray-shrink/extra.npy"), "not a golden");

        List<String> problems = verify(copy);
        assertEquals(3, problems.size(), String.join("\n", problems));
        assertTrue(
                problems.get(0).startsWith(copy + "/cases.txt: listed in " + MANIFEST + " but missing"),
                problems.get(0));
        assertTrue(
                problems.get(1).startsWith(copy + "/gray-shrink/extra.npy: not listed in " + MANIFEST),
                problems.get(1));
        assertTrue(
                problems.get(2).startsWith(copy + "/gray-shrink/png-pixels.npy: SHA-256 ")
                        && problems.get(2).contains(" but " + MANIFEST + " lists "),
                problems.get(2));
    }

    @Test
    void a_malformed_manifest_line_is_reported_with_its_number() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("golden-x"));
        Files.writeString(dir.resolve("a.txt"), "a");
        Files.writeString(dir.resolve(MANIFEST), sha256(dir.resolve("a.txt")) + " a.txt\n");
        List<String> problems = verify(dir);
        assertTrue(
                problems.get(0).startsWith(dir.resolve(MANIFEST) + ":1: not '<sha256>  <path>'"), problems.toString());
    }

    /**
     * What is wrong with {@code dir} against its manifest, one line per problem sorted by file, each saying what
     * to do; empty when every file is listed with its hash and every listed file exists.
     */
    static List<String> verify(Path dir) {
        Map<String, String> listed;
        try {
            listed = manifest(dir);
        } catch (IllegalStateException e) {
            return List.of(e.getMessage());
        }
        Map<String, String> problems = new TreeMap<>();
        String regenerate = "; regenerate it with its script (testdata/README.md) and run scripts/checksums.sh, "
                + "or restore it with git checkout";
        Set<String> present = files(dir);
        for (String f : present) {
            String want = listed.get(f);
            if (want == null) {
                problems.put(f, dir.resolve(f) + ": not listed in " + MANIFEST + "; run scripts/checksums.sh");
            } else {
                String got = sha256(dir.resolve(f));
                if (!got.equals(want)) {
                    problems.put(
                            f,
                            dir.resolve(f) + ": SHA-256 " + got + " but " + MANIFEST + " lists " + want + regenerate);
                }
            }
        }
        for (String f : listed.keySet()) {
            if (!present.contains(f)) {
                problems.put(f, dir.resolve(f) + ": listed in " + MANIFEST + " but missing" + regenerate);
            }
        }
        return List.copyOf(problems.values());
    }

    /** The manifest's entries, path to hash. */
    static Map<String, String> manifest(Path dir) {
        Path file = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException(file + ": missing; run scripts/checksums.sh");
        }
        Map<String, String> out = new TreeMap<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (int i = 0; i < lines.size(); i++) {
            Matcher m = LINE.matcher(lines.get(i));
            if (!m.matches()) {
                throw new IllegalStateException(file + ":" + (i + 1) + ": not '<sha256>  <path>' but '" + lines.get(i)
                        + "'; rewrite the manifest with scripts/checksums.sh");
            }
            out.put(m.group(2), m.group(1));
        }
        return out;
    }

    /** Every file under {@code dir} (paths relative to it, '/'-separated), as checksums.sh lists them. */
    static Set<String> files(Path dir) {
        Set<String> out = new TreeSet<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.filter(Files::isRegularFile).forEach(p -> {
                String rel = dir.relativize(p).toString().replace('\\', '/');
                String name = p.getFileName().toString();
                boolean ignored =
                        IGNORED_DIRS.stream().anyMatch(d -> (dir.getFileName() + "/" + rel).startsWith(d + "/"))
                                || rel.contains("__pycache__/");
                if (!name.equals(MANIFEST) && !name.startsWith(".") && !ignored) {
                    out.add(rel);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static String sha256(Path file) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }
}
