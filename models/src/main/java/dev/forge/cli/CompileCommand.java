package dev.forge.cli;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.PassDumps;
import dev.forge.compiler.passes.Pipeline;
import dev.forge.compiler.passes.Pipelines;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainable;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code forge compile MODEL [--pipeline train|gradients|export] --dump-after PASS|all --out DIR}: runs one
 * of the compiler's pipelines on a model, prints the node, value and initializer counts after every pass,
 * and writes the graph after the selected passes as ONNX (MLIR's {@code -mlir-print-ir-after-all}).
 */
@Command(
        name = "compile",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Run a compiler pipeline on a model and show the graph after each pass.",
            "",
            "Prints a table of node, value and initializer counts after every pass; with --out, writes the graph after"
                    + " the passes named by --dump-after as DIR/NN-<pass>.onnx (open them in Netron, or load them in ONNX"
                    + " Runtime). Imported models are prepared for training as 'forge train' does (float initializers that"
                    + " feed data become parameters)."
        })
final class CompileCommand implements Callable<Integer> {
    private static final List<String> PIPELINES = List.of("train", "gradients", "export");

    @Spec
    private CommandSpec spec;

    @Parameters(
            index = "0",
            paramLabel = "MODEL",
            description = "An ONNX file, or a built-in network: ${COMPLETION-CANDIDATES}",
            completionCandidates = Forge.BuiltInNames.class)
    private String model;

    @Option(
            names = "--pipeline",
            paramLabel = "NAME",
            defaultValue = "train",
            description = "train, gradients or export (default: ${DEFAULT-VALUE}).")
    private String pipeline;

    @Option(
            names = "--loss",
            paramLabel = "LOSS",
            defaultValue = "cross-entropy",
            converter = TrainArguments.LossConverter.class,
            completionCandidates = TrainArguments.LossNames.class,
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    private Loss loss;

    @Option(
            names = "--optimizer",
            paramLabel = "NAME",
            defaultValue = "adam",
            converter = TrainArguments.OptimizerConverter.class,
            completionCandidates = TrainArguments.OptimizerNames.class,
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    private TrainArguments.OptimizerName optimizer;

    @Option(
            names = "--lr",
            paramLabel = "X",
            defaultValue = "0.01",
            description = "Learning rate (default: ${DEFAULT-VALUE}).")
    private double lr;

    @Option(
            names = "--dump-after",
            paramLabel = "PASS|all",
            split = ",",
            description =
                    "Write the graph after these passes (comma-separated or repeated), or after every pass and the"
                            + " input with 'all' (default: all, when --out is given).")
    private List<String> dumpAfter;

    @Option(
            names = {"-o", "--out"},
            paramLabel = "DIR",
            description = "Directory for the dumped graphs.")
    private Path out;

    @Override
    public Integer call() {
        if (!PIPELINES.contains(pipeline)) {
            throw new ParameterException(
                    spec.commandLine(), "unknown pipeline '" + pipeline + "'; choose one of " + PIPELINES);
        }
        Optimizer opt = optimizer.create(lr, null, null);
        Pipeline p = switch (pipeline) {
            case "train" -> Pipelines.training(loss, opt);
            case "gradients" -> Pipelines.gradients(loss, false);
            default -> Pipelines.export(Map.of(), Map.of());
        };
        Set<String> selected = selected(p);
        if (dumpAfter != null && out == null) {
            throw new ParameterException(spec.commandLine(), "--dump-after needs --out DIR to write the graphs to");
        }
        ModelRef ref = ModelRef.resolve(model);
        Graph input = ref.graph();
        if (!ref.isBuiltIn() && !pipeline.equals("export")) {
            Trainable.prepare(input);
        }

        TextTable table =
                new TextTable(">#", "pass", ">nodes", ">values", ">initializers", ">inputs", ">outputs", "file");
        PassDumps dumps = out == null ? null : new PassDumps(out, selected::contains);
        String inputFile = "";
        if (dumps != null && selected.contains("input")) {
            inputFile = dumps.write(0, "input", input).getFileName().toString();
        }
        row(table, 0, "(input)", input, inputFile);
        p.run(input, new PassContext(), (index, pass, graph) -> {
            String file = "";
            if (dumps != null && selected.contains(pass.name())) {
                file = dumps.write(index, pass.name(), graph).getFileName().toString();
            }
            row(table, index, pass.name(), graph, file);
        });

        PrintWriter w = spec.commandLine().getOut();
        w.printf("%s on %s%n", p, ref.displayName());
        w.print(table.render("  "));
        if (dumps != null) {
            w.printf(
                    "wrote %d graph%s to %s%n",
                    dumps.written().size(),
                    dumps.written().size() == 1 ? "" : "s",
                    out.toAbsolutePath().normalize());
        }
        w.flush();
        return 0;
    }

    /** The pass names to dump ({@code input} for the pipeline's input); unknown names are a usage error listing the valid ones. */
    private Set<String> selected(Pipeline p) {
        List<String> valid = new ArrayList<>(p.passNames());
        Set<String> out = new LinkedHashSet<>();
        if (dumpAfter == null || dumpAfter.contains("all")) {
            out.add("input");
            out.addAll(valid);
            return out;
        }
        for (String name : dumpAfter) {
            String match = valid.stream()
                    .filter(v -> v.equalsIgnoreCase(name.trim()))
                    .findFirst()
                    .orElse(null);
            if (match == null) {
                throw new ParameterException(
                        spec.commandLine(),
                        "--dump-after: unknown pass '" + name + "' in the " + pipeline + " pipeline; valid passes are "
                                + String.join(", ", valid) + " (or all)");
            }
            out.add(match);
        }
        return out;
    }

    private static void row(TextTable table, int index, String name, Graph g, String file) {
        table.row(
                index,
                name,
                g.nodes().size(),
                g.valueNames().size(),
                g.initializers().size(),
                g.inputs().size(),
                g.outputs().size(),
                file);
    }
}
