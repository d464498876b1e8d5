package dev.forge.compiler.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Padding;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.proto.Onnx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxRoundTripTest {
    @TempDir
    Path tmp;

    /** A graph that uses every layer helper of the builder. */
    static Graph everyHelper() {
        GraphBuilder b = new GraphBuilder("every_helper").seed(3).metadata("class_labels", "a,b,c,d,e");
        Value x = b.input("input", Shape.of("N", 4, 15, 15));
        Value c = b.conv2d(
                "conv1", x, Conv2d.of(8, 3).stride(2).padding(Padding.same()).groups(2));
        c = b.batchNorm("bn1", c);
        c = b.leakyRelu(c, 0.1f);
        Value d = b.conv2d("conv2", c, Conv2d.of(8, 3).padding(2).dilation(2).bias(false));
        d = b.relu(d);
        Value p = b.maxPool("pool", d, Pool2d.of(2));
        Value a = b.avgPool("avg", d, Pool2d.of(4).stride(2).padding(1));
        a = b.conv2d("conv3", a, Conv2d.of(8, 1));
        Value cat = b.concat(1, b.sigmoid(p), b.tanh(a));
        Value g = b.reshape(b.globalAvgPool(cat), 0, -1);
        Value f = b.dropout(b.mul(g, b.add(g, g)), 0.25f);
        Value l = b.linear("fc", f, 5);
        b.output(b.logSoftmax(l, 1), "logp");
        b.output(b.softmax(l, 1), "prob");
        return b.build();
    }

    @Test
    void write_then_read_gives_the_same_graph() {
        Graph g = everyHelper();
        Path file = tmp.resolve("m.onnx");
        OnnxWriter.write(g, file);
        Graph r = OnnxReader.read(file);
        assertEquals(g.name(), r.name());
        assertEquals(g.inputs(), r.inputs());
        assertEquals(g.outputs(), r.outputs());
        assertEquals(g.nodes().size(), r.nodes().size());
        for (int i = 0; i < g.nodes().size(); i++) {
            Node a = g.nodes().get(i);
            Node b = r.nodes().get(i);
            assertEquals(a.opType(), b.opType());
            assertEquals(a.name(), b.name());
            assertEquals(a.inputs(), b.inputs());
            assertEquals(a.outputs(), b.outputs());
            assertEquals(a.attributes(), b.attributes(), a.label());
            for (String out : a.outputs()) {
                assertEquals(g.type(out), r.type(out), "type of " + out);
            }
        }
        assertEquals(g.initializers(), r.initializers());
        assertEquals(g.metadata(), r.metadata());
        assertEquals(17, r.opset());
        assertArrayEquals(OnnxWriter.toBytes(g), OnnxWriter.toBytes(r), "write(read(write(g))) == write(g)");
    }

    @Test
    void forge_models_pass_the_reference_onnx_checker() throws Exception {
        Path file = tmp.resolve("every_helper.onnx");
        OnnxWriter.write(everyHelper(), file);
        PythonOnnx.checkModel(file);
    }

    @Test
    void reader_refuses_garbage_with_a_clear_message() throws Exception {
        Path empty = tmp.resolve("empty.onnx");
        Files.write(empty, new byte[0]);
        assertTrue(assertThrows(OnnxFormatException.class, () -> OnnxReader.read(empty))
                .getMessage()
                .contains("empty file"));
        byte[] random = new byte[4096];
        new Random(1).nextBytes(random);
        Path rnd = tmp.resolve("random.onnx");
        Files.write(rnd, random);
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxReader.read(rnd));
        assertTrue(e.getMessage().startsWith(rnd + ": "), e.getMessage());
        byte[] good = OnnxWriter.toBytes(everyHelper());
        byte[] truncated = java.util.Arrays.copyOf(good, good.length / 2);
        assertThrows(OnnxFormatException.class, () -> OnnxReader.read(truncated, "truncated.onnx"));
        assertTrue(assertThrows(OnnxFormatException.class, () -> OnnxReader.read(tmp.resolve("missing.onnx")))
                .getMessage()
                .contains("file not found"));
    }

    @Test
    void reader_refuses_inconsistent_graphs() {
        Onnx.ModelProto good = OnnxWriter.toProto(everyHelper());
        // a node reading an undefined value
        Onnx.ModelProto undefined = good.toBuilder()
                .setGraph(good.getGraph().toBuilder()
                        .setNode(0, good.getGraph().getNode(0).toBuilder().setInput(0, "nowhere")))
                .build();
        OnnxFormatException e = assertThrows(
                OnnxFormatException.class, () -> OnnxReader.read(undefined.toByteArray(), "undefined.onnx"));
        assertTrue(e.getMessage().contains("reads 'nowhere'"), e.getMessage());
        // a cycle: the first node reads the last node's output
        String last =
                good.getGraph().getNode(good.getGraph().getNodeCount() - 1).getOutput(0);
        Onnx.ModelProto cycle = good.toBuilder()
                .setGraph(good.getGraph().toBuilder()
                        .setNode(0, good.getGraph().getNode(0).toBuilder().setInput(0, last)))
                .build();
        e = assertThrows(OnnxFormatException.class, () -> OnnxReader.read(cycle.toByteArray(), "cycle.onnx"));
        assertTrue(e.getMessage().contains("cycle"), e.getMessage());
        // raw data that does not match the declared shape
        Onnx.TensorProto w = good.getGraph().getInitializer(0);
        Onnx.ModelProto shortData = good.toBuilder()
                .setGraph(good.getGraph().toBuilder()
                        .setInitializer(
                                0, w.toBuilder().setRawData(w.getRawData().substring(0, 8))))
                .build();
        e = assertThrows(OnnxFormatException.class, () -> OnnxReader.read(shortData.toByteArray(), "short.onnx"));
        assertTrue(e.getMessage().contains("8 bytes of raw"), e.getMessage());
    }

    @Test
    void nodes_out_of_order_are_sorted_topologically() {
        Onnx.ModelProto good = OnnxWriter.toProto(everyHelper());
        Onnx.GraphProto.Builder g = good.getGraph().toBuilder().clearNode();
        for (int i = good.getGraph().getNodeCount() - 1; i >= 0; i--) {
            g.addNode(good.getGraph().getNode(i));
        }
        Graph r = OnnxReader.read(good.toBuilder().setGraph(g).build().toByteArray(), "reversed.onnx");
        assertEquals(Shape.of("N", 5), r.type("logp").shape());
        assertEquals("conv1", r.nodes().get(0).name());
    }

    @Test
    void external_data_outside_the_model_directory_is_refused() throws Exception {
        Onnx.ModelProto good = OnnxWriter.toProto(everyHelper());
        Onnx.TensorProto w = good.getGraph().getInitializer(0);
        for (String location : new String[] {"../secret.bin", "/etc/passwd"}) {
            Onnx.TensorProto ext = w.toBuilder()
                    .clearRawData()
                    .setDataLocation(Onnx.TensorProto.DataLocation.EXTERNAL)
                    .addExternalData(Onnx.StringStringEntryProto.newBuilder()
                            .setKey("location")
                            .setValue(location))
                    .build();
            Path dir = Files.createDirectories(tmp.resolve("models"));
            Path file = dir.resolve("ext.onnx");
            Files.write(
                    file,
                    good.toBuilder()
                            .setGraph(good.getGraph().toBuilder().setInitializer(0, ext))
                            .build()
                            .toByteArray());
            OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxReader.read(file));
            assertTrue(e.getMessage().contains("outside the model's directory"), e.getMessage());
        }
    }

    @Test
    void external_data_inside_the_model_directory_is_read() throws Exception {
        Graph g = everyHelper();
        Onnx.ModelProto good = OnnxWriter.toProto(g);
        Onnx.TensorProto w = good.getGraph().getInitializer(0);
        Path dir = Files.createDirectories(tmp.resolve("ext"));
        Files.write(dir.resolve("weights.bin"), w.getRawData().toByteArray());
        Onnx.TensorProto ext = w.toBuilder()
                .clearRawData()
                .setDataLocation(Onnx.TensorProto.DataLocation.EXTERNAL)
                .addExternalData(Onnx.StringStringEntryProto.newBuilder()
                        .setKey("location")
                        .setValue("weights.bin"))
                .build();
        Path file = dir.resolve("ext.onnx");
        Files.write(
                file,
                good.toBuilder()
                        .setGraph(good.getGraph().toBuilder().setInitializer(0, ext))
                        .build()
                        .toByteArray());
        Graph r = OnnxReader.read(file);
        assertEquals(g.initializers().get(w.getName()), r.initializers().get(w.getName()));
    }
}
