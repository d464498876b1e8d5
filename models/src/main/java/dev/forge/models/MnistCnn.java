package dev.forge.models;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;

/**
 * The seed's MNIST classifier (section 10): input 1x28x28; Conv(1->32, 5x5, padding 2) -> BatchNorm(32)
 * -> ReLU -> MaxPool(2) -> flatten 32x14x14 = 6272 -> Linear(6272 -> 10).
 */
public final class MnistCnn {
    private MnistCnn() {}

    /** Builds the network with parameters initialized from {@code seed}. */
    public static Graph build(long seed) {
        return build(seed, 10);
    }

    /** The same network with a classifier of {@code classes} outputs. */
    public static Graph build(long seed, int classes) {
        GraphBuilder b = new GraphBuilder("mnist_cnn").seed(seed);
        Value x = b.input("input", Shape.of("N", 1, 28, 28));
        x = b.conv2d("conv1", x, Conv2d.of(32, 5).padding(2));
        x = b.batchNorm("bn1", x);
        x = b.relu(x);
        x = b.maxPool("pool", x, Pool2d.of(2));
        x = b.flatten(x);
        x = b.linear("fc", x, classes);
        return b.output(x, "logits").build();
    }
}
