package dev.forge.testdata;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs an outside program (Python, Node.js) from this module's directory and collects what it prints. */
final class External {
    private External() {}

    /** Exit code and the merged standard output and error. */
    record Result(int exitCode, String output) {
        List<String> lines() {
            return output.lines().toList();
        }
    }

    /**
     * Runs {@code command}, waiting at most {@code timeoutSeconds}.
     *
     * @param what names the program in errors, with how to install it
     */
    static Result run(List<String> command, long timeoutSeconds, String what) {
        Path log;
        Process p;
        try {
            // to a file, not a pipe: waitFor's timeout then holds even if the program hangs while printing
            log = Files.createTempFile("forge-external", ".log");
            p = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot start " + what + " (" + command.get(0) + "); install it with scripts/install_deps.sh", e);
        }
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(what + " did not finish in " + timeoutSeconds + " s: " + command + "\n"
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        } finally {
            try {
                Files.deleteIfExists(log);
            } catch (IOException ignored) {
                // a temporary file left behind is harmless
            }
        }
    }
}
