package dev.forge.cli;

import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.Tensor;
import dev.forge.runtime.TensorSpec;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code forge bench MODEL --batch 1,64}: latency percentiles and throughput per batch size.
 *
 * <p>For each batch size the inputs are made once, on direct buffers (passed to ONNX Runtime without a
 * copy), then the model runs {@code --warmup} times untimed and {@code --iterations} times (or for {@code
 * --seconds}) timed one by one with {@link System#nanoTime()}. Nothing is allocated per run beyond what
 * {@link Model#run} itself does (its output tensors). Percentiles use the nearest-rank method;
 * throughput is items (batch size times runs) divided by the summed run time.
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Measure latency percentiles and throughput per batch size.",
            "",
            "Prints the latency (p50, p90, p99 and mean, in ms) and throughput (items/s) for each batch size.",
            "Inputs are random (floats uniform in [0, 1), integers 0, bools false) and made once per batch size. The"
                    + " first dimension of each input, when dynamic, is the batch; any other dynamic dimension needs --shape."
        })
final class BenchCommand implements Callable<Integer> {
    /** Batch sizes above this are refused as typos. */
    private static final int MAX_BATCH = 1 << 20;

    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "An .onnx file, or a built-in network.")
    private String model;

    @Option(
            names = {"-b", "--batch"},
            paramLabel = "B1,B2,...",
            defaultValue = "1",
            converter = BatchListConverter.class,
            description = "Batch sizes, comma-separated (default: ${DEFAULT-VALUE}).")
    private BatchSizes batch;

    @Option(
            names = "--shape",
            paramLabel = "[NAME=]D1,D2,...",
            description = "The full shape of an input with dynamic dimensions besides the batch, e.g. --shape"
                    + " input=1,3,224,224 (the batch dimension is replaced by each batch size). Repeat per input.",
            converter = ShapeConverter.class)
    private List<ShapeArg> shapes = new ArrayList<>();

    @Option(
            names = "--warmup",
            paramLabel = "N",
            defaultValue = "10",
            description = "Untimed runs per batch size before measuring (default: ${DEFAULT-VALUE}).")
    private int warmup;

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    private Duration duration = new Duration();

    @Mixin
    private RuntimeOptions runtime;

    /** How long to measure: a number of runs or a time. */
    static final class Duration {
        @Option(
                names = {"-n", "--iterations"},
                paramLabel = "N",
                description = "Timed runs per batch size (default: 100).")
        Integer iterations;

        @Option(names = "--seconds", paramLabel = "S", description = "Measure each batch size for S seconds instead.")
        Double seconds;
    }

    @Override
    public Integer call() {
        List<Integer> batches = batch.sizes();
        int iterations = duration.iterations == null ? 100 : duration.iterations;
        if (iterations < 1) {
            throw new IllegalArgumentException("--iterations must be 1 or more, got " + iterations);
        }
        if (duration.seconds != null && !(duration.seconds > 0 && duration.seconds <= 86_400)) {
            throw new IllegalArgumentException(
                    "--seconds must be more than 0 (and at most a day), got " + duration.seconds);
        }
        if (warmup < 0) {
            throw new IllegalArgumentException("--warmup must be 0 or more, got " + warmup);
        }
        ModelRef ref = ModelRef.resolve(model);
        PrintWriter out = spec.commandLine().getOut();
        try (Model m = ref.load(runtime.toModelOptions())) {
            Map<String, long[]> given = parseShapes(m.inputs(), shapes);
            // check every batch size's shapes before spending time on any of them
            for (int b : batches) {
                inputShapes(m.inputs(), b, given);
            }
            List<String> inputText = new ArrayList<>();
            for (TensorSpec s : m.inputs()) {
                inputText.add(s.toString());
            }
            out.printf(
                    "%s on %s, %s; warm-up %d run%s, then %s per batch size%n",
                    ref.displayName(),
                    m.device(),
                    runtime.threadsText(),
                    warmup,
                    warmup == 1 ? "" : "s",
                    duration.seconds != null
                            ? seconds(duration.seconds)
                            : iterations + " timed run" + (iterations == 1 ? "" : "s"));
            out.printf("inputs: %s%n%n", String.join(", ", inputText));
            out.flush();

            TextTable table = new TextTable(">batch", ">runs", ">p50 ms", ">p90 ms", ">p99 ms", ">mean ms", ">items/s");
            for (int b : batches) {
                Map<String, Tensor> feeds = randomInputs(m.inputs(), inputShapes(m.inputs(), b, given));
                Stats s = measure(m, feeds, warmup, iterations, duration.seconds);
                table.row(
                        b,
                        s.runs,
                        ms(s.p50),
                        ms(s.p90),
                        ms(s.p99),
                        ms(s.mean),
                        String.format(Locale.ROOT, "%,.1f", b * s.runs / (s.totalNanos / 1e9)));
            }
            out.print(table.render(""));
        }
        out.flush();
        return 0;
    }

    /** Runs and times the model; {@code seconds} non-null measures for that long instead of a count. */
    static Stats measure(Model m, Map<String, Tensor> feeds, int warmup, int iterations, Double seconds) {
        for (int i = 0; i < warmup; i++) {
            m.run(feeds);
        }
        long[] lat;
        int n;
        if (seconds == null) {
            lat = new long[iterations];
            for (n = 0; n < iterations; n++) {
                long t0 = System.nanoTime();
                m.run(feeds);
                lat[n] = System.nanoTime() - t0;
            }
        } else {
            long budget = (long) (seconds * 1e9);
            lat = new long[1024];
            n = 0;
            long start = System.nanoTime();
            long now = start;
            while (n == 0 || now - start < budget) {
                if (n == lat.length) {
                    lat = Arrays.copyOf(lat, n * 2);
                }
                long t0 = System.nanoTime();
                m.run(feeds);
                now = System.nanoTime();
                lat[n++] = now - t0;
            }
        }
        long[] sorted = Arrays.copyOf(lat, n);
        Arrays.sort(sorted);
        long total = 0;
        for (long x : sorted) {
            total += x;
        }
        return new Stats(
                n, percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99), total / (double) n, total);
    }

    /** The nearest-rank percentile of sorted values: the smallest value with at least p% of values at or below it. */
    static long percentile(long[] sorted, double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    /** Measured run times in nanoseconds. */
    record Stats(int runs, long p50, long p90, long p99, double mean, long totalNanos) {}

    /**
     * Parses {@code 1,8,64}.
     *
     * @throws IllegalArgumentException naming the bad entry and the valid form
     */
    static List<Integer> parseBatches(String text) {
        List<Integer> out = new ArrayList<>();
        String[] parts = text.split(",", -1);
        for (String p : parts) {
            String t = p.trim();
            int v;
            try {
                v = Integer.parseInt(t);
            } catch (NumberFormatException e) {
                v = -1;
            }
            if (v < 1 || v > MAX_BATCH) {
                throw new IllegalArgumentException("bad --batch list '" + text + "': '" + t
                        + "' is not a batch size from 1 to " + MAX_BATCH + "; give sizes like --batch 1,8,64");
            }
            if (out.contains(v)) {
                throw new IllegalArgumentException("bad --batch list '" + text + "': " + v
                        + " appears twice; give each size once, like --batch 1,8,64");
            }
            out.add(v);
        }
        return out;
    }

    /** The {@code --batch} sizes in the order given (one value, so picocli does not treat it as a repeated option). */
    record BatchSizes(List<Integer> sizes) {}

    /**
     * {@code --batch}: a bad list is a usage error (exit code 2) before any model is loaded, the same as a bad
     * value of any other typed option.
     */
    static final class BatchListConverter implements ITypeConverter<BatchSizes> {
        @Override
        public BatchSizes convert(String text) {
            try {
                return new BatchSizes(parseBatches(text));
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /**
     * One {@code --shape} value, checked for form only: {@code [NAME=]D1,D2,...} with every dimension 1 or more.
     *
     * @param text the value as given
     * @param name the input it names, or null for the model's only input
     * @param dims the dimensions
     */
    record ShapeArg(String text, String name, long[] dims) {}

    /** {@code --shape}: a malformed value is a usage error (exit code 2) naming the bad dimension and the form. */
    static final class ShapeConverter implements ITypeConverter<ShapeArg> {
        @Override
        public ShapeArg convert(String text) {
            int eq = text.indexOf('=');
            String name = eq >= 0 ? text.substring(0, eq) : null;
            String[] parts = text.substring(eq + 1).split(",", -1);
            long[] dims = new long[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    dims[i] = Long.parseLong(parts[i].trim());
                } catch (NumberFormatException e) {
                    dims[i] = -1;
                }
                if (dims[i] < 1) {
                    throw new TypeConversionException("bad --shape " + text + ": '" + parts[i].trim()
                            + "' is not a dimension of 1 or more; write it like --shape "
                            + (name != null ? name : "NAME") + "=1,3,32,32");
                }
            }
            return new ShapeArg(text, name, dims);
        }
    }

    /** Matches the {@code --shape} values to the model's inputs: full shapes by input name. */
    static Map<String, long[]> parseShapes(List<TensorSpec> inputs, List<ShapeArg> args) {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (ShapeArg a : args) {
            String arg = a.text();
            String name;
            if (a.name() != null) {
                name = a.name();
            } else if (inputs.size() == 1) {
                name = inputs.get(0).name();
            } else {
                throw new IllegalArgumentException(
                        "--shape " + arg + " does not say which input it is; write --shape NAME=" + arg
                                + " with NAME one of " + names(inputs));
            }
            TensorSpec spec = inputs.stream()
                    .filter(s -> s.name().equals(name))
                    .findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("unknown input name '" + name + "' in --shape "
                            + arg + ", expected one of " + names(inputs)));
            long[] shape = a.dims();
            long[] declared = spec.shape();
            boolean ok = declared.length == shape.length;
            for (int i = 1; ok && i < shape.length; i++) {
                ok = declared[i] < 0 || declared[i] == shape[i];
            }
            if (!ok) {
                throw new IllegalArgumentException("--shape " + arg + " does not fit input " + spec
                        + " (expected shape " + spec.shapeString() + ")");
            }
            if (out.put(name, shape) != null) {
                throw new IllegalArgumentException("--shape gives input '" + name + "' twice");
            }
        }
        return out;
    }

    /**
     * The concrete shape of every input at batch size {@code b}: dimension 0 is the batch when it is dynamic
     * (and so is every dynamic dimension with the same symbolic name), the rest comes from the model or
     * {@code --shape}. A model without a dynamic first dimension runs only at its fixed batch size.
     */
    static Map<String, long[]> inputShapes(List<TensorSpec> inputs, int b, Map<String, long[]> given) {
        boolean batched = inputs.stream().anyMatch(s -> s.rank() > 0 && s.shape()[0] < 0);
        if (!batched
                && !inputs.isEmpty()
                && inputs.get(0).rank() > 0
                && inputs.get(0).shape()[0] != b) {
            TensorSpec s = inputs.get(0);
            throw new IllegalArgumentException("input " + s + " has a fixed batch size of " + s.shape()[0]
                    + ", so --batch can only be " + s.shape()[0] + ", not " + b);
        }
        Map<String, long[]> out = new LinkedHashMap<>();
        for (TensorSpec s : inputs) {
            long[] dims = s.shape();
            String[] names = s.dimNames();
            long[] fromUser = given.get(s.name());
            String batchName = dims.length > 0 && dims[0] < 0 ? names[0] : null;
            List<Integer> open = new ArrayList<>();
            for (int i = 0; i < dims.length; i++) {
                if (dims[i] >= 0) {
                    continue;
                }
                if (i == 0 || (batchName != null && batchName.equals(names[i]))) {
                    dims[i] = b;
                } else if (fromUser != null) {
                    dims[i] = fromUser[i];
                } else {
                    open.add(i);
                }
            }
            if (!open.isEmpty()) {
                throw new IllegalArgumentException("input " + s + " has dynamic dimensions besides the batch (axes "
                        + open + "); give its shape with --shape " + s.name() + "=" + example(s));
            }
            long count = 1;
            for (long d : dims) {
                count = Math.multiplyExact(count, d);
                // a string element has no fixed size (byteSize 0): bound the element count as for bytes
                if (count > Tensor.MAX_BYTES / Math.max(1, s.dtype().byteSize())) {
                    throw new IllegalArgumentException("input '" + s.name() + "' at batch " + b + " would have shape "
                            + Arrays.toString(dims) + ", more than one tensor can hold; use smaller sizes");
                }
            }
            out.put(s.name(), dims);
        }
        return out;
    }

    private static String example(TensorSpec s) {
        long[] dims = s.shape();
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < dims.length; i++) {
            parts.add(dims[i] >= 0 ? Long.toString(dims[i]) : i == 0 ? "1" : "D" + i);
        }
        return String.join(",", parts);
    }

    /** Random inputs on direct buffers, made once and reused for every run. */
    static Map<String, Tensor> randomInputs(List<TensorSpec> inputs, Map<String, long[]> shapes) {
        SplittableRandom random = new SplittableRandom(42);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (TensorSpec s : inputs) {
            long[] shape = shapes.get(s.name());
            long count = 1;
            for (long d : shape) {
                count *= d;
            }
            if (s.dtype() == DType.STRING) {
                feeds.put(s.name(), Tensor.zeros(DType.STRING, shape)); // empty strings
                continue;
            }
            ByteBuffer buf = ByteBuffer.allocateDirect((int) (count * s.dtype().byteSize()))
                    .order(ByteOrder.LITTLE_ENDIAN);
            if (s.dtype() == DType.FLOAT32) {
                for (int i = 0; i < count; i++) {
                    buf.putFloat(i * 4, (float) random.nextDouble());
                }
            } else if (s.dtype() == DType.FLOAT64) {
                for (int i = 0; i < count; i++) {
                    buf.putDouble(i * 8, random.nextDouble());
                }
            }
            // integer and bool inputs stay 0 / false: always a valid index, never out of range
            feeds.put(s.name(), Tensor.wrap(s.dtype(), buf, shape));
        }
        return feeds;
    }

    private static List<String> names(List<TensorSpec> inputs) {
        List<String> n = new ArrayList<>();
        for (TensorSpec s : inputs) {
            n.add(s.name());
        }
        return n;
    }

    private static String ms(double nanos) {
        return String.format(Locale.ROOT, "%.3f", nanos / 1e6);
    }

    private static String seconds(double s) {
        return (s == Math.rint(s) ? Long.toString((long) s) : Double.toString(s)) + " s";
    }
}
