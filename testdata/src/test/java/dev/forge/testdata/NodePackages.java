package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The Node.js consumers in {@code interop/}: ONNX Runtime's Node.js binding ({@code onnxruntime-node}) and
 * OpenCV compiled to WebAssembly ({@code @techstark/opencv-js}), pinned by {@code interop/package-lock.json}.
 * Installed on first use with {@code npm ci --ignore-scripts} into {@code interop/node_modules}, as {@code
 * scripts/install_deps.sh} does (onnxruntime-node's CPU binaries are in the package; its install script only
 * fetches CUDA ones). Needs Node.js and npm (Debian's nodejs and npm) and the npm registry.
 */
final class NodePackages {
    static final Path DIR = Path.of("interop");

    private NodePackages() {}

    /** The command that runs the script {@code interop/<script>} on a manifest, installing the packages first. */
    static synchronized List<String> command(String script, Path manifest) {
        if (!Files.exists(DIR.resolve("node_modules/onnxruntime-node/package.json"))
                || !Files.exists(DIR.resolve("node_modules/@techstark/opencv-js/package.json"))) {
            External.Result r = External.run(
                    List.of("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", DIR.toString()),
                    600,
                    "npm (Debian's npm)");
            assertEquals(
                    0,
                    r.exitCode(),
                    "npm ci --ignore-scripts in testdata/interop failed (run scripts/install_deps.sh as root):\n"
                            + r.output());
        }
        return List.of("node", DIR.resolve(script).toString(), manifest.toString());
    }
}
