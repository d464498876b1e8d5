package dev.forge.bench;

import dev.forge.runtime.Model;
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
 * Inference through the runtime: one {@code Model.run} of the seed's networks (exported with seed-0
 * weights) on a reused direct input. SampleTime mode gives the latency distribution (p50/p90/p99) of
 * batch 1; divide the batch by the mean time for the throughput of batch 64.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" org.openjdk.jmh.Main InferenceBenchmark</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class InferenceBenchmark {
    @Param({"simple-net", "mnist-cnn", "cifar10-net"})
    public String net;

    @Param({"1", "64"})
    public int batch;

    private Model model;
    private Tensor input;

    @Setup(Level.Trial)
    public void setUp() {
        model = Workloads.inferenceModel(net, 0);
        input = Workloads.input(dev.forge.models.ModelZoo.build(net, 0), batch, 1);
    }

    @Benchmark
    public Tensor run() {
        return model.run(input);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        model.close();
    }
}
