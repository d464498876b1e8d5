package dev.forge.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.ReplicatedTrainer;
import dev.forge.compiler.train.StepTrainer;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Data-parallel replicas and micro-batches in one JVM against one session and against PyTorch, in one run:
 * the training step of a built-in net with each layout ({@code 1}: the plain {@link Trainer}; {@code 2}: two
 * replicas; {@code 1x4}: one session running four micro-batches in turn; {@code 2x2}...) and PyTorch's step
 * ({@code benchmarks/torch/run_torch.sh}), alternated {@code --rounds} times; medians and ratios. Then where a
 * 2-replica step's time goes: one replica's gradient graph alone (half the batch, one thread, every output
 * the trainer fetches), two of them at once (what sharing the machine costs them), and the update graph alone.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.ReplicaStep \
 *     [--model mnist-cnn] [--batch 64] [--rounds 5] [--seconds 2] [--layouts 1,2,1x4,2x2] [--no-torch]</pre>
 */
public final class ReplicaStep {
    private ReplicaStep() {}

    public static void main(String[] args) throws Exception {
        String net = "mnist-cnn";
        int batch = 64;
        int rounds = 5;
        double seconds = 2;
        boolean torch = true;
        String layouts = "1,2,1x4,2x2";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> net = args[++i];
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--no-torch" -> torch = false;
                case "--layouts" -> layouts = args[++i];
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + "; use --model NET --batch N --rounds N --seconds S --layouts 1,2,1x4 --no-torch");
            }
        }
        String opt = Workloads.optimizer(net);
        double lr = Workloads.lr(net);
        Graph g = ModelZoo.build(net, 0);
        TrainingGraph tg = TrainingGraph.build(g, Loss.CROSS_ENTROPY, Workloads.optimizer(opt, lr));
        Tensor x = Workloads.input(g, batch, 1);
        Tensor y = Workloads.labels(batch, 10);
        int cores = Runtime.getRuntime().availableProcessors();
        System.out.printf(
                Locale.ROOT, "%s %s b%d, %d cores, %d rounds of %.1f s%n", net, opt, batch, cores, rounds, seconds);
        Map<String, List<Double>> rates = new LinkedHashMap<>();
        Map<String, StepTrainer> trainers = new LinkedHashMap<>();
        try (ReplicatedTrainer two = new ReplicatedTrainer(tg, 2, ModelOptions.defaults(), 0)) {
            for (String l : layouts.split(",")) {
                String[] rm = l.trim().split("x");
                int replicas = Integer.parseInt(rm[0]);
                int micro = rm.length > 1 ? Integer.parseInt(rm[1]) : 1;
                trainers.put(
                        "forge " + l.trim(),
                        replicas * micro == 1
                                ? new Trainer(tg, ModelOptions.defaults(), 0)
                                : new ReplicatedTrainer(tg, replicas, micro, ModelOptions.defaults(), 0));
            }
            int b = batch;
            for (int r = 0; r < rounds; r++) {
                for (Map.Entry<String, StepTrainer> t : trainers.entrySet()) {
                    rates.computeIfAbsent(t.getKey(), k -> new ArrayList<>())
                            .add(Compare.throughput(
                                    seconds, b, () -> t.getValue().step(x, y)));
                }
                if (torch) {
                    rates.computeIfAbsent("pytorch", k -> new ArrayList<>()).add(torchRate(net, batch, opt, seconds));
                }
                System.out.printf(Locale.ROOT, "round %d:", r + 1);
                rates.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %s %.0f img/s", k, v.get(v.size() - 1)));
                System.out.println();
            }
            phases(two, x, y, batch, seconds);
        } finally {
            trainers.values().forEach(StepTrainer::close);
        }
        System.out.println();
        System.out.println("| setting | img/s (median) | ms/step | vs PyTorch |");
        System.out.println("| --- | --- | --- | --- |");
        double pt = rates.containsKey("pytorch") ? Compare.median(rates.get("pytorch")) : Double.NaN;
        for (Map.Entry<String, List<Double>> e : rates.entrySet()) {
            double m = Compare.median(e.getValue());
            String vs = Double.isNaN(pt) ? "not run" : String.format(Locale.ROOT, "%.2fx", m / pt);
            System.out.printf(Locale.ROOT, "| %s | %.0f | %.2f | %s |%n", e.getKey(), m, 1e3 * batch / m, vs);
        }
    }

    private static double torchRate(String net, int batch, String opt, double seconds) throws Exception {
        for (String line : Compare.torchRun(
                "benchmarks/torch/run_torch.sh",
                List.of(
                        "--workload",
                        "train_step",
                        "--model",
                        net,
                        "--batch",
                        Integer.toString(batch),
                        "--optimizer",
                        opt,
                        "--seconds",
                        Double.toString(seconds)))) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"median\"\\s*:\\s*([-0-9.eE+]+)")
                    .matcher(line);
            if (m.find()) {
                return Double.parseDouble(m.group(1));
            }
        }
        throw new IllegalStateException("PyTorch printed no median");
    }

    /** Times the parts of a 2-replica step on their own: one replica, two replicas at once, the update. */
    private static void phases(ReplicatedTrainer t, Tensor x, Tensor y, int batch, double seconds) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, Tensor> state = t.state();
        int half = batch / 2;
        List<OnnxTensor> owned = new ArrayList<>();
        try (OrtSession.SessionOptions o1 = new OrtSession.SessionOptions();
                OrtSession.SessionOptions o2 = new OrtSession.SessionOptions();
                OrtSession.SessionOptions ou = new OrtSession.SessionOptions();
                OrtSession.SessionOptions ou1 = new OrtSession.SessionOptions()) {
            for (OrtSession.SessionOptions o : List.of(o1, o2)) {
                o.setIntraOpNumThreads(1);
                o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.EXTENDED_OPT);
            }
            ou.setIntraOpNumThreads(Runtime.getRuntime().availableProcessors());
            ou.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.EXTENDED_OPT);
            ou1.setIntraOpNumThreads(1);
            ou1.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.EXTENDED_OPT);
            byte[] gradBytes = OnnxWriter.toBytes(t.gradientGraph().graph());
            Graph update = t.updateGraph();
            try (OrtSession a = env.createSession(gradBytes, o1);
                    OrtSession b = env.createSession(gradBytes, o2);
                    OrtSession u = env.createSession(OnnxWriter.toBytes(update), ou);
                    OrtSession u1 = env.createSession(OnnxWriter.toBytes(update), ou1)) {
                Map<String, OnnxTensor> in = new HashMap<>();
                for (String s : t.gradientGraph().initialState().keySet()) {
                    in.put(s, onnx(env, state.get(s), owned));
                }
                in.put(t.trainingGraph().dataInput(), onnx(env, rows(x, half), owned));
                in.put(TrainingGraph.TARGET, onnx(env, rows(y, half), owned));
                Map<String, OnnxTensor> uin = new HashMap<>();
                for (var v : update.inputs()) {
                    String n = v.name();
                    Tensor value = state.containsKey(n)
                            ? state.get(n)
                            : n.contains(".grad/slot")
                                    ? state.get(n.substring(0, n.indexOf(".grad/slot")))
                                    : scalar(0.5f);
                    uin.put(n, onnx(env, value, owned));
                }
                // every output the trainer fetches, so the run allocates and writes what a replica's run does
                Set<String> outs = new java.util.HashSet<>();
                t.gradientGraph().graph().outputs().forEach(o -> outs.add(o.name()));
                double one = Compare.median(List.of(
                        ms(seconds, () -> run(a, in, outs)),
                        ms(seconds, () -> run(a, in, outs)),
                        ms(seconds, () -> run(a, in, outs))));
                ExecutorService pool = Executors.newSingleThreadExecutor();
                double both = ms(seconds, () -> {
                    Future<?> f = pool.submit(() -> run(b, in, outs));
                    run(a, in, outs);
                    try {
                        f.get();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                pool.shutdown();
                Set<String> uout = Set.of(update.outputs().get(0).name());
                double upd = ms(seconds, () -> run(u, uin, uout));
                double upd1 = ms(seconds, () -> run(u1, uin, uout));
                System.out.printf(
                        Locale.ROOT,
                        "phases of a 2-replica step at b%d: one replica's gradient graph alone (b%d, 1 thread) %.2f ms;"
                                + " two at once %.2f ms; the update graph %.2f ms (%d threads), %.2f ms (1 thread)%n",
                        batch,
                        half,
                        one,
                        both,
                        upd,
                        Runtime.getRuntime().availableProcessors(),
                        upd1);
            }
        } finally {
            owned.forEach(OnnxTensor::close);
        }
    }

    private static Tensor scalar(float v) {
        return Tensor.of(new float[] {v});
    }

    private static void run(OrtSession s, Map<String, OnnxTensor> in, Set<String> outs) {
        try (OrtSession.Result r = s.run(in, outs)) {
            // timed
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static double ms(double seconds, Runnable call) {
        return 1e3 / Compare.throughput(seconds, 1, call);
    }

    private static Tensor rows(Tensor t, int n) {
        long[] shape = t.shape().clone();
        long rowBytes = t.byteSize() / shape[0];
        shape[0] = n;
        ByteBuffer d = ByteBuffer.allocateDirect((int) (n * rowBytes)).order(ByteOrder.LITTLE_ENDIAN);
        d.put(t.buffer().limit((int) (n * rowBytes)));
        d.flip();
        return Tensor.wrap(t.dtype(), d, shape);
    }

    private static OnnxTensor onnx(OrtEnvironment env, Tensor t, List<OnnxTensor> owned) throws Exception {
        ByteBuffer d = ByteBuffer.allocateDirect((int) t.byteSize()).order(ByteOrder.nativeOrder());
        d.put(t.buffer());
        d.flip();
        OnnxTensor o = OnnxTensor.createTensor(env, d, t.shape(), t.dtype().toOnnxJavaType());
        owned.add(o);
        return o;
    }
}
