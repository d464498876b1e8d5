package dev.forge.bench;

import dev.forge.compiler.train.Trainer;
import dev.forge.runtime.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One full training step (forward, loss, backward, optimizer update) on a fixed batch: the MNIST CNN
 * with Adam (lr 0.01) and the CIFAR-10 net with SGD momentum 0.9 (lr 0.0001), the seed's settings.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" org.openjdk.jmh.Main TrainingStepBenchmark</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class TrainingStepBenchmark {
    @Param({"mnist-cnn:64", "cifar10-net:16", "cifar10-net:64"})
    public String workload;

    private Trainer trainer;
    private Tensor x;
    private Tensor y;
    private long step;
    private double lr;

    @Setup(Level.Trial)
    public void setUp() {
        String net = workload.split(":")[0];
        int batch = Integer.parseInt(workload.split(":")[1]);
        lr = Workloads.lr(net);
        trainer = Workloads.trainer(net, Workloads.optimizer(net), lr, 0);
        x = Workloads.input(dev.forge.models.ModelZoo.build(net, 0), batch, 1);
        y = Workloads.labels(batch, 10);
    }

    @Benchmark
    public double step() {
        return trainer.step(x, y, ++step, lr).loss();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        trainer.close();
    }
}
