package dev.forge.cli;

import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.EpochStats;
import dev.forge.compiler.train.TrainingListener;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

/** The seed's "Train/Test Loss" figure, training and test loss per epoch, rewritten as a PNG after every epoch. */
final class LossPlotListener implements TrainingListener {
    private final Path png;

    LossPlotListener(Path png) {
        this.png = png;
    }

    @Override
    public void onEpochEnd(EpochStats stats, List<EpochStats> history) {
        write(history, png);
    }

    static void write(List<EpochStats> history, Path png) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder()
                .width(800)
                .height(500)
                .title("Train/Test Loss")
                .xAxisTitle("epoch")
                .yAxisTitle("loss")
                .build();
        chart.getStyler().setYAxisDecimalPattern("0.0000");
        chart.getStyler().setXAxisDecimalPattern("0.##");
        double[] x = new double[history.size()];
        double[] train = new double[history.size()];
        double[] test = new double[history.size()];
        for (int i = 0; i < history.size(); i++) {
            // a partial last epoch (a step limit) sits where it ended, not on a whole epoch
            x[i] = history.get(i).epoch() - 1 + history.get(i).fraction();
            train[i] = history.get(i).trainLoss();
            test[i] = history.get(i).testLoss();
        }
        chart.addSeries("train loss", x, train);
        chart.addSeries("test loss", x, test);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
            OnnxWriter.writeAtomically(png, out.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the loss plot " + png + ": " + e.getMessage(), e);
        }
    }
}
