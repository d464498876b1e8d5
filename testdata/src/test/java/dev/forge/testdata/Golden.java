package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.List;

/**
 * Where the golden files are, and the comparison every golden test uses. Maven runs these tests with
 * {@code testdata/} as the working directory.
 */
final class Golden {
    /** Committed PyTorch goldens. */
    static final Path COMMITTED = Path.of("golden");
    /**
     * The two large models, generated at test time by the same script and reused while the script, the models
     * and the Python packages are the same ({@link GeneratedFiles}).
     */
    static final Path GENERATED = Path.of("target", "golden-generated");

    static final List<String> COMMITTED_MODELS = List.of("mnist-cnn", "lenet5", "ops-zoo");
    static final List<String> GENERATED_MODELS = List.of("simple-net", "cifar10-net");
    static final List<Integer> OPSETS = List.of(13, 17);
    /** The script that makes every golden of {@link #COMMITTED} and {@link #GENERATED}. */
    static final Path SCRIPT = Path.of("scripts", "make_golden.py");
    /** What the generated files depend on besides the script. */
    static final List<String> PYTHON_PACKAGES = List.of("torch", "onnx", "numpy");

    private Golden() {}

    /** The directory of one model's goldens, generating the large ones on first use. */
    static synchronized Path dir(String model) {
        if (COMMITTED_MODELS.contains(model)) {
            return COMMITTED.resolve(model);
        }
        if (!generatedChecked) {
            generated(GENERATED, GENERATED_MODELS);
            generatedChecked = true;
        }
        return GENERATED.resolve(model);
    }

    private static boolean generatedChecked;

    /**
     * Makes {@code dir} hold {@code scripts/make_golden.py}'s goldens of {@code models}, running the script (PyTorch
     * from Debian, /usr/bin/python3) unless the directory's {@link GeneratedFiles#KEY} names this script, these
     * models and the installed torch, onnx and numpy: a directory left by an earlier checkout is never reused.
     *
     * @return whether the script ran
     */
    static boolean generated(Path dir, List<String> models) {
        String key = GeneratedFiles.key(SCRIPT, List.of("--models", String.join(",", models)), PYTHON_PACKAGES);
        if (GeneratedFiles.isCurrent(dir, key)) {
            return false;
        }
        GeneratedFiles.invalidate(dir);
        External.Result r = External.run(
                List.of(
                        "/usr/bin/python3",
                        SCRIPT.toString(),
                        "--out",
                        dir.toString(),
                        "--models",
                        String.join(",", models)),
                300,
                "make_golden.py");
        assertEquals(
                0,
                r.exitCode(),
                "make_golden.py failed (install PyTorch with testdata/scripts/install_deps.sh):\n" + r.output());
        GeneratedFiles.markCurrent(dir, key);
        return true;
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
