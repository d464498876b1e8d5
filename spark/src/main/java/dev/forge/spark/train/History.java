package dev.forge.spark.train;

import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.EpochStats;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

/**
 * The run's files next to its checkpoint, as {@code forge train} writes them: {@code history.csv} (one line per
 * epoch, {@link EpochStats#CSV_HEADER}), {@code rounds.csv} (one line per round) and {@code loss.png} (training
 * loss per round and held-out loss where evaluated). Written atomically.
 */
final class History {
    private History() {}

    static void write(Path dir, List<EpochStats> epochs, List<RoundStats> rounds, boolean plot) {
        OnnxWriter.writeAtomically(
                dir.resolve("history.csv"), EpochStats.csv(epochs).getBytes(StandardCharsets.UTF_8));
        OnnxWriter.writeAtomically(
                dir.resolve("rounds.csv"), RoundStats.csv(rounds).getBytes(StandardCharsets.UTF_8));
        if (plot && !rounds.isEmpty()) {
            plot(rounds, dir.resolve("loss.png"));
        }
    }

    static void plot(List<RoundStats> rounds, Path png) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder()
                .width(800)
                .height(500)
                .title("Train/Held-out Loss")
                .xAxisTitle("round")
                .yAxisTitle("loss")
                .build();
        chart.getStyler().setYAxisDecimalPattern("0.0000");
        chart.getStyler().setXAxisDecimalPattern("0");
        double[] x = new double[rounds.size()];
        double[] train = new double[rounds.size()];
        List<Double> hx = new ArrayList<>();
        List<Double> hy = new ArrayList<>();
        for (int i = 0; i < rounds.size(); i++) {
            RoundStats r = rounds.get(i);
            x[i] = r.round();
            train[i] = r.trainLoss();
            if (!Double.isNaN(r.heldOutLoss())) {
                hx.add((double) r.round());
                hy.add(r.heldOutLoss());
            }
        }
        chart.addSeries("train loss", x, train);
        if (!hx.isEmpty()) {
            chart.addSeries("held-out loss", hx, hy);
        }
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
            OnnxWriter.writeAtomically(png, out.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the loss plot " + png + ": " + e.getMessage(), e);
        }
    }
}
