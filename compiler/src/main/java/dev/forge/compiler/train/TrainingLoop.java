package dev.forge.compiler.train;

import dev.forge.compiler.data.Batch;
import dev.forge.compiler.data.DataLoader;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.Tensor;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The training loop: epochs of shuffled mini-batches through a {@link Trainer}, evaluation on the test
 * set after every epoch, a progress bar, the history as CSV, the "Train/Test Loss" plot as PNG, a
 * checkpoint after every epoch, exact resumption, and a clean stop when the loss stops being finite.
 */
public final class TrainingLoop {
    private TrainingLoop() {
    }

    /**
     * Settings of a run.
     *
     * @param epochs total epochs (a resumed run continues up to this number)
     * @param batchSize mini-batch size
     * @param shuffle shuffle the training set each epoch (seeded); false keeps file order
     * @param seed seed of shuffling and dropout
     * @param threads ONNX Runtime intra-op threads (0 for one per available processor)
     * @param schedule learning-rate schedule by epoch
     * @param checkpoint where to write a checkpoint after every epoch (null for none)
     * @param historyCsv where to write the per-epoch history (null for none)
     * @param plotPng where to write the Train/Test Loss plot (null for none)
     * @param maxStepsPerEpoch stop each epoch after this many steps (0 for the whole epoch)
     * @param progress show per-step progress on stderr
     * @param maxSteps stop after this many optimizer steps in total (0 for no limit)
     */
    public record Config(int epochs, int batchSize, boolean shuffle, long seed, int threads, Schedule schedule,
            Path checkpoint, Path historyCsv, Path plotPng, int maxStepsPerEpoch, boolean progress, long maxSteps) {
        /** Settings without a total step limit. */
        public Config(int epochs, int batchSize, boolean shuffle, long seed, int threads, Schedule schedule,
                Path checkpoint, Path historyCsv, Path plotPng, int maxStepsPerEpoch, boolean progress) {
            this(epochs, batchSize, shuffle, seed, threads, schedule, checkpoint, historyCsv, plotPng, maxStepsPerEpoch, progress, 0);
        }
    }

    /**
     * One epoch of the history.
     *
     * @param epoch 1-based epoch
     * @param lr learning rate used
     * @param trainLoss mean training loss over the epoch's steps
     * @param trainAccuracy training accuracy over the epoch (NaN for regression)
     * @param testLoss mean test loss after the epoch
     * @param testAccuracy test accuracy after the epoch (NaN for regression)
     * @param seconds wall time of the epoch's training steps
     * @param imagesPerSecond training throughput
     */
    public record EpochStats(int epoch, double lr, double trainLoss, double trainAccuracy, double testLoss,
            double testAccuracy, double seconds, double imagesPerSecond) {
        static final String CSV_HEADER = "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second";

        String csv() {
            return String.format(Locale.ROOT, "%d,%s,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f", epoch, lr, trainLoss, trainAccuracy, testLoss,
                    testAccuracy, seconds, imagesPerSecond);
        }

        static EpochStats parse(String line) {
            String[] p = line.split(",");
            return new EpochStats(Integer.parseInt(p[0]), Double.parseDouble(p[1]), Double.parseDouble(p[2]),
                    Double.parseDouble(p[3]), Double.parseDouble(p[4]), Double.parseDouble(p[5]), Double.parseDouble(p[6]),
                    Double.parseDouble(p[7]));
        }
    }

    /**
     * What a run produced.
     *
     * @param history one entry per epoch (including epochs of a resumed run's earlier part)
     * @param state the trained state
     * @param evaluation the final test evaluation
     * @param steps optimizer steps taken in total
     */
    public record Result(List<EpochStats> history, Map<String, Tensor> state, Evaluation evaluation, long steps) {
    }

    /** Thrown when the loss becomes NaN or infinite; the last good checkpoint stays on disk. */
    public static final class DivergedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DivergedException(String message) {
            super(message);
        }
    }

    /**
     * Trains {@code forward} and evaluates it on {@code test} after every epoch.
     *
     * @param resume a checkpoint to continue from, or null to start fresh
     * @param log where epoch summaries go (stdout for the CLI)
     */
    public static Result run(Graph forward, Loss loss, Optimizer optimizer, Dataset train, Dataset test, Config cfg,
            Checkpoint resume, PrintStream log) {
        TrainingGraph tg = TrainingGraph.build(forward, loss, optimizer);
        List<EpochStats> history = new ArrayList<>();
        int startEpoch = 0;
        long step = 0;
        try (Trainer trainer = new Trainer(tg, cfg.threads(), cfg.seed());
                DataLoader trainLoader = DataLoader.builder(train, cfg.batchSize()).shuffle(cfg.shuffle()).seed(cfg.seed())
                        .prefetch(1).build();
                DataLoader testLoader = DataLoader.builder(test, Math.max(cfg.batchSize(), 256)).shuffle(false).build()) {
            if (resume != null) {
                checkCompatible(resume, tg, cfg, optimizer);
                trainer.setState(resume.state());
                startEpoch = resume.epoch();
                step = resume.step();
                String h = resume.info().getOrDefault("history", "");
                for (String line : h.split("\n")) {
                    if (!line.isBlank() && !line.startsWith("epoch")) {
                        history.add(EpochStats.parse(line));
                    }
                }
                log.printf(Locale.ROOT, "resuming after epoch %d (step %d)%n", startEpoch, step);
            }
            Evaluation last = null;
            for (int epoch = startEpoch; epoch < cfg.epochs(); epoch++) {
                double lr = cfg.schedule().lr(optimizer.lr(), epoch);
                int batches = trainLoader.batchesPerEpoch();
                if (cfg.maxStepsPerEpoch() > 0) {
                    batches = Math.min(batches, cfg.maxStepsPerEpoch());
                }
                if (cfg.maxSteps() > 0) {
                    batches = (int) Math.min(batches, Math.max(0, cfg.maxSteps() - step));
                }
                double lossSum = 0;
                long correct = 0;
                long seen = 0;
                int done = 0;
                long t0 = System.nanoTime();
                String task = String.format(Locale.ROOT, "epoch %d/%d", epoch + 1, cfg.epochs());
                try (Progress progress = Progress.start(task, batches, cfg.progress(), System.err);
                        DataLoader.Epoch it = trainLoader.epoch(epoch)) {
                    for (Batch b : it) {
                        if (done == batches) {
                            break;
                        }
                        step++;
                        Trainer.StepResult r = trainer.step(b.inputs(), b.labels(), step, lr);
                        if (!Double.isFinite(r.loss())) {
                            throw new DivergedException(String.format(Locale.ROOT,
                                    "the loss became %s at epoch %d, step %d (lr %s); stopped. %s", r.loss(), epoch + 1, step, lr,
                                    cfg.checkpoint() == null ? "No checkpoint was being written."
                                            : epoch == 0 && resume == null ? "No epoch had completed, so there is no checkpoint."
                                                    : "The last good checkpoint is " + cfg.checkpoint() + " (after epoch " + epoch
                                                            + "); lower the learning rate and resume from it."));
                        }
                        lossSum += r.loss() * r.size();
                        correct += Math.max(0, r.correct());
                        seen += r.size();
                        done++;
                        progress.step(r.size(), lossSum / seen);
                    }
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                last = evaluate(trainer, testLoader, test);
                boolean classifier = loss == Loss.CROSS_ENTROPY;
                EpochStats stats = new EpochStats(epoch + 1, lr, lossSum / seen, classifier ? (double) correct / seen : Double.NaN,
                        last.loss(), classifier ? last.accuracy() : Double.NaN, seconds, seen / seconds);
                history.add(stats);
                log.printf(Locale.ROOT, "epoch %d/%d  train loss %.4f%s  test loss %.4f%s  lr %s  %.1f s (%.0f img/s)%n",
                        epoch + 1, cfg.epochs(), stats.trainLoss(),
                        classifier ? String.format(Locale.ROOT, " acc %.4f", stats.trainAccuracy()) : "", stats.testLoss(),
                        classifier ? String.format(Locale.ROOT, " acc %.4f", stats.testAccuracy()) : "", lr, seconds,
                        stats.imagesPerSecond());
                String csv = historyCsv(history);
                if (cfg.historyCsv() != null) {
                    OnnxWriter.writeAtomically(cfg.historyCsv(), csv.getBytes(StandardCharsets.UTF_8));
                }
                if (cfg.plotPng() != null) {
                    LossPlot.write(history, cfg.plotPng());
                }
                if (cfg.checkpoint() != null) {
                    Map<String, String> info = new LinkedHashMap<>();
                    info.put("seed", Long.toString(cfg.seed()));
                    info.put("optimizer", optimizer.describe());
                    info.put("loss", loss.cliName());
                    info.put("batch", Integer.toString(cfg.batchSize()));
                    info.put("history", csv);
                    new Checkpoint(trainer.state(), epoch + 1, step, info).write(cfg.checkpoint());
                }
            }
            if (last == null) {
                last = evaluate(trainer, testLoader, test);
            }
            return new Result(history, trainer.state(), last, step);
        }
    }

    private static void checkCompatible(Checkpoint ckpt, TrainingGraph tg, Config cfg, Optimizer optimizer) {
        for (Map.Entry<String, Tensor> e : tg.initialState().entrySet()) {
            Tensor t = ckpt.state().get(e.getKey());
            if (t == null) {
                throw new IllegalArgumentException("the checkpoint has no tensor '" + e.getKey() + "': it was made for another "
                        + "model or optimizer (checkpoint optimizer: " + ckpt.info().get("optimizer") + ", now: "
                        + optimizer.describe() + ")");
            }
            if (!java.util.Arrays.equals(t.shape(), e.getValue().shape())) {
                throw new IllegalArgumentException("checkpoint tensor '" + e.getKey() + "' has shape "
                        + java.util.Arrays.toString(t.shape()) + ", the model needs " + java.util.Arrays.toString(e.getValue().shape()));
            }
        }
        String seed = ckpt.info().get("seed");
        if (seed != null && Long.parseLong(seed) != cfg.seed()) {
            throw new IllegalArgumentException("the checkpoint was trained with seed " + seed + ", this run uses " + cfg.seed()
                    + "; resume with --seed " + seed + " to continue the same run");
        }
        if (ckpt.epoch() >= cfg.epochs()) {
            throw new IllegalArgumentException("the checkpoint already completed " + ckpt.epoch() + " epochs; ask for more than "
                    + ckpt.epoch() + " with --epochs");
        }
    }

    /** Evaluates the trainer's current weights on a dataset (inference mode). */
    public static Evaluation evaluate(Trainer trainer, DataLoader loader, Dataset data) {
        int classes = data.numClasses();
        long[][] confusion = classes > 0 ? new long[classes][classes] : null;
        double lossSum = 0;
        long n = 0;
        long correct = 0;
        try (DataLoader.Epoch it = loader.epoch(0)) {
            for (Batch b : it) {
                Trainer.EvalOutput out = trainer.evaluate(b.inputs(), b.labels());
                lossSum += out.loss() * b.size();
                n += b.size();
                if (confusion != null) {
                    float[] p = out.prediction().toFloatArray();
                    int k = (int) out.prediction().shape()[1];
                    for (int r = 0; r < b.size(); r++) {
                        int best = 0;
                        for (int c = 1; c < k; c++) {
                            if (p[r * k + c] > p[r * k + best]) {
                                best = c;
                            }
                        }
                        int truth = (int) b.labels().getLong(r);
                        confusion[truth][best]++;
                        if (truth == best) {
                            correct++;
                        }
                    }
                }
            }
        }
        return new Evaluation(lossSum / n, confusion == null ? Double.NaN : (double) correct / n, n, confusion,
                data.classNames());
    }

    static String historyCsv(List<EpochStats> history) {
        StringBuilder sb = new StringBuilder(EpochStats.CSV_HEADER).append('\n');
        for (EpochStats s : history) {
            sb.append(s.csv()).append('\n');
        }
        return sb.toString();
    }
}
