package dev.forge.compiler.train;

import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Per-step progress of an epoch on stderr: a progress bar (step, loss, images/s, ETA) on a terminal,
 * plain lines about every 10% of the epoch otherwise (logs, CI), or nothing when disabled.
 */
final class Progress implements AutoCloseable {
    private final ProgressBar bar;
    private final PrintStream plain;
    private final String task;
    private final long total;
    private final long started = System.nanoTime();
    private long done;
    private long images;
    private long nextLine;

    private Progress(ProgressBar bar, PrintStream plain, String task, long total) {
        this.bar = bar;
        this.plain = plain;
        this.task = task;
        this.total = total;
        this.nextLine = Math.max(1, total / 10);
    }

    /** Starts the progress of one epoch of {@code total} steps. */
    static Progress start(String task, long total, boolean enabled, PrintStream err) {
        if (!enabled) {
            return new Progress(null, null, task, total);
        }
        if (System.console() != null) {
            ProgressBar bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).showSpeed()
                    .setConsumer(new ConsoleProgressBarConsumer(err)).build();
            return new Progress(bar, null, task, total);
        }
        return new Progress(null, err, task, total);
    }

    /** Records one finished step of {@code batch} images with the running mean loss. */
    void step(int batch, double meanLoss) {
        done++;
        images += batch;
        double seconds = (System.nanoTime() - started) / 1e9;
        double rate = images / Math.max(seconds, 1e-9);
        if (bar != null) {
            bar.step();
            bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f %.0f img/s", meanLoss, rate));
        } else if (plain != null && (done >= nextLine || done == total)) {
            double eta = (total - done) * seconds / done;
            plain.printf(Locale.ROOT, "%s step %d/%d loss %.4f %.0f img/s ETA %.0fs%n", task, done, total, meanLoss, rate, eta);
            nextLine += Math.max(1, total / 10);
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
