package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Checkpoint;
import dev.forge.runtime.Model;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code forge train} killed with SIGKILL ({@code Process.destroyForcibly}) in a child JVM — in the middle
 * of an epoch, inside the window between writing a checkpoint's temporary file and renaming it, and
 * inside the same window of the export — always leaves complete files under the final names: the last
 * checkpoint loads with {@link Checkpoint#read}, {@code --resume} continues from it to exactly the state
 * of an uninterrupted run, the previous export stays intact, and the temporary files of killed runs are
 * never read and are removed by the next write. The window is hit deterministically with the test-only
 * hook {@code -Dforge.test.atomicWritePauseMillis} of {@code AtomicFiles.write}.
 */
@DisabledOnOs(OS.WINDOWS)
class TrainCrashSafetyTest {
    static final int EPOCHS = 12;
    static final long TIMEOUT_MS = 120_000;

    @TempDir
    Path dir;

    /** A small CNN as ONNX, and 160 samples of 3 separable classes. */
    private void fixtures() throws Exception {
        GraphBuilder b = new GraphBuilder("tiny").seed(3);
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.relu(b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1)));
        x = b.maxPool("pool", x, Pool2d.of(2));
        Graph g = b.output(b.linear("fc", b.flatten(x), 3), "logits").build();
        OnnxWriter.write(g, dir.resolve("tiny.onnx"));
        Random r = new Random(5);
        int n = 160;
        float[] xs = new float[n * 64];
        long[] ys = new long[n];
        for (int i = 0; i < n; i++) {
            ys[i] = i % 3;
            for (int k = 0; k < 64; k++) {
                xs[i * 64 + k] = (float) (r.nextGaussian() + (k % 3 == ys[i] ? 1 : 0));
            }
        }
        Npy.write(dir.resolve("x.npy"), Tensor.of(xs, n, 1, 8, 8));
        Npy.write(dir.resolve("y.npy"), Tensor.of(ys, n));
    }

    private List<String> train(String name, int epochs, String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "train",
                "--model",
                "tiny.onnx",
                "--inputs",
                "x.npy",
                "--labels",
                "y.npy",
                "--loss",
                "cross-entropy",
                "--batch",
                "8",
                "--epochs",
                Integer.toString(epochs),
                "--seed",
                "3",
                "--no-progress",
                "--threads",
                "1",
                "--out",
                name + ".onnx",
                "--checkpoint",
                name + ".ckpt"));
        args.addAll(List.of(extra));
        return args;
    }

    @Test
    void killedRunsLeaveOnlyCompleteFilesAndResumeExactly() throws Exception {
        fixtures();
        // A. the reference: an uninterrupted run
        Child ref = Child.start(dir, List.of(), train("ref", EPOCHS));
        ref.await(0);
        Checkpoint refCkpt = Checkpoint.read(dir.resolve("ref.ckpt"));
        assertEquals(EPOCHS, refCkpt.epoch());

        // B. SIGKILL in the middle of an epoch, after at least two checkpoints; the checkpoint is read
        // over and over while the child keeps replacing it, and must load every single time
        Child b = Child.start(dir, List.of(), train("run", EPOCHS));
        Path ckpt = dir.resolve("run.ckpt");
        int seen = waitForCheckpoint(b, ckpt, 2);
        Thread.sleep(15); // into the next epoch's steps
        b.kill();
        Checkpoint afterB = Checkpoint.read(ckpt);
        assertTrue(afterB.epoch() >= seen && afterB.epoch() < EPOCHS, "checkpoint epoch " + afterB.epoch());
        assertFalse(Files.exists(dir.resolve("run.onnx")), "no export before the run ends");
        assertCompleteSideFiles("run");
        assertNoTemporaryIsAFinalName();

        // C. SIGKILL while the next checkpoint's temporary file is written and synced but not yet renamed
        Child c = Child.start(
                dir,
                List.of("-Dforge.test.atomicWritePauseMillis=120000", "-Dforge.test.atomicWritePauseSuffix=.ckpt"),
                train("run", EPOCHS, "--resume", "run.ckpt"));
        String paused = c.waitForStderr("forge: test: paused before renaming");
        assertTrue(paused.contains(ckpt.toString()), paused);
        c.kill();
        Checkpoint afterC = Checkpoint.read(ckpt);
        assertEquals(afterB.epoch(), afterC.epoch(), "the killed write left the previous checkpoint in place");
        assertEquals(afterB.state().keySet(), afterC.state().keySet());
        List<Path> leftovers = temporaries(".run.ckpt.");
        assertEquals(1, leftovers.size(), "the killed write's temporary file: " + leftovers);
        assertNoTemporaryIsAFinalName();

        // D. --resume continues from the last complete checkpoint to exactly the uninterrupted result,
        // and its first checkpoint write removes the dead run's temporary file
        Child d = Child.start(dir, List.of(), train("run", EPOCHS, "--resume", "run.ckpt"));
        String out = d.await(0);
        assertTrue(out.contains("resuming after epoch " + afterC.epoch()), out);
        Checkpoint done = Checkpoint.read(ckpt);
        assertEquals(EPOCHS, done.epoch());
        assertEquals(refCkpt.step(), done.step());
        for (Map.Entry<String, Tensor> e : refCkpt.state().entrySet()) {
            assertEquals(e.getValue(), done.state().get(e.getKey()), "state tensor " + e.getKey() + " after resuming");
        }
        assertEquals(List.of(), temporaries(".run.ckpt."), "stale temporary files are cleaned up");
        byte[] export = Files.readAllBytes(dir.resolve("run.onnx"));
        assertArrayEquals(Files.readAllBytes(dir.resolve("ref.onnx")), export, "resumed export = uninterrupted export");

        // E. SIGKILL inside the export's write window: the previous export stays complete under its name
        Child e = Child.start(
                dir,
                List.of("-Dforge.test.atomicWritePauseMillis=120000", "-Dforge.test.atomicWritePauseSuffix=.onnx"),
                train("run", EPOCHS + 1, "--resume", "run.ckpt"));
        String pausedExport = e.waitForStderr("forge: test: paused before renaming");
        assertTrue(pausedExport.contains(dir.resolve("run.onnx").toString()), pausedExport);
        e.kill();
        assertArrayEquals(export, Files.readAllBytes(dir.resolve("run.onnx")), "the previous export is untouched");
        try (Model m = Model.load(dir.resolve("run.onnx"))) {
            assertEquals(3, m.outputs().get(0).shape()[1]);
        }
        assertEquals(
                EPOCHS + 1,
                Checkpoint.read(ckpt).epoch(),
                "the checkpoint of the last epoch was complete before the export");
        assertEquals(1, temporaries(".run.onnx.").size());
        assertNoTemporaryIsAFinalName();
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(
                    List.of(),
                    files.filter(p -> p.getFileName().toString().startsWith("hs_err"))
                            .toList(),
                    "no JVM crash");
        }
    }

    /** Polls the checkpoint until it records {@code epochs}; every read must succeed once the file exists. */
    private int waitForCheckpoint(Child child, Path ckpt, int epochs) throws Exception {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        int reads = 0;
        while (System.currentTimeMillis() < deadline) {
            assertTrue(
                    child.process.isAlive(),
                    "the run ended before its checkpoint reached epoch " + epochs + ": " + child.err());
            try {
                int e = Checkpoint.read(ckpt).epoch();
                reads++;
                if (e >= epochs) {
                    return e;
                }
            } catch (IllegalArgumentException notYet) {
                assertTrue(
                        notYet.getMessage().contains("not found"),
                        "a checkpoint read failed after " + reads + " good reads: " + notYet.getMessage());
            }
            Thread.sleep(2);
        }
        throw new AssertionError("no checkpoint of epoch " + epochs + " within " + TIMEOUT_MS + " ms: " + child.err());
    }

    private void assertCompleteSideFiles(String name) throws Exception {
        Path csv = dir.resolve(name + ".history.csv");
        if (Files.exists(csv)) {
            List<String> lines = Files.readAllLines(csv);
            assertTrue(lines.get(0).startsWith("epoch,"), lines.toString());
            int columns = lines.get(0).split(",").length;
            for (String line : lines.subList(1, lines.size())) {
                assertEquals(columns, line.split(",").length, "complete history line: " + line);
            }
        }
        Path png = dir.resolve(name + ".loss.png");
        if (Files.exists(png)) {
            assertNotNull(ImageIO.read(png.toFile()), "the loss plot is a complete PNG");
        }
    }

    private List<Path> temporaries(String prefix) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().startsWith(prefix)
                            && p.getFileName().toString().endsWith(".tmp"))
                    .toList();
        }
    }

    /** Final names are exactly the expected ones; temporary files are hidden and never take them. */
    private void assertNoTemporaryIsAFinalName() throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                String n = p.getFileName().toString();
                assertTrue(n.startsWith(".") || !n.endsWith(".tmp"), "a temporary file under a visible name: " + n);
            }
        }
    }

    /** A running {@code forge} child JVM with its output in files. */
    static final class Child {
        final Process process;
        final Path out;
        final Path errFile;

        private Child(Process process, Path out, Path err) {
            this.process = process;
            this.out = out;
            this.errFile = err;
        }

        static Child start(Path dir, List<String> jvmArgs, List<String> args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx512m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log")));
            cmd.addAll(jvmArgs);
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.forge.cli.Forge"));
            cmd.addAll(args);
            File o = Files.createTempFile(dir, ".child", ".out").toFile();
            File e = Files.createTempFile(dir, ".child", ".err").toFile();
            Process p = new ProcessBuilder(cmd)
                    .directory(dir.toFile())
                    .redirectOutput(o)
                    .redirectError(e)
                    .start();
            return new Child(p, o.toPath(), e.toPath());
        }

        String err() throws Exception {
            return Files.readString(errFile, StandardCharsets.UTF_8);
        }

        String await(int code) throws Exception {
            if (!process.waitFor(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("forge did not finish: " + err());
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            assertEquals(code, process.exitValue(), text + err());
            return text;
        }

        String waitForStderr(String marker) throws Exception {
            long deadline = System.currentTimeMillis() + TIMEOUT_MS;
            while (System.currentTimeMillis() < deadline) {
                for (String line : err().split("\n")) {
                    if (line.contains(marker)) {
                        return line;
                    }
                }
                assertTrue(process.isAlive(), "forge ended before '" + marker + "': " + err());
                Thread.sleep(5);
            }
            throw new AssertionError("no '" + marker + "' within " + TIMEOUT_MS + " ms: " + err());
        }

        /** SIGKILL: no shutdown hooks, no finally blocks, no flushing. */
        void kill() throws Exception {
            process.destroyForcibly();
            assertTrue(process.waitFor(30, TimeUnit.SECONDS));
            assertEquals(137, process.exitValue(), "killed by SIGKILL");
        }
    }

    static {
        // keep ImageIO from starting a display connection in headless CI
        System.setProperty("java.awt.headless", "true");
    }

    @Test
    void aTruncatedOrForeignCheckpointIsOneClearError() throws Exception {
        fixtures();
        Child a = Child.start(dir, List.of(), train("t", 1));
        a.await(0);
        byte[] full = Files.readAllBytes(dir.resolve("t.ckpt"));
        Files.write(dir.resolve("cut.ckpt"), java.util.Arrays.copyOf(full, full.length / 2));
        Child cut = Child.start(dir, List.of(), train("t", 3, "--resume", "cut.ckpt"));
        cut.await(1);
        String err = cut.err().strip();
        assertEquals(1, err.split("\n").length, err);
        assertTrue(err.startsWith("forge: error: cut.ckpt: not a Forge checkpoint (corrupt or truncated"), err);
        Child foreign = Child.start(dir, List.of(), train("t", 3, "--resume", "tiny.onnx"));
        foreign.await(1);
        assertTrue(foreign.err().strip().startsWith("forge: error: tiny.onnx: not a Forge checkpoint"), foreign.err());
    }
}
