package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * What only a whole JVM shows: the temporary directories a command leaves behind when it exits, and what
 * Ctrl-C (SIGINT) during training prints. Each case runs {@code dev.forge.cli.Forge} in a child JVM.
 */
@DisabledOnOs(OS.WINDOWS)
class ForgeChildJvmCliTest {
    @TempDir
    Path dir;

    private long runtimeTempDirs(Path tmp) throws Exception {
        try (Stream<Path> files = Files.list(tmp)) {
            return files.filter(p -> {
                        String n = p.getFileName().toString();
                        return n.startsWith("onnxruntime-java") || n.startsWith("forge-onnxruntime");
                    })
                    .count();
        }
    }

    @Test
    void commands_that_load_the_runtime_leave_no_directory_in_the_temporary_directory() throws Exception {
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        OnnxWriter.write(ModelZoo.build("mnist-cnn", 0), dir.resolve("mnist.onnx"));
        Npy.write(dir.resolve("x.npy"), Tensor.of(new float[28 * 28], 1, 1, 28, 28));
        assertEquals(0, runtimeTempDirs(tmp));
        // inference (the runtime's Model) and training (the compiler's Trainer)
        for (List<String> args : List.of(
                List.of("run", "mnist.onnx", "-i", "x.npy", "-o", "out"),
                List.of("train", "simple-net", "--no-progress", "--out", "simple.onnx"))) {
            TrainCrashSafetyTest.Child c =
                    TrainCrashSafetyTest.Child.start(dir, List.of("-Djava.io.tmpdir=" + tmp), args);
            c.await(0);
            assertEquals(0, runtimeTempDirs(tmp), args + " left directories in java.io.tmpdir");
        }
    }

    @Test
    void ctrl_c_during_training_names_the_checkpoint_to_resume_from() throws Exception {
        List<String> args = List.of(
                "train", "mnist-cnn", "--data", "random", "--epochs", "1000", "--no-progress", "--out", "c.onnx");
        TrainCrashSafetyTest.Child c = TrainCrashSafetyTest.Child.start(dir, List.of(), args);
        Path ckpt = dir.resolve("c.ckpt");
        long deadline = System.currentTimeMillis() + TrainCrashSafetyTest.TIMEOUT_MS;
        while (!Files.exists(ckpt) && System.currentTimeMillis() < deadline) {
            assertTrue(c.process.isAlive(), c.err());
            Thread.sleep(20);
        }
        assertTrue(Files.exists(ckpt), "no checkpoint: " + c.err());
        // SIGINT, as Ctrl-C sends; a JVM started with SIGINT ignored (a background job of a
        // non-interactive shell) keeps ignoring it, and SIGTERM runs the same shutdown hooks
        new ProcessBuilder("kill", "-INT", Long.toString(c.process.pid()))
                .start()
                .waitFor();
        if (!c.process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
            c.process.destroy();
        }
        assertTrue(c.process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        String err = c.err();
        assertTrue(
                err.matches("(?s).*forge: interrupted during epoch \\d+; the checkpoint c\\.ckpt holds epoch \\d+:"
                        + " continue with the same command and --resume c\\.ckpt.*"),
                err);
        // the training thread runs on while shutdown hooks do: the file may have moved on since
        int said = Integer.parseInt(err.replaceFirst("(?s).*holds epoch (\\d+).*", "$1"));
        assertTrue(
                said >= 1
                        && said
                                <= dev.forge.compiler.train.Checkpoint.read(ckpt)
                                        .epoch(),
                err);
    }

    @Test
    void predict_warns_when_an_image_is_inverted_relative_to_the_training_images() throws Exception {
        System.setProperty("java.awt.headless", "true");
        Path model = ForgeCarelessUserCliTest.trainOnFolder(
                ForgeCarelessUserCliTest.writeFolder(dir.resolve("three")), dir.resolve("three.onnx"));
        Path blackOnWhite = ForgeCarelessUserCliTest.bar(dir, "black-on-white.png", 0, 255, false);
        Path whiteOnBlack = ForgeCarelessUserCliTest.bar(dir, "white-on-black.png", 255, 0, false);
        TrainCrashSafetyTest.Child c = TrainCrashSafetyTest.Child.start(
                dir, List.of(), List.of("predict", model.toString(), blackOnWhite.toString(), whiteOnBlack.toString()));
        c.await(0);
        String[] lines = c.err().strip().split("\\R");
        assertEquals(1, lines.length, c.err());
        assertTrue(lines[0].startsWith("forge: warning: " + blackOnWhite + " has a light background"), c.err());
        assertTrue(
                lines[0].contains("trained on images with a dark background") && lines[0].contains("invert"), c.err());
    }
}
