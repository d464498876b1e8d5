package dev.forge.cli;

import dev.forge.compiler.train.EpochStats;
import dev.forge.compiler.train.TrainingListener;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Per-step progress of each epoch on stderr: a progress bar (step, loss, images/s, ETA) on a terminal,
 * plain lines about every 10% of the epoch otherwise (logs, CI).
 */
final class ProgressListener implements TrainingListener {
    private final PrintStream err;
    private ProgressBar bar;
    private String task;
    private long total;
    private long started;
    private long done;
    private long images;
    private long nextLine;

    ProgressListener(PrintStream err) {
        this.err = err;
    }

    @Override
    public void onEpochStart(int epoch, int epochs, int steps) {
        close();
        task = String.format(Locale.ROOT, "epoch %d/%d", epoch, epochs);
        total = steps;
        started = System.nanoTime();
        done = 0;
        images = 0;
        nextLine = Math.max(1, total / 10);
        if (System.console() != null) {
            bar = new ProgressBarBuilder()
                    .setTaskName(task)
                    .setInitialMax(total)
                    .setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(250)
                    .showSpeed()
                    .setConsumer(new ConsoleProgressBarConsumer(err))
                    .build();
        }
    }

    @Override
    public void onStep(Step step) {
        done++;
        images += step.batchSize();
        double seconds = (System.nanoTime() - started) / 1e9;
        double rate = images / Math.max(seconds, 1e-9);
        if (bar != null) {
            bar.step();
            bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f %.0f img/s", step.meanLoss(), rate));
        } else if (done >= nextLine || done == total) {
            double eta = (total - done) * seconds / done;
            err.printf(
                    Locale.ROOT,
                    "%s step %d/%d loss %.4f %.0f img/s ETA %.0fs%n",
                    task,
                    done,
                    total,
                    step.meanLoss(),
                    rate,
                    eta);
            nextLine += Math.max(1, total / 10);
        }
    }

    @Override
    public void onEpochEnd(EpochStats stats, List<EpochStats> history) {
        close();
    }

    @Override
    public void onError(RuntimeException error) {
        close();
    }

    private void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
