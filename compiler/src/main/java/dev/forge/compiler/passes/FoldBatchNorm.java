package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Folds an inference-mode BatchNormalization into the layer before it: a Conv, a Gemm, or a MatMul with
 * or without a bias Add. The BatchNormalization is an affine map per output channel,
 * {@code y = z * f + (shift - mean * f)} with {@code f = scale / sqrt(var + eps)}, so it scales the
 * layer's weights per output channel and moves into its bias:
 * <pre>
 *   W' = W * f         (Conv: each filter; Gemm: each output row of B, or column without transB; MatMul: each column)
 *   B' = (B - mean) * f + shift      (B = 0 when the layer has no bias; Gemm: B = beta * C, stored as B' / beta)
 * </pre>
 * computed in double precision and rounded once to float. Folds only when the layer's output feeds
 * nothing but the BatchNormalization (through the bias Add for MatMul) and is not a graph output, and
 * when the weights, bias and every BatchNormalization input are float constants; a Gemm or MatMul only
 * with a rank-2 output, where the channel axis 1 is the output feature axis.
 */
public final class FoldBatchNorm implements Pass {
    @Override
    public Graph run(Graph g, PassContext context) {
        Set<String> graphOutputs = new HashSet<>();
        g.outputs().forEach(o -> graphOutputs.add(o.name()));
        List<Node> nodes = new ArrayList<>(g.nodes());
        for (int i = 0; i < nodes.size(); i++) {
            Node bn = nodes.get(i);
            if (!bn.opType().equals("BatchNormalization")
                    || bn.outputs().size() != 1
                    || bn.attrInt("training_mode", 0) != 0) {
                continue;
            }
            Node layer = producer(nodes, bn.input(0));
            if (layer == null || graphOutputs.contains(layer.output(0))) {
                continue;
            }
            boolean folded = switch (layer.opType()) {
                case "Conv" -> foldConv(g, nodes, layer, bn);
                case "Gemm" -> foldGemm(g, nodes, layer, bn);
                case "MatMul", "Add" -> foldMatMul(g, nodes, layer, bn, graphOutputs);
                default -> false;
            };
            if (folded) {
                i = nodes.indexOf(bn);
                nodes.remove(i);
                i--;
            }
        }
        g.setNodes(nodes);
        return g;
    }

    /** The BatchNormalization's per-channel factor {@code f} and shift {@code shift - mean * f}, or null if not constant. */
    private static double[][] affine(Graph g, Node bn, long channels) {
        Tensor scale = g.initializers().get(bn.input(1));
        Tensor shift = g.initializers().get(bn.input(2));
        Tensor mean = g.initializers().get(bn.input(3));
        Tensor var = g.initializers().get(bn.input(4));
        if (scale == null || shift == null || mean == null || var == null || scale.size() != channels) {
            return null;
        }
        double eps = bn.attrFloat("epsilon", 1e-5f);
        double[] s = scale.toDoubleArray();
        double[] sh = shift.toDoubleArray();
        double[] m = mean.toDoubleArray();
        double[] v = var.toDoubleArray();
        double[] f = new double[(int) channels];
        double[] b = new double[(int) channels];
        for (int o = 0; o < channels; o++) {
            f[o] = s[o] / Math.sqrt(v[o] + eps);
            b[o] = sh[o] - m[o] * f[o];
        }
        return new double[][] {f, b};
    }

    private static boolean foldConv(Graph g, List<Node> nodes, Node conv, Node bn) {
        Tensor w = g.initializers().get(conv.input(1));
        Tensor b = conv.hasInput(2) ? g.initializers().get(conv.input(2)) : null;
        Tensor scale = g.initializers().get(bn.input(1));
        Tensor shift = g.initializers().get(bn.input(2));
        Tensor mean = g.initializers().get(bn.input(3));
        Tensor var = g.initializers().get(bn.input(4));
        if (consumers(nodes, conv.output(0)) != 1
                || w == null
                || (conv.hasInput(2) && b == null)
                || scale == null
                || shift == null
                || mean == null
                || var == null
                || w.dtype() != DType.FLOAT32) {
            return false;
        }
        double eps = bn.attrFloat("epsilon", 1e-5f);
        int filters = (int) w.shape()[0];
        int per = (int) (w.size() / filters);
        double[] wd = w.toDoubleArray();
        double[] s = scale.toDoubleArray();
        double[] sh = shift.toDoubleArray();
        double[] m = mean.toDoubleArray();
        double[] v = var.toDoubleArray();
        double[] bd = b == null ? new double[filters] : b.toDoubleArray();
        float[] w2 = new float[wd.length];
        float[] b2 = new float[filters];
        for (int o = 0; o < filters; o++) {
            double f = s[o] / Math.sqrt(v[o] + eps);
            for (int k = 0; k < per; k++) {
                w2[o * per + k] = (float) (wd[o * per + k] * f);
            }
            b2[o] = (float) ((bd[o] - m[o]) * f + sh[o]);
        }
        String wName = freshName(g, conv.name() + "/W_folded");
        g.addInitializer(wName, Tensor.of(w2, w.shape()));
        String bName = freshName(g, conv.name() + "/B_folded");
        g.addInitializer(bName, Tensor.of(b2, filters));
        nodes.set(
                nodes.indexOf(conv),
                new Node(
                        "Conv",
                        conv.name(),
                        conv.domain(),
                        List.of(conv.input(0), wName, bName),
                        List.of(bn.output(0)),
                        conv.attributes()));
        return true;
    }

    /*
     * Gemm: z = alpha * A op(B) + beta * C. Scaling output feature o of op(B) by f[o] scales z's column o
     * (alpha included); the bias must satisfy beta * C' = f * beta * C + (shift - mean * f).
     */
    private static boolean foldGemm(Graph g, List<Node> nodes, Node gemm, Node bn) {
        Tensor w = g.initializers().get(gemm.input(1));
        Tensor c = gemm.hasInput(2) ? g.initializers().get(gemm.input(2)) : null;
        double beta = gemm.attrFloat("beta", 1f);
        boolean transB = gemm.attrInt("transB", 0) != 0;
        if (consumers(nodes, gemm.output(0)) != 1
                || w == null
                || w.dtype() != DType.FLOAT32
                || w.rank() != 2
                || (gemm.hasInput(2) && c == null)
                || beta == 0) {
            return false;
        }
        long features = transB ? w.dim(0) : w.dim(1);
        double[] cd = c == null ? new double[(int) features] : perFeature(c, features);
        double[][] fb = affine(g, bn, features);
        if (cd == null || fb == null) {
            return false;
        }
        float[] w2 = scaleFeatures(w, fb[0], transB);
        float[] c2 = new float[(int) features];
        for (int o = 0; o < features; o++) {
            c2[o] = (float) ((beta * cd[o] * fb[0][o] + fb[1][o]) / beta);
        }
        String wName = freshName(g, gemm.name() + "/W_folded");
        g.addInitializer(wName, Tensor.of(w2, w.shape()));
        String cName = freshName(g, gemm.name() + "/B_folded");
        g.addInitializer(cName, Tensor.of(c2, features));
        nodes.set(
                nodes.indexOf(gemm),
                new Node(
                        "Gemm",
                        gemm.name(),
                        gemm.domain(),
                        List.of(gemm.input(0), wName, cName),
                        List.of(bn.output(0)),
                        gemm.attributes()));
        return true;
    }

    /** MatMul(x, W) [-> Add(., b)] -> BatchNormalization with a rank-2 output becomes MatMul(x, W') -> Add(., b'). */
    private static boolean foldMatMul(Graph g, List<Node> nodes, Node layer, Node bn, Set<String> graphOutputs) {
        Node add = layer.opType().equals("Add") ? layer : null;
        Node mm = layer;
        Tensor b = null;
        if (add != null) {
            if (consumers(nodes, add.output(0)) != 1) {
                return false;
            }
            Node p0 = producer(nodes, add.input(0));
            Node p1 = producer(nodes, add.input(1));
            int mmSide = p0 != null && p0.opType().equals("MatMul")
                    ? 0
                    : p1 != null && p1.opType().equals("MatMul") ? 1 : -1;
            if (mmSide < 0) {
                return false;
            }
            mm = mmSide == 0 ? p0 : p1;
            b = g.initializers().get(add.input(1 - mmSide));
            if (b == null || b.dtype() != DType.FLOAT32 || graphOutputs.contains(mm.output(0))) {
                return false;
            }
        }
        Tensor w = g.initializers().get(mm.input(1));
        var outType = g.type(bn.input(0));
        if (consumers(nodes, mm.output(0)) != 1
                || w == null
                || w.dtype() != DType.FLOAT32
                || w.rank() != 2
                || outType == null
                || outType.shape() == null
                || outType.shape().rank() != 2) {
            return false;
        }
        long features = w.dim(1);
        double[] bd = b == null ? new double[(int) features] : perFeature(b, features);
        double[][] fb = affine(g, bn, features);
        if (bd == null || fb == null) {
            return false;
        }
        float[] w2 = scaleFeatures(w, fb[0], false);
        float[] b2 = new float[(int) features];
        for (int o = 0; o < features; o++) {
            b2[o] = (float) (bd[o] * fb[0][o] + fb[1][o]);
        }
        String wName = freshName(g, mm.name() + "/W_folded");
        g.addInitializer(wName, Tensor.of(w2, w.shape()));
        String bName = freshName(g, (add != null ? add.name() : mm.name()) + "/B_folded");
        g.addInitializer(bName, Tensor.of(b2, features));
        nodes.set(
                nodes.indexOf(mm),
                new Node("MatMul", mm.name(), mm.domain(), List.of(mm.input(0), wName), mm.outputs(), mm.attributes()));
        Node bias = new Node(
                "Add",
                add != null ? add.name() : bn.name(),
                "",
                List.of(mm.output(0), bName),
                List.of(bn.output(0)),
                java.util.Map.of());
        if (add != null) {
            nodes.set(nodes.indexOf(add), bias);
        } else {
            nodes.add(nodes.indexOf(bn), bias);
        }
        return true;
    }

    /** A bias broadcast along the feature axis ({@code []}, {@code [1]}, {@code [F]} or {@code [1, F]}) as F values, else null. */
    private static double[] perFeature(Tensor t, long features) {
        long[] s = t.shape();
        boolean scalar = t.size() == 1 && (s.length == 0 || s.length == 1 || (s.length == 2 && s[0] == 1));
        boolean vector = t.size() == features && (s.length == 1 || (s.length == 2 && s[0] == 1));
        if (!scalar && !vector) {
            return null;
        }
        double[] v = t.toDoubleArray();
        double[] out = new double[(int) features];
        for (int o = 0; o < features; o++) {
            out[o] = scalar ? v[0] : v[o];
        }
        return out;
    }

    /** A rank-2 weight with output feature o (row o if {@code rows}, else column o) scaled by f[o]. */
    private static float[] scaleFeatures(Tensor w, double[] f, boolean rows) {
        double[] wd = w.toDoubleArray();
        int r = (int) w.dim(0);
        int cols = (int) w.dim(1);
        float[] out = new float[wd.length];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < cols; j++) {
                out[i * cols + j] = (float) (wd[i * cols + j] * f[rows ? i : j]);
            }
        }
        return out;
    }

    private static Node producer(List<Node> nodes, String value) {
        for (Node n : nodes) {
            if (n.outputs().contains(value)) {
                return n;
            }
        }
        return null;
    }

    private static long consumers(List<Node> nodes, String value) {
        return nodes.stream().filter(n -> n.inputs().contains(value)).count();
    }

    private static String freshName(Graph g, String base) {
        String name = base;
        int k = 1;
        Set<String> used = g.valueNames();
        while (used.contains(name)) {
            name = base + "_" + k++;
        }
        return name;
    }
}
