package dev.forge.models;

import dev.forge.compiler.ir.Graph;

/**
 * Maps PyTorch {@code state_dict} keys of the seed's networks to Forge parameter names, so weights
 * saved by PyTorch load into the builder's version of the same network: {@code conv1.weight ->
 * conv1/W}, {@code conv1.bias -> conv1/B}, {@code bn1.weight -> bn1/scale}, {@code bn1.running_mean ->
 * bn1/mean}, {@code bn1.running_var -> bn1/var}.
 */
public final class PyTorchNames {
    private PyTorchNames() {}

    /**
     * The Forge initializer name for a PyTorch key in {@code graph}.
     *
     * @throws IllegalArgumentException for a key of a kind the seed's networks do not have
     */
    public static String forgeName(String key, Graph graph) {
        int dot = key.lastIndexOf('.');
        if (dot < 0) {
            throw new IllegalArgumentException("not a PyTorch state_dict key: " + key);
        }
        String layer = key.substring(0, dot);
        String field = key.substring(dot + 1);
        boolean bn = graph.node(layer) != null && graph.node(layer).opType().equals("BatchNormalization");
        return layer + "/"
                + switch (field) {
                    case "weight" -> bn ? "scale" : "W";
                    case "bias" -> "B";
                    case "running_mean" -> "mean";
                    case "running_var" -> "var";
                    default -> throw new IllegalArgumentException("unexpected PyTorch key " + key);
                };
    }
}
