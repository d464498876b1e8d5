package dev.forge.models;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;

/**
 * A small MobileNet v2 for 28x28 gray images: the same building blocks as the network people deploy on
 * phones, at a size this machine trains in minutes. It is the backbone of the transfer-learning demo
 * (docs/TRANSFER.md).
 *
 * <p>stem Conv(1->16, 3x3, stride 2: 14x14) -> BN -> ReLU6, then inverted residual blocks (1x1 expand x4 ->
 * BN -> ReLU6 -> 3x3 depthwise -> BN -> ReLU6 -> 1x1 project -> BN, plus the input when the stride is 1 and
 * the channels match): 16->24 stride 2 (7x7), 24->24, 24->32 stride 2 (4x4), 32->32, 32->64, 64->64;
 * then head Conv(64->128, 1x1) -> BN -> ReLU6 -> global average pool -> Linear(128 -> 10) named {@code
 * classifier}. Parameter names start with the layer: {@code stem}, {@code block1} ... {@code block6},
 * {@code head}, {@code classifier}, so {@code --freeze 'stem*,block*,head*'} freezes the backbone.
 */
public final class MobileNetMini {
    private static final int EXPANSION = 4;

    private MobileNetMini() {}

    /** Builds the network with parameters initialized from {@code seed}. */
    public static Graph build(long seed) {
        return build(seed, 10);
    }

    /** The same network with a classifier of {@code classes} outputs. */
    public static Graph build(long seed, int classes) {
        GraphBuilder b = new GraphBuilder("mobilenet_mini").seed(seed).roundDown();
        Value x = b.input("input", Shape.of("N", 1, 28, 28));
        x = convBn(b, "stem", x, Conv2d.of(16, 3).stride(2).padding(1), true);
        long[][] blocks = {{24, 2}, {24, 1}, {32, 2}, {32, 1}, {64, 1}, {64, 1}};
        for (int i = 0; i < blocks.length; i++) {
            x = invertedResidual(b, "block" + (i + 1), x, blocks[i][0], blocks[i][1]);
        }
        x = convBn(b, "head", x, Conv2d.of(128, 1), true);
        x = b.flatten(b.globalAvgPool(x));
        x = b.linear("classifier", x, classes);
        return b.output(x, "logits").build();
    }

    private static Value invertedResidual(GraphBuilder b, String name, Value x, long out, long stride) {
        long in = x.shape().dim(1).value();
        long hidden = in * EXPANSION;
        Value y = convBn(b, name + "/expand", x, Conv2d.of(hidden, 1), true);
        y = convBn(
                b,
                name + "/dw",
                y,
                Conv2d.of(hidden, 3).stride(stride).padding(1).groups(hidden),
                true);
        y = convBn(b, name + "/project", y, Conv2d.of(out, 1), false);
        return stride == 1 && in == out ? b.add(x, y) : y;
    }

    /** Conv without bias (the BatchNorm after it has one) -> BatchNorm -> optional ReLU6. */
    private static Value convBn(GraphBuilder b, String name, Value x, Conv2d spec, boolean relu6) {
        Value y = b.batchNorm(name + "/bn", b.conv2d(name, x, spec.bias(false)));
        return relu6 ? b.relu6(y) : y;
    }
}
