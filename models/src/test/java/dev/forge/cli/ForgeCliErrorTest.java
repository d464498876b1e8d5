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
import dev.forge.compiler.onnx.proto.Onnx;
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
        hostileModels();
        hostileData();
    }

    // ------------------------------------------------------------------ hostile models

    private static Onnx.TensorProto int64s(String name, long... v) {
        Onnx.TensorProto.Builder t =
                Onnx.TensorProto.newBuilder().setName(name).setDataType(7).addDims(v.length);
        for (long x : v) {
            t.addInt64Data(x);
        }
        return t.build();
    }

    private static Onnx.ValueInfoProto floats(String name, Object... dims) {
        Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
        for (Object d : dims) {
            shape.addDim(
                    d instanceof String sym
                            ? Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam(sym)
                            : Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(((Number) d).longValue()));
        }
        return Onnx.ValueInfoProto.newBuilder()
                .setName(name)
                .setType(Onnx.TypeProto.newBuilder()
                        .setTensorType(Onnx.TypeProto.Tensor.newBuilder()
                                .setElemType(1)
                                .setShape(shape)))
                .build();
    }

    private static byte[] model(long ir, long opset, Onnx.GraphProto.Builder g) {
        return Onnx.ModelProto.newBuilder()
                .setIrVersion(ir)
                .setProducerName("hostile")
                .setGraph(g)
                .addOpsetImport(
                        Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                .build()
                .toByteArray();
    }

    /** Models built to hurt: a memory bomb, an external-data escape, unsupported versions, a cycle. */
    private static void hostileModels() throws Exception {
        // 300 bytes that ask ONNX Runtime for 40 GB while it constant-folds at load time
        Onnx.GraphProto.Builder bomb = Onnx.GraphProto.newBuilder()
                .setName("bomb")
                .addInitializer(int64s("shape", 100_000, 100_000))
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("ConstantOfShape")
                        .setName("fill")
                        .addInput("shape")
                        .addOutput("c"))
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Add")
                        .setName("add")
                        .addInput("input")
                        .addInput("c")
                        .addOutput("y"))
                .addInput(floats("input", "N", 1, 28, 28))
                .addOutput(floats("y", "N", 1, 28, 28));
        Files.write(work.resolve("bomb.onnx"), model(8, 17, bomb));
        // an initializer whose data is "../secret" next to the model's directory
        Path escape = Files.createDirectories(work.resolve("escape"));
        Files.write(work.resolve("secret"), new byte[16]);
        Onnx.TensorProto w = Onnx.TensorProto.newBuilder()
                .setName("W")
                .setDataType(1)
                .addDims(4)
                .setDataLocation(Onnx.TensorProto.DataLocation.EXTERNAL)
                .addExternalData(Onnx.StringStringEntryProto.newBuilder()
                        .setKey("location")
                        .setValue("../secret"))
                .build();
        Onnx.GraphProto.Builder leak = Onnx.GraphProto.newBuilder()
                .setName("leak")
                .addInitializer(w)
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Add")
                        .setName("add")
                        .addInput("x")
                        .addInput("W")
                        .addOutput("y"))
                .addInput(floats("x", 1, 4))
                .addOutput(floats("y", 1, 4));
        Files.write(escape.resolve("model.onnx"), model(8, 17, leak));
        Onnx.GraphProto.Builder relu = Onnx.GraphProto.newBuilder()
                .setName("relu")
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Relu")
                        .setName("relu")
                        .addInput("input")
                        .addOutput("y"))
                .addInput(floats("input", "N", 1, 28, 28))
                .addOutput(floats("y", "N", 1, 28, 28));
        Files.write(work.resolve("ir99.onnx"), model(99, 17, relu));
        Files.write(work.resolve("opset99.onnx"), model(8, 99, relu));
        Onnx.GraphProto.Builder cycle = Onnx.GraphProto.newBuilder()
                .setName("cycle")
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Add")
                        .setName("a")
                        .addInput("input")
                        .addInput("b_out")
                        .addOutput("a_out"))
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Relu")
                        .setName("b")
                        .addInput("a_out")
                        .addOutput("b_out"))
                .addInput(floats("input", "N", 1, 28, 28))
                .addOutput(floats("a_out", "N", 1, 28, 28));
        Files.write(work.resolve("cycle.onnx"), model(8, 17, cycle));
        // declares a [1000, 1000] float initializer and holds 12 bytes
        Onnx.GraphProto.Builder liar = Onnx.GraphProto.newBuilder()
                .setName("liar")
                .addInitializer(Onnx.TensorProto.newBuilder()
                        .setName("W")
                        .setDataType(1)
                        .addDims(1000)
                        .addDims(1000)
                        .setRawData(com.google.protobuf.ByteString.copyFrom(new byte[12])))
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Add")
                        .setName("add")
                        .addInput("input")
                        .addInput("W")
                        .addOutput("y"))
                .addInput(floats("input", 1000, 1000))
                .addOutput(floats("y", 1000, 1000));
        Files.write(work.resolve("liar.onnx"), model(8, 17, liar));
    }

    // ------------------------------------------------------------------ hostile data

    private static byte[] idx(int magic, int[] dims, int dataBytes) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 4 * dims.length + dataBytes);
        b.putInt(magic);
        for (int d : dims) {
            b.putInt(d);
        }
        return b.array();
    }

    /** Four small, valid Fashion-MNIST-format IDX files (10 train, 5 test images) in {@code dir}. */
    private static Path idxDir(String name) throws Exception {
        Path d = Files.createDirectories(work.resolve(name));
        Files.write(d.resolve("train-images-idx3-ubyte"), idx(0x803, new int[] {10, 28, 28}, 10 * 784));
        Files.write(d.resolve("train-labels-idx1-ubyte"), idx(0x801, new int[] {10}, 10));
        Files.write(d.resolve("t10k-images-idx3-ubyte"), idx(0x803, new int[] {5, 28, 28}, 5 * 784));
        Files.write(d.resolve("t10k-labels-idx1-ubyte"), idx(0x801, new int[] {5}, 5));
        return d;
    }

    private static byte[] npyHeader(String dict, int dataBytes) {
        StringBuilder h = new StringBuilder(dict);
        while ((10 + h.length() + 1) % 64 != 0) {
            h.append(' ');
        }
        h.append('\n');
        byte[] header = h.toString().getBytes(StandardCharsets.US_ASCII);
        java.nio.ByteBuffer b =
                java.nio.ByteBuffer.allocate(10 + header.length + dataBytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93)
                .put("NUMPY".getBytes(StandardCharsets.US_ASCII))
                .put((byte) 1)
                .put((byte) 0);
        b.putShort((short) header.length).put(header);
        return b.array();
    }

    private static void png(Path file, int size) throws Exception {
        java.awt.image.BufferedImage img =
                new java.awt.image.BufferedImage(size, size, java.awt.image.BufferedImage.TYPE_BYTE_GRAY);
        Files.createDirectories(file.getParent());
        javax.imageio.ImageIO.write(img, "png", file.toFile());
    }

    /** NaN inputs, malformed .npy headers, broken IDX, CIFAR-10 and image-folder data. */
    private static void hostileData() throws Exception {
        float[] pixels = new float[2 * 28 * 28];
        pixels[5] = Float.NaN;
        pixels[900] = Float.POSITIVE_INFINITY;
        Npy.write(work.resolve("nan.npy"), Tensor.of(pixels, 2, 1, 28, 28));
        int data = 2 * 28 * 28 * 4;
        Files.write(
                work.resolve("fortran.npy"),
                npyHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1, 28, 28), }", data));
        Files.write(
                work.resolve("big-endian.npy"),
                npyHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 1, 28, 28), }", data));
        Files.write(
                work.resolve("broken-dict.npy"),
                npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 28, 28, }", data));
        Files.write(
                work.resolve("lying-shape.npy"),
                npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 1, 28, 28), }", data));
        long[] labels = new long[2];
        Npy.write(work.resolve("labels.npy"), Tensor.of(labels, 2));
        Npy.write(work.resolve("labels-bad.npy"), Tensor.of(new long[] {0, 12}, 2));

        // IDX: images and labels swapped, a file cut short, bytes beyond what the header announces
        Path swapped = idxDir("idx-magic");
        Files.write(swapped.resolve("train-images-idx3-ubyte"), idx(0x801, new int[] {10}, 10));
        Path cut = idxDir("idx-short");
        Files.write(cut.resolve("train-images-idx3-ubyte"), idx(0x803, new int[] {10, 28, 28}, 7 * 784));
        Path longer = idxDir("idx-long");
        Files.write(longer.resolve("train-images-idx3-ubyte"), idx(0x803, new int[] {10, 28, 28}, 10 * 784 + 7));
        Path notIdx = idxDir("idx-text");
        Files.writeString(notIdx.resolve("train-labels-idx1-ubyte"), "label,image\n1,a.png\n");

        // CIFAR-10: a batch of the wrong size, and a label above 9
        Path cifar = Files.createDirectories(work.resolve("cifar-size"));
        for (String f : List.of(
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
                "test_batch.bin")) {
            Files.write(cifar.resolve(f), new byte[3073 * 2]);
        }
        Files.write(cifar.resolve("data_batch_3.bin"), new byte[3073 * 2 + 100]);
        Path cifarLabel = Files.createDirectories(work.resolve("cifar-label"));
        for (String f : List.of(
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
                "test_batch.bin")) {
            Files.write(cifarLabel.resolve(f), new byte[3073 * 2]);
        }
        byte[] bad = new byte[3073 * 2];
        bad[3073] = 42;
        Files.write(cifarLabel.resolve("data_batch_2.bin"), bad);

        // an image folder with one undecodable "PNG"
        Path folder = work.resolve("images");
        for (String split : List.of("train", "test")) {
            png(folder.resolve(split + "/cat/a.png"), 28);
            png(folder.resolve(split + "/dog/b.png"), 28);
        }
        Files.write(
                folder.resolve("train/dog/broken.png"),
                Arrays.copyOf(Files.readAllBytes(folder.resolve("train/dog/b.png")), 40));
        Files.writeString(work.resolve("not-an-image.png"), "GIF89a? no, just text");
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

    /** A bad command line, its exit code and the words its error message must contain. */
    record Case(String name, int exit, List<String> args, List<String> expected) {}

    /** A user error: exit code 1. */
    private static Case c(String name, List<String> args, String... expected) {
        return new Case(name, Forge.EXIT_ERROR, args, List.of(expected));
    }

    /** A usage error (a bad option value): exit code 2, the message then picocli's "Try ... --help" line. */
    private static Case usage(String name, List<String> args, String... expected) {
        return new Case(name, Forge.EXIT_USAGE, args, List.of(expected));
    }

    static List<Case> cases() {
        String out = work.resolve("out").toString();
        return List.of(
                c("missing model file", List.of("inspect", "missing.onnx"), "missing.onnx", "no such file"),
                c(
                        "unknown built-in name",
                        List.of("inspect", "resnet-9000"),
                        "resnet-9000",
                        "[simple-net, mnist-cnn, cifar10-net, lenet5, mobilenet-mini]"),
                c(
                        "inspect truncated model",
                        List.of("inspect", "truncated.onnx"),
                        "truncated.onnx",
                        "not a valid ONNX model"),
                c("inspect random bytes", List.of("inspect", "random.onnx"), "random.onnx", "not a valid ONNX model"),
                c("inspect tagged random bytes", List.of("inspect", "tagged-random.onnx"), "tagged-random.onnx"),
                c("inspect a text file", List.of("inspect", "text.onnx"), "text.onnx", "not a valid ONNX model"),
                c("inspect an empty file", List.of("inspect", "empty.onnx"), "empty.onnx", "empty"),
                c("inspect a .npy as a model", List.of("inspect", input), "x.npy", "not a valid ONNX model"),
                c(
                        "run truncated model",
                        List.of("run", "truncated.onnx", "-i", input, "-o", out),
                        "truncated.onnx",
                        "not a valid ONNX model"),
                c(
                        "run random bytes",
                        List.of("run", "random.onnx", "-i", input, "-o", out),
                        "random.onnx",
                        "not a valid ONNX model"),
                c(
                        "run tagged random bytes",
                        List.of("run", "tagged-random.onnx", "-i", input, "-o", out),
                        "tagged-random.onnx"),
                c(
                        "run a text file",
                        List.of("run", "text.onnx", "-i", input, "-o", out),
                        "text.onnx",
                        "not a valid ONNX model"),
                c("run an empty file", List.of("run", "empty.onnx", "-i", input, "-o", out), "empty.onnx"),
                c(
                        "run a model with an unknown op",
                        List.of("run", "unknown-op.onnx", "-i", input, "-o", out),
                        "unknown-op.onnx",
                        "NoSuchOperator"),
                c(
                        "unknown input name",
                        List.of("run", mnist, "-i", "pixels=" + input, "-o", out),
                        "'pixels'",
                        "[input]"),
                c(
                        "wrong input shape",
                        List.of("run", mnist, "-i", "wrong-shape.npy", "-o", out),
                        "[N,1,28,28]",
                        "[2,1,27,28]"),
                c("wrong input dtype", List.of("run", mnist, "-i", "float64.npy", "-o", out), "float32", "float64"),
                c(
                        "truncated .npy",
                        List.of("run", mnist, "-i", "truncated.npy", "-o", out),
                        "truncated.npy",
                        "truncated"),
                c("not a .npy", List.of("run", mnist, "-i", "garbage.npy", "-o", out), "garbage.npy", "magic"),
                c("missing .npy", List.of("run", mnist, "-i", "nope.npy", "-o", out), "nope.npy", "no such file"),
                c(
                        "CUDA on a CPU-only build (run)",
                        List.of("run", mnist, "-i", input, "-o", out, "--device", "cuda"),
                        "CUDA",
                        "-Pcuda"),
                c("CUDA on a CPU-only build (bench)", List.of("bench", mnist, "--device", "cuda:1"), "CUDA"),
                c("unknown device", List.of("bench", mnist, "--device", "tpu"), "'tpu'", "cpu"),
                usage(
                        "bad --batch list",
                        List.of("bench", mnist, "--batch", "1,x"),
                        "--batch",
                        "'x'",
                        "like --batch 1,8,64"),
                usage("zero batch", List.of("bench", mnist, "--batch", "0,8"), "--batch", "'0'", "like --batch 1,8,64"),
                usage("repeated batch size", List.of("bench", mnist, "--batch", "8,8"), "--batch", "8 appears twice"),
                usage(
                        "bad --shape dimension",
                        List.of("bench", mnist, "--shape", "input=1,x,28,28"),
                        "--shape input=1,x,28,28",
                        "'x'",
                        "--shape input=1,3,32,32"),
                c(
                        "--shape that does not fit the input",
                        List.of("bench", mnist, "--shape", "1,3,28,28"),
                        "--shape 1,3,28,28",
                        "does not fit",
                        "[N,1,28,28]"),
                c(
                        "unknown network to export",
                        List.of("export", "alexnet", "--out", "a.onnx"),
                        "alexnet",
                        "[simple-net, mnist-cnn, cifar10-net, lenet5, mobilenet-mini]"),
                c(
                        "--top larger than the classes",
                        List.of("run", mnist, "-i", input, "-o", out, "--top", "11"),
                        "--top 11",
                        "10"),
                c(
                        "--output-dir is a file",
                        List.of("run", mnist, "-i", input, "-o", "a-file"),
                        "a-file",
                        "not a directory"),
                c("negative --threads", List.of("bench", mnist, "--threads", "-1"), "--threads"),
                // hostile models: refused before ONNX Runtime, by the runtime (run) and the compiler (inspect)
                c(
                        "run a memory bomb",
                        List.of("run", "bomb.onnx", "-i", input, "-o", out),
                        "bomb.onnx",
                        "refused",
                        "(ConstantOfShape) would make a tensor of 100000 x 100000",
                        "maxTensorBytes"),
                c("inspect a memory bomb", List.of("inspect", "bomb.onnx"), "bomb.onnx", "refused", "maxTensorBytes"),
                c(
                        "run a model whose data escapes its directory",
                        List.of("run", "escape/model.onnx", "-i", input, "-o", out),
                        "escape/model.onnx",
                        "refused",
                        "'../secret' outside the model's directory"),
                c(
                        "inspect a model whose data escapes its directory",
                        List.of("inspect", "escape/model.onnx"),
                        "'../secret'",
                        "outside the model's directory"),
                c(
                        "run IR version 99",
                        List.of("run", "ir99.onnx", "-i", input, "-o", out),
                        "ir99.onnx",
                        "ir_version 99",
                        "[3, 13]"),
                c(
                        "run opset 99",
                        List.of("run", "opset99.onnx", "-i", input, "-o", out),
                        "opset99.onnx",
                        "opset 99",
                        "[1, 26]"),
                c(
                        "run a graph with a cycle",
                        List.of("run", "cycle.onnx", "-i", input, "-o", out),
                        "cycle.onnx",
                        "cycle"),
                c("inspect a graph with a cycle", List.of("inspect", "cycle.onnx"), "cycle.onnx", "cycle"),
                c(
                        "run a tensor bigger than its data",
                        List.of("run", "liar.onnx", "-i", input, "-o", out),
                        "liar.onnx",
                        "tensor 'W' has 12 bytes of raw_data",
                        "4000000 bytes"),
                // hostile tensors
                c(
                        "NaN input refused on request",
                        List.of("run", mnist, "-i", "nan.npy", "-o", out, "--reject-non-finite"),
                        "input 'input'",
                        "element 5 (index [0,0,0,5]) is NaN",
                        "2 of 1568 values are not finite"),
                c(
                        "Fortran-order .npy",
                        List.of("run", mnist, "-i", "fortran.npy", "-o", out),
                        "fortran.npy",
                        "fortran_order=True"),
                c("big-endian .npy", List.of("run", mnist, "-i", "big-endian.npy", "-o", out), "big-endian.npy", ">f4"),
                c(
                        "malformed .npy header",
                        List.of("run", mnist, "-i", "broken-dict.npy", "-o", out),
                        "broken-dict.npy"),
                c(
                        "a .npy header that lies about its size",
                        List.of("run", mnist, "-i", "lying-shape.npy", "-o", out),
                        "lying-shape.npy"),
                c(
                        "training inputs with a malformed header",
                        List.of(
                                "train",
                                "--model",
                                mnist,
                                "--inputs",
                                "fortran.npy",
                                "--labels",
                                "labels.npy",
                                "--loss",
                                "cross-entropy",
                                "--steps",
                                "1",
                                "--no-progress"),
                        "fortran.npy",
                        "fortran_order=True"),
                c(
                        "training labels out of range",
                        List.of(
                                "train",
                                "--model",
                                mnist,
                                "--inputs",
                                "x.npy",
                                "--labels",
                                "labels-bad.npy",
                                "--loss",
                                "cross-entropy",
                                "--steps",
                                "1",
                                "--no-progress"),
                        "labels-bad.npy",
                        "12"),
                // hostile data sets
                c(
                        "IDX images and labels swapped",
                        List.of(
                                "train",
                                "mnist-cnn",
                                "--data",
                                "fashion-mnist:idx-magic",
                                "--steps",
                                "1",
                                "--no-progress"),
                        "train-images-idx3-ubyte",
                        "magic"),
                c(
                        "IDX file cut short",
                        List.of(
                                "train",
                                "mnist-cnn",
                                "--data",
                                "fashion-mnist:idx-short",
                                "--steps",
                                "1",
                                "--no-progress"),
                        "train-images-idx3-ubyte",
                        "truncated",
                        "10 x 28 x 28"),
                c(
                        "IDX file longer than its header says",
                        List.of(
                                "train",
                                "mnist-cnn",
                                "--data",
                                "fashion-mnist:idx-long",
                                "--steps",
                                "1",
                                "--no-progress"),
                        "train-images-idx3-ubyte",
                        "length mismatch"),
                c(
                        "a text file as IDX labels",
                        List.of(
                                "train",
                                "mnist-cnn",
                                "--data",
                                "fashion-mnist:idx-text",
                                "--steps",
                                "1",
                                "--no-progress"),
                        "train-labels-idx1-ubyte",
                        "magic"),
                c(
                        "CIFAR-10 batch of the wrong size",
                        List.of(
                                "train",
                                "cifar10-net",
                                "--data",
                                "cifar10:cifar-size",
                                "--steps",
                                "1",
                                "--no-progress"),
                        "data_batch_3.bin",
                        "6246",
                        "3073"),
                c(
                        "CIFAR-10 label out of range",
                        List.of(
                                "train",
                                "cifar10-net",
                                "--data",
                                "cifar10:cifar-label",
                                "--steps",
                                "1",
                                "--no-progress"),
                        "data_batch_2.bin",
                        "label 42"),
                c(
                        "an unreadable image in an image folder",
                        List.of("train", "mnist-cnn", "--data", "folder:images", "--steps", "1", "--no-progress"),
                        "broken.png"),
                c(
                        "eval on an unreadable image folder",
                        List.of("eval", mnist, "--data", "folder:images"),
                        "broken.png"),
                c(
                        "predict on a file that is not an image",
                        List.of("predict", mnist, "not-an-image.png"),
                        "not-an-image.png"));
    }

    @Test
    void everyUserErrorIsOneLineWithItsExitCodeInAChildJvm() throws Exception {
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
            List<Path> crashes = files.filter(p -> p.getFileName().toString().startsWith("hs_err_pid"))
                    .toList();
            assertTrue(crashes.isEmpty(), "JVM crash files: " + crashes);
        }
    }

    private static void check(Case k, Child r) {
        String what = k.name() + " " + k.args() + "\nexit " + r.code + "\nstderr: " + r.err + "\nstdout: " + r.out;
        assertEquals(k.exit(), r.code, what);
        String[] lines = r.err.strip().split("\\R");
        if (k.exit() == Forge.EXIT_USAGE) {
            assertEquals(2, lines.length, "the message and the --help hint on stderr: " + what);
            assertTrue(lines[1].startsWith("Try 'forge ") && lines[1].endsWith(" --help' for more information."), what);
        } else {
            assertEquals(1, lines.length, "one line on stderr: " + what);
        }
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
    void nanAndInfinityAreAcceptedByDefaultAndTheRunSucceeds() throws Exception {
        Child r = Child.run(
                work,
                List.of(
                        "run",
                        mnist,
                        "-i",
                        "nan.npy",
                        "-o",
                        work.resolve("nan-out").toString()));
        assertEquals(0, r.code, r.err);
        assertEquals("", r.err.strip());
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
        assertTrue(
                err.toString().startsWith("forge: internal error: java.lang.IllegalStateException: boom"),
                err.toString());
        assertEquals(1, err.toString().strip().split("\\R").length);
    }

    /** A finished child JVM. */
    record Child(int code, String out, String err) {
        static Child run(Path dir, List<String> args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx512m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-Xshare:auto",
                    "-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log"),
                    "-cp",
                    System.getProperty("java.class.path"),
                    "dev.forge.cli.Forge"));
            cmd.addAll(args);
            File outFile = Files.createTempFile(dir, ".child", ".out").toFile();
            File errFile = Files.createTempFile(dir, ".child", ".err").toFile();
            Process p = new ProcessBuilder(cmd)
                    .directory(dir.toFile())
                    .redirectOutput(outFile)
                    .redirectError(errFile)
                    .start();
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
