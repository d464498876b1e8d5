package dev.forge.testdata;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs Debian's {@code /usr/bin/python3} (the oracle scripts' interpreter) and returns its output. */
final class Python {
    private Python() {}

    /**
     * Runs {@code /usr/bin/python3 args...} in the working directory and returns standard output and error.
     *
     * @throws AssertionError if it fails, times out or cannot start, with its output and how to install it
     */
    static String run(int timeoutSeconds, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add("/usr/bin/python3");
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", cmd) + " timed out after " + timeoutSeconds + " s");
            }
            if (p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", cmd) + " failed (exit " + p.exitValue()
                        + "; install its modules with testdata/scripts/install_deps.sh):\n" + out);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot run /usr/bin/python3 (install it with testdata/scripts/install_deps.sh)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
