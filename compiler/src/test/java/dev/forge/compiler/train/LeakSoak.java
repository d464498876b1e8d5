package dev.forge.compiler.train;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The workload of {@link NativeLeakTest}, run in a child JVM with a fixed, pre-touched heap so that its
 * resident memory moves only with native memory: {@code INFERENCES} inferences of a small CNN through
 * the runtime (mixed batch sizes, heap and direct inputs, top-k, a reload every 10%), then {@code
 * STEPS} training steps of the same CNN (SGD, cross-entropy) through {@link Trainer}, with evaluations.
 * Prints one {@code sample} line per 5% of each phase (training samples add the trainer's open native
 * objects, {@link TrainerNativeObjects}, and the JVM's direct buffers after a full GC), a {@code
 * perstep} line with the native bytes one training step touches (what leaking all of it would add per
 * step), a {@code trainer} line with the trainer's objects and direct buffers before it was created and
 * after it was closed, and a final {@code native} line for the runtime's objects.
 *
 * <p>Arguments: inferences, steps.
 */
public final class LeakSoak {
    private LeakSoak() {}

    static Graph net() {
        GraphBuilder b = new GraphBuilder("leak_cnn").seed(7);
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.relu(b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1)));
        x = b.maxPool("pool", x, Pool2d.of(2));
        x = b.linear("fc", b.flatten(x), 10);
        return b.output(x, "logits").build();
    }

    public static void main(String[] args) throws IOException {
        long inferences = Long.parseLong(args[0]);
        long steps = Long.parseLong(args[1]);
        long nativeBase = Model.openNativeObjects();
        Graph net = net();
        byte[] model =
                OnnxWriter.toBytes(Export.inferenceModel(net, Map.of(), Map.of("class_labels", "0,1,2,3,4,5,6,7,8,9")));
        SplittableRandom r = new SplittableRandom(1);
        float[][] batches = new float[8][];
        for (int b = 0; b < 8; b++) {
            batches[b] = new float[(b + 1) * 64];
            for (int i = 0; i < batches[b].length; i++) {
                batches[b][i] = (float) r.nextDouble(-1, 1);
            }
        }
        ByteBuffer direct = ByteBuffer.allocateDirect(8 * 64 * 4).order(ByteOrder.LITTLE_ENDIAN);
        direct.asFloatBuffer().put(batches[7]);
        Tensor directBatch = Tensor.wrap(DType.FLOAT32, direct, 8, 1, 8, 8);
        long every = Math.max(1, inferences / 20);
        Model m = Model.load(
                model, "leak_cnn", ModelOptions.builder().intraOpThreads(1).build());
        long t0 = System.nanoTime();
        try {
            for (long i = 1; i <= inferences; i++) {
                int b = (int) (i % 8);
                if (i % 3 == 0) {
                    m.run(directBatch);
                } else if (i % 7 == 0) {
                    m.topK(Tensor.of(batches[b], b + 1, 1, 8, 8), 3);
                } else {
                    m.run(Tensor.of(batches[b], b + 1, 1, 8, 8));
                }
                if (i % Math.max(1, inferences / 10) == 0) {
                    m.close();
                    m = Model.load(
                            model,
                            "leak_cnn",
                            ModelOptions.builder().intraOpThreads(1).build());
                }
                if (i % every == 0) {
                    sample("infer", i, t0);
                }
            }
        } finally {
            m.close();
        }

        TrainingGraph tg = TrainingGraph.build(net, Loss.CROSS_ENTROPY, Optimizer.sgd(0.01));
        float[] x = new float[16 * 64];
        long[] y = new long[16];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble(-1, 1);
        }
        for (int i = 0; i < y.length; i++) {
            y[i] = i % 10;
        }
        Tensor xs = Tensor.of(x, 16, 1, 8, 8);
        Tensor ys = Tensor.of(y, 16);
        String before = trainerObjects();
        // in a method of its own, so that no slot of this frame keeps the closed trainer (and its buffers) reachable
        double[] losses = train(tg, xs, ys, steps);
        System.out.println("trainer before " + before + " after " + trainerObjects());
        System.out.printf(Locale.ROOT, "loss first %.4f last %.4f%n", losses[0], losses[1]);
        System.out.printf(Locale.ROOT, "native base %d end %d%n", nativeBase, Model.openNativeObjects());
    }

    /** The training phase; returns the first and the last loss. */
    static double[] train(TrainingGraph tg, Tensor xs, Tensor ys, long steps) throws IOException {
        long everyStep = Math.max(1, steps / 20);
        double firstLoss = Double.NaN;
        double lastLoss = Double.NaN;
        long t0 = System.nanoTime();
        try (Trainer trainer = new Trainer(tg, 1, 0)) {
            // What one step passes through native memory, and so what leaking all of it would add per step:
            // the state set ORT writes (pinned outputs), the batch (a heap tensor is copied to a direct one and
            // wrapped), and the outputs ORT allocates (loss and prediction).
            long state = tg.initialState().values().stream()
                    .mapToLong(Tensor::byteSize)
                    .sum();
            long batch = xs.byteSize() + ys.byteSize();
            long outputs = 4 + trainer.evaluate(xs, ys).prediction().byteSize();
            System.out.printf(
                    Locale.ROOT,
                    "perstep state %d batch %d outputs %d total %d%n",
                    state,
                    batch,
                    outputs,
                    state + batch + outputs);
            for (long s = 1; s <= steps; s++) {
                double loss = trainer.step(xs, ys, s, 0.01).loss();
                firstLoss = s == 1 ? loss : firstLoss;
                lastLoss = loss;
                if (s % 50 == 0) {
                    trainer.evaluate(xs, ys);
                }
                if (s % everyStep == 0) {
                    sample("train", s, t0);
                }
            }
        }
        return new double[] {firstLoss, lastLoss};
    }

    static void sample(String phase, long i, long t0) throws IOException {
        long rss = rssKb();
        System.out.printf(
                Locale.ROOT,
                "sample %s %d rssKb %d seconds %.2f%s%n",
                phase,
                i,
                rss,
                (System.nanoTime() - t0) / 1e9,
                phase.equals("train") ? " " + trainerObjects() : "");
        System.out.flush();
    }

    /**
     * The trainer's open sessions, tensors and results, and the JVM's direct buffers (count and bytes)
     * after a full collection, as {@code objects S T R direct N B}. A buffer no longer reachable is freed
     * by its cleaner some time after the collection: collect until the count is the same three times in a
     * row (at most 2 s).
     */
    static String trainerObjects() {
        BufferPoolMXBean pool = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(p -> p.getName().equals("direct"))
                .findFirst()
                .orElseThrow();
        long last = -1;
        int same = 0;
        for (int i = 0; i < 100 && same < 3; i++) {
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            long count = pool.getCount();
            same = count == last ? same + 1 : 0;
            last = count;
        }
        return "objects " + TrainerNativeObjects.SESSIONS.get() + " " + TrainerNativeObjects.TENSORS.get() + " "
                + TrainerNativeObjects.RESULTS.get() + " direct " + pool.getCount() + " " + pool.getTotalCapacity();
    }

    static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
