package dev.forge.models;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;

/**
 * LeNet-5 (seed section 8's first CNN) in its common modern form for 28x28 digits: Conv(1->6, 5x5,
 * padding 2) ReLU MaxPool 2; Conv(6->16, 5x5) ReLU MaxPool 2; flatten 16x5x5 = 400; Linear 400->120
 * ReLU; Linear 120->84 ReLU; Linear 84->10. (The 1998 original used 32x32 inputs, tanh-like units and
 * trainable subsampling; padding 2 on 28x28 gives the same 28x28 first feature maps.)
 */
public final class LeNet5 {
    private LeNet5() {}

    /** Builds the network with parameters initialized from {@code seed}. */
    public static Graph build(long seed) {
        return build(seed, 10);
    }

    /** The same network with a classifier of {@code classes} outputs. */
    public static Graph build(long seed, int classes) {
        GraphBuilder b = new GraphBuilder("lenet5").seed(seed);
        Value x = b.input("input", Shape.of("N", 1, 28, 28));
        x = b.relu(b.conv2d("conv1", x, Conv2d.of(6, 5).padding(2)));
        x = b.maxPool("pool1", x, Pool2d.of(2));
        x = b.relu(b.conv2d("conv2", x, Conv2d.of(16, 5)));
        x = b.maxPool("pool2", x, Pool2d.of(2));
        x = b.flatten(x);
        x = b.relu(b.linear("fc1", x, 120));
        x = b.relu(b.linear("fc2", x, 84));
        x = b.linear("fc3", x, classes);
        return b.output(x, "logits").build();
    }
}
