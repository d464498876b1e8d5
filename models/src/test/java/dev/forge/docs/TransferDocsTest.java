package dev.forge.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Model;
import dev.forge.runtime.Npy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/TRANSFER.md as written: its Java blocks compile and run, then every {@code forge} line of its
 * {@code ```bash} blocks runs in the same directory (on the files the Java example wrote) and exits 0.
 */
class TransferDocsTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(4);

    @TempDir
    Path work;

    static String page() throws IOException {
        Path p = Path.of("").toAbsolutePath().getParent().resolve("docs/TRANSFER.md");
        assertTrue(Files.isRegularFile(p), "docs/TRANSFER.md not found at " + p);
        return Files.readString(p);
    }

    /** The {@code forge ...} lines of the page's {@code ```bash} blocks, in order. */
    static List<String> forgeLines(String markdown) {
        List<String> out = new ArrayList<>();
        boolean bash = false;
        for (String line : markdown.split("\r?\n")) {
            if (line.strip().equals("```bash")) {
                bash = true;
            } else if (line.strip().equals("```")) {
                bash = false;
            } else if (bash && line.startsWith("forge ")) {
                out.add(line.strip());
            }
        }
        return out;
    }

    /** Shell words: whitespace-separated, with single quotes kept together and removed. */
    static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (char c : line.toCharArray()) {
            if (c == '\'') {
                quoted = !quoted;
                any = true;
            } else if (Character.isWhitespace(c) && !quoted) {
                if (any) {
                    out.add(w.toString());
                    w.setLength(0);
                    any = false;
                }
            } else {
                w.append(c);
                any = true;
            }
        }
        if (any) {
            out.add(w.toString());
        }
        return out;
    }

    @Test
    void shell_words_keep_single_quoted_globs_whole() {
        assertEquals(List.of("forge", "--freeze", "conv1/*", "x y"), words("forge  --freeze 'conv1/*' 'x y'"));
    }

    @Test
    void the_java_example_and_every_command_of_the_fine_tuning_section_run() throws Exception {
        String md = page();
        List<ReadmeExamples.Block> blocks = ReadmeExamples.javaBlocks("docs/TRANSFER.md", md);
        assertFalse(blocks.isEmpty(), "docs/TRANSFER.md has no ```java block");
        for (ReadmeExamples.Block b : blocks) {
            String out = ReadmeExamples.compileAndRun(b, work, TIMEOUT);
            assertTrue(out.contains("trained [fc/W, fc/B]") && out.contains("classes cat,dog"), out);
        }
        List<String> lines = forgeLines(md);
        assertEquals(4, lines.size(), lines.toString());
        for (String line : lines) {
            String out = forge(line);
            assertTrue(out.contains("model: ") || out.contains("features of "), line + "\n" + out);
        }
        try (Model m = Model.load(work.resolve("pets-cli.onnx"))) {
            assertEquals("cat,dog", m.metadata().get("class_labels"));
        }
        assertEquals(
                "[24, 16]",
                java.util.Arrays.toString(
                        Npy.read(work.resolve("pets-features.npy")).shape()));
    }

    /** Runs one documented command in a child JVM in the work directory; it must exit 0. */
    private String forge(String line) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-cp");
        cmd.add(ReadmeExamples.testClassPath());
        cmd.add("dev.forge.cli.Forge");
        List<String> w = words(line);
        cmd.addAll(w.subList(1, w.size()));
        Path log = work.resolve("forge-output.txt");
        Process p = new ProcessBuilder(cmd)
                .directory(work.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        if (!p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("docs/TRANSFER.md: '" + line + "' still ran after " + TIMEOUT.toSeconds() + " s");
        }
        String out;
        try {
            out = Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertEquals(0, p.exitValue(), "docs/TRANSFER.md: '" + line + "' failed:\n" + out);
        return out;
    }
}
