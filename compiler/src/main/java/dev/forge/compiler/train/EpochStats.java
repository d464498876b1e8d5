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
 */
public record EpochStats(
        int epoch,
        double lr,
        double trainLoss,
        double trainAccuracy,
        double testLoss,
        double testAccuracy,
        double seconds,
        double imagesPerSecond) {
    /** The header line of {@link #csv(List)}. */
    public static final String CSV_HEADER =
            "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second";

    /** This epoch as one CSV line (no line end), in the columns of {@link #CSV_HEADER}. */
    public String csvLine() {
        return String.format(
                Locale.ROOT,
                "%d,%s,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f",
                epoch,
                lr,
                trainLoss,
                trainAccuracy,
                testLoss,
                testAccuracy,
                seconds,
                imagesPerSecond);
    }

    /** Parses a line written by {@link #csvLine()}. */
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
                Double.parseDouble(p[7]));
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
