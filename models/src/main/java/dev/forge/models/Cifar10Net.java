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
        return SimpleNet.build("cifar10_net", 3, 10, seed);
    }
}
