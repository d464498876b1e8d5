package dev.forge.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The seed's whole MNIST run, Forge against PyTorch's own run in the same session: each round runs
 * {@code forge train mnist-cnn --data mnist} once per Forge setting and then
 * {@code benchmarks/torch/run_torch.sh --workload mnist_epoch}, each as a child process timed by the wall
 * clock, and prints the medians and each Forge setting's time as a fraction of PyTorch's. Alternating the
 * runs in every round lets load from other jobs fall on all of them alike; on a shared machine the
 * fraction is the figure to read, not the seconds.
 *
 * <p>The Forge side is the whole command a user runs: JVM start, loading MNIST, 10 epochs with an
 * evaluation after each, the export and the exported model's evaluation through the runtime. PyTorch's
 * side is the seed's recipe in PyTorch (loading MNIST, the epochs and their evaluations, plus the Python
 * interpreter's start).
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.SeedRun [--rounds 2] \
 *     [--epochs 10] [--forge ""] [--forge "--replicas 2 --micro-batch 16"] [--torch benchmarks/torch/run_torch.sh]</pre>
 *
 * Each {@code --forge} adds one setting (extra arguments for {@code forge train}); without any, the single
 * session and 2 replicas of 2 micro-batches are run.
 */
public final class SeedRun {
    private static final Pattern FORGE_ACCURACY =
            Pattern.compile("evaluated through the runtime on \\d+ test images: accuracy ([0-9.]+)");
    private static final Pattern TORCH_ACCURACY = Pattern.compile("\"accuracy\"\\s*:\\s*([0-9.]+)");

    private SeedRun() {}

    public static void main(String[] args) throws Exception {
        int rounds = 2;
        int epochs = 10;
        String torch = "benchmarks/torch/run_torch.sh";
        List<String> settings = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--epochs" -> epochs = Integer.parseInt(args[++i]);
                case "--forge" -> settings.add(args[++i].trim());
                case "--torch" -> torch = args[++i];
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + "; use --rounds N --epochs N --forge \"TRAIN ARGS\" (repeatable) --torch SCRIPT");
            }
        }
        if (settings.isEmpty()) {
            settings = List.of("", "--replicas 2 --micro-batch 16");
        }
        Path dir = Files.createTempDirectory("forge-seed-run");
        Map<String, List<double[]>> results = new LinkedHashMap<>();
        for (int r = 1; r <= rounds; r++) {
            StringBuilder line = new StringBuilder("round " + r + " (load " + load() + "):");
            for (String s : settings) {
                double[] run = forge(s, epochs, dir);
                results.computeIfAbsent(forgeLabel(s), k -> new ArrayList<>()).add(run);
                line.append(String.format(Locale.ROOT, "  %s %.1f s %.4f", forgeLabel(s), run[0], run[1]));
            }
            double[] pt = torch(torch, epochs);
            results.computeIfAbsent("pytorch", k -> new ArrayList<>()).add(pt);
            line.append(String.format(Locale.ROOT, "  pytorch %.1f s %.4f (load %s)", pt[0], pt[1], load()));
            System.out.println(line);
        }
        double torchMedian =
                Compare.median(results.get("pytorch").stream().map(v -> v[0]).toList());
        System.out.printf(
                Locale.ROOT, "%n| run | wall s (median of %d) | final accuracy | / PyTorch's wall |%n", rounds);
        System.out.println("| --- | --- | --- | --- |");
        for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
            double wall = Compare.median(e.getValue().stream().map(v -> v[0]).toList());
            String accs = String.join(
                    ", ",
                    e.getValue().stream()
                            .map(v -> String.format(Locale.ROOT, "%.4f", v[1]))
                            .toList());
            System.out.printf(Locale.ROOT, "| %s | %.1f | %s | %.2f |%n", e.getKey(), wall, accs, wall / torchMedian);
        }
    }

    private static String forgeLabel(String setting) {
        return setting.isEmpty() ? "forge" : "forge " + setting;
    }

    /** One {@code forge train} run as a child JVM with this JVM's class path: wall seconds and accuracy. */
    private static double[] forge(String setting, int epochs, Path dir) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                "dev.forge.cli.Forge",
                "train",
                "mnist-cnn",
                "--data",
                "mnist",
                "--epochs",
                Integer.toString(epochs),
                "--no-progress",
                "--out",
                dir.resolve("mnist-cnn.onnx").toString()));
        if (!setting.isEmpty()) {
            cmd.addAll(List.of(setting.split("\\s+")));
        }
        Run run = runTimed(cmd);
        return new double[] {run.seconds(), find(FORGE_ACCURACY, run.output(), cmd)};
    }

    /** PyTorch's own seed run ({@code run_torch.sh --workload mnist_epoch}): wall seconds and accuracy. */
    private static double[] torch(String script, int epochs) throws Exception {
        List<String> cmd = List.of("bash", script, "--workload", "mnist_epoch", "--epochs", Integer.toString(epochs));
        Run run = runTimed(cmd);
        return new double[] {run.seconds(), find(TORCH_ACCURACY, run.output(), cmd)};
    }

    /** A finished child process: its wall seconds and its output. */
    private record Run(double seconds, String output) {}

    /** Runs a child process to completion. */
    private static Run runTimed(List<String> cmd) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(3600, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("run failed: " + String.join(" ", cmd) + "\n" + out);
        }
        return new Run((System.nanoTime() - t0) / 1e9, out);
    }

    private static double find(Pattern p, String out, List<String> cmd) {
        Matcher m = p.matcher(out);
        double last = Double.NaN;
        while (m.find()) {
            last = Double.parseDouble(m.group(1));
        }
        if (Double.isNaN(last)) {
            throw new IllegalStateException("no final accuracy in the output of " + String.join(" ", cmd) + "\n" + out);
        }
        return last;
    }

    private static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "?";
        }
    }
}
