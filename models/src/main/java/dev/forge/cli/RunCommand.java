package dev.forge.cli;

import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Npy;
import dev.forge.runtime.OptionalValue;
import dev.forge.runtime.Prediction;
import dev.forge.runtime.Tensor;
import dev.forge.runtime.TensorSequence;
import dev.forge.runtime.TensorSpec;
import dev.forge.runtime.Value;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code forge run MODEL --input NAME=FILE.npy --output-dir DIR}: one inference, outputs saved as {@code .npy}. */
@Command(
        name = "run",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Run a model on .npy inputs and save its outputs as .npy files.",
            "",
            "Writes each output to DIR/<output>.npy"
                    + " (characters other than letters, digits, '.', '-' and '_' in output names become '_').",
            "float16 inputs may be given as <f2 files, or as <f4/<f8 files that are rounded to float16;"
                    + " bfloat16 (which NumPy lacks) is read from and written to <f4 files, rounded to nearest"
                    + " even on the way in and widened exactly on the way out.",
            "uint16, uint32, uint64 and string arrays are <u2, <u4, <u8 and <U files; ONNX Runtime's Java API cannot"
                    + " feed unsigned inputs wider than 8 bits, so a model with one is refused (outputs are fine).",
            "A sequence output (ONNX sequence(tensor)) is written as DIR/<output>/0.npy, 1.npy, ... (earlier"
                    + " numbered files there are removed); an optional output as its tensor or sequence when it holds"
                    + " one, and as no file when it is empty (an earlier DIR/<output>.npy is removed).",
            "Prints each output's name, element type and shape, and with --top the k most likely classes of"
                    + " every row of the first output (softmax applied to logits; labels from the metadata key"
                    + " " + ModelMetadata.CLASS_LABELS + ")."
        })
final class RunCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(
            index = "0",
            paramLabel = "MODEL",
            description = "An .onnx file, or a built-in network (random weights).")
    private String model;

    @Option(
            names = {"-i", "--input"},
            required = true,
            paramLabel = "[NAME=]FILE.npy",
            description = "An input tensor; repeat for each input. NAME= may be left out when the model has one input.")
    private List<String> inputs;

    @Option(
            names = {"-o", "--output-dir"},
            required = true,
            paramLabel = "DIR",
            description = "Directory for the outputs; created if missing.")
    private Path outputDir;

    @Option(names = "--top", paramLabel = "K", description = "Also print the K most likely classes per row.")
    private Integer top;

    @Mixin
    private RuntimeOptions runtime;

    @Override
    public Integer call() throws IOException {
        if (top != null && top < 1) {
            throw new IllegalArgumentException("--top must be 1 or more, got " + top);
        }
        if (Files.exists(outputDir) && !Files.isDirectory(outputDir)) {
            throw new IllegalArgumentException("--output-dir " + outputDir + " exists and is not a directory");
        }
        ModelRef ref = ModelRef.resolve(model);
        PrintWriter out = spec.commandLine().getOut();
        try (Model m = ref.load(runtime.toModelOptions())) {
            if (top != null) {
                checkTop(m, top);
            }
            Map<String, Tensor> feeds = readInputs(m, inputs);
            Map<String, Path> files = outputFiles(m.outputs(), outputDir);
            Map<String, Value> results = m.runValues(feeds);
            Files.createDirectories(outputDir);
            for (Map.Entry<String, Value> e : results.entrySet()) {
                out.printf("%s: %s%n", e.getKey(), write(e.getValue(), files.get(e.getKey())));
            }
            if (top != null) {
                printTop(out, m, feeds, top);
            }
        }
        out.flush();
        return 0;
    }

    /**
     * Reads the {@code --input} values. {@code NAME=FILE} names the input; a bare {@code FILE} is the only
     * input of a one-input model (also when the file name itself contains {@code =}).
     */
    static Map<String, Tensor> readInputs(Model m, List<String> args) {
        List<String> names = new ArrayList<>();
        for (TensorSpec s : m.inputs()) {
            names.add(s.name());
        }
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            String name;
            String file;
            if (eq >= 0 && names.contains(arg.substring(0, eq))) {
                name = arg.substring(0, eq);
                file = arg.substring(eq + 1);
            } else if (eq >= 0 && !(names.size() == 1 && Files.isRegularFile(Path.of(arg)))) {
                throw new IllegalArgumentException("unknown input name '" + arg.substring(0, eq) + "' in --input " + arg
                        + ", expected one of " + names);
            } else if (names.size() != 1) {
                throw new IllegalArgumentException(
                        "--input " + arg + " does not say which input it is, and the model has " + names.size()
                                + " inputs " + names + "; write --input NAME=" + arg);
            } else {
                name = names.get(0);
                file = arg;
            }
            if (file.isEmpty()) {
                throw new IllegalArgumentException(
                        "--input " + arg + " names no file; write --input " + name + "=FILE.npy");
            }
            if (feeds.containsKey(name)) {
                throw new IllegalArgumentException("input '" + name + "' is given twice by --input");
            }
            Tensor t = Npy.read(Path.of(file));
            DType want = m.inputs().get(names.indexOf(name)).dtype();
            feeds.put(name, toHalfInput(toFloat32Input(t, want, name, file), want));
        }
        return feeds;
    }

    /**
     * A float64 array given for a float32 input (NumPy's default dtype), rounded to float32 when that is
     * lossless enough: every value within float32's range and no nonzero value flushed to zero, so only the
     * rounding to 24 significant bits, which every float32 model applies to its own arithmetic, changes it.
     * Otherwise refused, saying how to convert. Other arrays as they are.
     */
    static Tensor toFloat32Input(Tensor t, DType want, String name, String file) {
        if (t.dtype() != DType.FLOAT64 || want != DType.FLOAT32) {
            return t;
        }
        double[] d = t.toDoubleArray();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
            boolean overflow = Double.isFinite(d[i]) && Float.isInfinite(f[i]);
            boolean underflow = d[i] != 0 && f[i] == 0;
            if (overflow || underflow) {
                throw new IllegalArgumentException(String.format(
                        java.util.Locale.ROOT,
                        "input '%s': %s holds float64 values that float32 cannot carry (%s at index %d %s);"
                                + " scale the data and convert it (NumPy: x.astype(np.float32)), the model expects"
                                + " float32",
                        name,
                        file,
                        d[i],
                        i,
                        overflow ? "is beyond float32's range" : "would become 0"));
            }
        }
        return Tensor.of(f, t.shape());
    }

    /**
     * A float32 or float64 array given for a float16 or bfloat16 input, rounded to the input's type
     * (bfloat16 has no .npy dtype, so this is the only way to feed one); other arrays as they are.
     */
    static Tensor toHalfInput(Tensor t, DType want) {
        boolean wide = t.dtype() == DType.FLOAT32 || t.dtype() == DType.FLOAT64;
        if (wide && want == DType.FLOAT16) {
            return Tensor.ofFloat16(t.toFloatArray(), t.shape());
        }
        if (wide && want == DType.BFLOAT16) {
            return Tensor.ofBFloat16(t.toFloatArray(), t.shape());
        }
        return t;
    }

    /**
     * Writes one output and says what was written: a tensor to {@code file}; a sequence as {@code
     * 0.npy}, {@code 1.npy}, ... in the directory {@code file} names without {@code .npy}; an optional as
     * what it holds, or nothing (removing an earlier file) when it is empty.
     */
    static String write(Value v, Path file) throws IOException {
        if (v instanceof Tensor t) {
            Npy.write(file, t);
            return t.dtype().typeName() + shape(t.shape()) + " -> " + file
                    + (t.dtype() == DType.BFLOAT16 ? " (as float32: NumPy has no bfloat16)" : "");
        }
        if (v instanceof TensorSequence s) {
            Path dir = sequenceDir(file);
            Files.createDirectories(dir);
            // numbered files of an earlier, longer sequence would read as part of this one
            removeNumbered(dir);
            StringBuilder shapes = new StringBuilder();
            for (int i = 0; i < s.size(); i++) {
                Npy.write(dir.resolve(i + ".npy"), s.get(i));
                shapes.append(i == 0 ? " " : ", ").append(shape(s.get(i).shape()));
            }
            return "sequence(" + s.elementType().typeName() + ") of " + s.size()
                    + (s.size() == 1 ? " tensor" : " tensors") + shapes + " -> "
                    + (s.isEmpty() ? dir + " (empty: no files)" : dir.resolve("{0.." + (s.size() - 1) + "}.npy"));
        }
        OptionalValue o = v.asOptional();
        if (o.isPresent()) {
            return "optional, present: " + write(o.get(), file);
        }
        Path old = o.kind().isSequence() ? sequenceDir(file) : file;
        boolean removed = o.kind().isSequence() ? removeNumbered(old) > 0 : Files.deleteIfExists(old);
        return "optional, empty -> no file" + (removed ? " (removed the earlier " + old + ")" : "");
    }

    /** Deletes {@code 0.npy}, {@code 1.npy}, ... in {@code dir}, if it exists; returns how many. */
    private static int removeNumbered(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        int n = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                if (p.getFileName().toString().matches("[0-9]+\\.npy")) {
                    Files.delete(p);
                    n++;
                }
            }
        }
        return n;
    }

    /** The directory a sequence output's tensors go to: the output's file name without {@code .npy}. */
    private static Path sequenceDir(Path file) {
        String name = file.getFileName().toString();
        return file.resolveSibling(name.substring(0, name.length() - ".npy".length()));
    }

    /**
     * {@code DIR/<output>.npy} per output (a sequence's tensors go to the directory {@code DIR/<output>}),
     * with unsafe characters replaced; refuses two outputs on one file.
     */
    static Map<String, Path> outputFiles(List<TensorSpec> outputs, Path dir) {
        Map<String, Path> files = new LinkedHashMap<>();
        Map<String, String> taken = new HashMap<>();
        for (TensorSpec s : outputs) {
            String file = sanitize(s.name()) + ".npy";
            String other = taken.putIfAbsent(file, s.name());
            if (other != null) {
                throw new IllegalArgumentException("outputs '" + other + "' and '" + s.name()
                        + "' would both be written to " + dir.resolve(file) + " (after replacing unsafe characters)");
            }
            files.put(s.name(), dir.resolve(file));
        }
        return files;
    }

    /** An output name as a file name: characters other than {@code [A-Za-z0-9._-]} become {@code _}. */
    static String sanitize(String name) {
        StringBuilder sb = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean safe = (c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || c == '.'
                    || c == '-'
                    || c == '_';
            sb.append(safe ? c : '_');
        }
        String s = sb.toString();
        // "", "." and ".." are not usable file names
        return s.isEmpty() || s.chars().allMatch(c -> c == '.') ? "_" + s : s;
    }

    /** Refuses {@code --top} before anything runs when the model cannot give k classes per row. */
    private static void checkTop(Model m, int k) {
        if (m.inputs().size() != 1) {
            throw new IllegalArgumentException("--top needs a model with one input, this one has "
                    + m.inputs().size() + " " + m.inputs());
        }
        TensorSpec first = m.outputs().get(0);
        if (!first.isTensor() || first.rank() != 2 || !first.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException(
                    "--top needs a first output of shape [batch, classes] and float type, but it is " + first);
        }
        if (first.shape()[1] > 0 && k > first.shape()[1]) {
            throw new IllegalArgumentException("--top " + k + " is more than the " + first.shape()[1]
                    + " classes of output '" + first.name() + "' " + first.shapeString());
        }
    }

    private static void printTop(PrintWriter out, Model m, Map<String, Tensor> feeds, int k) {
        List<List<Prediction>> rows = m.topK(feeds.values().iterator().next(), k);
        out.printf("top %d of %s:%n", k, m.outputs().get(0).name());
        for (int r = 0; r < rows.size(); r++) {
            StringBuilder sb = new StringBuilder("  [").append(r).append(']');
            for (Prediction p : rows.get(r)) {
                sb.append("  ");
                if (!p.label().equals(Integer.toString(p.index()))) {
                    sb.append(p.label()).append(" (").append(p.index()).append(')');
                } else {
                    sb.append(p.index());
                }
                sb.append(String.format(Locale.ROOT, ": %.4f", p.probability()));
            }
            out.println(sb);
        }
    }

    private static String shape(long[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ",").append(shape[i]);
        }
        return sb.append(']').toString();
    }
}
