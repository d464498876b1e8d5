package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.OnnxWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Writes the graph after selected passes as ONNX files {@code DIR/NN-<pass>.onnx} (NN the pass's position
 * from 01), like MLIR's {@code -mlir-print-ir-after-all}; open them in Netron or load them in ONNX Runtime.
 * Values no node reads are declared graph outputs in the dump ({@link #viewable}), so a graph between two
 * passes (a training step before its outputs are declared) is a complete model and nothing is pruned.
 */
public final class PassDumps implements PassInstrumentation {
    private final Path dir;
    private final Predicate<String> selected;
    private final List<Path> written = new ArrayList<>();

    /**
     * Dumps after every pass whose name {@code selected} accepts.
     *
     * @param dir the directory (created if missing)
     * @param selected which pass names to dump
     */
    public PassDumps(Path dir, Predicate<String> selected) {
        this.dir = dir;
        this.selected = selected;
    }

    /** The file name of the dump after pass {@code index} ({@code 0} for the pipeline's input). */
    public static String fileName(int index, String passName) {
        return String.format("%02d-%s.onnx", index, passName);
    }

    @Override
    public void afterPass(int index, Pass pass, Graph graph) {
        if (selected.test(pass.name())) {
            write(index, pass.name(), graph);
        }
    }

    /** Writes {@code graph} as dump number {@code index} under {@code label} and returns the file. */
    public Path write(int index, String label, Graph graph) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path file = dir.resolve(fileName(index, label));
        OnnxWriter.write(viewable(graph), file);
        written.add(file);
        return file;
    }

    /** The files written so far, in order. */
    public List<Path> written() {
        return List.copyOf(written);
    }

    /**
     * A copy of {@code g} whose outputs are its declared outputs followed by every typed node output that
     * no node reads: what the graph computes so far, as a model ONNX Runtime loads without pruning it.
     */
    public static Graph viewable(Graph g) {
        Graph copy = g.copy();
        Set<String> read = new HashSet<>();
        for (Node n : g.nodes()) {
            read.addAll(n.inputs());
        }
        Set<String> declared = new HashSet<>();
        g.outputs().forEach(o -> declared.add(o.name()));
        for (Node n : g.nodes()) {
            for (String out : n.outputs()) {
                if (!out.isEmpty() && !read.contains(out) && !declared.contains(out) && g.type(out) != null) {
                    copy.addOutput(new ValueInfo(out, g.type(out)));
                    declared.add(out);
                }
            }
        }
        return copy;
    }
}
