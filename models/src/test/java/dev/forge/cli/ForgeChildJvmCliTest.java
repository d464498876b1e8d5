package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
