package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The forge command line run in this JVM through {@link Forge#execute}: what each command prints and writes. */
class ForgeCliTest {
    @TempDir
    static Path dir;

    static Path mnist;

    /** Exit code and what the command printed. */
    record Result(int code, String out, String err) {
        Result ok() {
            assertEquals(0, code, () -> "exit code; stderr: " + err + "\nstdout: " + out);
            return this;
        }
    }

    static Result forge(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Forge.execute(new PrintWriter(out), new PrintWriter(err), args);
        return new Result(code, out.toString(), err.toString());
    }

    @BeforeAll
    static void exportMnist() {
        mnist = dir.resolve("mnist.onnx");
        Result r = forge("export", "mnist-cnn", "--out", mnist.toString()).ok();
        assertTrue(Files.isRegularFile(mnist));
        assertTrue(r.out.contains(mnist.toAbsolutePath().toString()) && r.out.contains("bytes"), r.out);
    }

    // ---- inspect -----------------------------------------------------------------------------------

    @Test
    void inspectSimpleNetCountsTheSeedsParameters() {
        String out = forge("inspect", "simple-net").ok().out;
        assertEquals("6,456,942", field(out, "Trainable parameters"));
        assertLayerParams(out, "conv1", "Conv", "60");
        assertLayerParams(out, "conv2", "Conv", "880");
        assertLayerParams(out, "fc1", "Gemm", "6,423,040");
        assertLayerParams(out, "fc2", "Gemm", "32,832");
        assertLayerParams(out, "fc3", "Gemm", "130");
        // the seed's print(net) lines
        assertTrue(out.startsWith("SimpleNet(\n"), out);
        assertTrue(out.contains("\n  (conv1): Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))\n"), out);
        assertTrue(out.contains("\n  (conv2): Conv2d(6, 16, kernel_size=(3, 3), stride=(1, 1))\n"), out);
        assertTrue(out.contains("\n  (fc1): Linear(in_features=12544, out_features=512, bias=True)\n"), out);
        assertTrue(out.contains("\n  (fc3): Linear(in_features=64, out_features=2, bias=True)\n"), out);
    }

    @Test
    void inspectMnistCnnPrintsPyTorchStyleModules() {
        String out = forge("inspect", "mnist-cnn").ok().out;
        assertTrue(out.startsWith("MnistCnn(\n"), out);
        assertTrue(
                out.contains("\n  (conv1): Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))\n"), out);
        assertTrue(
                out.contains(
                        "\n  (bn1): BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"),
                out);
        assertTrue(
                out.contains(
                        "\n  (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"),
                out);
        assertTrue(out.contains("\n  (fc): Linear(in_features=6272, out_features=10, bias=True)\n"), out);
        assertTrue(out.contains("ReLU()"), out);
        assertEquals("63,626", field(out, "Trainable parameters"));
        assertLayerParams(out, "conv1", "Conv", "832");
        assertLayerParams(out, "bn1", "BatchNormalization", "64");
        assertLayerParams(out, "fc", "Gemm", "62,730");
        // running mean and variance are parameters too, just not trainable ones
        assertTrue(field(out, "Total parameters").startsWith("63,690"), out);
        assertTrue(out.contains("[N,32,14,14]"), "symbolic batch shown as N: " + out);
        assertTrue(field(out, "Inputs").equals("input: float32[N,1,28,28]"), out);
        assertTrue(field(out, "Outputs").equals("logits: float32[N,10]"), out);
        assertEquals("ai.onnx 17", field(out, "Opsets"));
        assertEquals("8", field(out, "IR version"));
        assertEquals("forge", field(out, "Producer"));
        assertTrue(field(out, "Model size").matches("[0-9,]+ bytes as ONNX .*"), out);
    }

    @Test
    void inspectEveryBuiltInNetwork() {
        Map<String, String> expected = Map.of(
                "simple-net",
                "6,456,942",
                "mnist-cnn",
                "63,626",
                "cifar10-net",
                "6,457,570",
                "lenet5",
                "61,706",
                // stem 176, blocks 3,440 + 5,904 + 6,688 + 9,920 + 14,080 + 36,224, head 8,448, classifier 1,290
                "mobilenet-mini",
                "86,170");
        assertEquals(expected.keySet(), ModelZoo.names());
        for (String name : ModelZoo.names()) {
            String out = forge("inspect", name).ok().out;
            assertEquals(expected.get(name), field(out, "Trainable parameters"), name);
        }
    }

    @Test
    void inspectOfAnExportedFileMatchesTheBuiltIn() throws Exception {
        for (String name : List.of("mnist-cnn", "lenet5", "simple-net")) {
            Path file = dir.resolve("inspect-" + name + ".onnx");
            forge("export", name, "--out", file.toString()).ok();
            String builtIn = forge("inspect", name).ok().out;
            String exported = forge("inspect", file.toString()).ok().out;
            for (String f : List.of("Trainable parameters", "Total parameters", "Inputs", "Outputs", "Opsets")) {
                assertEquals(field(builtIn, f), field(exported, f), name + ": " + f);
            }
            // the module listing and the layer table are the same too
            String until = "\nTrainable parameters:";
            assertEquals(
                    builtIn.substring(0, builtIn.indexOf(until)), exported.substring(0, exported.indexOf(until)), name);
            assertEquals(
                    Files.size(file) + "",
                    field(exported, "Model size").replaceAll(" bytes.*", "").replace(",", ""));
        }
    }

    @Test
    void inspectOfAPyTorchExportCountsWeightsAndBiases() {
        Path torch = Path.of("../testdata/golden/mnist-cnn/opset17/model_bn.onnx");
        if (!Files.exists(torch)) {
            fail("missing golden file " + torch.toAbsolutePath() + " (the testdata module commits it)");
        }
        String out = forge("inspect", torch.toString()).ok().out;
        assertEquals("63,626", field(out, "Trainable parameters"));
        assertTrue(out.contains("(conv1): Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))"), out);
        assertTrue(
                out.contains("(bn1): BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"),
                out);
        assertTrue(field(out, "Producer").startsWith("pytorch"), out);
    }

    // ---- run ---------------------------------------------------------------------------------------

    @Test
    void runReadsAndWritesFloat16AndBfloat16() throws Exception {
        // h = Identity(x), b = Cast(x, bfloat16), x: float16[N,4]
        Graph g = new Graph("halves");
        g.addInput(new dev.forge.compiler.ir.ValueInfo(
                "x", new dev.forge.compiler.ir.ValueType(DType.FLOAT16, Shape.of("N", 4))));
        g.addNode(
                new dev.forge.compiler.ir.Node("Identity", "id", List.of("x"), List.of("h"), Map.of()),
                List.of(new dev.forge.compiler.ir.ValueType(DType.FLOAT16, Shape.of("N", 4))));
        g.addNode(
                new dev.forge.compiler.ir.Node(
                        "Cast",
                        "tobf",
                        List.of("x"),
                        List.of("b"),
                        Map.of("to", new dev.forge.compiler.ir.Attribute.Int(16))),
                List.of(new dev.forge.compiler.ir.ValueType(DType.BFLOAT16, Shape.of("N", 4))));
        g.addOutput(new dev.forge.compiler.ir.ValueInfo("h", g.type("h")));
        g.addOutput(new dev.forge.compiler.ir.ValueInfo("b", g.type("b")));
        Path model = dir.resolve("halves.onnx");
        OnnxWriter.write(g, model);

        float[] x = {1f / 3, -65504f, 1e-7f, 70000f};
        Path f4 = dir.resolve("x-f4.npy");
        Npy.write(f4, Tensor.of(x, 1, 4));
        Path out = dir.resolve("halves-out");
        Result r = forge("run", model.toString(), "-i", f4.toString(), "-o", out.toString())
                .ok();
        assertTrue(r.out.contains("h: float16[1,4]"), r.out);
        assertTrue(r.out.contains("b: bfloat16[1,4]") && r.out.contains("as float32"), r.out);
        // a <f4 file is rounded to float16 on the way in (1e-7 to the subnormal 2^-23, 70000 to infinity)
        Tensor h = Npy.read(out.resolve("h.npy"));
        assertEquals(DType.FLOAT16, h.dtype());
        assertArrayEquals(new short[] {0x3555, (short) 0xfbff, 0x0002, 0x7c00}, h.toShortArray());
        // bfloat16 comes back as exact float32
        Tensor b = Npy.read(out.resolve("b.npy"));
        assertEquals(DType.FLOAT32, b.dtype());
        assertArrayEquals(
                new float[] {0.333984375f, -65536f, 1.1920929e-7f, Float.POSITIVE_INFINITY}, b.toFloatArray());

        // a <f2 file goes in as it is
        Path f2 = dir.resolve("x-f2.npy");
        Npy.write(f2, h);
        Path out2 = dir.resolve("halves-out2");
        forge("run", model.toString(), "-i", "x=" + f2, "-o", out2.toString()).ok();
        assertEquals(h, Npy.read(out2.resolve("h.npy")));
    }

    @Test
    void runReadsAndWritesStringsAndUnsignedIntegers() throws Exception {
        // t = Identity(s), s: string[N]; u16/u32/u64 = Cast(x) with x: int64[N]
        Graph g = new Graph("types");
        g.addInput(new dev.forge.compiler.ir.ValueInfo(
                "s", new dev.forge.compiler.ir.ValueType(DType.STRING, Shape.of("N"))));
        g.addInput(new dev.forge.compiler.ir.ValueInfo(
                "x", new dev.forge.compiler.ir.ValueType(DType.INT64, Shape.of("N"))));
        g.addNode(
                new dev.forge.compiler.ir.Node("Identity", "id", List.of("s"), List.of("t"), Map.of()),
                List.of(new dev.forge.compiler.ir.ValueType(DType.STRING, Shape.of("N"))));
        for (DType u : List.of(DType.UINT16, DType.UINT32, DType.UINT64)) {
            g.addNode(
                    new dev.forge.compiler.ir.Node(
                            "Cast",
                            "to_" + u.typeName(),
                            List.of("x"),
                            List.of(u.typeName()),
                            Map.of("to", new dev.forge.compiler.ir.Attribute.Int(u.onnxElementType()))),
                    List.of(new dev.forge.compiler.ir.ValueType(u, Shape.of("N"))));
        }
        for (String o : List.of("t", "uint16", "uint32", "uint64")) {
            g.addOutput(new dev.forge.compiler.ir.ValueInfo(o, g.type(o)));
        }
        Path model = dir.resolve("types.onnx");
        OnnxWriter.write(g, model);
        Path s = dir.resolve("s.npy");
        Npy.write(s, Tensor.ofStrings(new String[] {"h\u00e9llo", ""}, 2));
        Path x = dir.resolve("x-i8.npy");
        Npy.write(x, Tensor.of(new long[] {-1, 7}, 2));
        Path out = dir.resolve("types-out");
        Result r = forge("run", model.toString(), "-i", "s=" + s, "-i", "x=" + x, "-o", out.toString())
                .ok();
        assertTrue(r.out.contains("t: string[2]") && r.out.contains("uint32: uint32[2]"), r.out);
        assertArrayEquals(
                new String[] {"h\u00e9llo", ""}, Npy.read(out.resolve("t.npy")).toStringArray());
        assertEquals(Tensor.ofUint16(new short[] {-1, 7}, 2), Npy.read(out.resolve("uint16.npy")));
        assertEquals(Tensor.ofUint32(new int[] {-1, 7}, 2), Npy.read(out.resolve("uint32.npy")));
        assertEquals(Tensor.ofUint64(new long[] {-1, 7}, 2), Npy.read(out.resolve("uint64.npy")));

        // a uint32 input cannot be fed from Java: the command says so, naming the type
        Graph u = new Graph("u32in");
        u.addInput(new dev.forge.compiler.ir.ValueInfo(
                "x", new dev.forge.compiler.ir.ValueType(DType.UINT32, Shape.of("N"))));
        u.addNode(
                new dev.forge.compiler.ir.Node("Identity", "id", List.of("x"), List.of("y"), Map.of()),
                List.of(new dev.forge.compiler.ir.ValueType(DType.UINT32, Shape.of("N"))));
        u.addOutput(new dev.forge.compiler.ir.ValueInfo("y", u.type("y")));
        Path u32 = dir.resolve("u32in.onnx");
        OnnxWriter.write(u, u32);
        Path xu = dir.resolve("x-u4.npy");
        Npy.write(xu, Tensor.ofUint32(new int[] {1}, 1));
        Result bad = forge(
                "run",
                u32.toString(),
                "-i",
                xu.toString(),
                "-o",
                dir.resolve("u-out").toString());
        assertTrue(bad.code != 0, bad.out);
        assertTrue(bad.err.contains("uint32") && bad.err.contains("Java API"), bad.err);
    }

    /** A ValueInfoProto of the given type. */
    private static Onnx.ValueInfoProto typed(String name, Onnx.TypeProto type) {
        return Onnx.ValueInfoProto.newBuilder().setName(name).setType(type).build();
    }

    private static Onnx.TypeProto floatTensor(long... dims) {
        Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
        for (long d : dims) {
            shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))
                .build();
    }

    @Test
    void runWritesSequencesAsNumberedFilesAndOptionalsAsWhatTheyHold() throws Exception {
        // parts = SequenceConstruct(a, b); some = Optional(a); none = Optional(type float[3]); a: float[3], b: float[2]
        Onnx.TypeProto seq = Onnx.TypeProto.newBuilder()
                .setSequenceType(Onnx.TypeProto.Sequence.newBuilder().setElemType(floatTensor()))
                .build();
        Onnx.TypeProto opt = Onnx.TypeProto.newBuilder()
                .setOptionalType(Onnx.TypeProto.Optional.newBuilder().setElemType(floatTensor(3)))
                .build();
        Onnx.GraphProto graph = Onnx.GraphProto.newBuilder()
                .setName("seqopt")
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("SequenceConstruct")
                        .addInput("a")
                        .addInput("b")
                        .addOutput("parts"))
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Optional")
                        .addInput("a")
                        .addOutput("some"))
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Optional")
                        .addOutput("none")
                        .addAttribute(Onnx.AttributeProto.newBuilder()
                                .setName("type")
                                .setType(Onnx.AttributeProto.AttributeType.TYPE_PROTO)
                                .setTp(floatTensor(3))))
                .addInput(typed("a", floatTensor(3)))
                .addInput(typed("b", floatTensor(2)))
                .addOutput(typed("parts", seq))
                .addOutput(typed("some", opt))
                .addOutput(typed("none", opt))
                .build();
        Onnx.ModelProto proto = Onnx.ModelProto.newBuilder()
                .setIrVersion(8)
                .setGraph(graph)
                .addOpsetImport(
                        Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .build();
        Path model = dir.resolve("seqopt.onnx");
        Files.write(model, proto.toByteArray());
        Path a = dir.resolve("seq-a.npy");
        Npy.write(a, Tensor.of(new float[] {1, 2, 3}, 3));
        Path b = dir.resolve("seq-b.npy");
        Npy.write(b, Tensor.of(new float[] {4, 5}, 2));
        Path out = dir.resolve("seqopt-out");
        // leftovers of an earlier run: a longer sequence and a value the empty optional no longer has
        Files.createDirectories(out.resolve("parts"));
        Npy.write(out.resolve("parts").resolve("7.npy"), Tensor.of(new float[] {9}, 1));
        Npy.write(out.resolve("none.npy"), Tensor.of(new float[] {9}, 1));

        Result r = forge("run", model.toString(), "-i", "a=" + a, "-i", "b=" + b, "-o", out.toString())
                .ok();
        assertTrue(r.out.contains("parts: sequence(float32) of 2 tensors [3], [2] -> "), r.out);
        assertTrue(r.out.contains("some: optional, present: float32[3] -> "), r.out);
        assertTrue(r.out.contains("none: optional, empty -> no file (removed the earlier "), r.out);
        assertEquals(
                Tensor.of(new float[] {1, 2, 3}, 3),
                Npy.read(out.resolve("parts").resolve("0.npy")));
        assertEquals(
                Tensor.of(new float[] {4, 5}, 2), Npy.read(out.resolve("parts").resolve("1.npy")));
        assertFalse(Files.exists(out.resolve("parts").resolve("7.npy")));
        assertEquals(Tensor.of(new float[] {1, 2, 3}, 3), Npy.read(out.resolve("some.npy")));
        assertFalse(Files.exists(out.resolve("none.npy")));

        // inspect reads models through the compiler, whose IR carries sequence and optional types
        Result inspect = forge("inspect", model.toString()).ok();
        assertTrue(
                inspect.out.contains(
                        "parts: sequence(float32[]), some: optional(float32[3]), none:" + " optional(float32[3])"),
                inspect.out);
    }

    @Test
    void runWritesLogitsEqualToModelRun() throws Exception {
        Tensor x = randomInput(3, 1);
        Path in = dir.resolve("x.npy");
        Npy.write(in, x);
        Path outDir = dir.resolve("run-out");
        Result r = forge("run", mnist.toString(), "--input", "input=" + in, "--output-dir", outDir.toString())
                .ok();
        assertTrue(r.out.contains("logits: float32[3,10]"), r.out);
        assertEquals("", r.err);
        Tensor got = Npy.read(outDir.resolve("logits.npy"));
        assertArrayEquals(new long[] {3, 10}, got.shape());
        Tensor want;
        try (Model m = Model.load(mnist)) {
            want = m.run(Map.of("input", x)).get("logits");
        }
        assertClose(want.toFloatArray(), got.toFloatArray(), 1e-5);

        // NAME= may be left out for a one-input model
        Path outDir2 = dir.resolve("run-out2");
        forge("run", mnist.toString(), "-i", in.toString(), "-o", outDir2.toString())
                .ok();
        assertClose(want.toFloatArray(), Npy.read(outDir2.resolve("logits.npy")).toFloatArray(), 1e-5);
    }

    @Test
    void runTopKPrintsTheMostLikelyClassesPerRow() throws Exception {
        Tensor x = randomInput(2, 2);
        Path in = dir.resolve("top.npy");
        Npy.write(in, x);
        Result r = forge(
                        "run",
                        mnist.toString(),
                        "-i",
                        in.toString(),
                        "-o",
                        dir.resolve("top-out").toString(),
                        "--top",
                        "3")
                .ok();
        float[] logits = Npy.read(dir.resolve("top-out/logits.npy")).toFloatArray();
        List<String> rows = new ArrayList<>();
        for (String line : r.out.split("\n")) {
            if (line.startsWith("  [")) {
                rows.add(line);
            }
        }
        assertTrue(r.out.contains("top 3 of logits:"), r.out);
        assertEquals(2, rows.size(), r.out);
        Pattern entry = Pattern.compile("(\\d+): (0\\.\\d{4}|1\\.0000)");
        for (int row = 0; row < 2; row++) {
            Matcher m = entry.matcher(rows.get(row).substring(rows.get(row).indexOf(']') + 1));
            List<Integer> classes = new ArrayList<>();
            List<Double> probs = new ArrayList<>();
            while (m.find()) {
                classes.add(Integer.parseInt(m.group(1)));
                probs.add(Double.parseDouble(m.group(2)));
            }
            assertEquals(3, classes.size(), rows.get(row));
            assertEquals(argmax(logits, row * 10, 10), classes.get(0), rows.get(row));
            assertTrue(probs.get(0) >= probs.get(1) && probs.get(1) >= probs.get(2), rows.get(row));
        }
    }

    @Test
    void runUsesClassLabelsAndSanitizesOutputNames() throws Exception {
        GraphBuilder b = new GraphBuilder("two_outputs").seed(1);
        Value x = b.input("x", Shape.of("N", 4));
        Value logits = b.linear("fc", x, 3);
        Value probs = b.softmax(logits, 1);
        b.output(logits, "scores/fc:0");
        b.output(probs, "probs");
        Graph g = b.build();
        g.metadata().put("class_labels", "cat,dog,bird");
        Path model = dir.resolve("labels.onnx");
        OnnxWriter.write(g, model);
        Path in = dir.resolve("x4.npy");
        Npy.write(in, Tensor.of(new float[] {1, 2, 3, 4, -1, 0, 1, 2}, 2, 4));
        Path out = dir.resolve("labels-out");
        Result r = forge("run", model.toString(), "-i", "x=" + in, "-o", out.toString(), "--top", "2")
                .ok();
        assertTrue(Files.isRegularFile(out.resolve("scores_fc_0.npy")), r.out);
        assertTrue(Files.isRegularFile(out.resolve("probs.npy")), r.out);
        assertTrue(r.out.contains("scores/fc:0: float32[2,3]"), r.out);
        assertTrue(
                r.out.matches("(?s).*\\[0]  (cat|dog|bird) \\(\\d\\): \\d\\.\\d{4}  (cat|dog|bird) \\(\\d\\).*"),
                r.out);
        assertEquals("scores_fc_0", RunCommand.sanitize("scores/fc:0"));
        assertEquals("_..", RunCommand.sanitize(".."));
        assertEquals("_", RunCommand.sanitize(""));
    }

    @Test
    void runAcceptsABuiltInName() throws Exception {
        Path in = dir.resolve("b.npy");
        Npy.write(in, randomInput(1, 3));
        Result r = forge(
                        "run",
                        "lenet5",
                        "-i",
                        in.toString(),
                        "-o",
                        dir.resolve("lenet-out").toString())
                .ok();
        assertTrue(r.out.contains("logits: float32[1,10]"), r.out);
    }

    // ---- bench -------------------------------------------------------------------------------------

    @Test
    void benchPrintsPercentilesAndThroughputPerBatchSize() {
        Result r = forge("bench", mnist.toString(), "--batch", "1,4", "--iterations", "5", "--warmup", "1")
                .ok();
        String[] lines = r.out.split("\n");
        int header = -1;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains("p50 ms")) {
                header = i;
            }
        }
        assertTrue(header >= 0, r.out);
        assertTrue(
                lines[header].matches("\\s*batch\\s+runs\\s+p50 ms\\s+p90 ms\\s+p99 ms\\s+mean ms\\s+items/s"),
                lines[header]);
        Pattern row = Pattern.compile(
                "\\s*(\\d+)\\s+5\\s+(\\d+\\.\\d{3})\\s+(\\d+\\.\\d{3})\\s+(\\d+\\.\\d{3})\\s+(\\d+\\.\\d{3})\\s+([\\d,]+\\.\\d)");
        for (int i = 0; i < 2; i++) {
            Matcher m = row.matcher(lines[header + 1 + i]);
            assertTrue(m.matches(), lines[header + 1 + i]);
            assertEquals(i == 0 ? 1 : 4, Integer.parseInt(m.group(1)));
            double p50 = Double.parseDouble(m.group(2));
            double p90 = Double.parseDouble(m.group(3));
            double p99 = Double.parseDouble(m.group(4));
            assertTrue(p50 > 0 && p50 <= p90 && p90 <= p99, lines[header + 1 + i]);
            assertTrue(Double.parseDouble(m.group(6).replace(",", "")) > 0);
        }
        // columns line up: every row as long as the header
        assertEquals(lines[header].length(), lines[header + 1].length(), r.out);
        assertEquals(lines[header].length(), lines[header + 2].length(), r.out);
    }

    @Test
    void benchNeedsShapeForOtherDynamicDimensions() {
        GraphBuilder b = new GraphBuilder("dyn");
        Value x = b.input("x", Shape.of("N", 3, "H", "W"));
        Graph g = b.output(b.relu(x), "y").build();
        Path model = dir.resolve("dyn.onnx");
        OnnxWriter.write(g, model);
        Result bad = forge("bench", model.toString(), "--iterations", "2");
        assertEquals(1, bad.code, bad.err);
        assertTrue(bad.err.startsWith("forge: error: ") && bad.err.contains("--shape x=1,3,D2,D3"), bad.err);
        Result r = forge("bench", model.toString(), "--shape", "x=1,3,8,8", "--batch", "2", "--iterations", "2")
                .ok();
        assertTrue(r.out.contains("p99 ms"), r.out);
        Result seconds = forge("bench", model.toString(), "--shape", "1,3,4,4", "--seconds", "0.05", "--warmup", "0")
                .ok();
        assertTrue(seconds.out.contains("0.05 s per batch size"), seconds.out);
    }

    @Test
    void benchHelpers() {
        assertEquals(List.of(1, 8, 64), BenchCommand.parseBatches("1, 8,64"));
        for (String bad : List.of("", "0", "-1", "1,,2", "x", "1,1", "99999999999")) {
            assertThrows(IllegalArgumentException.class, () -> BenchCommand.parseBatches(bad), bad);
        }
        long[] sorted = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        assertEquals(5, BenchCommand.percentile(sorted, 50));
        assertEquals(9, BenchCommand.percentile(sorted, 90));
        assertEquals(10, BenchCommand.percentile(sorted, 99));
        assertEquals(7, BenchCommand.percentile(new long[] {7}, 99));
    }

    // ---- the command line itself -------------------------------------------------------------------

    @Test
    void noArgumentsPrintsUsageAndVersionWorks() {
        Result r = forge().ok();
        assertTrue(r.out.startsWith("Usage: forge"), r.out);
        for (String cmd : List.of("inspect", "export", "run", "bench")) {
            assertTrue(r.out.contains("  " + cmd + " "), r.out);
        }
        assertTrue(forge("--version").ok().out.startsWith("forge "));
        assertTrue(forge("run", "--help").ok().out.contains("--output-dir"));
    }

    @Test
    void usageErrorsExitTwo() {
        Result r = forge("run", mnist.toString());
        assertEquals(2, r.code, r.err);
        assertTrue(r.err.startsWith("forge: error: Missing required option"), r.err);
        assertEquals(2, forge("frobnicate").code);
        assertEquals(2, forge("bench", mnist.toString(), "--iterations", "2", "--seconds", "1").code);
    }

    @Test
    void pythonReprOfNumbers() {
        assertEquals("1e-05", TorchRepr.pyFloat(1e-5f));
        assertEquals("0.1", TorchRepr.pyFloat(BigDecimal.ONE.subtract(TorchRepr.shortest(0.9f))));
        assertEquals("0.01", TorchRepr.pyFloat(0.01f));
        assertEquals("1.0", TorchRepr.pyFloat(1f));
        assertEquals("0.0001", TorchRepr.pyFloat(1e-4f));
        assertEquals("1e+16", TorchRepr.pyFloat(1e16f));
        assertEquals("-2.5", TorchRepr.pyFloat(-2.5f));
        assertEquals("(3,)", TorchRepr.pyTuple(new long[] {3}));
        assertEquals("(5, 5)", TorchRepr.pyTuple(new long[] {5, 5}));
        assertEquals("2", TorchRepr.pyIntOrTuple(new long[] {2, 2}));
        assertEquals("MnistCnn", TorchRepr.className("mnist_cnn"));
        assertEquals("conv1", TorchRepr.moduleName("/conv1/Conv"));
        assertEquals("features.0", TorchRepr.moduleName("/features/features.0/Conv"));
    }

    // ---- helpers -----------------------------------------------------------------------------------

    /** The value after {@code "<name>:"} at the start of a line. */
    static String field(String out, String name) {
        Matcher m =
                Pattern.compile("(?m)^" + Pattern.quote(name) + ":\\s+(.*)$").matcher(out);
        if (!m.find()) {
            fail("no line '" + name + ":' in\n" + out);
        }
        return m.group(1).trim();
    }

    static void assertLayerParams(String out, String layer, String op, String params) {
        Pattern p = Pattern.compile("(?m)^" + Pattern.quote(layer) + "\\s+" + Pattern.quote(op) + "\\s+\\S+\\s+"
                + Pattern.quote(params) + "$");
        assertTrue(p.matcher(out).find(), "row " + layer + " " + op + " ... " + params + " in\n" + out);
    }

    static Tensor randomInput(int batch, long seed) {
        Random r = new Random(seed);
        float[] v = new float[batch * 28 * 28];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextFloat();
        }
        return Tensor.of(v, batch, 1, 28, 28);
    }

    static void assertClose(float[] want, float[] got, double rel) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            double tol = rel * Math.max(1e-6, Math.abs(want[i]));
            assertTrue(Math.abs(want[i] - got[i]) <= tol, "element " + i + ": want " + want[i] + ", got " + got[i]);
        }
    }

    static int argmax(float[] v, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[from + i] > v[from + best]) {
                best = i;
            }
        }
        return best;
    }
}
