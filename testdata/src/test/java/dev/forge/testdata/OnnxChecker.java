package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The reference ONNX checker ({@code onnx.checker.check_model(m, full_check=True)}, Debian's python3-onnx
 * with /usr/bin/python3) on model files, many per Python process ({@code scripts/check_onnx.py}). Any test of
 * this module that writes an ONNX file (exported, quantized, imported-then-exported, checkpoints) can call
 * {@link #assertValid}. A missing interpreter or package fails the test, never skips it: CI installs them
 * with {@code scripts/install_deps.sh}.
 */
final class OnnxChecker {
    private OnnxChecker() {}

    /** Checks every file; fails naming each file the checker rejects, with its message. */
    static void assertValid(List<Path> models) {
        if (models.isEmpty()) {
            return;
        }
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", "scripts/check_onnx.py"));
        models.forEach(m -> cmd.add(m.toString()));
        External.Result r = External.run(cmd, 300, "onnx.checker (python3-onnx)");
        List<String> rejected = new ArrayList<>();
        int ok = 0;
        for (String line : r.lines()) {
            if (line.startsWith("ok ")) {
                ok++;
            } else if (line.startsWith("error ")) {
                rejected.add(line.substring("error ".length()));
            }
        }
        if (!rejected.isEmpty()) {
            fail("onnx.checker.check_model(full_check=True) rejects " + rejected.size() + " of " + models.size()
                    + " files:\n  " + String.join("\n  ", rejected));
        }
        assertTrue(
                r.exitCode() == 0 && ok == models.size(),
                "onnx.checker checked " + ok + " of " + models.size() + " files (exit " + r.exitCode()
                        + "; is python3-onnx installed? run scripts/install_deps.sh as root):\n" + r.output());
    }

    /** Checks one file. */
    static void assertValid(Path model) {
        assertValid(List.of(model));
    }

    /** Writes each graph as Forge writes files ({@link OnnxWriter}) to a temporary directory and checks them. */
    static void assertValidGraphs(List<Graph> graphs) {
        try {
            Path dir = Files.createTempDirectory("forge-onnx-check");
            try {
                List<Path> files = new ArrayList<>();
                for (int i = 0; i < graphs.size(); i++) {
                    Path f = dir.resolve(i + "-" + graphs.get(i).name().replaceAll("[^A-Za-z0-9_.-]", "_") + ".onnx");
                    Files.write(f, OnnxWriter.toBytes(graphs.get(i)));
                    files.add(f);
                }
                assertValid(files);
            } finally {
                InterchangeTest.deleteRecursively(dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
