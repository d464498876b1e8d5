package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every user error ends with exit code 1 and one line {@code forge: error: <message>} naming the problem,
 * and never crashes the JVM: each case runs {@code dev.forge.cli.Forge} in a child JVM, whose exit code,
 * streams and working directory (for {@code hs_err_pid*.log} crash files) are checked.
 */
class ForgeCliErrorTest {
    private static final long TIMEOUT_SECONDS = 60;

    @TempDir
    static Path work;

    static String mnist;
    static String input;

    @BeforeAll
    static void fixtures() throws Exception {
        Path model = work.resolve("mnist.onnx");
        OnnxWriter.write(ModelZoo.build("mnist-cnn", 0), model);
        mnist = model.toString();
        byte[] good = Files.readAllBytes(model);
        Random random = new Random(7);

        Files.write(work.resolve("truncated.onnx"), Arrays.copyOf(good, good.length / 3));
        byte[] noise = new byte[4096];
        random.nextBytes(noise);
        Files.write(work.resolve("random.onnx"), noise);
        // a plausible first field (ir_version = 8), then noise: gets past the cheap checks to the parsers
        byte[] tagged = new byte[4096];
        random.nextBytes(tagged);
        tagged[0] = 0x08;
        tagged[1] = 0x08;
        Files.write(work.resolve("tagged-random.onnx"), tagged);
        Files.writeString(work.resolve("text.onnx"), "this is not a model\n");
        Files.write(work.resolve("empty.onnx"), new byte[0]);
        OnnxWriter.write(unknownOpModel(), work.resolve("unknown-op.onnx"));

        float[] pixels = new float[2 * 28 * 28];
        Arrays.fill(pixels, 0.5f);
        Npy.write(work.resolve("x.npy"), Tensor.of(pixels, 2, 1, 28, 28));
        input = work.resolve("x.npy").toString();
        Npy.write(work.resolve("wrong-shape.npy"), Tensor.of(new float[2 * 27 * 28], 2, 1, 27, 28));
        Npy.write(work.resolve("float64.npy"), Tensor.of(new double[2 * 28 * 28], 2, 1, 28, 28));
        byte[] npy = Files.readAllBytes(work.resolve("x.npy"));
        Files.write(work.resolve("truncated.npy"), Arrays.copyOf(npy, npy.length - 100));
        Files.writeString(work.resolve("garbage.npy"), "not numpy data at all");
        Files.writeString(work.resolve("a-file"), "x");
    }

    /** A well-formed ONNX file whose one node is an operator no runtime knows. */
    private static Graph unknownOpModel() {
        Graph g = new Graph("unknown_op");
        ValueType t = ValueType.float32(Shape.of("N", 4));
        g.addInput(new ValueInfo("x", t));
        g.addNode(new Node("NoSuchOperator", "mystery", List.of("x"), List.of("y"), Map.of()), List.of(t));
        g.addOutput(new ValueInfo("y", t));
        return g;
    }

    /** A bad command line and the words its error message must contain. */
    record Case(String name, List<String> args, List<String> expected) {
    }

    private static Case c(String name, List<String> args, String... expected) {
        return new Case(name, args, List.of(expected));
    }

    static List<Case> cases() {
        String out = work.resolve("out").toString();
        return List.of(
                c("missing model file", List.of("inspect", "missing.onnx"), "missing.onnx", "no such file"),
                c("unknown built-in name", List.of("inspect", "resnet-9000"), "resnet-9000",
                        "[simple-net, mnist-cnn, cifar10-net, lenet5]"),
                c("inspect truncated model", List.of("inspect", "truncated.onnx"), "truncated.onnx", "not a valid ONNX model"),
                c("inspect random bytes", List.of("inspect", "random.onnx"), "random.onnx", "not a valid ONNX model"),
                c("inspect tagged random bytes", List.of("inspect", "tagged-random.onnx"), "tagged-random.onnx"),
                c("inspect a text file", List.of("inspect", "text.onnx"), "text.onnx", "not a valid ONNX model"),
                c("inspect an empty file", List.of("inspect", "empty.onnx"), "empty.onnx", "empty"),
                c("inspect a .npy as a model", List.of("inspect", input), "x.npy", "not a valid ONNX model"),
                c("run truncated model", List.of("run", "truncated.onnx", "-i", input, "-o", out), "truncated.onnx",
                        "not a valid ONNX model"),
                c("run random bytes", List.of("run", "random.onnx", "-i", input, "-o", out), "random.onnx", "not a valid ONNX model"),
                c("run tagged random bytes", List.of("run", "tagged-random.onnx", "-i", input, "-o", out), "tagged-random.onnx"),
                c("run a text file", List.of("run", "text.onnx", "-i", input, "-o", out), "text.onnx", "not a valid ONNX model"),
                c("run an empty file", List.of("run", "empty.onnx", "-i", input, "-o", out), "empty.onnx"),
                c("run a model with an unknown op", List.of("run", "unknown-op.onnx", "-i", input, "-o", out), "unknown-op.onnx",
                        "NoSuchOperator"),
                c("unknown input name", List.of("run", mnist, "-i", "pixels=" + input, "-o", out), "'pixels'", "[input]"),
                c("wrong input shape", List.of("run", mnist, "-i", "wrong-shape.npy", "-o", out), "[N,1,28,28]", "[2,1,27,28]"),
                c("wrong input dtype", List.of("run", mnist, "-i", "float64.npy", "-o", out), "float32", "float64"),
                c("truncated .npy", List.of("run", mnist, "-i", "truncated.npy", "-o", out), "truncated.npy", "truncated"),
                c("not a .npy", List.of("run", mnist, "-i", "garbage.npy", "-o", out), "garbage.npy", "magic"),
                c("missing .npy", List.of("run", mnist, "-i", "nope.npy", "-o", out), "nope.npy", "no such file"),
                c("CUDA on a CPU-only build (run)", List.of("run", mnist, "-i", input, "-o", out, "--device", "cuda"), "CUDA",
                        "-Pcuda"),
                c("CUDA on a CPU-only build (bench)", List.of("bench", mnist, "--device", "cuda:1"), "CUDA"),
                c("unknown device", List.of("bench", mnist, "--device", "tpu"), "'tpu'", "cpu"),
                c("bad --batch list", List.of("bench", mnist, "--batch", "1,x"), "--batch", "'x'"),
                c("zero batch", List.of("bench", mnist, "--batch", "0,8"), "--batch", "'0'"),
                c("unknown network to export", List.of("export", "alexnet", "--out", "a.onnx"), "alexnet",
                        "[simple-net, mnist-cnn, cifar10-net, lenet5]"),
                c("--top larger than the classes", List.of("run", mnist, "-i", input, "-o", out, "--top", "11"), "--top 11", "10"),
                c("--output-dir is a file", List.of("run", mnist, "-i", input, "-o", "a-file"), "a-file", "not a directory"),
                c("negative --threads", List.of("bench", mnist, "--threads", "-1"), "--threads"));
    }

    @Test
    void everyUserErrorIsOneLineAndExitCodeOneInAChildJvm() throws Exception {
        List<Case> cases = cases();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        List<Future<Child>> results = new ArrayList<>();
        try {
            for (Case k : cases) {
                results.add(pool.submit(() -> Child.run(work, k.args())));
            }
            List<Executable> checks = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) {
                Case k = cases.get(i);
                Child r = results.get(i).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                checks.add(() -> check(k, r));
            }
            assertAll(checks);
        } finally {
            pool.shutdownNow();
        }
        try (Stream<Path> files = Files.list(work)) {
            List<Path> crashes = files.filter(p -> p.getFileName().toString().startsWith("hs_err_pid")).toList();
            assertTrue(crashes.isEmpty(), "JVM crash files: " + crashes);
        }
    }

    private static void check(Case k, Child r) {
        String what = k.name() + " " + k.args() + "\nexit " + r.code + "\nstderr: " + r.err + "\nstdout: " + r.out;
        assertEquals(1, r.code, what);
        String[] lines = r.err.strip().split("\\R");
        assertEquals(1, lines.length, "one line on stderr: " + what);
        assertTrue(lines[0].startsWith("forge: error: "), what);
        for (String word : k.expected()) {
            assertTrue(lines[0].contains(word), "'" + word + "' in the message: " + what);
        }
        for (String crash : List.of("SIGSEGV", "fatal error", "Exception", "\tat ")) {
            assertTrue(!r.err.contains(crash) && !r.out.contains(crash), crash + ": " + what);
        }
        assertEquals("", r.out, "nothing on stdout: " + what);
    }

    @Test
    void debugPrintsTheStackTraceAndInternalErrorsExitThree() throws Exception {
        Child r = Child.run(work, List.of("inspect", "missing.onnx", "--debug"));
        assertEquals(1, r.code, r.err);
        assertTrue(r.err.startsWith("forge: error: ") && r.err.contains("\tat "), r.err);
        // an unexpected exception (not a user error) is reported as internal, exit 3
        java.io.StringWriter err = new java.io.StringWriter();
        int code = Forge.report(new IllegalStateException("boom"), new java.io.PrintWriter(err), false);
        assertEquals(3, code);
        assertTrue(err.toString().startsWith("forge: internal error: java.lang.IllegalStateException: boom"), err.toString());
        assertEquals(1, err.toString().strip().split("\\R").length);
    }

    /** A finished child JVM. */
    record Child(int code, String out, String err) {
        static Child run(Path dir, List<String> args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                    "-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log"),
                    "-cp", System.getProperty("java.class.path"),
                    "dev.forge.cli.Forge"));
            cmd.addAll(args);
            File outFile = Files.createTempFile(dir, ".child", ".out").toFile();
            File errFile = Files.createTempFile(dir, ".child", ".err").toFile();
            Process p = new ProcessBuilder(cmd).directory(dir.toFile())
                    .redirectOutput(outFile).redirectError(errFile).start();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("forge " + args + " did not finish in " + TIMEOUT_SECONDS + " s");
            }
            String out = Files.readString(outFile.toPath(), StandardCharsets.UTF_8);
            String err = Files.readString(errFile.toPath(), StandardCharsets.UTF_8);
            Files.delete(outFile.toPath());
            Files.delete(errFile.toPath());
            return new Child(p.exitValue(), out, err);
        }
    }
}
