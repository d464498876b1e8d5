package dev.forge.compiler.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a trained model into its inference model: trained values baked in as initializers,
 * BatchNormalization folded into the preceding convolution where possible, Dropout removed, unused
 * initializers dropped, the batch dimension kept symbolic, and metadata attached.
 */
public final class Export {
    private Export() {
    }

    /**
     * The inference model of {@code forward} with the given trained state.
     *
     * @param forward the model as built or imported (eval-mode graph)
     * @param state trained values by initializer name (parameters and running statistics); other
     *     entries (optimizer state) are ignored
     * @param metadata entries for {@code metadata_props} (class labels, normalization, summary)
     */
    public static Graph inferenceModel(Graph forward, Map<String, Tensor> state, Map<String, String> metadata) {
        Graph g = forward.copy();
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            if (g.initializers().containsKey(e.getKey())) {
                g.replaceInitializer(e.getKey(), e.getValue());
            }
        }
        removeDropout(g);
        foldBatchNorm(g);
        removeUnusedInitializers(g);
        g.setProducerName("forge");
        g.metadata().putAll(metadata);
        return g;
    }

    /** Replaces every Dropout (the identity at inference) by a direct connection. */
    public static void removeDropout(Graph g) {
        List<Node> kept = new ArrayList<>();
        Map<String, String> alias = new java.util.HashMap<>();
        Set<String> outputs = new HashSet<>();
        g.outputs().forEach(o -> outputs.add(o.name()));
        for (Node n : g.nodes()) {
            Node r = renameInputs(n, alias);
            if (r.opType().equals("Dropout") && (r.outputs().size() == 1 || g.consumers(r.output(1)).isEmpty())
                    && !outputs.contains(r.output(0))) {
                alias.put(r.output(0), r.input(0));
                continue;
            }
            if (r.opType().equals("Dropout")) {
                r = new Node("Identity", r.name(), r.domain(), List.of(r.input(0)), List.of(r.output(0)), Map.of());
            }
            kept.add(r);
        }
        g.setNodes(kept);
    }

    private static Node renameInputs(Node n, Map<String, String> alias) {
        if (alias.isEmpty() || n.inputs().stream().noneMatch(alias::containsKey)) {
            return n;
        }
        List<String> ins = new ArrayList<>();
        for (String in : n.inputs()) {
            ins.add(alias.getOrDefault(in, in));
        }
        return new Node(n.opType(), n.name(), n.domain(), ins, n.outputs(), n.attributes());
    }

    /*
     * Conv followed by inference BatchNormalization is one Conv:
     *   f = scale / sqrt(var + eps)              (per output channel)
     *   W' = W * f                               (each filter scaled)
     *   B' = (B - mean) * f + shift              (B = 0 when the Conv has no bias)
     * computed in double precision. Folds only when the Conv's output feeds nothing but the BN and
     * every BN input is a constant.
     */
    public static void foldBatchNorm(Graph g) {
        Set<String> graphOutputs = new HashSet<>();
        g.outputs().forEach(o -> graphOutputs.add(o.name()));
        List<Node> nodes = new ArrayList<>(g.nodes());
        for (int i = 0; i < nodes.size(); i++) {
            Node bn = nodes.get(i);
            if (!bn.opType().equals("BatchNormalization") || bn.outputs().size() != 1
                    || bn.attrInt("training_mode", 0) != 0) {
                continue;
            }
            Node conv = g.producer(bn.input(0));
            if (conv == null || !conv.opType().equals("Conv") || graphOutputs.contains(conv.output(0))) {
                continue;
            }
            final String convOut = conv.output(0);
            long consumers = nodes.stream().filter(n -> n.inputs().contains(convOut)).count();
            Tensor w = g.initializers().get(conv.input(1));
            Tensor b = conv.hasInput(2) ? g.initializers().get(conv.input(2)) : null;
            Tensor scale = g.initializers().get(bn.input(1));
            Tensor shift = g.initializers().get(bn.input(2));
            Tensor mean = g.initializers().get(bn.input(3));
            Tensor var = g.initializers().get(bn.input(4));
            if (consumers != 1 || w == null || (conv.hasInput(2) && b == null) || scale == null || shift == null
                    || mean == null || var == null || w.dtype() != DType.FLOAT32) {
                continue;
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
            Node folded = new Node("Conv", conv.name(), conv.domain(), List.of(conv.input(0), wName, bName),
                    List.of(bn.output(0)), conv.attributes());
            int ci = nodes.indexOf(conv);
            nodes.set(ci, folded);
            nodes.remove(i);
            i--;
            g.setType(bn.output(0), g.type(bn.output(0)));
        }
        g.setNodes(nodes);
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

    /** Drops initializers no node reads (and that are not graph outputs). */
    public static void removeUnusedInitializers(Graph g) {
        Set<String> used = new HashSet<>();
        for (Node n : g.nodes()) {
            used.addAll(n.inputs());
        }
        for (ValueInfo o : g.outputs()) {
            used.add(o.name());
        }
        for (String name : new ArrayList<>(g.initializers().keySet())) {
            if (!used.contains(name)) {
                g.removeInitializer(name);
            }
        }
    }

}
