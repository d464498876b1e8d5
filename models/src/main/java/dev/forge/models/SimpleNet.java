package dev.forge.models;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;

/**
 * The seed's simple CNN ("Net", section 9): input 1x32x32; Conv(1->6, 3x3) ReLU; Conv(6->16, 3x3) ReLU;
 * flatten 16x28x28 = 12544; Linear 12544->512 ReLU; Linear 512->64 ReLU; Linear 64->2.
 */
public final class SimpleNet {
    private SimpleNet() {}

    /** The seed's network with 1 input channel and 2 outputs. */
    public static Graph build(long seed) {
        return build("simple_net", 1, 2, seed);
    }

    /** The same architecture with another number of input channels and outputs. */
    public static Graph build(String name, int inChannels, int outputs, long seed) {
        GraphBuilder b = new GraphBuilder(name).seed(seed);
        Value x = b.input("input", Shape.of("N", inChannels, 32, 32));
        x = b.relu(b.conv2d("conv1", x, Conv2d.of(6, 3)));
        x = b.relu(b.conv2d("conv2", x, Conv2d.of(16, 3)));
        x = b.flatten(x);
        x = b.relu(b.linear("fc1", x, 512));
        x = b.relu(b.linear("fc2", x, 64));
        x = b.linear("fc3", x, outputs);
        return b.output(x, "logits").build();
    }
}
