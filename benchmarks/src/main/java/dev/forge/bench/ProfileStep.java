package dev.forge.bench;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a training step's time goes: runs the trainer's own step session with ONNX Runtime's profiler on
 * and prints the kernel time per step by operator type and by node, largest first.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.ProfileStep \
 *     [--model mnist-cnn] [--batch 64] [--optimizer adam] [--lr 0.01] [--steps 100] [--top 20] [--out DIR]</pre>
 *
 * <p>Optimizer and learning rate default to the benchmark's settings for the model. The profiler adds
 * some time to every kernel, so the per-step total is above what an unprofiled step takes; the wall
 * time of the unprofiled steps is printed first for comparison. The raw trace (Chrome trace format,
 * open it in chrome://tracing or Perfetto) stays in {@code --out}.
 */
public final class ProfileStep {
    private static final Pattern EVENT = Pattern.compile(
            "\"cat\"\\s*:\\s*\"Node\".*?\"dur\"\\s*:\\s*(\\d+).*?\"name\"\\s*:\\s*\"([^\"]*)_kernel_time\".*?\"op_name\"\\s*:\\s*\"([^\"]*)\"");

    private ProfileStep() {}

    public static void main(String[] args) throws Exception {
        String model = "mnist-cnn";
        int batch = 64;
        String optimizer = null;
        double lr = Double.NaN;
        int steps = 100;
        int top = 20;
        Path out = Path.of("target", "profiles");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = args[++i];
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--optimizer" -> optimizer = args[++i];
                case "--lr" -> lr = Double.parseDouble(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--top" -> top = Integer.parseInt(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + "; use --model NET --batch N --optimizer NAME --lr X --steps N --top N --out DIR");
            }
        }
        if (optimizer == null) {
            optimizer = Workloads.optimizer(model);
        }
        if (Double.isNaN(lr)) {
            lr = Workloads.lr(model);
        }
        Files.createDirectories(out);
        Graph g = ModelZoo.build(model, 0);
        TrainingGraph tg = TrainingGraph.build(g, Loss.CROSS_ENTROPY, Workloads.optimizer(optimizer, lr));
        Tensor x = Workloads.input(g, batch, 1);
        Tensor y = Workloads.labels(batch, 10);
        int warmup = Math.max(10, steps / 5);
        try (Trainer plain = new Trainer(tg, 0, 0)) {
            for (int s = 1; s <= warmup; s++) {
                plain.step(x, y, s, lr);
            }
            long t0 = System.nanoTime();
            for (int s = 1; s <= steps; s++) {
                plain.step(x, y, warmup + s, lr);
            }
            System.out.printf(
                    Locale.ROOT,
                    "%s batch %d, %s lr %g: %.2f ms per step without the profiler (%d steps)%n",
                    model,
                    batch,
                    optimizer,
                    lr,
                    (System.nanoTime() - t0) / 1e6 / steps,
                    steps);
        }
        Path trace;
        try (Trainer t = new Trainer(tg, 0, 0, out.resolve(model + "_b" + batch))) {
            for (int s = 1; s <= warmup + steps; s++) {
                t.step(x, y, s, lr);
            }
            trace = t.endProfiling();
        }
        report(trace, warmup + steps, top);
    }

    /** Sums the trace's kernel times per operator type and per node and prints both tables, per step. */
    static void report(Path trace, int runs, int top) throws Exception {
        Map<String, long[]> byOp = new HashMap<>();
        Map<String, long[]> byNode = new HashMap<>();
        long total = 0;
        for (String line : Files.readAllLines(trace)) {
            Matcher m = EVENT.matcher(line);
            if (!m.find()) {
                continue;
            }
            long dur = Long.parseLong(m.group(1));
            total += dur;
            accumulate(byOp, m.group(3), dur);
            accumulate(byNode, m.group(2) + " (" + m.group(3) + ")", dur);
        }
        if (total == 0) {
            throw new IllegalStateException("no kernel events in " + trace);
        }
        System.out.printf(
                Locale.ROOT, "profile %s: %.2f ms of kernel time per step (profiler on)%n", trace, total / 1e3 / runs);
        table("operator type", byOp, total, runs, top, true);
        table("node", byNode, total, runs, top, false);
    }

    private static void accumulate(Map<String, long[]> map, String key, long dur) {
        long[] v = map.computeIfAbsent(key, k -> new long[2]);
        v[0] += dur;
        v[1]++;
    }

    private static void table(String title, Map<String, long[]> rows, long total, int runs, int top, boolean counts) {
        List<Map.Entry<String, long[]>> sorted = new ArrayList<>(rows.entrySet());
        sorted.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
        System.out.printf(Locale.ROOT, "%n| %s | ms per step | share |%s%n", title, counts ? " nodes |" : "");
        System.out.println(counts ? "| --- | --- | --- | --- |" : "| --- | --- | --- |");
        Map<String, long[]> shown = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : sorted.subList(0, Math.min(top, sorted.size()))) {
            shown.put(e.getKey(), e.getValue());
        }
        for (Map.Entry<String, long[]> e : shown.entrySet()) {
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %.3f | %.1f%% |%s%n",
                    e.getKey(),
                    e.getValue()[0] / 1e3 / runs,
                    100.0 * e.getValue()[0] / total,
                    counts ? " " + e.getValue()[1] / runs + " |" : "");
        }
    }
}
