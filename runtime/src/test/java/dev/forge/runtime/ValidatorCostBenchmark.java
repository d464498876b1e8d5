package dev.forge.runtime;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Measures what {@link ModelValidator#validate} costs on real models: the median and fastest time of 60 calls and
 * the bytes allocated by one call (after 5 warm-up calls), as recorded in docs/SECURITY.md. Not a test
 * (timings are never asserted); run it with the test class path:
 *
 * <pre>
 * mvn -o -q -pl runtime test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -cp runtime/target/classes:runtime/target/test-classes:$(cat runtime/target/cp.txt) \
 *     dev.forge.runtime.ValidatorCostBenchmark model.onnx ...
 * </pre>
 */
public final class ValidatorCostBenchmark {
    private ValidatorCostBenchmark() {}

    public static void main(String[] args) throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (String arg : args) {
            Path path = Path.of(arg);
            byte[] bytes = Files.readAllBytes(path);
            for (int i = 0; i < 5; i++) {
                ModelValidator.validate(bytes, arg, path.toAbsolutePath().getParent(), ModelLimits.defaults());
            }
            long before = threads.getCurrentThreadAllocatedBytes();
            ModelValidator.validate(bytes, arg, path.toAbsolutePath().getParent(), ModelLimits.defaults());
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            double[] millis = new double[60];
            for (int i = 0; i < millis.length; i++) {
                long t0 = System.nanoTime();
                ModelValidator.validate(bytes, arg, path.toAbsolutePath().getParent(), ModelLimits.defaults());
                millis[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(millis);
            System.out.printf(
                    Locale.ROOT,
                    "%s: %,d bytes, median %.3f ms (min %.3f), allocated %,d bytes%n",
                    path.getFileName(),
                    bytes.length,
                    millis[millis.length / 2],
                    millis[0],
                    allocated);
        }
    }
}
