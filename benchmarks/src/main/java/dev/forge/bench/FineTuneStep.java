package dev.forge.bench;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.compiler.train.Transfer;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Step time of fine-tuning only the head against full training of the same network, alternating the two in
 * one process: a VGG-style backbone (six Conv 3x3 + BatchNorm + ReLU layers, 32 to 128 channels, on
 * [3, 32, 32]), global average pooling and a linear classifier, SGD with momentum. Head-only freezes
 * {@link Transfer#backbone}: no backward nodes for the backbone and its BatchNorms in inference mode.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.FineTuneStep [BATCH] [ROUNDS] [THREADS]</pre>
 *
 * <p>Each round runs 5 warm-up and 20 timed steps of each configuration; prints the node counts, the median
 * of the rounds' median milliseconds per step, and the ratio.
 */
public final class FineTuneStep {
    private FineTuneStep() {}

    /** The measured backbone + head network. */
    static Graph network() {
        GraphBuilder b = new GraphBuilder("vgg-bn-small").seed(0);
        Value x = b.input("input", Shape.of("N", 3, 32, 32));
        int[] channels = {32, 32, 64, 64, 128, 128};
        for (int i = 0; i < channels.length; i++) {
            String n = "block" + (i + 1);
            x = b.relu(b.batchNorm(
                    n + "/bn",
                    b.conv2d(n + "/conv", x, Conv2d.of(channels[i], 3).padding(1))));
            if (i % 2 == 1) {
                x = b.maxPool(n + "/pool", x, Pool2d.of(2));
            }
        }
        x = b.flatten(b.globalAvgPool(x));
        return b.output(b.linear("head", x, 10), "logits").build();
    }

    public static void main(String[] args) {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 32;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        Graph full = network();
        Graph head = Training.of(full).freeze(Transfer.backbone(full)).trainedGraph();
        Optimizer opt = Optimizer.momentum(0.01, 0.9);
        TrainingGraph[] tg = {
            TrainingGraph.build(full, Loss.CROSS_ENTROPY, opt), TrainingGraph.build(head, Loss.CROSS_ENTROPY, opt)
        };
        String[] names = {"full training", "head only"};
        Tensor x = Workloads.input(full, batch, 1);
        Tensor y = Workloads.labels(batch, 10);
        List<List<Double>> medians = List.of(new ArrayList<>(), new ArrayList<>());
        Trainer[] trainers = {new Trainer(tg[0], threads, 0), new Trainer(tg[1], threads, 0)};
        try {
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < 2; k++) {
                    for (int i = 0; i < 5; i++) {
                        trainers[k].step(x, y);
                    }
                    List<Double> t = new ArrayList<>();
                    for (int i = 0; i < 20; i++) {
                        long start = System.nanoTime();
                        trainers[k].step(x, y);
                        t.add((System.nanoTime() - start) / 1e6);
                    }
                    medians.get(k).add(Compare.median(t));
                }
            }
        } finally {
            trainers[0].close();
            trainers[1].close();
        }
        double[] ms = new double[2];
        for (int k = 0; k < 2; k++) {
            ms[k] = Compare.median(medians.get(k));
            System.out.printf(
                    Locale.ROOT,
                    "%-14s %4d nodes, %2d trained tensors: %.3f ms/step (round medians %s)%n",
                    names[k],
                    tg[k].graph().nodes().size(),
                    tg[k].parameters().size(),
                    ms[k],
                    medians.get(k));
        }
        System.out.printf(
                Locale.ROOT,
                "batch %d: head-only step is %.1fx faster than full training (%.3f / %.3f ms)%n",
                batch,
                ms[0] / ms[1],
                ms[0],
                ms[1]);
    }
}
