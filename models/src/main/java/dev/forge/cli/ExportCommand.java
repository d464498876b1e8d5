package dev.forge.cli;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.ImagePreprocessing;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code forge export NET --out FILE.onnx}: writes a built-in network, freshly initialized, as ONNX. */
@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Write a built-in network as an ONNX model.",
            "",
            "Builds the network with weights initialized from a seed and writes it atomically (the file is either the"
                    + " old one or the complete new one). --preprocess stores how images are prepared for it."
        })
final class ExportCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(
            index = "0",
            paramLabel = "NET",
            description = "A built-in network: ${COMPLETION-CANDIDATES}",
            completionCandidates = Forge.BuiltInNames.class)
    private String net;

    @Option(
            names = {"-o", "--out"},
            required = true,
            paramLabel = "FILE.onnx",
            description = "Where to write the model; missing directories are created.")
    private Path out;

    @Option(
            names = "--seed",
            paramLabel = "N",
            defaultValue = "" + ModelRef.DEFAULT_SEED,
            description = "Seed of the weight initialization (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Mixin
    private PreprocessOptions preprocessing;

    @Override
    public Integer call() throws IOException {
        if (!ModelZoo.has(net)) {
            throw new IllegalArgumentException(
                    "unknown built-in network '" + net + "'; built-in networks are " + ModelZoo.names());
        }
        if (Files.isDirectory(out)) {
            throw new IllegalArgumentException(
                    "--out " + out + " is a directory; give a file name such as " + out.resolve(net + ".onnx"));
        }
        Graph g = ModelZoo.build(net, seed);
        ImagePreprocessing p =
                preprocessing.toPreprocessing(g.inputs().get(0).type().shape().toArrayWithWildcards());
        if (p != null) {
            g.metadata().putAll(p.toMetadata());
        }
        OnnxWriter.write(g, out);
        long size;
        try {
            size = Files.size(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        PrintWriter w = spec.commandLine().getOut();
        w.printf(
                "Wrote %s (seed %d, %s trainable parameters%s) to %s: %s bytes%n",
                net,
                seed,
                InspectCommand.number(ParameterCount.of(g).trainableTotal()),
                p == null ? "" : ", images: " + p,
                out.toAbsolutePath().normalize(),
                InspectCommand.number(size));
        w.flush();
        return 0;
    }
}
