package dev.forge.compiler.train;

import java.util.List;
import java.util.Locale;

/**
 * One epoch of a training run's history.
 *
 * @param epoch 1-based epoch
 * @param lr learning rate used
 * @param trainLoss mean training loss over the epoch's steps
 * @param trainAccuracy training accuracy over the epoch (NaN for regression)
 * @param testLoss mean test loss after the epoch
 * @param testAccuracy test accuracy after the epoch (NaN for regression)
 * @param seconds wall time of the epoch's training steps
 * @param imagesPerSecond training throughput
 * @param fraction the part of the epoch's batches that were trained: 1 for a whole epoch, less for a last
 *     epoch that a step limit ({@link Training#maxSteps}) ended early; such a partial epoch is plotted at
 *     {@code epoch - 1 + fraction}
 */
public record EpochStats(
        int epoch,
        double lr,
        double trainLoss,
        double trainAccuracy,
        double testLoss,
        double testAccuracy,
        double seconds,
        double imagesPerSecond,
        double fraction) {
    /** The header line of {@link #csv(List)}. */
    public static final String CSV_HEADER =
            "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second,epoch_fraction";

    /** A whole epoch ({@code fraction} 1). */
    public EpochStats(
            int epoch,
            double lr,
            double trainLoss,
            double trainAccuracy,
            double testLoss,
            double testAccuracy,
            double seconds,
            double imagesPerSecond) {
        this(epoch, lr, trainLoss, trainAccuracy, testLoss, testAccuracy, seconds, imagesPerSecond, 1);
    }

    public EpochStats {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("epoch " + epoch + ": fraction must be in (0, 1], got " + fraction);
        }
    }

    /** True when a step limit ended this epoch before all its batches ({@code fraction < 1}). */
    public boolean partial() {
        return fraction < 1;
    }

    /** This epoch as one CSV line (no line end), in the columns of {@link #CSV_HEADER}. */
    public String csvLine() {
        return String.format(
                Locale.ROOT,
                "%d,%s,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%s",
                epoch,
                lr,
                trainLoss,
                trainAccuracy,
                testLoss,
                testAccuracy,
                seconds,
                imagesPerSecond,
                fraction == 1 ? "1" : String.format(Locale.ROOT, "%.6f", fraction));
    }

    /** Parses a line written by {@link #csvLine()} (or by an older version, without {@code epoch_fraction}). */
    public static EpochStats parse(String line) {
        String[] p = line.split(",");
        return new EpochStats(
                Integer.parseInt(p[0]),
                Double.parseDouble(p[1]),
                Double.parseDouble(p[2]),
                Double.parseDouble(p[3]),
                Double.parseDouble(p[4]),
                Double.parseDouble(p[5]),
                Double.parseDouble(p[6]),
                Double.parseDouble(p[7]),
                p.length > 8 ? Double.parseDouble(p[8]) : 1);
    }

    /** A history as CSV text: the header and one line per epoch, each ending with a newline. */
    public static String csv(List<EpochStats> history) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        for (EpochStats s : history) {
            sb.append(s.csvLine()).append('\n');
        }
        return sb.toString();
    }
}
