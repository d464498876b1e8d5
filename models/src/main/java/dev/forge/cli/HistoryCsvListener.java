package dev.forge.cli;

import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.EpochStats;
import dev.forge.compiler.train.TrainingListener;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** The per-epoch history as CSV ({@link EpochStats#CSV_HEADER}), rewritten atomically after every epoch. */
final class HistoryCsvListener implements TrainingListener {
    private final Path csv;

    HistoryCsvListener(Path csv) {
        this.csv = csv;
    }

    @Override
    public void onEpochEnd(EpochStats stats, List<EpochStats> history) {
        OnnxWriter.writeAtomically(csv, EpochStats.csv(history).getBytes(StandardCharsets.UTF_8));
    }
}
