package dev.forge.cli;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code forge inspect MODEL}: the network as PyTorch prints it, a layer table, parameter totals and model facts. */
@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Show a network's layers, shapes and parameter counts.",
            "",
            "Prints the network the way PyTorch's print(net) does, then one row per node (name, op, output shape,"
                    + " parameters), the parameter totals, and the model's opsets, IR version, producer, inputs, outputs"
                    + " and metadata.",
            "",
            "Trainable parameters are the weights and biases (for an .onnx file: the floating-point initializers read"
                    + " as weights or biases by Conv, Gemm, MatMul, normalization and PRelu nodes); the total adds"
                    + " buffers such as BatchNorm running statistics."
        })
final class InspectCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(
            index = "0",
            paramLabel = "MODEL",
            description = "An .onnx file, or a built-in network: ${COMPLETION-CANDIDATES}",
            completionCandidates = Forge.BuiltInNames.class)
    private String model;

    @Override
    public Integer call() {
        ModelRef ref = ModelRef.resolve(model);
        Graph g = ref.graph();
        long size = ref.sizeBytes(g);
        PrintWriter out = spec.commandLine().getOut();
        out.print(report(g, ref.isBuiltIn() ? null : ref.file().getFileName().toString(), size));
        out.flush();
        return 0;
    }

    /**
     * The whole report.
     *
     * @param g the graph
     * @param fileName the model's file name (for the class name of imported graphs with a generic name), or
     *     null for a built-in network
     * @param sizeBytes the ONNX model's size
     */
    static String report(Graph g, String fileName, long sizeBytes) {
        ParameterCount params = ParameterCount.of(g);
        StringBuilder sb = new StringBuilder();
        sb.append(TorchRepr.of(g, className(g, fileName))).append('\n');

        // a quantized or float16 model gets a precision column; a float32 one keeps the PyTorch-like table
        boolean mixed = Precision.isMixed(g);
        TextTable table = mixed
                ? new TextTable("Layer", "Op", "Precision", "Output shape", ">Params")
                : new TextTable("Layer", "Op", "Output shape", ">Params");
        Map<String, Integer> precisions = new TreeMap<>();
        for (Node n : g.nodes()) {
            List<String> shapes = new ArrayList<>();
            for (String o : n.outputs()) {
                if (!o.isEmpty()) {
                    shapes.add(shape(g.type(o)));
                }
            }
            if (mixed) {
                String p = Precision.of(g, n);
                table.row(n.name(), n.opType(), p, String.join(" ", shapes), number(params.of(n)));
                if (!p.isEmpty()) {
                    precisions.merge(p, 1, Integer::sum);
                }
            } else {
                table.row(n.name(), n.opType(), String.join(" ", shapes), number(params.of(n)));
            }
        }
        sb.append(table.render(""));
        sb.append('\n');

        long trainable = params.trainableTotal();
        long buffers = params.total() - trainable;
        TextTable facts = new TextTable("", "");
        facts.row("Trainable parameters:", number(trainable));
        facts.row(
                "Total parameters:",
                number(params.total())
                        + (buffers > 0
                                ? " (with " + number(buffers)
                                        + " non-trainable: BatchNorm running statistics, constants)"
                                : ""));
        facts.row(
                "Model size:",
                number(sizeBytes) + " bytes as ONNX (" + humanBytes(sizeBytes) + "), of which weights "
                        + number(params.weightBytes()) + " bytes");
        if (mixed) {
            List<String> parts = new ArrayList<>();
            precisions.forEach((p, count) -> parts.add(count + " " + p));
            facts.row("Precision:", String.join(", ", parts) + " nodes");
        }
        facts.row("Opsets:", opsets(g.opsets()));
        facts.row("IR version:", g.irVersion());
        facts.row(
                "Producer:",
                (g.producerName().isEmpty() ? "(none)" : g.producerName())
                        + (g.producerVersion().isEmpty() ? "" : " " + g.producerVersion()));
        facts.row("Graph:", g.name());
        facts.row("Inputs:", valueInfos(g.inputs()));
        facts.row("Outputs:", valueInfos(g.outputs()));
        if (g.metadata().isEmpty()) {
            facts.row("Metadata:", "(none)");
        }
        String rendered = facts.render("");
        // drop the empty header line
        sb.append(rendered.substring(rendered.indexOf('\n') + 1));
        if (!g.metadata().isEmpty()) {
            sb.append("Metadata:\n");
            for (Map.Entry<String, String> e : g.metadata().entrySet()) {
                sb.append("  ")
                        .append(e.getKey())
                        .append(" = ")
                        .append(oneLine(e.getValue()))
                        .append('\n');
            }
        }
        return sb.toString();
    }

    private static String className(Graph g, String fileName) {
        String name = g.name();
        boolean generic = name == null
                || name.isBlank()
                || name.equals("graph")
                || name.equals("main_graph")
                || name.startsWith("torch_jit")
                || name.startsWith("torch-jit");
        if (generic && fileName != null) {
            name = fileName.endsWith(".onnx") ? fileName.substring(0, fileName.length() - 5) : fileName;
        }
        return TorchRepr.className(name);
    }

    /** {@code [N,32,28,28]}; {@code ?} for an unknown dimension or shape. */
    static String shape(ValueType t) {
        if (t == null || t.shape() == null) {
            return "?";
        }
        StringBuilder sb = new StringBuilder("[");
        List<Dim> dims = t.shape().dims();
        for (int i = 0; i < dims.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(dims.get(i));
        }
        return sb.append(']').toString();
    }

    private static String valueInfos(List<ValueInfo> values) {
        if (values.isEmpty()) {
            return "(none)";
        }
        List<String> parts = new ArrayList<>();
        for (ValueInfo v : values) {
            // a sequence or an optional (imported models only) prints as its IR type
            parts.add(
                    v.isTensor()
                            ? v.name() + ": " + v.type().dtype().typeName() + shape(v.type())
                            : v.name() + ": " + v.irType());
        }
        return String.join(", ", parts);
    }

    private static String opsets(Map<String, Long> opsets) {
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, Long> e : opsets.entrySet()) {
            parts.add((e.getKey().isEmpty() ? "ai.onnx" : e.getKey()) + " " + e.getValue());
        }
        return parts.isEmpty() ? "(none)" : String.join(", ", parts);
    }

    static String number(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    private static String humanBytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    private static String oneLine(String s) {
        String t = s.replaceAll("\\s+", " ").trim();
        return t.length() > 200 ? t.substring(0, 197) + "..." : t;
    }
}
