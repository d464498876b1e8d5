package dev.forge.models;

import dev.forge.compiler.ir.Graph;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;

/** The built-in networks by their command-line names. */
public final class ModelZoo {
    /** Each network by (seed, outputs); null outputs: the seed's own (10 classes, 2 for simple-net). */
    private static final Map<String, BiFunction<Long, Integer, Graph>> MODELS = new LinkedHashMap<>();

    static {
        MODELS.put(
                "simple-net",
                (seed, k) -> k == null ? SimpleNet.build(seed) : SimpleNet.build("simple_net", 1, k, seed));
        MODELS.put("mnist-cnn", (seed, k) -> k == null ? MnistCnn.build(seed) : MnistCnn.build(seed, k));
        MODELS.put("cifar10-net", (seed, k) -> k == null ? Cifar10Net.build(seed) : Cifar10Net.build(seed, k));
        MODELS.put("lenet5", (seed, k) -> k == null ? LeNet5.build(seed) : LeNet5.build(seed, k));
        MODELS.put("mobilenet-mini", (seed, k) -> k == null ? MobileNetMini.build(seed) : MobileNetMini.build(seed, k));
    }

    private ModelZoo() {}

    /** The names of the built-in networks. */
    public static Set<String> names() {
        return MODELS.keySet();
    }

    /** True if {@code name} is a built-in network. */
    public static boolean has(String name) {
        return MODELS.containsKey(name);
    }

    /**
     * Builds a network by name.
     *
     * @throws IllegalArgumentException naming the valid choices for an unknown name
     */
    public static Graph build(String name, long seed) {
        return network(name).apply(seed, null);
    }

    /**
     * Builds a network by name with a classifier (final layer) of {@code outputs} outputs, e.g. for a data set
     * of 3 classes; the layers before it are the same network's.
     *
     * @throws IllegalArgumentException for an unknown name, or fewer than 1 output
     */
    public static Graph build(String name, long seed, int outputs) {
        if (outputs < 1) {
            throw new IllegalArgumentException(name + ": a classifier needs at least 1 output, got " + outputs);
        }
        return network(name).apply(seed, outputs);
    }

    private static BiFunction<Long, Integer, Graph> network(String name) {
        BiFunction<Long, Integer, Graph> f = MODELS.get(name);
        if (f == null) {
            throw new IllegalArgumentException("unknown model '" + name + "'; built-in models are " + names());
        }
        return f;
    }
}
