package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Rewrites every {@code Upsample} of an imported model (opsets 7 to 9; PyTorch writes {@code nn.Upsample} and
 * {@code F.interpolate} so at {@code opset_version=9}) as the {@code Resize} that computes the same values,
 * and raises the model's opset to at least 11 for it. Upsample was deprecated at opset 10, and ONNX Runtime
 * refuses it in Forge's opset-17 training graphs, so without this such a model imports but cannot train.
 *
 * <p>Upsample maps output index o to input coordinate o / scale (Resize's {@code asymmetric}); in
 * {@code linear} mode it interpolates between the two neighbours clamped to the input, as Resize does; in
 * {@code nearest} mode ONNX Runtime rounds that coordinate down when upsampling and up when downsampling,
 * so the Resize gets {@code nearest_mode} {@code floor} (every scale at least 1, which Upsample's
 * specification requires) or {@code ceil} (every scale at most 1). Scales given as an attribute (opsets 7,
 * 8) become an initializer; scales given as an input (opset 9) stay that input; the region of interest,
 * which Resize reads only in {@code tf_crop_and_resize} mode but requires at opset 11, is an empty tensor.
 *
 * <p>Raising the opset changes the meaning of the nodes whose operator was redefined incompatibly between
 * the model's opset and 11 (Slice, TopK, Pad, Clip, an opset-10 Resize): a model with both an Upsample and
 * one of those is refused with the list of such nodes, and must be exported at opset 11 or newer.
 */
public final class UpsampleToResize implements Pass {
    /** The first opset of Resize's current form (roi and sizes inputs, coordinate_transformation_mode). */
    static final int RESIZE_OPSET = 11;

    /** Operators whose opset-11 definition reads a node of an older opset differently, with that opset. */
    private static final Map<String, Integer> REDEFINED_BY =
            Map.of("Slice", 10, "TopK", 10, "Pad", 11, "Clip", 11, "Resize", 11);

    @Override
    public Graph run(Graph g, PassContext context) {
        if (g.nodes().stream().noneMatch(UpsampleToResize::isUpsample)) {
            return g;
        }
        int opset = g.opset();
        Node first = g.nodes().stream()
                .filter(UpsampleToResize::isUpsample)
                .findFirst()
                .orElseThrow();
        if (opset < RESIZE_OPSET) {
            List<String> redefined = new ArrayList<>();
            for (Node n : g.nodes()) {
                Integer since = n.domain().isEmpty() ? REDEFINED_BY.get(n.opType()) : null;
                if (since != null && opset < since) {
                    redefined.add(n.label());
                }
            }
            if (!redefined.isEmpty()) {
                throw new IllegalArgumentException(first.label() + ": this opset-" + opset + " model's Upsample nodes"
                        + " train only as Resize, which needs opset " + RESIZE_OPSET + ", and the nodes "
                        + redefined + " have another meaning at opset " + RESIZE_OPSET
                        + "; export the model at opset " + RESIZE_OPSET + " or newer (torch.onnx.export("
                        + "..., opset_version=" + Graph.DEFAULT_OPSET + "))");
            }
        }
        List<Node> nodes = new ArrayList<>();
        for (Node n : g.nodes()) {
            nodes.add(isUpsample(n) ? resize(g, n) : n);
        }
        g.setNodes(nodes);
        if (opset < RESIZE_OPSET) {
            String key = g.opsets().containsKey("") || !g.opsets().containsKey("ai.onnx") ? "" : "ai.onnx";
            g.opsets().put(key, (long) RESIZE_OPSET);
        }
        return g;
    }

    private static boolean isUpsample(Node n) {
        return n.opType().equals("Upsample") && n.domain().isEmpty();
    }

    private static Node resize(Graph g, Node n) {
        String mode = n.attrString("mode", "nearest");
        if (!mode.equals("nearest") && !mode.equals("linear")) {
            throw new IllegalArgumentException(
                    n.label() + ": mode '" + mode + "' is not an Upsample mode; expected nearest or linear");
        }
        String scales;
        Tensor values;
        if (n.attr("scales") instanceof Attribute.Floats f) {
            values = Tensor.of(f.values().clone(), f.values().length);
            scales = fresh(g, n.output(0) + ".scales");
            g.addInitializer(scales, values);
        } else if (n.hasInput(1)) {
            scales = n.input(1);
            values = ShapeInference.constantOf(g, scales);
        } else {
            throw new IllegalArgumentException(
                    n.label() + ": no scales; give them as an attribute (opsets 7, 8) or as input 1 (opset 9)");
        }
        Map<String, Attribute> attrs = new LinkedHashMap<>();
        attrs.put("mode", new Attribute.Str(mode));
        attrs.put("coordinate_transformation_mode", new Attribute.Str("asymmetric"));
        if (mode.equals("nearest")) {
            attrs.put("nearest_mode", new Attribute.Str(nearestMode(n, values)));
        }
        // roi: required at opset 11 (optional from 13), read only by tf_crop_and_resize; empty
        String roi = fresh(g, n.output(0) + ".roi");
        g.addInitializer(roi, Tensor.of(new float[0], 0));
        return new Node("Resize", n.name(), "", List.of(n.input(0), roi, scales), n.outputs(), attrs);
    }

    /** floor when every scale is at least 1 (or the scales are computed), ceil when every one is at most 1. */
    private static String nearestMode(Node n, Tensor scales) {
        boolean up = false;
        boolean down = false;
        for (int i = 0; scales != null && i < scales.size(); i++) {
            up |= scales.getDouble(i) > 1;
            down |= scales.getDouble(i) < 1;
        }
        if (up && down) {
            throw new IllegalArgumentException(n.label() + ": nearest Upsample with scales "
                    + java.util.Arrays.toString(scales.toFloatArray())
                    + " both enlarges and shrinks, which ONNX Runtime rounds per axis and no Resize reproduces;"
                    + " give scales of at least 1 (as Upsample's specification requires)");
        }
        return down ? "ceil" : "floor";
    }

    private static String fresh(Graph g, String base) {
        String name = base;
        for (int k = 1; g.hasValue(name); k++) {
            name = base + k;
        }
        return name;
    }
}
