package dev.forge.spark.train;

import java.util.List;
import java.util.Locale;

/**
 * One round of a Spark training run.
 *
 * @param round 1-based global round
 * @param epoch 1-based epoch the round belongs to
 * @param step optimizer steps completed after the round (the same on every worker)
 * @param samples training rows the round's steps read, over all workers
 * @param trainLoss mean training loss of the round's steps over all workers (each worker's own weights)
 * @param trainAccuracy training accuracy of those steps
 * @param heldOutLoss loss of the averaged state on the held-out set, or NaN when not evaluated after this round
 * @param heldOutAccuracy accuracy of the averaged state on the held-out set, or NaN
 * @param seconds wall time of the round on the driver (broadcast, tasks, aggregation; not the evaluation)
 * @param computeSeconds the longest time a worker spent in the round's steps: what remains of {@code seconds} is
 *     the round's overhead (scheduling, broadcast, state copies, aggregation)
 */
public record RoundStats(
        long round,
        int epoch,
        long step,
        long samples,
        double trainLoss,
        double trainAccuracy,
        double heldOutLoss,
        double heldOutAccuracy,
        double seconds,
        double computeSeconds) {
    /** The header line of {@link #csv(List)}. */
    public static final String CSV_HEADER =
            "round,epoch,step,samples,train_loss,train_accuracy,held_out_loss,held_out_accuracy,seconds,compute_seconds";

    /** This round as one CSV line, every number written in full so that {@link #parse} restores it exactly. */
    public String csvLine() {
        return String.format(
                Locale.ROOT,
                "%d,%d,%d,%d,%s,%s,%s,%s,%s,%s",
                round,
                epoch,
                step,
                samples,
                trainLoss,
                trainAccuracy,
                heldOutLoss,
                heldOutAccuracy,
                seconds,
                computeSeconds);
    }

    /** Parses a line written by {@link #csvLine()}. */
    public static RoundStats parse(String line) {
        String[] p = line.split(",");
        return new RoundStats(
                Long.parseLong(p[0]),
                Integer.parseInt(p[1]),
                Long.parseLong(p[2]),
                Long.parseLong(p[3]),
                Double.parseDouble(p[4]),
                Double.parseDouble(p[5]),
                Double.parseDouble(p[6]),
                Double.parseDouble(p[7]),
                Double.parseDouble(p[8]),
                Double.parseDouble(p[9]));
    }

    /** Rounds as CSV text: the header and one line per round. */
    public static String csv(List<RoundStats> rounds) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        for (RoundStats r : rounds) {
            sb.append(r.csvLine()).append('\n');
        }
        return sb.toString();
    }

    /** Parses {@link #csv(List)} text (blank text gives an empty list). */
    public static List<RoundStats> parseCsv(String csv) {
        return csv.lines()
                .filter(l -> !l.isBlank() && !l.startsWith("round"))
                .map(RoundStats::parse)
                .toList();
    }
}
