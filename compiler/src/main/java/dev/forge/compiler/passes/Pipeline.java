package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * An ordered list of {@link Pass passes} run one after the other over a graph (TVM's
 * {@code Sequential}, MLIR's pass manager). Immutable: {@link #then} and {@link #insertAfter} return a
 * new pipeline, so adding a pass to a standard pipeline is one call.
 */
public final class Pipeline {
    private final String name;
    private final List<Pass> passes;

    /**
     * A pipeline.
     *
     * @param name what it is for, e.g. {@code train}
     * @param passes the passes in the order they run; their names must be distinct
     */
    public Pipeline(String name, List<Pass> passes) {
        this.name = Objects.requireNonNull(name, "name");
        this.passes = List.copyOf(passes);
        List<String> names = passNames();
        for (int i = 0; i < names.size(); i++) {
            if (names.indexOf(names.get(i)) != i) {
                throw new IllegalArgumentException(
                        "pipeline '" + name + "' names pass '" + names.get(i) + "' twice: " + names);
            }
        }
    }

    /** A pipeline of these passes. */
    public static Pipeline of(String name, Pass... passes) {
        return new Pipeline(name, List.of(passes));
    }

    public String name() {
        return name;
    }

    /** The passes in order. */
    public List<Pass> passes() {
        return passes;
    }

    /** The pass names in order. */
    public List<String> passNames() {
        return passes.stream().map(Pass::name).collect(Collectors.toUnmodifiableList());
    }

    /** This pipeline with {@code pass} appended. */
    public Pipeline then(Pass pass) {
        List<Pass> list = new ArrayList<>(passes);
        list.add(pass);
        return new Pipeline(name, list);
    }

    /**
     * This pipeline with {@code pass} inserted right after the pass named {@code after}.
     *
     * @throws IllegalArgumentException if no pass has that name (the message lists the names)
     */
    public Pipeline insertAfter(String after, Pass pass) {
        int i = passNames().indexOf(after);
        if (i < 0) {
            throw new IllegalArgumentException(
                    "pipeline '" + name + "' has no pass '" + after + "'; its passes are " + passNames());
        }
        List<Pass> list = new ArrayList<>(passes);
        list.add(i + 1, pass);
        return new Pipeline(name, list);
    }

    /** Runs every pass on a copy of {@code input} (which is never changed) and returns the result. */
    public Graph run(Graph input, PassContext context) {
        return run(input, context, PassInstrumentation.NONE);
    }

    /**
     * Runs every pass on a copy of {@code input} (which is never changed), calling {@code instrumentation}
     * after each, and returns the result.
     */
    public Graph run(Graph input, PassContext context, PassInstrumentation instrumentation) {
        Graph g = input.copy();
        for (int i = 0; i < passes.size(); i++) {
            Pass pass = passes.get(i);
            g = Objects.requireNonNull(pass.run(g, context), () -> "pass " + pass.name() + " returned no graph");
            instrumentation.afterPass(i + 1, pass, g);
        }
        return g;
    }

    /** The pipeline as one line, e.g. {@code export: BakeState -> RemoveTrainingNodes -> ...}. */
    @Override
    public String toString() {
        return name + ": " + String.join(" -> ", passNames());
    }
}
