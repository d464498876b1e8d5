package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Folds the shape arithmetic exporters write for code like {@code x.view(x.size(0), g, c // g, h, w)}
 * (PyTorch's ShuffleNet channel shuffle, {@code chunk} and {@code split} of a traced size): chains of
 * {@code Shape}, {@code Gather}, {@code Unsqueeze}, {@code Squeeze}, {@code Concat}, {@code Cast} and integer
 * {@code Add/Sub/Mul/Div} on int64 or int32 vectors. Each such value is tracked as a list of {@link Dim}s
 * (fixed, the symbolic batch, or unknown):
 *
 * <ul>
 *   <li>a value whose every element is fixed becomes an initializer, so the {@code Slice} or {@code Reshape}
 *       reading it sees a constant;
 *   <li>the shape input of a {@code Reshape} (without {@code allowzero}) whose only non-fixed elements are the
 *       same symbolic dimensions as the data input's at the same positions becomes a constant with 0 there
 *       ("copy this dimension", which is the same value at run time).
 * </ul>
 *
 * Nodes left without readers are removed and the shapes inferred again, so the values after a channel
 * shuffle have fixed shapes and convolutions after them can be differentiated. Without this, the Conv
 * gradient after a shuffle fails on unknown spatial sizes.
 */
public final class FoldShapes implements Pass {
    /** Longest vector tracked: shape vectors are short. */
    private static final int MAX_LENGTH = 16;

    private static final Set<String> TRACKED =
            Set.of("Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Add", "Sub", "Mul", "Div");

    /** One element of a tracked vector: a known value (any sign), else a symbolic or unknown dimension. */
    private record El(Long value, Dim dim) {
        static El of(long v) {
            return new El(v, null);
        }

        static El of(Dim d) {
            return d.isFixed() ? of(d.value()) : new El(null, d);
        }

        boolean fixed() {
            return value != null;
        }
    }

    /** A tracked int vector (or scalar when {@code scalar}). */
    private record Vec(List<El> dims, boolean scalar) {
        boolean fixed() {
            return dims.stream().allMatch(El::fixed);
        }
    }

    @Override
    public Graph run(Graph g, PassContext context) {
        Map<String, Vec> known = new HashMap<>();
        Set<String> outputs = new HashSet<>();
        g.outputs().forEach(o -> outputs.add(o.name()));
        // a folded value becomes an initializer under a new name (its old name still belongs to its node
        // until the end), and the nodes after it read that name: so in this one sweep every node sees its
        // constant inputs and has its shape inferred again, and a Reshape after a shuffle sees the
        // symbolic batch of its input (the shuffle before it folded earlier in the sweep)
        Map<String, String> renamed = new HashMap<>();
        List<Node> kept = new ArrayList<>();
        boolean changed = false;
        for (Node original : g.nodes()) {
            Node n = withInputs(original, renamed);
            Vec v = n.outputs().size() == 1
                            && TRACKED.contains(n.opType())
                            && n.domain().isEmpty()
                    ? evaluate(g, n, known)
                    : null;
            if (v != null) {
                known.put(n.output(0), v);
                if (v.fixed() && !outputs.contains(n.output(0))) {
                    String name = fresh(g, n.output(0));
                    g.addInitializer(name, tensor(v, g.type(n.output(0)).dtype()));
                    renamed.put(n.output(0), name);
                    changed = true;
                    continue;
                }
            }
            if (n.opType().equals("Reshape") && n.domain().isEmpty() && n.attrInt("allowzero", 0) == 0) {
                n = reshape(g, n, known);
            }
            changed |= n != original;
            kept.add(n);
            if (changed) {
                List<ValueType> types = ShapeInference.inferNode(g, n, false);
                for (int i = 0; types != null && i < n.outputs().size() && i < types.size(); i++) {
                    if (!n.output(i).isEmpty() && types.get(i) != null) {
                        g.setType(n.output(i), types.get(i));
                    }
                }
            }
        }
        if (changed) {
            g.setNodes(removeUnread(kept, outputs));
            Set<String> read = new HashSet<>(outputs);
            g.nodes().forEach(n -> read.addAll(n.inputs()));
            for (String name : renamed.values()) {
                if (!read.contains(name)) {
                    g.removeInitializer(name); // read only by shape arithmetic that folded further
                }
            }
        }
        return g;
    }

    private static Node withInputs(Node n, Map<String, String> renamed) {
        if (n.inputs().stream().noneMatch(renamed::containsKey)) {
            return n;
        }
        List<String> inputs =
                n.inputs().stream().map(i -> renamed.getOrDefault(i, i)).toList();
        return new Node(n.opType(), n.name(), n.domain(), inputs, n.outputs(), n.attributes());
    }

    private static String fresh(Graph g, String base) {
        String name = base + "_folded";
        for (int k = 1; g.hasValue(name); k++) {
            name = base + "_folded" + k;
        }
        return name;
    }

    /** The tracked value of a node's output, or null when it is not a small int vector built from shapes. */
    private static Vec evaluate(Graph g, Node n, Map<String, Vec> known) {
        ValueType out = g.type(n.output(0));
        if (out == null || (out.dtype() != DType.INT64 && out.dtype() != DType.INT32)) {
            return null;
        }
        switch (n.opType()) {
            case "Shape": {
                ValueType t = g.type(n.input(0));
                if (t == null || t.shape() == null) {
                    return null;
                }
                List<Dim> dims = t.shape().dims();
                int rank = dims.size();
                int start = clamp(n.attrInt("start", 0), rank);
                int end = clamp(n.attrInt("end", rank), rank);
                return new Vec(
                        dims.subList(start, Math.max(start, end)).stream()
                                .map(El::of)
                                .toList(),
                        false);
            }
            case "Gather": {
                Vec data = value(g, n.input(0), known);
                Tensor idx = ShapeInference.constantOf(g, n.input(1));
                if (data == null
                        || data.scalar()
                        || idx == null
                        || n.attrInt("axis", 0) != 0
                        || idx.shape().length > 1) {
                    return null;
                }
                List<El> dims = new ArrayList<>();
                for (long i : idx.toLongArray()) {
                    long j = i < 0 ? i + data.dims().size() : i;
                    if (j < 0 || j >= data.dims().size()) {
                        return null;
                    }
                    dims.add(data.dims().get((int) j));
                }
                return new Vec(dims, idx.shape().length == 0);
            }
            case "Unsqueeze":
            case "Squeeze": {
                Vec data = value(g, n.input(0), known);
                Shape s = out.shape();
                if (data == null || s == null || s.rank() > 1) {
                    return null; // only scalar <-> one-element vector
                }
                return new Vec(data.dims(), s.rank() == 0);
            }
            case "Cast":
                Vec data = value(g, n.input(0), known);
                return data == null ? null : new Vec(data.dims(), data.scalar());
            case "Concat": {
                if (n.attrInt("axis", 0) != 0 && n.attrInt("axis", 0) != -1) {
                    return null;
                }
                List<El> dims = new ArrayList<>();
                for (String in : n.inputs()) {
                    Vec part = value(g, in, known);
                    if (part == null || part.scalar()) {
                        return null;
                    }
                    dims.addAll(part.dims());
                }
                return dims.size() > MAX_LENGTH ? null : new Vec(dims, false);
            }
            default:
                return arithmetic(g, n, known);
        }
    }

    /**
     * Integer Add/Sub/Mul/Div, elementwise with scalars broadcast; an element is known when both operands
     * are fixed and non-negative (ONNX integer Div truncates, like Java's).
     */
    private static Vec arithmetic(Graph g, Node n, Map<String, Vec> known) {
        if (n.inputs().size() != 2) {
            return null;
        }
        Vec a = value(g, n.input(0), known);
        Vec b = value(g, n.input(1), known);
        if (a == null || b == null) {
            return null;
        }
        int len = Math.max(a.dims().size(), b.dims().size());
        if ((a.dims().size() != len && a.dims().size() != 1)
                || (b.dims().size() != len && b.dims().size() != 1)) {
            return null;
        }
        List<El> dims = new ArrayList<>();
        for (int i = 0; i < len; i++) {
            El x = a.dims().get(a.dims().size() == 1 ? 0 : i);
            El y = b.dims().get(b.dims().size() == 1 ? 0 : i);
            if (!x.fixed() || !y.fixed()) {
                dims.add(El.of(Dim.unknown()));
                continue;
            }
            long p = x.value();
            long q = y.value();
            Long r = switch (n.opType()) {
                case "Add" -> p + q;
                case "Sub" -> p - q;
                case "Mul" -> p * q;
                default -> p >= 0 && q > 0 ? p / q : null; // Div truncates; the same as floor for these signs
            };
            dims.add(r == null ? El.of(Dim.unknown()) : El.of(r));
        }
        return new Vec(dims, a.scalar() && b.scalar());
    }

    /** A tracked value, or a small int constant as one. */
    private static Vec value(Graph g, String name, Map<String, Vec> known) {
        Vec v = known.get(name);
        if (v != null) {
            return v;
        }
        Tensor t = ShapeInference.constantOf(g, name);
        if (t == null
                || (t.dtype() != DType.INT64 && t.dtype() != DType.INT32)
                || t.shape().length > 1
                || t.size() > MAX_LENGTH) {
            return null;
        }
        List<El> dims = new ArrayList<>();
        for (long x : t.toLongArray()) {
            dims.add(El.of(x));
        }
        return new Vec(dims, t.shape().length == 0);
    }

    /** The Reshape with a constant shape when its tracked shape input is fixed but for copied symbolic dims. */
    private static Node reshape(Graph g, Node n, Map<String, Vec> known) {
        Vec target = known.get(n.input(1));
        ValueType data = g.type(n.input(0));
        if (target == null || target.fixed() || data == null || data.shape() == null) {
            return n;
        }
        long[] t = new long[target.dims().size()];
        for (int i = 0; i < t.length; i++) {
            El e = target.dims().get(i);
            Dim d = e.dim();
            if (e.fixed()) {
                t[i] = e.value();
            } else if (d.isSymbolic()
                    && i < data.shape().rank()
                    && d.equals(data.shape().dim(i))) {
                t[i] = 0; // copy the input's dimension i: the same symbol
            } else {
                return n;
            }
        }
        String name = fresh(g, n.input(1));
        g.addInitializer(name, Tensor.of(t, t.length));
        List<String> inputs = new ArrayList<>(n.inputs());
        inputs.set(1, name);
        return new Node(n.opType(), n.name(), n.domain(), inputs, n.outputs(), n.attributes());
    }

    private static Tensor tensor(Vec v, DType dtype) {
        long[] shape = v.scalar() ? new long[0] : new long[] {v.dims().size()};
        if (dtype == DType.INT32) {
            int[] data =
                    v.dims().stream().mapToInt(d -> Math.toIntExact(d.value())).toArray();
            return Tensor.of(data, shape);
        }
        long[] data = v.dims().stream().mapToLong(El::value).toArray();
        return Tensor.of(data, shape);
    }

    /** The nodes without the shape-arithmetic nodes nothing reads any more (back to front). */
    private static List<Node> removeUnread(List<Node> nodes, Set<String> outputs) {
        Set<String> read = new HashSet<>(outputs);
        List<Node> reversed = new ArrayList<>();
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            boolean dead = (TRACKED.contains(n.opType()) || n.opType().equals("Constant"))
                    && n.outputs().stream().noneMatch(read::contains);
            if (!dead) {
                read.addAll(n.inputs());
                reversed.add(n);
            }
        }
        Collections.reverse(reversed);
        return reversed;
    }

    private static int clamp(long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        return (int) Math.max(0, Math.min(rank, a));
    }
}
