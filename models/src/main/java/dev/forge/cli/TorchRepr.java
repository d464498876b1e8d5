package dev.forge.cli;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints a graph the way PyTorch's {@code print(net)} prints a module: the class name, then one
 * {@code (name): Module(args)} line per node, with PyTorch's module names and argument spelling.
 *
 * <p>Mapping (ONNX node to PyTorch module):
 *
 * <ul>
 *   <li>{@code Conv} with an N-d kernel to {@code ConvNd(in, out, kernel_size=(..), stride=(..))}, adding
 *       {@code padding}, {@code dilation}, {@code groups} and {@code bias=False} only when they differ
 *       from PyTorch's defaults, as PyTorch does; {@code ConvTranspose} likewise, with {@code
 *       output_padding}.
 *   <li>{@code BatchNormalization} to {@code BatchNorm1d/2d/3d(C, eps=.., momentum=.., affine=True,
 *       track_running_stats=True)}; ONNX momentum m is PyTorch momentum 1 - m.
 *   <li>{@code Gemm} with {@code transB=1}, {@code transA=0}, alpha = beta = 1 and a 2-D weight to {@code
 *       Linear(in_features=.., out_features=.., bias=..)}.
 *   <li>{@code MaxPool}/{@code AveragePool} to {@code MaxPool2d}/{@code AvgPool2d}, with sizes printed as
 *       one int when all axes agree.
 *   <li>Activations and shape ops with a PyTorch module ({@code ReLU()}, {@code Sigmoid()}, {@code
 *       Tanh()}, {@code LeakyReLU(negative_slope=..)}, {@code Softmax(dim=..)}, {@code Flatten(start_dim=1,
 *       end_dim=-1)}, {@code Dropout(p=.., inplace=False)}, {@code AdaptiveAvgPool2d(output_size=1)}, ...).
 *   <li>Anything else as its ONNX op type and attributes, e.g. {@code Concat(axis=1)}.
 * </ul>
 *
 * <p>Numbers are formatted as Python's {@code repr} does ({@code 1e-05}, {@code 0.1}, {@code (3,)}), using
 * the shortest decimal of the float32 attribute value, so ONNX's {@code 9.999999747378752e-06} prints as
 * PyTorch's {@code 1e-05}.
 */
final class TorchRepr {
    private TorchRepr() {}

    /** The whole {@code print(net)} text, ending with a newline. */
    static String of(Graph graph, String className) {
        StringBuilder sb = new StringBuilder(className);
        if (graph.nodes().isEmpty()) {
            return sb.append("()\n").toString();
        }
        sb.append("(\n");
        Map<String, Integer> uses = new HashMap<>();
        for (Node n : graph.nodes()) {
            uses.merge(moduleName(n.name()), 1, Integer::sum);
        }
        for (Node n : graph.nodes()) {
            String name = moduleName(n.name());
            if (uses.get(name) > 1) {
                // several nodes from one PyTorch module (e.g. Pad + AveragePool): tell them apart
                name = n.name().startsWith("/") ? n.name().substring(1) : n.name();
            }
            sb.append("  (").append(name).append("): ").append(module(graph, n)).append('\n');
        }
        return sb.append(")\n").toString();
    }

    /**
     * A class name from a graph name, PyTorch style: {@code mnist_cnn} becomes {@code MnistCnn}; a name
     * that cannot start a class name gets the prefix {@code Model}.
     */
    static String className(String graphName) {
        StringBuilder sb = new StringBuilder();
        for (String part : (graphName == null ? "" : graphName).split("[^A-Za-z0-9]+")) {
            if (!part.isEmpty()) {
                sb.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
            }
        }
        if (sb.length() == 0 || !Character.isLetter(sb.charAt(0))) {
            sb.insert(0, "Model");
        }
        return sb.toString();
    }

    /**
     * The module name PyTorch would show: the node name, except that PyTorch's exporter names nodes
     * {@code /scope/.../module.path/OpType}, whose last scope is the module's qualified name.
     */
    static String moduleName(String nodeName) {
        if (nodeName.startsWith("/") && nodeName.length() > 1) {
            String[] parts = nodeName.substring(1).split("/");
            return parts.length >= 2 ? parts[parts.length - 2] : parts[0];
        }
        return nodeName.isEmpty() ? "?" : nodeName;
    }

    /** One module's repr, e.g. {@code Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))}. */
    static String module(Graph g, Node n) {
        String mapped = null;
        if (n.domain().isEmpty() || n.domain().equals("ai.onnx")) {
            try {
                mapped = mapped(g, n);
            } catch (IllegalArgumentException e) {
                mapped = null; // an attribute of an unexpected type: fall back to the raw ONNX form
            }
        }
        return mapped != null ? mapped : generic(n);
    }

    private static String mapped(Graph g, Node n) {
        switch (n.opType()) {
            case "Conv":
                return conv(g, n, false);
            case "ConvTranspose":
                return conv(g, n, true);
            case "BatchNormalization":
                return batchNorm(g, n);
            case "Gemm":
                return linear(g, n);
            case "MaxPool":
                return pool(g, n, "MaxPool");
            case "AveragePool":
                return pool(g, n, "AvgPool");
            case "Relu":
                return "ReLU()";
            case "Sigmoid":
                return "Sigmoid()";
            case "Tanh":
                return "Tanh()";
            case "Identity":
                return "Identity()";
            case "Selu":
                return n.attributes().isEmpty() ? "SELU()" : null;
            case "Elu":
                return "ELU(alpha=" + pyFloat(n.attrFloat("alpha", 1f)) + ")";
            case "LeakyRelu":
                return "LeakyReLU(negative_slope=" + pyFloat(n.attrFloat("alpha", 0.01f)) + ")";
            case "Softmax":
            case "LogSoftmax": {
                long axis = n.attrInt("axis", g.opset() >= 13 ? -1 : 1);
                return n.opType() + "(dim=" + axis + ")";
            }
            case "Flatten":
                return n.attrInt("axis", 1) == 1 ? "Flatten(start_dim=1, end_dim=-1)" : null;
            case "Dropout":
                return dropout(g, n);
            case "GlobalAveragePool":
                return rank(g, n.input(0)) == 4 ? "AdaptiveAvgPool2d(output_size=1)" : null;
            case "GlobalMaxPool":
                return rank(g, n.input(0)) == 4 ? "AdaptiveMaxPool2d(output_size=1)" : null;
            default:
                return null;
        }
    }

    private static String conv(Graph g, Node n, boolean transpose) {
        long[] w = fixedShape(g, n.input(1));
        if (w == null || w.length < 3 || w.length > 5) {
            return null;
        }
        int spatial = w.length - 2;
        long group = n.attrInt("group", 1);
        long[] kernel = n.attrInts("kernel_shape", Arrays.copyOfRange(w, 2, w.length));
        long[] strides = n.attrInts("strides", filled(spatial, 1));
        long[] dilations = n.attrInts("dilations", filled(spatial, 1));
        long[] pads = n.attrInts("pads", filled(2 * spatial, 0));
        if (kernel.length != spatial
                || strides.length != spatial
                || dilations.length != spatial
                || pads.length != 2 * spatial) {
            return null;
        }
        long in = transpose ? w[0] : w[1] * group;
        long out = transpose ? w[1] * group : w[0];
        StringBuilder sb = new StringBuilder(transpose ? "ConvTranspose" : "Conv")
                .append(spatial)
                .append("d(")
                .append(in)
                .append(", ")
                .append(out)
                .append(", kernel_size=")
                .append(pyTuple(kernel))
                .append(", stride=")
                .append(pyTuple(strides));
        appendPadding(sb, n, pads, spatial, true);
        if (transpose) {
            long[] outputPadding = n.attrInts("output_padding", filled(spatial, 0));
            if (!allEqual(outputPadding, 0)) {
                sb.append(", output_padding=").append(pyTuple(outputPadding));
            }
        }
        if (!allEqual(dilations, 1)) {
            sb.append(", dilation=").append(pyTuple(dilations));
        }
        if (group != 1) {
            sb.append(", groups=").append(group);
        }
        if (!n.hasInput(2)) {
            sb.append(", bias=False");
        }
        if (transpose && n.attr("output_shape") != null) {
            sb.append(", output_shape=").append(pyList(n.attrInts("output_shape", null)));
        }
        return sb.append(')').toString();
    }

    /**
     * PyTorch prints {@code padding=(p, q)} when it is not zero; ONNX pads are {@code [begin..., end...]},
     * which PyTorch can only express when begins equal ends, so uneven pads print as ONNX {@code pads}.
     */
    private static void appendPadding(StringBuilder sb, Node n, long[] pads, int spatial, boolean tuple) {
        String autoPad = n.attrString("auto_pad", "NOTSET");
        if (autoPad.startsWith("SAME")) {
            sb.append(", padding='same'");
            if (autoPad.equals("SAME_LOWER")) {
                sb.append(", auto_pad='SAME_LOWER'");
            }
            return;
        }
        if (autoPad.equals("VALID")) {
            if (!tuple) {
                sb.append(", padding=0");
            }
            return;
        }
        long[] begin = Arrays.copyOfRange(pads, 0, spatial);
        long[] end = Arrays.copyOfRange(pads, spatial, 2 * spatial);
        if (!Arrays.equals(begin, end)) {
            sb.append(", pads=").append(pyList(pads));
        } else if (!tuple) {
            sb.append(", padding=").append(pyIntOrTuple(begin));
        } else if (!allEqual(begin, 0)) {
            sb.append(", padding=").append(pyTuple(begin));
        }
    }

    private static String batchNorm(Graph g, Node n) {
        long[] scale = fixedShape(g, n.input(1));
        int rank = rank(g, n.input(0));
        if (scale == null || scale.length != 1 || n.attrInt("training_mode", 0) != 0) {
            return null;
        }
        String kind = rank == 2 || rank == 3 ? "1d" : rank == 5 ? "3d" : "2d";
        BigDecimal onnxMomentum = shortest(n.attrFloat("momentum", 0.9f));
        return "BatchNorm" + kind + "(" + scale[0] + ", eps=" + pyFloat(n.attrFloat("epsilon", 1e-5f))
                + ", momentum=" + pyFloat(BigDecimal.ONE.subtract(onnxMomentum))
                + ", affine=True, track_running_stats=True)";
    }

    private static String linear(Graph g, Node n) {
        long[] w = fixedShape(g, n.input(1));
        if (w == null
                || w.length != 2
                || n.attrInt("transB", 0) != 1
                || n.attrInt("transA", 0) != 0
                || n.attrFloat("alpha", 1f) != 1f
                || n.attrFloat("beta", 1f) != 1f) {
            return null;
        }
        return "Linear(in_features=" + w[1] + ", out_features=" + w[0] + ", bias=" + pyBool(n.hasInput(2)) + ")";
    }

    private static String pool(Graph g, Node n, String kind) {
        long[] kernel = n.attrInts("kernel_shape", null);
        if (kernel == null || kernel.length < 1 || kernel.length > 3) {
            return null;
        }
        int spatial = kernel.length;
        long[] strides = n.attrInts("strides", filled(spatial, 1));
        long[] pads = n.attrInts("pads", filled(2 * spatial, 0));
        long[] dilations = n.attrInts("dilations", filled(spatial, 1));
        if (strides.length != spatial || pads.length != 2 * spatial || dilations.length != spatial) {
            return null;
        }
        boolean ceil = n.attrInt("ceil_mode", 0) != 0;
        StringBuilder sb = new StringBuilder(kind)
                .append(spatial)
                .append("d(kernel_size=")
                .append(pyIntOrTuple(kernel))
                .append(", stride=")
                .append(pyIntOrTuple(strides));
        appendPadding(sb, n, pads, spatial, false);
        if (kind.equals("MaxPool")) {
            sb.append(", dilation=")
                    .append(pyIntOrTuple(dilations))
                    .append(", ceil_mode=")
                    .append(pyBool(ceil));
        } else {
            // PyTorch's AvgPool2d prints only these three; say so when the ONNX node differs from its defaults
            if (ceil) {
                sb.append(", ceil_mode=True");
            }
            if (n.attrInt("count_include_pad", 0) == 0 && !allEqual(pads, 0)) {
                sb.append(", count_include_pad=False");
            }
        }
        return sb.append(')').toString();
    }

    private static String dropout(Graph g, Node n) {
        float ratio = n.attrFloat("ratio", 0.5f);
        if (n.hasInput(1)) {
            Tensor r = g.initializers().get(n.input(1));
            if (r == null || r.size() != 1 || !r.dtype().isFloatingPoint()) {
                return null;
            }
            ratio = r.toFloatArray()[0];
        }
        return "Dropout(p=" + pyFloat(ratio) + ", inplace=False)";
    }

    /** {@code Concat(axis=1)}: the ONNX op and its attributes, for ops PyTorch has no module for. */
    static String generic(Node n) {
        StringBuilder sb = new StringBuilder();
        if (!n.domain().isEmpty() && !n.domain().equals("ai.onnx")) {
            sb.append(n.domain()).append('.');
        }
        sb.append(n.opType()).append('(');
        boolean first = true;
        for (Map.Entry<String, Attribute> e : n.attributes().entrySet()) {
            sb.append(first ? "" : ", ").append(e.getKey()).append('=').append(attribute(e.getValue()));
            first = false;
        }
        return sb.append(')').toString();
    }

    private static String attribute(Attribute a) {
        if (a instanceof Attribute.Int i) {
            return Long.toString(i.value());
        } else if (a instanceof Attribute.Float f) {
            return pyFloat(f.value());
        } else if (a instanceof Attribute.Str s) {
            return pyString(s.value());
        } else if (a instanceof Attribute.Ints i) {
            return pyList(i.values());
        } else if (a instanceof Attribute.Floats f) {
            List<String> parts = new ArrayList<>();
            for (float v : f.values()) {
                parts.add(pyFloat(v));
            }
            return "[" + String.join(", ", parts) + "]";
        } else if (a instanceof Attribute.Strs s) {
            List<String> parts = new ArrayList<>();
            for (String v : s.values()) {
                parts.add(pyString(v));
            }
            return "[" + String.join(", ", parts) + "]";
        } else if (a instanceof Attribute.TensorValue t) {
            return "tensor(" + t.value().dtype().typeName()
                    + Shape.format(t.value().shape()) + ")";
        }
        return "<" + a.getClass().getSimpleName().toLowerCase(Locale.ROOT) + ">";
    }

    // ---- Python literal formatting ---------------------------------------------------------------

    /** Python's {@code repr} of the float32 value {@code v} as PyTorch holds it: {@code 1e-05}, {@code 0.1}. */
    static String pyFloat(float v) {
        if (Float.isNaN(v)) {
            return "nan";
        }
        if (Float.isInfinite(v)) {
            return v > 0 ? "inf" : "-inf";
        }
        if (v == 0f) {
            return (Float.floatToRawIntBits(v) < 0 ? "-" : "") + "0.0";
        }
        return pyFloat(shortest(v));
    }

    /**
     * The shortest decimal that reads back as the same float32 (what PyTorch shows for a value that went
     * through float32). Java 17's {@code Float.toString} is not always the shortest ({@code 1.00000003E16}).
     */
    static BigDecimal shortest(float v) {
        BigDecimal exact = new BigDecimal(v);
        for (int digits = 1; digits < 9; digits++) {
            BigDecimal d = exact.round(new java.math.MathContext(digits, java.math.RoundingMode.HALF_EVEN));
            if (d.floatValue() == v) {
                return d;
            }
        }
        return exact.round(new java.math.MathContext(9, java.math.RoundingMode.HALF_EVEN));
    }

    /**
     * Python's {@code repr} of a decimal: fixed notation for exponents -4..15, else scientific with at least
     * two exponent digits ({@code 1e-05}, {@code 1.5e+16}).
     */
    static String pyFloat(BigDecimal value) {
        if (value.signum() == 0) {
            return "0.0";
        }
        BigDecimal v = value.stripTrailingZeros();
        String sign = v.signum() < 0 ? "-" : "";
        v = v.abs();
        String digits = v.unscaledValue().toString();
        int exp10 = digits.length() - 1 - v.scale();
        if (exp10 >= -4 && exp10 < 16) {
            String plain = v.toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        String exp = String.format(Locale.ROOT, "%s%02d", exp10 < 0 ? "-" : "+", Math.abs(exp10));
        return sign + mantissa + "e" + exp;
    }

    /** {@code (5, 5)}, or {@code (3,)} for one element, as Python prints tuples. */
    static String pyTuple(long[] values) {
        if (values.length == 1) {
            return "(" + values[0] + ",)";
        }
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(values[i]);
        }
        return sb.append(')').toString();
    }

    /** One int when every axis agrees (as {@code MaxPool2d(2)} prints), else a tuple. */
    static String pyIntOrTuple(long[] values) {
        return values.length > 0 && allEqual(values, values[0]) ? Long.toString(values[0]) : pyTuple(values);
    }

    private static String pyList(long[] values) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(values[i]);
        }
        return sb.append(']').toString();
    }

    private static String pyBool(boolean b) {
        return b ? "True" : "False";
    }

    private static String pyString(String s) {
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    // ---- helpers -----------------------------------------------------------------------------------

    /** The fixed shape of a value, or null when it is unknown or not fully fixed. */
    private static long[] fixedShape(Graph g, String value) {
        if (value.isEmpty()) {
            return null;
        }
        ValueType t = g.type(value);
        return t == null || t.shape() == null || !t.shape().isFixed()
                ? null
                : t.shape().toArray();
    }

    /** The rank of a value, or -1 when unknown. */
    private static int rank(Graph g, String value) {
        ValueType t = value.isEmpty() ? null : g.type(value);
        return t == null || t.shape() == null ? -1 : t.shape().rank();
    }

    private static long[] filled(int n, long v) {
        long[] a = new long[n];
        Arrays.fill(a, v);
        return a;
    }

    private static boolean allEqual(long[] values, long v) {
        for (long x : values) {
            if (x != v) {
                return false;
            }
        }
        return true;
    }
}
