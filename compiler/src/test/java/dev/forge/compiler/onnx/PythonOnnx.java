package dev.forge.compiler.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the reference ONNX checker ({@code onnx.checker.check_model(full_check=True)} from Debian's
 * python3-onnx, with {@code /usr/bin/python3}). A missing interpreter or package fails the test: install
 * them with {@code testdata/scripts/install_deps.sh}.
 */
public final class PythonOnnx {
    private PythonOnnx() {}

    /** Checks a model file; fails the calling test with the checker's message if it is not valid. */
    public static void checkModel(Path model) throws IOException, InterruptedException {
        String script = "import sys, onnx\n"
                + "m = onnx.load(sys.argv[1])\n"
                + "onnx.checker.check_model(m, full_check=True)\n"
                + "print('ok', m.ir_version, m.opset_import[0].version)\n";
        python(script, "onnx.checker", model, model.toString());
    }

    /**
     * Writes {@code model} with every graph output's type removed and filled in again by
     * {@code onnx.shape_inference.infer_shapes(strict_mode=True)} to {@code out}: ONNX's own types for
     * comparing with the compiler's rules.
     */
    public static void inferTypes(Path model, Path out) throws IOException, InterruptedException {
        String script = "import sys, onnx\n"
                + "m = onnx.load(sys.argv[1])\n"
                + "for o in m.graph.output:\n"
                + "    o.ClearField('type')\n"
                + "m = onnx.shape_inference.infer_shapes(m, strict_mode=True)\n"
                + "onnx.save(m, sys.argv[2])\n";
        python(script, "onnx.shape_inference", model, model.toString(), out.toString());
    }

    /** Runs a script with /usr/bin/python3; fails the calling test, naming {@code what}, unless it exits 0. */
    private static void python(String script, String what, Path model, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", "-c", script));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (var in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(what + " timed out on " + model);
        }
        assertEquals(
                0,
                p.exitValue(),
                what + " failed on " + model + " (is python3-onnx installed? run "
                        + "testdata/scripts/install_deps.sh):\n" + out);
    }
}
