package dev.forge.spark.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Schedule;
import dev.forge.compiler.train.Training;
import dev.forge.models.MnistCnn;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** TrainParquet's options become one {@link Training}, with {@code forge train}'s names and forms (no Spark). */
class TrainParquetTest {
    private static Training.Settings settings(long perEpoch, String... args) {
        Map<String, List<String>> all = TrainParquet.parse(args);
        Map<String, String> last = new java.util.HashMap<>();
        all.forEach((k, v) -> last.put(k, v.get(v.size() - 1)));
        return TrainParquet.training(MnistCnn.build(0), last, all, Optimizer.sgd(0.1), 64, 0, perEpoch)
                .settings();
    }

    @Test
    void schedule_warmup_freezing_groups_steps_and_shuffle_options_build_the_training() {
        Training.Settings s = settings(
                10,
                "--schedule",
                "step:2:0.5",
                "--freeze",
                "conv1/W",
                "--freeze",
                "conv1/B",
                "--lr-for",
                "fc/*=0.1",
                "--steps",
                "25",
                "--no-shuffle");
        assertEquals(Schedule.step(2, 0.5), s.schedule());
        assertFalse(s.trainedGraph().parameters().contains("conv1/W"));
        assertFalse(s.trainedGraph().parameters().contains("conv1/B"));
        assertEquals(Map.of("fc/W", 0.1, "fc/B", 0.1), s.lrFactors());
        assertEquals(25, s.maxSteps());
        assertEquals(3, s.epochs(), "--steps without --epochs trains as many epochs as the steps need");
        assertFalse(s.shuffle());

        Training.Settings w = settings(10, "--warmup", "2e", "--epochs", "4");
        assertEquals(Schedule.warmupCosine(20), w.schedule());
        assertEquals(4, w.epochs());
        assertTrue(w.shuffle());
        assertEquals(Schedule.warmupCosine(7), settings(10, "--warmup", "7").schedule());
    }

    @Test
    void malformed_schedule_options_are_usage_errors() {
        IllegalArgumentException both = assertThrows(
                IllegalArgumentException.class,
                () -> TrainParquet.parse(new String[] {"--schedule", "step:2", "--warmup", "100"}));
        assertTrue(both.getMessage().contains("--schedule or --warmup"), both.getMessage());
        IllegalArgumentException bad = assertThrows(
                IllegalArgumentException.class, () -> TrainParquet.parse(new String[] {"--schedule", "linear:3"}));
        assertTrue(bad.getMessage().contains("step:SIZE[:GAMMA]"), bad.getMessage());
        IllegalArgumentException warmup = assertThrows(
                IllegalArgumentException.class, () -> TrainParquet.parse(new String[] {"--warmup", "soon"}));
        assertTrue(warmup.getMessage().contains("--warmup 'soon'"), warmup.getMessage());
    }
}
