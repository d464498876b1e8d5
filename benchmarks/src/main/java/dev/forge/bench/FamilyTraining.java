package dev.forge.bench;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainable;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Training the torchvision CNN families in Forge and in PyTorch: for each family,
 * {@code testdata/scripts/make_family_golden.py --bench} exports it at the given size and batch and times
 * PyTorch's SGD step (2 threads, median of 5 after a warm-up); then this program imports the export and
 * measures Forge's import ({@code OnnxReader.read} + {@code Trainable.prepare}), training-graph compile
 * ({@code TrainingGraph.build}, SGD, cross-entropy), ONNX Runtime session creation ({@code new Trainer}) and
 * the median SGD step of {@code --steps} after one warm-up step. Measures, asserts nothing.
 *
 * <pre>
 * java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.FamilyTraining \
 *     [--families mobilenet_v2,efficientnet_b0] [--size 64] [--batch 2] [--steps 5]
 * </pre>
 *
 * Run from the repository root (it runs the script with /usr/bin/python3; exports go to
 * {@code benchmarks/target/families-SIZExBATCH}).
 */
public final class FamilyTraining {
    private FamilyTraining() {}

    static final List<String> ALL = List.of(
            "mobilenet_v2",
            "mobilenet_v3_small",
            "shufflenet_v2",
            "efficientnet_b0",
            "mnasnet",
            "regnet",
            "densenet",
            "googlenet",
            "resnet",
            "vgg_bn",
            "alexnet",
            "squeezenet");

    public static void main(String[] args) throws IOException, InterruptedException {
        List<String> families = ALL;
        int size = 64;
        int batch = 2;
        int steps = 5;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--families" -> families = Arrays.asList(args[i + 1].split(","));
                case "--size" -> size = Integer.parseInt(args[i + 1]);
                case "--batch" -> batch = Integer.parseInt(args[i + 1]);
                case "--steps" -> steps = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Path out = Path.of("benchmarks", "target", "families-" + size + "x" + batch);
        System.out.printf(
                Locale.ROOT,
                "%dx%d inputs, batch %d, SGD, cross-entropy%n"
                        + "family               fwd nodes  train nodes  import ms  compile ms  us/node  session ms"
                        + "  Forge step ms  PyTorch step ms%n",
                size,
                size,
                batch);
        for (String family : families) {
            double torchMs = pytorch(out, family, size, batch);
            Path d = out.resolve(family);
            long t0 = System.nanoTime();
            Graph g = Trainable.prepare(OnnxReader.read(d.resolve("model.onnx")));
            long t1 = System.nanoTime();
            int forwardNodes = g.nodes().size();
            TrainingGraph tg = TrainingGraph.build(g, Loss.CROSS_ENTROPY, Optimizer.sgd(0.01));
            long t2 = System.nanoTime();
            Tensor x = Npy.read(d.resolve("input.npy"));
            Tensor y = Npy.read(d.resolve("labels.npy"));
            double[] ms = new double[steps];
            long t3;
            try (Trainer t = new Trainer(tg, 0, 0)) {
                t3 = System.nanoTime();
                t.step(x, y); // warm-up
                for (int s = 0; s < steps; s++) {
                    long a = System.nanoTime();
                    t.step(x, y);
                    ms[s] = (System.nanoTime() - a) / 1e6;
                }
            }
            Arrays.sort(ms);
            int nodes = tg.graph().nodes().size();
            System.out.printf(
                    Locale.ROOT,
                    "%-20s %9d %12d %10.0f %11.0f %8.1f %11.0f %14.1f %16.1f%n",
                    family,
                    forwardNodes,
                    nodes,
                    (t1 - t0) / 1e6,
                    (t2 - t1) / 1e6,
                    (t2 - t1) / 1e3 / nodes,
                    (t3 - t2) / 1e6,
                    ms[steps / 2],
                    torchMs);
        }
    }

    /** Exports the family with the script and returns PyTorch's median step in ms. */
    private static double pytorch(Path out, String family, int size, int batch)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(
                "/usr/bin/python3",
                "testdata/scripts/make_family_golden.py",
                "--bench",
                "--out",
                out.toString(),
                "--families",
                family,
                "--size",
                Integer.toString(size),
                "--batch",
                Integer.toString(batch)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("make_family_golden.py --bench failed (PyTorch and torchvision are"
                    + " installed by testdata/scripts/install_deps.sh):\n" + text);
        }
        for (String line : text.split("\n")) {
            String[] w = line.trim().split(" ");
            if (w.length == 3 && w[0].equals(family) && w[1].equals("pytorch_step_ms")) {
                return Double.parseDouble(w[2]);
            }
        }
        throw new IllegalStateException("no timing in the script's output:\n" + text);
    }
}
