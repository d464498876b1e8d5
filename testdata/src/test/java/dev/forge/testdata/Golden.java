package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Where the golden files are, and the comparison every golden test uses. Maven runs these tests with
 * {@code testdata/} as the working directory.
 */
final class Golden {
    /** Committed PyTorch goldens. */
    static final Path COMMITTED = Path.of("golden");
    /** The two large models, generated at test time by the same script. */
    static final Path GENERATED = Path.of("target", "golden-generated");

    static final List<String> COMMITTED_MODELS = List.of("mnist-cnn", "lenet5", "ops-zoo");
    static final List<String> GENERATED_MODELS = List.of("simple-net", "cifar10-net");
    static final List<Integer> OPSETS = List.of(13, 17);

    private Golden() {}

    /** The directory of one model's goldens, generating the large ones on first use. */
    static synchronized Path dir(String model) {
        if (COMMITTED_MODELS.contains(model)) {
            return COMMITTED.resolve(model);
        }
        Path dir = GENERATED.resolve(model);
        if (!Files.exists(dir.resolve("logits.npy"))) {
            generate();
        }
        return dir;
    }

    /** Runs {@code scripts/make_golden.py} for the large models (PyTorch from Debian, /usr/bin/python3). */
    private static void generate() {
        try {
            Process p = new ProcessBuilder(
                            "/usr/bin/python3",
                            "scripts/make_golden.py",
                            "--out",
                            GENERATED.toString(),
                            "--models",
                            String.join(",", GENERATED_MODELS))
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("make_golden.py timed out");
            }
            assertEquals(
                    0,
                    p.exitValue(),
                    "make_golden.py failed (install PyTorch with " + "testdata/scripts/install_deps.sh):\n" + out);
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot run /usr/bin/python3 (install it with testdata/scripts/install_deps.sh)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static Tensor input(String model) {
        return Npy.read(dir(model).resolve("input.npy"));
    }

    static Tensor logits(String model) {
        return Npy.read(dir(model).resolve("logits.npy"));
    }

    static Path onnx(String model, int opset, String file) {
        return dir(model).resolve("opset" + opset).resolve(file);
    }

    /**
     * Asserts {@code actual} equals {@code expected} within {@code tolerance} relative to the largest
     * expected magnitude: {@code max|e - a| <= tolerance * max|e|}. Normalizing by the tensor's scale, not
     * each element, keeps near-zero elements from dominating while still catching any wrong element.
     */
    static void assertClose(Tensor expected, Tensor actual, double tolerance, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        double scale = 0;
        for (double v : e) {
            scale = Math.max(scale, Math.abs(v));
        }
        double worst = 0;
        int at = -1;
        for (int i = 0; i < e.length; i++) {
            double d = Math.abs(e[i] - a[i]);
            if (!(d <= worst)) {
                worst = d;
                at = i;
            }
        }
        double rel = worst / Math.max(scale, 1e-30);
        assertTrue(
                rel <= tolerance,
                String.format(
                        "%s: relative error %.3g > %.1g at element %d (expected %.9g, got %.9g, scale %.4g)",
                        what, rel, tolerance, at, at < 0 ? 0 : e[at], at < 0 ? 0 : a[at], scale));
    }
}
