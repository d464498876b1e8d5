package dev.forge.models;

import dev.forge.compiler.ir.Graph;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.LongFunction;

/** The built-in networks by their command-line names. */
public final class ModelZoo {
    private static final Map<String, LongFunction<Graph>> MODELS = new LinkedHashMap<>();

    static {
        MODELS.put("simple-net", SimpleNet::build);
        MODELS.put("mnist-cnn", MnistCnn::build);
        MODELS.put("cifar10-net", Cifar10Net::build);
        MODELS.put("lenet5", LeNet5::build);
        MODELS.put("mobilenet-mini", MobileNetMini::build);
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
        LongFunction<Graph> f = MODELS.get(name);
        if (f == null) {
            throw new IllegalArgumentException("unknown model '" + name + "'; built-in models are " + names());
        }
        return f.apply(seed);
    }
}
