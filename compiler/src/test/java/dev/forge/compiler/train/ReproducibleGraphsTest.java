package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.onnx.OnnxWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same model compiles to the same bytes in every JVM: {@code Map.of} and {@code HashMap} iterate in an
 * order salted per JVM run, so attributes and the optimizer's outputs once came out in a different order
 * each run. Two child JVMs write the training-step and export graphs; the files must be identical.
 */
class ReproducibleGraphsTest {
    @TempDir
    Path dir;

    /** The child: writes the Adam training step and the export of a CNN with Dropout. */
    public static void main(String[] args) throws Exception {
        var net = TrainingApiTest.tinyCnn(true);
        TrainingGraph tg = TrainingGraph.build(net, Loss.CROSS_ENTROPY, Optimizer.adam(0.01));
        Files.write(Path.of(args[0] + ".step.onnx"), OnnxWriter.toBytes(tg.graph()));
        Files.write(
                Path.of(args[0] + ".export.onnx"),
                OnnxWriter.toBytes(Export.inferenceModel(net, tg.initialState(), Map.of())));
    }

    @Test
    void training_and_export_graphs_are_the_same_bytes_in_every_jvm_run() throws Exception {
        for (String run : List.of("a", "b")) {
            Process p = new ProcessBuilder(List.of(
                            Path.of(System.getProperty("java.home"), "bin", "java")
                                    .toString(),
                            "-Xmx256m",
                            "-XX:TieredStopAtLevel=1",
                            "-cp",
                            System.getProperty("java.class.path"),
                            ReproducibleGraphsTest.class.getName(),
                            dir.resolve(run).toString()))
                    .inheritIO()
                    .start();
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child finished");
            assertEquals(0, p.exitValue(), "child exit code");
        }
        for (String kind : List.of(".step.onnx", ".export.onnx")) {
            assertArrayEquals(
                    Files.readAllBytes(dir.resolve("a" + kind)), Files.readAllBytes(dir.resolve("b" + kind)), kind);
        }
    }
}
