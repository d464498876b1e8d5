package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * 100,000 inferences and 2,000 training steps in one JVM ({@link LeakSoak} in a child JVM with a
 * fixed, pre-touched 256 MB heap and a 32 MB direct-memory cap): resident memory read from {@code
 * /proc/self/status} grows by less than 64 MB between the end of the warm-up (the first 20% of each
 * phase) and the end of the phase, and every native object the runtime made is closed. A long soak:
 * {@code -Dforge.soak.factor=100} (10,000,000 inferences and 200,000 steps, about 3 minutes; see docs/SECURITY.md).
 */
@EnabledOnOs(OS.LINUX)
class NativeLeakTest {
    static final int FACTOR = Integer.getInteger("forge.soak.factor", 1);
    static final long GROWTH_LIMIT_KB = 64 * 1024;

    @TempDir
    Path dir;

    @Test
    void residentMemoryStaysFlatAndEveryNativeObjectIsClosed() throws Exception {
        long inferences = 100_000L * FACTOR;
        long steps = 2_000L * FACTOR;
        List<String> cmd = List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xms256m",
                "-Xmx256m",
                "-XX:+AlwaysPreTouch",
                "-XX:+UseSerialGC",
                "-XX:MaxDirectMemorySize=32m",
                "-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log"),
                "-cp",
                System.getProperty("java.class.path"),
                LeakSoak.class.getName(),
                Long.toString(inferences),
                Long.toString(steps));
        File out = dir.resolve("out.txt").toFile();
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(out)
                .start();
        if (!p.waitFor(10L * FACTOR, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("the soak did not finish: " + Files.readString(out.toPath()));
        }
        String text = Files.readString(out.toPath(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), text);
        List<long[]> infer = new ArrayList<>();
        List<long[]> train = new ArrayList<>();
        String nativeLine = null;
        for (String line : text.split("\n")) {
            String[] f = line.trim().split(" ");
            if (f[0].equals("sample")) {
                (f[1].equals("infer") ? infer : train).add(new long[] {Long.parseLong(f[2]), Long.parseLong(f[4])});
            } else if (f[0].equals("native")) {
                nativeLine = line;
            }
        }
        assertEquals(20, infer.size(), text);
        assertEquals(20, train.size(), text);
        StringBuilder report = new StringBuilder();
        check("inference", infer, report);
        check("training", train, report);
        System.out.print(report);
        System.out.println("NativeLeakTest: "
                + text.lines().filter(l -> l.startsWith("loss")).findFirst().orElse("") + "; " + nativeLine);
        assertTrue(nativeLine != null, text);
        String[] f = nativeLine.trim().split(" ");
        assertEquals(f[2], f[4], "native objects open at the start and at the end: " + nativeLine);
    }

    /** After the first 4 of 20 samples (warm-up), RSS may not grow by 64 MB or more. */
    static void check(String phase, List<long[]> samples, StringBuilder report) {
        long warm = samples.get(3)[1];
        long max = samples.stream().skip(3).mapToLong(s -> s[1]).max().orElseThrow();
        long end = samples.get(samples.size() - 1)[1];
        report.append(String.format(
                Locale.ROOT,
                "NativeLeakTest %s: RSS %d MB at %d (warm), %d MB at the end (%d), max %d MB,"
                        + " growth after warm-up %+d MB; samples (count: MB):",
                phase,
                warm / 1024,
                samples.get(3)[0],
                end / 1024,
                samples.get(samples.size() - 1)[0],
                max / 1024,
                (max - warm) / 1024));
        for (long[] s : samples) {
            report.append(' ').append(s[0]).append(':').append(s[1] / 1024);
        }
        report.append('\n');
        assertTrue(
                max - warm < GROWTH_LIMIT_KB,
                phase + ": resident memory grew by " + (max - warm) / 1024 + " MB after warm-up (limit "
                        + GROWTH_LIMIT_KB / 1024 + " MB): " + report);
    }
}
