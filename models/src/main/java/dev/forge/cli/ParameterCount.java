package dev.forge.cli;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.runtime.Tensor;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Which initializers of a graph are trainable parameters, and how many each node owns.
 *
 * <p>A graph made by the builder says so itself ({@link Graph#parameters()}). An imported ONNX file does
 * not, so there the trainable parameters are the floating-point initializers read as a weight or bias:
 * inputs 1 and 2 of {@code Conv}, {@code ConvTranspose} and {@code Gemm}; the scale and bias (inputs 1 and
 * 2, not the running statistics) of {@code BatchNormalization}, {@code InstanceNormalization}, {@code
 * LayerNormalization} and {@code GroupNormalization}; either input of {@code MatMul}; the slope of {@code
 * PRelu}; and the constant operand of an {@code Add} right after a {@code MatMul} (a bias). This is what
 * PyTorch's {@code model.parameters()} holds for the networks PyTorch exports, and it gives an exported
 * built-in network the same count as the built-in.
 *
 * <p>In a quantized (QDQ) model a layer reads its weights through a {@code DequantizeLinear} of an integer
 * initializer, or (weights stored int8 for a layer that computes in float) through {@code Mul(Cast(w),
 * scale)}; that integer initializer is the parameter, counted for the layer.
 *
 * <p>A parameter read by several nodes counts once, for the first of them.
 */
final class ParameterCount {
    private static final Map<String, int[]> WEIGHT_INPUTS = Map.of(
            "Conv", new int[] {1, 2},
            "ConvTranspose", new int[] {1, 2},
            "Gemm", new int[] {1, 2},
            "BatchNormalization", new int[] {1, 2},
            "InstanceNormalization", new int[] {1, 2},
            "LayerNormalization", new int[] {1, 2},
            "GroupNormalization", new int[] {1, 2},
            "MatMul", new int[] {0, 1},
            "PRelu", new int[] {1});

    private final Set<String> trainable;
    private final Map<Node, Long> perNode = new LinkedHashMap<>();
    private final long trainableTotal;
    private final long floatTotal;
    private final long weightBytes;

    private ParameterCount(Graph g) {
        this.trainable = Collections.unmodifiableSet(
                g.parameters().isEmpty() ? inferred(g) : new LinkedHashSet<>(g.parameters()));
        Set<String> counted = new HashSet<>();
        long sum = 0;
        for (Node n : g.nodes()) {
            long k = 0;
            if (n.opType().equals("DequantizeLinear") || restoresInteger(g, n)) {
                // its integer weights count for the layer that reads them through it
                perNode.put(n, 0L);
                continue;
            }
            for (String read : n.inputs()) {
                String in = stored(g, read);
                if (trainable.contains(in) && counted.add(in)) {
                    k += g.initializers().get(in).size();
                }
            }
            perNode.put(n, k);
            sum += k;
        }
        // parameters no node reads still count in the total
        for (String p : trainable) {
            if (counted.add(p)) {
                sum += g.initializers().get(p).size();
            }
        }
        this.trainableTotal = sum;
        long floats = 0;
        long bytes = 0;
        for (Map.Entry<String, Tensor> e : g.initializers().entrySet()) {
            Tensor t = e.getValue();
            bytes += t.byteSize();
            if (t.dtype().isFloatingPoint() || trainable.contains(e.getKey())) {
                floats += t.size();
            }
        }
        this.floatTotal = floats;
        this.weightBytes = bytes;
    }

    /** Counts the parameters of a graph. */
    static ParameterCount of(Graph g) {
        return new ParameterCount(g);
    }

    private static Set<String> inferred(Graph g) {
        Set<String> out = new LinkedHashSet<>();
        for (Node n : g.nodes()) {
            int[] positions = WEIGHT_INPUTS.get(n.opType());
            if (positions == null && n.opType().equals("Add") && n.inputs().size() == 2) {
                for (int i = 0; i < 2; i++) {
                    Node other = g.producer(n.input(1 - i));
                    if (other != null && other.opType().equals("MatMul")) {
                        positions = new int[] {i};
                    }
                }
            }
            if (positions == null || !(n.domain().isEmpty() || n.domain().equals("ai.onnx"))) {
                continue;
            }
            for (int i : positions) {
                if (!n.hasInput(i)) {
                    continue;
                }
                String name = stored(g, n.input(i));
                Tensor t = g.initializers().get(name);
                if (t != null && (t.dtype().isFloatingPoint() || !name.equals(n.input(i)))) {
                    out.add(name);
                }
            }
        }
        return out;
    }

    /**
     * The initializer a value is stored in: the integer initializer a {@code DequantizeLinear} or a
     * {@code Mul(Cast(w), scale)} reads, or the value itself.
     */
    private static String stored(Graph g, String value) {
        Node dq = g.producer(value);
        if (dq != null
                && dq.opType().equals("DequantizeLinear")
                && g.initializers().containsKey(dq.input(0))) {
            return dq.input(0);
        }
        String restored = restoredInteger(g, value);
        return restored != null ? restored : value;
    }

    /**
     * The 8-bit integer initializer {@code w} when {@code value} is {@code Mul(Cast(w), scale)} (weights stored
     * int8 and restored to float, which ONNX Runtime folds once at load), else null.
     */
    static String restoredInteger(Graph g, String value) {
        Node mul = g.producer(value);
        if (mul == null || !mul.opType().equals("Mul")) {
            return null;
        }
        for (String in : mul.inputs()) {
            Node cast = g.producer(in);
            if (cast != null && cast.opType().equals("Cast") && isInteger8(g, cast.input(0))) {
                return cast.input(0);
            }
        }
        return null;
    }

    /** True for the Cast and the Mul of a {@code Mul(Cast(w), scale)} restoring 8-bit integer weights. */
    static boolean restoresInteger(Graph g, Node n) {
        return (n.opType().equals("Cast") && isInteger8(g, n.input(0)))
                || (n.opType().equals("Mul") && restoredInteger(g, n.output(0)) != null);
    }

    /** True when {@code value} is an int8 or uint8 initializer. */
    static boolean isInteger8(Graph g, String value) {
        Tensor t = g.initializers().get(value);
        String type = t == null ? null : t.dtype().typeName();
        return "int8".equals(type) || "uint8".equals(type);
    }

    /** The names of the trainable parameters. */
    Set<String> trainable() {
        return trainable;
    }

    /** The trainable parameters first read by {@code n}. */
    long of(Node n) {
        return perNode.getOrDefault(n, 0L);
    }

    /** Elements of every trainable parameter. */
    long trainableTotal() {
        return trainableTotal;
    }

    /**
     * Elements of every floating-point initializer: the trainable parameters plus buffers such as
     * BatchNorm running statistics.
     */
    long total() {
        return floatTotal;
    }

    /** Bytes of every initializer, as stored. */
    long weightBytes() {
        return weightBytes;
    }
}
