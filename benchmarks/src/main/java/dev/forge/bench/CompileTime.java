package dev.forge.bench;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.TrainingGraph;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * How long building a training graph ({@link TrainingGraph#build}) takes as graphs grow: chains of N
 * conv+bn+relu blocks, and one depthwise Conv of growing channel count. Prints the median of a few builds
 * (after one warm-up build of the smallest chain) and the node count of the training graph; time per node should stay flat.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.CompileTime [--rounds 3]</pre>
 */
public final class CompileTime {
    private CompileTime() {}

    public static void main(String[] args) {
        int rounds = args.length == 2 && args[0].equals("--rounds") ? Integer.parseInt(args[1]) : 3;
        TrainingGraph.build(chain(25), Loss.MSE, Optimizer.sgd(0.01)); // JIT warm-up
        System.out.println("graph                                   nodes   build ms   us/node");
        for (int blocks : new int[] {25, 50, 100, 200}) {
            time("chain of " + blocks + " conv+bn+relu blocks", () -> chain(blocks), rounds);
        }
        for (int channels : new int[] {64, 256, 1024}) {
            time("depthwise 3x3 Conv, " + channels + " channels", () -> depthwise(channels), rounds);
        }
    }

    private static void time(String title, Supplier<Graph> forward, int rounds) {
        long[] ns = new long[rounds];
        int nodes = 0;
        for (int r = 0; r < rounds; r++) {
            Graph g = forward.get();
            long t0 = System.nanoTime();
            TrainingGraph tg = TrainingGraph.build(g, Loss.MSE, Optimizer.sgd(0.01));
            ns[r] = System.nanoTime() - t0;
            nodes = tg.graph().nodes().size();
        }
        java.util.Arrays.sort(ns);
        double ms = ns[rounds / 2] / 1e6;
        System.out.println(String.format(Locale.ROOT, "%-38s %6d %10.1f %9.1f", title, nodes, ms, ms * 1000 / nodes));
    }

    /** N blocks of 3x3 Conv (8 channels) + BatchNormalization + Relu on 8x8 images, then a linear head. */
    static Graph chain(int blocks) {
        GraphBuilder b = new GraphBuilder("chain" + blocks).seed(0);
        Value x = b.input("x", Shape.of("N", 8, 8, 8));
        for (int i = 0; i < blocks; i++) {
            x = b.relu(b.batchNorm(
                    "bn" + i, b.conv2d("conv" + i, x, Conv2d.of(8, 3).padding(1))));
        }
        b.output(b.linear("fc", b.flatten(x), 10), "y");
        return b.build();
    }

    /** One depthwise 3x3 Conv (group = channels) on [N, channels, 14, 14], then a linear head. */
    static Graph depthwise(int channels) {
        GraphBuilder b = new GraphBuilder("depthwise" + channels).seed(0);
        Value x = b.input("x", Shape.of("N", channels, 14, 14));
        x = b.conv2d("dw", x, Conv2d.of(channels, 3).padding(1).groups(channels));
        b.output(b.linear("fc", b.flatten(b.globalAvgPool(x)), 10), "y");
        return b.build();
    }
}
