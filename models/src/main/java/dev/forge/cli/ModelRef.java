package dev.forge.cli;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * A MODEL argument: an existing file (an {@code .onnx} model), else the name of a built-in network. A
 * file wins when both exist, so {@code ./mnist-cnn} always means the file.
 *
 * @param text the argument as given
 * @param file the model file, or null for a built-in network
 * @param builtIn the built-in network's name, or null for a file
 */
record ModelRef(String text, Path file, String builtIn) {
    /** The seed built-in networks are initialized with unless {@code --seed} says otherwise. */
    static final long DEFAULT_SEED = 0;

    /**
     * Resolves a MODEL argument.
     *
     * @throws IllegalArgumentException if it is neither an existing file nor a built-in name, naming both
     *     possibilities
     */
    static ModelRef resolve(String text) {
        Path path = null;
        try {
            path = Path.of(text);
        } catch (InvalidPathException e) {
            path = null;
        }
        if (path != null && Files.exists(path)) {
            return new ModelRef(text, path, null);
        }
        if (ModelZoo.has(text)) {
            return new ModelRef(text, null, text);
        }
        boolean looksLikePath = text.contains("/") || text.contains(java.io.File.separator) || text.contains(".");
        if (looksLikePath) {
            throw new IllegalArgumentException(text + ": no such file (built-in models are " + ModelZoo.names() + ")");
        }
        throw new IllegalArgumentException("unknown model '" + text
                + "': not a file and not a built-in model; built-in models are " + ModelZoo.names());
    }

    /** True for a built-in network. */
    boolean isBuiltIn() {
        return builtIn != null;
    }

    /** A name for messages: the path, or {@code mnist-cnn (built-in)}. */
    String displayName() {
        return isBuiltIn() ? builtIn + " (built-in)" : file.toString();
    }

    /** The graph: built with {@link #DEFAULT_SEED} or read from the file. */
    Graph graph() {
        return isBuiltIn() ? ModelZoo.build(builtIn, DEFAULT_SEED) : OnnxReader.read(file);
    }

    /** The size of the ONNX model in bytes: the file's size, or the built-in network's serialized size. */
    long sizeBytes(Graph graph) {
        if (isBuiltIn()) {
            return OnnxWriter.toBytes(graph).length;
        }
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Loads the model into the runtime (a built-in network is serialized in memory first). */
    Model load(ModelOptions options) {
        if (isBuiltIn()) {
            return Model.load(OnnxWriter.toBytes(ModelZoo.build(builtIn, DEFAULT_SEED)), displayName(), options);
        }
        return Model.load(file, options);
    }
}
