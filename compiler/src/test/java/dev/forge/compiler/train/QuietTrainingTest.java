package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing prints unasked: a training run of a net with Dropout, in a child JVM so that ONNX Runtime's
 * native log (written straight to file descriptor 2) is seen too, leaves stdout and stderr empty. ORT
 * warns "Removing initializer ..." for each Dropout ratio the training graph no longer reads unless the
 * training sessions log only errors.
 */
class QuietTrainingTest {
    @TempDir
    Path dir;

    /** The child: one epoch of four steps of a CNN with Dropout, no listeners. */
    public static void main(String[] args) {
        TrainingResult r = Training.of(TrainingApiTest.tinyCnn(true))
                .batchSize(24)
                .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2));
        if (r.steps() != 4) {
            throw new AssertionError("steps " + r.steps());
        }
    }

    @Test
    void a_training_run_with_dropout_writes_nothing_to_stdout_or_stderr() throws Exception {
        File out = dir.resolve("out.txt").toFile();
        File err = dir.resolve("err.txt").toFile();
        Process p = new ProcessBuilder(List.of(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx256m",
                        "-XX:TieredStopAtLevel=1",
                        "-cp",
                        System.getProperty("java.class.path"),
                        QuietTrainingTest.class.getName()))
                .redirectOutput(out)
                .redirectError(err)
                .start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child finished");
        String e = Files.readString(err.toPath(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), e);
        assertEquals("", e, "stderr");
        assertEquals("", Files.readString(out.toPath(), StandardCharsets.UTF_8), "stdout");
    }
}
