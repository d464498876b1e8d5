package dev.forge.testdata;

import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.IrType;
import dev.forge.compiler.ir.OptionalType;
import dev.forge.compiler.ir.SequenceType;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxTypes;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.OptionalValue;
import dev.forge.runtime.Tensor;
import dev.forge.runtime.Value;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The ONNX backend node test suite run through Forge, three ways, as an outside user would meet it:
 *
 * <ol>
 *   <li><b>runtime</b>: {@code Model.load} + {@code run} on the case's inputs, every output within {@code
 *       1e-4 + 1e-3 |expected|} (integers, bools and strings exact; NaN where NaN is expected), and bit
 *       for bit what a plain ONNX Runtime session returns;
 *   <li><b>round trip</b>: the compiler's reader then writer; the written model's outputs in plain ONNX
 *       Runtime are bit-identical to the original's;
 *   <li><b>shapes</b>: the compiler's shape inference, on the model with its output shapes and value_info
 *       removed, against the shapes of the expected outputs (no mismatch; unknown allowed and counted); a
 *       sequence or optional output (its type removed) against its declared type and the type
 *       {@code onnx.shape_inference} infers ({@code onnx_types.onnx}, written by the suite script).
 * </ol>
 *
 * <p>Whenever Forge refuses a case, the same case goes through a plain ONNX Runtime session ({@link
 * PlainOrt}): the refusal is accepted only when ONNX Runtime refuses too (its message is kept for
 * docs/CONFORMANCE.md); otherwise the case fails. The suite is generated from the installed onnx package
 * by {@code scripts/make_onnx_node_suite.py} into {@code target/onnx-node-suite}, and regenerated when
 * its stamp (onnx and numpy versions, the script's sha256) does not match.
 */
final class NodeConformance {
    static final Path SUITE = Path.of("target", "onnx-node-suite");
    static final Path SCRIPT = Path.of("scripts", "make_onnx_node_suite.py");
    static final Path DOC = Path.of("..", "docs", "CONFORMANCE.md");

    /**
     * Cases whose expected outputs are one random draw that no other implementation can reproduce: the
     * reference drew its masks and samples with NumPy's generator, ONNX Runtime draws with its own.
     * Their shapes are still checked.
     */
    static final Map<String, String> EXCLUDED = excluded();

    private static Map<String, String> excluded() {
        Map<String, String> m = new TreeMap<>();
        String bernoulli = "Bernoulli samples: the expected output is NumPy's draw, ONNX Runtime draws its own";
        for (String s : List.of("", "_double", "_seed")) {
            m.put("test_bernoulli" + s, bernoulli);
            m.put("test_bernoulli" + s + "_expanded", bernoulli);
        }
        String dropout = "Dropout in training mode: the expected mask is NumPy's draw, ONNX Runtime draws its own";
        for (String s : List.of(
                "test_training_dropout",
                "test_training_dropout_default",
                "test_training_dropout_mask",
                "test_training_dropout_default_mask")) {
            m.put(s, dropout);
        }
        return Map.copyOf(m);
    }

    /**
     * Cases where plain ONNX Runtime's own output is outside the tolerance of ONNX's expected output:
     * Forge returns ONNX Runtime's bits (checked), so these are differences between ONNX Runtime 1.29 and
     * the onnx 1.12 reference, listed by name with what differs. A case not listed here that differs
     * fails, and so does a listed case that passes.
     */
    static final Map<String, String> ORT_DIFFERS = Map.of(
            "test_cast_FLOAT_to_BFLOAT16",
            "ONNX Runtime rounds float32 to the nearest bfloat16 (ties to even); the onnx 1.12 reference truncates"
                    + " the low 16 bits (element 1: 0.48046875 vs 0.478515625)",
            "test_cast_FLOAT_to_STRING",
            "ONNX Runtime prints floats with 8 significant digits (\"0.60484552\"), the reference with NumPy's"
                    + " shortest repr (\"0.6048455\")",
            "test_castlike_FLOAT_to_STRING",
            "as test_cast_FLOAT_to_STRING: ONNX Runtime's float-to-text has 8 significant digits, NumPy's shortest"
                    + " repr fewer",
            "test_castlike_FLOAT_to_STRING_expanded",
            "as test_cast_FLOAT_to_STRING (the function-expanded form is one Cast)",
            "test_dft",
            "ONNX Runtime's float32 DFT gives -1.1e-4 where the reference (NumPy's float64 FFT) has 0, just over"
                    + " the 1e-4 absolute tolerance",
            "test_dft_axis",
            "as test_dft: -1.15e-4 where the reference has 0",
            "test_maxunpool_export_with_output_shape",
            "with an explicit output_shape ONNX Runtime puts the pooled values at other positions than the"
                    + " reference (element 5 is 5.0, expected 0.0)",
            "test_resize_downsample_scales_cubic_align_corners",
            "ONNX Runtime's align_corners downsampling samples other source positions than the reference"
                    + " (element 1 is 2.5, expected 2.3951917)",
            "test_resize_downsample_scales_linear_align_corners",
            "as the cubic case: element 1 is 4.0, expected 3.142857");

    /**
     * Open work: cases plain ONNX Runtime runs but Forge cannot, listed by name with the reason so the
     * count is visible and a new one fails. None at present (the last two, test_if_opt and test_if_seq,
     * return an optional and a sequence, which {@code Model.runValues} carries).
     */
    static final Map<String, String> FORGE_GAPS = Map.of();

    /**
     * Cases the runtime passes but the compiler's reader refuses, so the round trip and the shape check
     * have nothing to work on, with the reason. Listed by name so a new one fails, and so does a listed one
     * that reads. None since the compiler's IR carries sequence and optional types (test_if_opt and
     * test_if_seq, whose outputs are an optional(sequence) and a sequence, were the last two).
     */
    static final Map<String, String> READER_GAPS = Map.of();

    enum Outcome {
        PASS,
        /** Forge returns ONNX Runtime's bits, and those differ from the reference: {@link #ORT_DIFFERS}. */
        ORT_DIFFERS,
        EXCLUDED,
        /** Forge refused, and so does ONNX Runtime (session, run, or its Java API cannot build the input). */
        REFUSED_BY_ORT,
        /** Not applicable: ONNX Runtime cannot run the original model, so there is nothing to compare with. */
        NOT_APPLICABLE,
        /** Plain ONNX Runtime runs it and Forge cannot yet: {@link #FORGE_GAPS}. */
        FORGE_GAP,
        FAIL
    }

    /** One case's results. {@code ortStage}/{@code ortMessage} say how plain ONNX Runtime refused, if it did. */
    record Result(
            String name,
            String op,
            int opset,
            Outcome runtime,
            String runtimeDetail,
            Outcome roundTrip,
            String roundTripDetail,
            int shapesKnown,
            int shapesUnknown,
            List<String> shapeMismatches,
            String ortStage,
            String ortMessage) {
        boolean failed() {
            return runtime == Outcome.FAIL || roundTrip == Outcome.FAIL || !shapeMismatches.isEmpty();
        }

        /** True when ONNX Runtime's Java API cannot build an input (a uint16/32/64 or non-tensor input). */
        boolean ortJavaCannotFeed() {
            return runtime == Outcome.REFUSED_BY_ORT
                    && ("input".equals(ortStage)
                            || runtimeDetail.contains("cannot be passed to ONNX Runtime from Java"));
        }

        String failures() {
            List<String> f = new ArrayList<>();
            if (runtime == Outcome.FAIL) {
                f.add("runtime: " + runtimeDetail);
            }
            if (roundTrip == Outcome.FAIL) {
                f.add("round trip: " + roundTripDetail);
            }
            if (!shapeMismatches.isEmpty()) {
                f.add("shapes: " + shapeMismatches);
            }
            return name + " (" + op + "): " + String.join("; ", f);
        }
    }

    private NodeConformance() {}

    /** The suite's directory, generated (or regenerated when stale) by the committed script. */
    static synchronized Path suite() {
        String expected = expectedStampPrefix();
        Path stamp = SUITE.resolve("stamp.txt");
        try {
            if (Files.isRegularFile(stamp) && Files.readString(stamp).startsWith(expected)) {
                return SUITE;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Python.run(300, SCRIPT.toString(), "--out", SUITE.toString());
        return SUITE;
    }

    /** The first lines of a current stamp: onnx and numpy versions and the script's hash. */
    private static String expectedStampPrefix() {
        String versions = Python.run(
                60,
                "-c",
                "import onnx, numpy; print('onnx', onnx.__version__); print('numpy'," + " numpy.__version__)");
        try {
            byte[] script = Files.readAllBytes(SCRIPT);
            String sha = HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(script));
            return versions.strip() + "\nscript " + sha + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** Runs every case of the suite, on {@code threads} threads. */
    static List<Result> runAll(int threads) {
        Path suite = suite();
        List<String[]> manifest = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(suite.resolve("manifest.tsv"))) {
                if (!line.startsWith("#") && !line.isBlank()) {
                    manifest.add(line.split("\t"));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Result>> futures = new ArrayList<>();
            for (String[] row : manifest) {
                futures.add(
                        pool.submit(() -> runCase(suite.resolve(row[0]), row[0], row[1], Integer.parseInt(row[2]))));
            }
            List<Result> results = new ArrayList<>();
            for (Future<Result> f : futures) {
                results.add(f.get(10, TimeUnit.MINUTES));
            }
            return results;
        } catch (Exception e) {
            throw new AssertionError("running the node suite: " + e, e);
        } finally {
            pool.shutdownNow();
        }
    }

    static Result runCase(Path dir, String name, String op, int opset) {
        byte[] model = read(dir.resolve("model.onnx"));
        Onnx.ModelProto proto;
        try {
            proto = Onnx.ModelProto.parseFrom(model);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Path> dataSets = dataSets(dir);
        // plain ONNX Runtime first: the witness for refusals and the reference for the round trip
        List<PlainOrt.Outcome> plain = new ArrayList<>();
        for (Path ds : dataSets) {
            plain.add(PlainOrt.run(model, proto, ds, OptLevel.ALL_OPT));
        }
        PlainOrt.Outcome firstRefusal =
                plain.stream().filter(p -> !p.ran()).findFirst().orElse(null);
        boolean ortRuns = firstRefusal == null;

        Outcome runtime;
        String runtimeDetail = null;
        if (EXCLUDED.containsKey(name)) {
            runtime = Outcome.EXCLUDED;
            runtimeDetail = EXCLUDED.get(name);
        } else {
            String problem = runtime(dir.resolve("model.onnx"), dataSets, plain, ortRuns);
            boolean ortDiffers = problem != null && problem.startsWith(DIFFERS);
            if (ortDiffers && ORT_DIFFERS.containsKey(name)) {
                runtime = Outcome.ORT_DIFFERS;
                runtimeDetail = ORT_DIFFERS.get(name);
            } else if (ortDiffers) {
                runtime = Outcome.FAIL;
                runtimeDetail = problem.substring(DIFFERS.length())
                        + "; Forge returns plain ONNX Runtime's bits, but the case is not in ORT_DIFFERS";
            } else if (problem == null && (ORT_DIFFERS.containsKey(name) || FORGE_GAPS.containsKey(name))) {
                runtime = Outcome.FAIL;
                runtimeDetail =
                        "passes now: remove it from " + (ORT_DIFFERS.containsKey(name) ? "ORT_DIFFERS" : "FORGE_GAPS");
            } else if (problem == null) {
                runtime = Outcome.PASS;
            } else if (problem.startsWith(REFUSED) && ortRuns && FORGE_GAPS.containsKey(name)) {
                runtime = Outcome.FORGE_GAP;
                runtimeDetail = FORGE_GAPS.get(name);
            } else if (problem.startsWith(REFUSED) && !ortRuns) {
                runtime = Outcome.REFUSED_BY_ORT;
                runtimeDetail = problem.substring(REFUSED.length());
            } else {
                runtime = Outcome.FAIL;
                runtimeDetail = problem.startsWith(REFUSED)
                        ? "Forge refuses (" + problem.substring(REFUSED.length()) + ") but plain ONNX Runtime runs it"
                        : problem;
            }
        }

        Outcome roundTrip;
        String roundTripDetail = null;
        if (EXCLUDED.containsKey(name)) {
            roundTrip = Outcome.EXCLUDED;
        } else if (runtime == Outcome.FORGE_GAP) {
            roundTrip = Outcome.FORGE_GAP;
            roundTripDetail = FORGE_GAPS.get(name);
        } else {
            String problem = roundTrip(model, proto, dataSets, plain, ortRuns);
            if (READER_GAPS.containsKey(name)) {
                boolean refused = problem != null && problem.startsWith(READER_REFUSES);
                roundTrip = refused ? Outcome.FORGE_GAP : Outcome.FAIL;
                roundTripDetail = refused
                        ? READER_GAPS.get(name)
                        : problem == null ? "reads now: remove it from READER_GAPS" : problem;
            } else {
                roundTrip = problem == null ? Outcome.PASS : ortRuns ? Outcome.FAIL : Outcome.NOT_APPLICABLE;
                roundTripDetail = problem;
            }
        }

        int known = 0;
        int unknown = 0;
        List<String> mismatches = new ArrayList<>();
        try {
            Graph g = OnnxReader.read(withoutShapes(proto).toByteArray(), name);
            Onnx.GraphProto onnxTypes = onnxTypes(dataSets.get(0).getParent().resolve("onnx_types.onnx"));
            Path ds = dataSets.get(0);
            for (int j = 0; j < g.outputs().size(); j++) {
                ValueInfo out = g.outputs().get(j);
                Onnx.TypeProto declared = proto.getGraph().getOutput(j).getType();
                long[] want = declared.hasTensorType() ? expectedShape(ds.resolve("output_" + j + ".pb")) : null;
                if (!declared.hasTensorType()) {
                    // a sequence or an optional: its inferred type against the one the model declares and
                    // the one onnx.shape_inference infers (when the suite script could run it)
                    String problem = typeMismatch(out.irType(), declared);
                    Onnx.TypeProto onnxInferred = onnxTypes == null || j >= onnxTypes.getOutputCount()
                            ? null
                            : onnxTypes.getOutput(j).getType();
                    if (problem == null
                            && onnxInferred != null
                            && (onnxInferred.hasSequenceType() || onnxInferred.hasOptionalType())) {
                        String p = typeMismatch(out.irType(), onnxInferred);
                        problem = p == null ? null : p.replace("declared ", "onnx.shape_inference infers ");
                    }
                    if (problem != null) {
                        mismatches.add(out.name() + ": inferred " + out.irType() + ", " + problem);
                    } else if (out.irType().isFullyKnown()) {
                        known++;
                    } else {
                        unknown++;
                    }
                    continue;
                }
                if (want == null) {
                    continue; // no TensorProto to compare with
                }
                if (!out.isTensor()) {
                    mismatches.add(out.name() + ": inferred " + out.irType() + ", expected a tensor");
                    continue;
                }
                if (out.type() == null || out.type().shape() == null) {
                    unknown++;
                    continue;
                }
                List<Dim> dims = out.type().shape().dims();
                if (dims.size() != want.length) {
                    mismatches.add(
                            out.name() + ": inferred " + out.type().shape() + ", expected " + Arrays.toString(want));
                    continue;
                }
                boolean allFixed = true;
                boolean bad = false;
                for (int i = 0; i < want.length; i++) {
                    Dim d = dims.get(i);
                    if (!d.isFixed()) {
                        allFixed = false;
                    } else if (d.value() != want[i]) {
                        bad = true;
                    }
                }
                if (bad) {
                    mismatches.add(
                            out.name() + ": inferred " + out.type().shape() + ", expected " + Arrays.toString(want));
                } else if (allFixed) {
                    known++;
                } else {
                    unknown++;
                }
            }
        } catch (RuntimeException e) {
            if (ortRuns && !FORGE_GAPS.containsKey(name) && !READER_GAPS.containsKey(name)) {
                mismatches.add(
                        "the reader refuses the model but plain ONNX Runtime runs it: " + oneLine(e.getMessage()));
            }
        }
        return new Result(
                name,
                op,
                opset,
                runtime,
                runtimeDetail,
                roundTrip,
                roundTripDetail,
                known,
                unknown,
                mismatches,
                firstRefusal == null ? null : firstRefusal.stage(),
                firstRefusal == null ? null : firstRefusal.message());
    }

    private static final String REFUSED = "refused: ";
    private static final String DIFFERS = "ONNX Runtime differs: ";
    private static final String READER_REFUSES = "the reader or writer refuses: ";

    /** Null when every data set passes; else what went wrong ({@value #REFUSED} prefix for a refusal). */
    private static String runtime(Path modelFile, List<Path> dataSets, List<PlainOrt.Outcome> plain, boolean ortRuns) {
        ModelOptions options = ModelOptions.builder().intraOpThreads(1).build();
        Model m;
        try {
            m = Model.load(modelFile, options);
        } catch (RuntimeException e) {
            return REFUSED + "Model.load: " + oneLine(e.getMessage());
        }
        try (m) {
            for (int d = 0; d < dataSets.size(); d++) {
                Path ds = dataSets.get(d);
                Map<String, Tensor> feeds = new LinkedHashMap<>();
                for (int j = 0; j < m.inputs().size(); j++) {
                    try {
                        Tensor t = OnnxReader.readTensor(ds.resolve("input_" + j + ".pb"));
                        feeds.put(
                                m.inputs().get(j).name(),
                                asDeclared(t, m.inputs().get(j).dtype()));
                    } catch (RuntimeException e) {
                        return REFUSED + "reading input_" + j + ".pb: " + oneLine(e.getMessage());
                    }
                }
                Map<String, Value> outs;
                try {
                    outs = m.runValues(feeds);
                } catch (RuntimeException e) {
                    return REFUSED + "Model.runValues: " + oneLine(e.getMessage());
                }
                List<Value> actual = new ArrayList<>(outs.values());
                for (int j = 0; j < actual.size(); j++) {
                    Value expected;
                    try {
                        expected = ExpectedValues.read(
                                ds.resolve("output_" + j + ".pb"),
                                m.outputs().get(j).kind());
                    } catch (RuntimeException e) {
                        return REFUSED + "reading output_" + j + ".pb: " + oneLine(e.getMessage());
                    }
                    String why = compare(expected, actual.get(j));
                    boolean sameAsOrt =
                            ortRuns && plain.get(d).outputs().get(j).sameBits(PlainOrt.Value.of(actual.get(j)));
                    if (ortRuns && !sameAsOrt) {
                        return "output " + j + " (data set " + d + ") is not bit-identical to plain ONNX Runtime's ("
                                + plain.get(d).outputs().get(j) + ")" + (why == null ? "" : "; and " + why);
                    }
                    if (why != null) {
                        return (sameAsOrt ? DIFFERS : "") + "output " + j + " (data set " + d + "): " + why;
                    }
                }
            }
        }
        return null;
    }

    /**
     * The onnx 1.12 generators store bfloat16 tensors as uint16 arrays of the same bits (NumPy has no
     * bfloat16): such a file, for a bfloat16 input or output, is read as the bfloat16 it holds.
     */
    static Tensor asDeclared(Tensor t, DType declared) {
        if (t.dtype() == DType.UINT16 && declared == DType.BFLOAT16) {
            return Tensor.wrap(DType.BFLOAT16, t.buffer(), t.shape());
        }
        return t;
    }

    /** Null when the written model's outputs are bit-identical to the original's in plain ONNX Runtime. */
    private static String roundTrip(
            byte[] model, Onnx.ModelProto proto, List<Path> dataSets, List<PlainOrt.Outcome> plain, boolean ortRuns) {
        byte[] written;
        try {
            written = OnnxWriter.toBytes(OnnxReader.read(model, "model.onnx"));
        } catch (RuntimeException e) {
            return READER_REFUSES + oneLine(e.getMessage());
        }
        if (!ortRuns) {
            return "plain ONNX Runtime cannot run the original";
        }
        Onnx.ModelProto writtenProto;
        try {
            writtenProto = Onnx.ModelProto.parseFrom(written);
        } catch (IOException e) {
            return "the written model does not parse: " + e.getMessage();
        }
        for (int d = 0; d < dataSets.size(); d++) {
            PlainOrt.Outcome again = PlainOrt.run(written, writtenProto, dataSets.get(d), OptLevel.ALL_OPT);
            if (!again.ran()) {
                return "ONNX Runtime runs the original but not the written model (" + again.stage() + ": "
                        + oneLine(again.message()) + ")";
            }
            List<PlainOrt.Value> a = plain.get(d).outputs();
            List<PlainOrt.Value> b = again.outputs();
            if (a.size() != b.size()) {
                return "the written model has " + b.size() + " outputs, the original " + a.size();
            }
            for (int j = 0; j < a.size(); j++) {
                if (!a.get(j).sameBits(b.get(j))) {
                    return "output " + j + " (data set " + d + ") differs: original " + a.get(j) + ", written "
                            + b.get(j);
                }
            }
        }
        return null;
    }

    /** The model with output shapes and value_info dropped, so the reader's shapes are its own inference. */
    private static Onnx.ModelProto withoutShapes(Onnx.ModelProto proto) {
        Onnx.GraphProto.Builder g = proto.getGraph().toBuilder().clearValueInfo();
        for (int i = 0; i < g.getOutputCount(); i++) {
            Onnx.ValueInfoProto.Builder vi = g.getOutputBuilder(i);
            if (vi.getType().hasTensorType()) {
                vi.getTypeBuilder().getTensorTypeBuilder().clearShape();
            } else {
                vi.clearType(); // a sequence or an optional: the reader must infer the whole type
            }
        }
        return proto.toBuilder().setGraph(g).build();
    }

    /**
     * Null when an inferred sequence or optional type fits the declared one: the same nesting and element
     * types, and equal dimensions wherever both are fixed; else what differs. An unknown part fits anything.
     */
    static String typeMismatch(IrType inferred, Onnx.TypeProto declaredProto) {
        IrType declared;
        try {
            declared = OnnxTypes.irType(declaredProto.toByteArray(), "declared output");
        } catch (RuntimeException e) {
            return "declared type not carried: " + oneLine(e.getMessage());
        }
        return fits(inferred, declared) ? null : "declared " + declared;
    }

    private static boolean fits(IrType inferred, IrType declared) {
        if (inferred instanceof SequenceType a && declared instanceof SequenceType b) {
            return fits(a.element(), b.element());
        }
        if (inferred instanceof OptionalType a && declared instanceof OptionalType b) {
            return fits(a.element(), b.element());
        }
        if (inferred instanceof ValueType a && declared instanceof ValueType b) {
            if (a.dtype() != b.dtype()) {
                return false;
            }
            if (a.shape() == null || b.shape() == null) {
                return true;
            }
            if (a.shape().rank() != b.shape().rank()) {
                return false;
            }
            for (int i = 0; i < a.shape().rank(); i++) {
                Dim x = a.shape().dim(i);
                Dim y = b.shape().dim(i);
                if (x.isFixed() && y.isFixed() && x.value() != y.value()) {
                    return false;
                }
            }
            return true;
        }
        return false;
    }

    /**
     * The graph of ONNX's own shape inference for a case with a sequence or optional output, written by the
     * suite script; null when there is none.
     */
    private static Onnx.GraphProto onnxTypes(Path file) {
        try {
            return Files.isRegularFile(file)
                    ? Onnx.ModelProto.parseFrom(Files.readAllBytes(file)).getGraph()
                    : null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The dims of an expected output, or null when it is not a TensorProto (a sequence or optional). */
    private static long[] expectedShape(Path pb) {
        try {
            Onnx.TensorProto t = Onnx.TensorProto.parseFrom(Files.readAllBytes(pb));
            if (t.getDataType() == 0) {
                return null;
            }
            return t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Null when {@code actual} matches {@code expected}: the same kind; tensors as {@link #compare(Tensor,
     * Tensor)}, sequences of the same length element by element, optionals both empty or both holding
     * matching values.
     */
    static String compare(Value expected, Value actual) {
        if (expected.kind() != actual.kind()) {
            return "a " + actual.kind() + ", expected a " + expected.kind();
        }
        switch (expected.kind()) {
            case TENSOR:
                return compare(asDeclared(expected.asTensor(), actual.asTensor().dtype()), actual.asTensor());
            case SEQUENCE: {
                List<Tensor> e = expected.asSequence().tensors();
                List<Tensor> a = actual.asSequence().tensors();
                if (e.size() != a.size()) {
                    return "a sequence of " + a.size() + " tensors, expected " + e.size();
                }
                for (int i = 0; i < e.size(); i++) {
                    String why = compare(asDeclared(e.get(i), a.get(i).dtype()), a.get(i));
                    if (why != null) {
                        return "sequence element " + i + ": " + why;
                    }
                }
                return null;
            }
            default: {
                OptionalValue e = expected.asOptional();
                OptionalValue a = actual.asOptional();
                if (e.isPresent() != a.isPresent()) {
                    return a.isPresent() ? "a value, expected an empty optional" : "empty, expected a value";
                }
                return e.isPresent() ? compare(e.get(), a.get()) : null;
            }
        }
    }

    /**
     * Null when {@code actual} matches {@code expected}: same type and shape; floats within {@code 1e-4 +
     * 1e-3 |expected|}, NaN where NaN is expected and the same infinities; everything else exact.
     */
    static String compare(Tensor expected, Tensor actual) {
        if (expected.dtype() != actual.dtype()) {
            return "type " + actual.dtype().typeName() + ", expected "
                    + expected.dtype().typeName();
        }
        if (!Arrays.equals(expected.shape(), actual.shape())) {
            return "shape " + Arrays.toString(actual.shape()) + ", expected " + Arrays.toString(expected.shape());
        }
        if (expected.dtype().isFloatingPoint()) {
            double[] e = expected.toDoubleArray();
            double[] a = actual.toDoubleArray();
            for (int i = 0; i < e.length; i++) {
                boolean ok = Double.isNaN(e[i])
                        ? Double.isNaN(a[i])
                        : Double.isInfinite(e[i])
                                ? e[i] == a[i]
                                : Math.abs(a[i] - e[i]) <= 1e-4 + 1e-3 * Math.abs(e[i]);
                if (!ok) {
                    return String.format(
                            Locale.ROOT,
                            "element %d is %s, expected %s (tolerance 1e-4 + 1e-3|expected|)",
                            i,
                            a[i],
                            e[i]);
                }
            }
            return null;
        }
        if (!expected.equals(actual)) {
            return "values differ: got " + actual + ", expected " + expected;
        }
        return null;
    }

    private static List<Path> dataSets(Path dir) {
        List<Path> sets = new ArrayList<>();
        for (int i = 0; Files.isDirectory(dir.resolve("test_data_set_" + i)); i++) {
            sets.add(dir.resolve("test_data_set_" + i));
        }
        return sets;
    }

    private static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String oneLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        String t = s.replaceAll("\\s+", " ").strip();
        return t.length() > 300 ? t.substring(0, 297) + "..." : t;
    }

    // ---------------------------------------------------------------- the report

    /** The command that regenerates docs/CONFORMANCE.md; the doc names it. */
    static final String COMMAND = "bash scripts/conformance.sh";

    /** docs/CONFORMANCE.md for these results. */
    static String report(List<Result> results) {
        StringBuilder sb = new StringBuilder();
        long pass = count(results, r -> r.runtime() == Outcome.PASS);
        long differs = count(results, r -> r.runtime() == Outcome.ORT_DIFFERS);
        long refused = count(results, r -> r.runtime() == Outcome.REFUSED_BY_ORT && !r.ortJavaCannotFeed());
        long cannotFeed = count(results, Result::ortJavaCannotFeed);
        long excluded = count(results, r -> r.runtime() == Outcome.EXCLUDED);
        long gaps = count(results, r -> r.runtime() == Outcome.FORGE_GAP);
        long failed = count(results, Result::failed);
        long trips = count(results, r -> r.roundTrip() == Outcome.PASS);
        long known = results.stream().mapToLong(Result::shapesKnown).sum();
        long unknown = results.stream().mapToLong(Result::shapesUnknown).sum();
        sb.append("# Conformance with the ONNX backend node tests\n\n")
                .append("<!-- Generated by `")
                .append(COMMAND)
                .append("` (NodeConformance.report); do not edit. -->\n\n")
                .append("Every case of the ONNX backend node test suite, generated from the installed `python3-onnx`\n")
                .append(
                        "(1.12, Debian 12) by `testdata/scripts/make_onnx_node_suite.py`, goes through Forge three ways:\n\n")
                .append("1. **runtime**: `Model.load` and `run` on the case's inputs; every output within")
                .append(" `1e-4 + 1e-3 |expected|`\n")
                .append(
                        "   (integers, bools and strings exact) and bit-identical to what a plain ONNX Runtime session returns;\n")
                .append(
                        "2. **round trip**: the compiler's `OnnxReader` then `OnnxWriter`; the written model's outputs in plain\n")
                .append("   ONNX Runtime are bit-identical to the original's;\n")
                .append(
                        "3. **shapes**: the compiler's shape inference (output shapes and `value_info` removed first) against the\n")
                .append(
                        "   expected outputs' shapes (a sequence or an optional, its type removed: against its declared type\n")
                .append(
                        "   and the one `onnx.shape_inference` infers): no mismatch is allowed, an unknown dimension is\n")
                .append("   counted.\n\n")
                .append("Whenever Forge refuses a case, the same files go through a plain `OrtSession` (ONNX Runtime ")
                .append(onnxRuntimeVersion())
                .append(
                        " from\nJava, no Forge code in between): a refusal is accepted only where ONNX Runtime refuses too, and its\n")
                .append(
                        "message is listed below. `NodeConformanceTest` (module `testdata`, part of every build) runs all of\n")
                .append("this, fails on any other outcome, and fails when this page is not what the run produces.\n")
                .append("Regenerate it with\n\n    ")
                .append(COMMAND)
                .append("\n\n")
                .append("On the 2-core build machine, shared with other jobs (load average 26), the test took 67 s:\n")
                .append(
                        "generating the suite (about 12 s; cached in `testdata/target/onnx-node-suite` while the script\n")
                .append("and the onnx and numpy versions stay the same) and running the 922 cases on both cores.\n\n");
        sb.append("## Summary\n\n")
                .append("| cases | pass | ORT differs from the reference | refused by ORT | ORT Java cannot feed |")
                .append(" excluded (random) | open (Forge refuses, ORT runs) | failures | round trip identical |")
                .append(" output shapes inferred / unknown |\n")
                .append("|---|---|---|---|---|---|---|---|---|---|\n")
                .append(String.format(
                        Locale.ROOT,
                        "| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d / %d |%n%n",
                        results.size(),
                        pass,
                        differs,
                        refused,
                        cannotFeed,
                        excluded,
                        gaps,
                        failed,
                        trips,
                        known,
                        unknown));
        sb.append(
                        "**ORT differs**: Forge returns ONNX Runtime's bits, which are outside the tolerance of the onnx 1.12\n")
                .append(
                        "reference (listed below with what differs). **Refused by ORT**: ONNX Runtime has no kernel for the\n")
                .append(
                        "case or refuses it (its message below). **ORT Java cannot feed**: an input is uint16, uint32, uint64,\n")
                .append(
                        "a sequence or an optional, which ONNX Runtime's Java API cannot build (below). **Round trip**: cases\n")
                .append("ONNX Runtime can run; the rest have nothing to compare with.\n\n")
                .append("Sequence and optional outputs are compared as values (`Model.runValues`): a sequence\n")
                .append("tensor by tensor, an optional by presence and content, against the `SequenceProto` and\n")
                .append("`OptionalProto` files of the suite. The compiler's IR carries sequence and optional types\n")
                .append("too (`IrType`, docs/ARCHITECTURE.md), so those cases get the round trip, and their shape\n")
                .append("check compares the inferred type (the model's type removed first) with the declared one\n")
                .append("and with ONNX's (`onnx.shape_inference` on the same model): same nesting and element type,\n")
                .append("fixed dimensions equal where both are fixed.\n\n");

        sb.append("## Per operator\n\n")
                .append(
                        "Cases are grouped by the onnx generator class that made them (`_expanded` cases, the function\n")
                .append("body of the op, count with their op).\n\n")
                .append("| op | cases | pass | ORT differs | refused by ORT | ORT Java cannot feed | excluded | open |")
                .append(" round trip identical | shapes inferred / unknown |\n")
                .append("|---|---|---|---|---|---|---|---|---|---|\n");
        for (Map.Entry<String, List<Result>> e : byOp(results).entrySet()) {
            List<Result> rs = e.getValue();
            sb.append(String.format(
                    Locale.ROOT,
                    "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d / %d |%n",
                    e.getKey(),
                    rs.size(),
                    count(rs, r -> r.runtime() == Outcome.PASS),
                    count(rs, r -> r.runtime() == Outcome.ORT_DIFFERS),
                    count(rs, r -> r.runtime() == Outcome.REFUSED_BY_ORT && !r.ortJavaCannotFeed()),
                    count(rs, Result::ortJavaCannotFeed),
                    count(rs, r -> r.runtime() == Outcome.EXCLUDED),
                    count(rs, r -> r.runtime() == Outcome.FORGE_GAP),
                    count(rs, r -> r.roundTrip() == Outcome.PASS),
                    rs.stream().mapToLong(Result::shapesKnown).sum(),
                    rs.stream().mapToLong(Result::shapesUnknown).sum()));
        }

        sb.append("\n## Refused by ONNX Runtime\n\n")
                .append(
                        "Forge refuses these, and so does a plain ONNX Runtime session: at `session` creation (no kernel,\n")
                .append(
                        "an unregistered domain) or at `run`. The StringNormalizer cases need the `en_US.UTF-8` locale,\n")
                .append("which this machine (like a minimal Debian image) does not have.\n\n")
                .append("| case | where | ONNX Runtime's message |\n|---|---|---|\n");
        for (Result r : results) {
            if (r.runtime() == Outcome.REFUSED_BY_ORT && !r.ortJavaCannotFeed()) {
                sb.append("| ")
                        .append(r.name())
                        .append(" | ")
                        .append(r.ortStage())
                        .append(" | ")
                        .append(cell(r.ortMessage()))
                        .append(" |\n");
            }
        }

        sb.append("\n## ONNX Runtime's Java API cannot feed these inputs\n\n")
                .append("ONNX Runtime's Java API (")
                .append(onnxRuntimeVersion())
                .append(") has the element types ")
                .append("`OnnxJavaType` ")
                .append(Arrays.toString(ai.onnxruntime.OnnxJavaType.values()))
                .append(
                        ":\nno unsigned type wider than 8 bits. `OnnxTensor.createTensor` makes a tensor of one of these\n")
                .append(
                        "(a `ByteBuffer` plus an `OnnxJavaType`, or a typed buffer or array), so a uint16, uint32 or uint64\n")
                .append(
                        "tensor cannot be made: given the same bits as the signed type of the width, the session refuses it\n")
                .append(
                        "(the message below). Forge therefore refuses a model whose *input* has such a type when it loads,\n")
                .append(
                        "naming the type and why; outputs of those types are read. Sequences and optionals cannot be fed\n")
                .append(
                        "at all: `OrtSession.run` takes `OnnxTensorLike` values (`OnnxTensor`, `OnnxSparseTensor`) only,\n")
                .append("and `OnnxSequence` has no public factory; Forge refuses such an input at load, saying so.\n")
                .append("Sequence and optional *outputs* are returned (`Model.runValues`).\n\n")
                .append("| case | where | evidence (plain ONNX Runtime) |\n|---|---|---|\n");
        for (Result r : results) {
            if (r.ortJavaCannotFeed()) {
                sb.append("| ")
                        .append(r.name())
                        .append(" | ")
                        .append(r.ortStage())
                        .append(" | ")
                        .append(cell(r.ortMessage()))
                        .append(" |\n");
            }
        }

        sb.append("\n## ONNX Runtime's result differs from the reference\n\n")
                .append(
                        "Forge's outputs are bit-identical to plain ONNX Runtime's in these cases (checked); it is ONNX\n")
                .append("Runtime ")
                .append(onnxRuntimeVersion())
                .append(" that disagrees with the onnx 1.12 reference.\n\n")
                .append("| case | what differs |\n|---|---|\n");
        for (Result r : results) {
            if (r.runtime() == Outcome.ORT_DIFFERS) {
                sb.append("| ")
                        .append(r.name())
                        .append(" | ")
                        .append(cell(r.runtimeDetail()))
                        .append(" |\n");
            }
        }

        sb.append("\n## Excluded: random outputs\n\n")
                .append("Excluded by name from the runtime and round-trip checks (their shapes are still checked).\n\n")
                .append("| case | why |\n|---|---|\n");
        for (Map.Entry<String, String> e :
                EXCLUDED.entrySet().stream().sorted(Map.Entry.comparingByKey()).toList()) {
            sb.append("| ")
                    .append(e.getKey())
                    .append(" | ")
                    .append(cell(e.getValue()))
                    .append(" |\n");
        }

        sb.append("\n## Open: Forge refuses, ONNX Runtime runs\n\n");
        if (gaps == 0) {
            sb.append("None: Forge runs every case a plain ONNX Runtime session runs.\n");
        } else {
            sb.append("| case | why Forge cannot yet |\n|---|---|\n");
        }
        for (Result r : results) {
            if (r.runtime() == Outcome.FORGE_GAP) {
                sb.append("| ")
                        .append(r.name())
                        .append(" | ")
                        .append(cell(r.runtimeDetail()))
                        .append(" |\n");
            }
        }
        sb.append("\n## Open in the compiler: the runtime passes, the reader refuses\n\n");
        if (results.stream().noneMatch(r -> r.roundTrip() == Outcome.FORGE_GAP && r.runtime() != Outcome.FORGE_GAP)) {
            sb.append("None: the compiler reads, writes back and types every case the runtime passes (sequence\n")
                    .append("and optional values included).\n");
        } else {
            sb.append("No round trip and no shape check for these (the reason for each).\n\n")
                    .append("| case | why |\n|---|---|\n");
        }
        for (Result r : results) {
            if (r.roundTrip() == Outcome.FORGE_GAP && r.runtime() != Outcome.FORGE_GAP) {
                sb.append("| ")
                        .append(r.name())
                        .append(" | ")
                        .append(cell(r.roundTripDetail()))
                        .append(" |\n");
            }
        }
        if (failed > 0) {
            sb.append("\n## Failures\n\n");
            for (Result r : results) {
                if (r.failed()) {
                    sb.append("- ").append(cell(r.failures())).append('\n');
                }
            }
        }
        return sb.toString();
    }

    private static long count(List<Result> rs, java.util.function.Predicate<Result> p) {
        return rs.stream().filter(p).count();
    }

    /** A message as one table cell: one line, no pipes, absolute source paths shortened. */
    private static String cell(String s) {
        return oneLine(s).replace("|", "\\|").replaceAll("/onnxruntime_src/", "");
    }

    private static String onnxRuntimeVersion() {
        return ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion();
    }

    static Map<String, List<Result>> byOp(List<Result> results) {
        return results.stream().collect(Collectors.groupingBy(Result::op, TreeMap::new, Collectors.toList()));
    }
}
