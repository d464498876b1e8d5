package dev.forge.models;

import dev.forge.compiler.ir.Graph;

/**
 * The seed's CIFAR-10 classifier (section 11): the {@link SimpleNet} architecture with 3 input channels
 * (32x32 RGB) and 10 outputs.
 */
public final class Cifar10Net {
    private Cifar10Net() {}

    /** Builds the network with parameters initialized from {@code seed}. */
    public static Graph build(long seed) {
        return build(seed, 10);
    }

    /** The same network with a classifier of {@code classes} outputs. */
    public static Graph build(long seed, int classes) {
        return SimpleNet.build("cifar10_net", 3, classes, seed);
    }
}
