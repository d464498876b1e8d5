package dev.forge.compiler.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.ModelLimits;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compiler's reader runs the runtime's validator, with the limits it is given, before protobuf
 * parses anything (docs/SECURITY.md, "Limits"): a model protobuf-java would read is refused with the
 * validator's words.
 */
class OnnxReaderValidationTest {
    @TempDir
    Path tmp;

    /** y = Relu(Relu(x)), x and y: float[1, 4]. */
    static Onnx.ModelProto twoRelus() {
        Onnx.TypeProto type = Onnx.TypeProto.newBuilder()
                .setTensorType(Onnx.TypeProto.Tensor.newBuilder()
                        .setElemType(1)
                        .setShape(Onnx.TensorShapeProto.newBuilder()
                                .addDim(Onnx.TensorShapeProto.Dimension.newBuilder()
                                        .setDimValue(1))
                                .addDim(Onnx.TensorShapeProto.Dimension.newBuilder()
                                        .setDimValue(4))))
                .build();
        return Onnx.ModelProto.newBuilder()
                .setIrVersion(8)
                .addOpsetImport(
                        Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .setGraph(Onnx.GraphProto.newBuilder()
                        .setName("g")
                        .addNode(Onnx.NodeProto.newBuilder()
                                .setOpType("Relu")
                                .setName("a")
                                .addInput("x")
                                .addOutput("h"))
                        .addNode(Onnx.NodeProto.newBuilder()
                                .setOpType("Relu")
                                .setName("b")
                                .addInput("h")
                                .addOutput("y"))
                        .addInput(Onnx.ValueInfoProto.newBuilder().setName("x").setType(type))
                        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y").setType(type)))
                .build();
    }

    @Test
    void a_model_protobuf_would_read_is_refused_with_the_validators_words() throws Exception {
        byte[] good = twoRelus().toByteArray();
        // an empty group (start tag, end tag) of unknown field 100: protobuf-java skips it and reads the model
        byte[] group = Arrays.copyOf(good, good.length + 4);
        group[good.length] = (byte) 0xa3; // field 100, wire type 3: 0x323 as a varint
        group[good.length + 1] = 0x06;
        group[good.length + 2] = (byte) 0xa4; // field 100, wire type 4
        group[good.length + 3] = 0x06;
        assertEquals(2, Onnx.ModelProto.parseFrom(group).getGraph().getNodeCount());
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxReader.read(group, "group.onnx"));
        assertEquals(
                "group.onnx: not a valid ONNX model: corrupt: wire type 3 of field 100 at byte " + (good.length + 2)
                        + " is not used by ONNX",
                e.getMessage());
        Graph g = OnnxReader.read(good, "good.onnx");
        assertEquals(2, g.nodes().size());
    }

    @Test
    void the_reader_applies_the_limits_it_is_given() throws Exception {
        byte[] good = twoRelus().toByteArray();
        Path file = tmp.resolve("model.onnx");
        Files.write(file, good);
        OnnxFormatException big = assertThrows(
                OnnxFormatException.class,
                () -> OnnxReader.read(
                        file,
                        ModelLimits.builder().maxModelBytes(good.length - 1).build()));
        assertEquals(
                file + ": refused: the file is " + good.length + " bytes, more than ModelLimits.maxModelBytes ("
                        + (good.length - 1) + ")",
                big.getMessage());
        OnnxFormatException nodes = assertThrows(
                OnnxFormatException.class,
                () -> OnnxReader.read(file, ModelLimits.builder().maxNodes(1).build()));
        assertEquals(
                file + ": refused: the model has more than ModelLimits.maxNodes (1) nodes (in graph > node #1)",
                nodes.getMessage());
        OnnxFormatException bytes = assertThrows(
                OnnxFormatException.class,
                () -> OnnxReader.read(
                        good, "bytes.onnx", ModelLimits.builder().maxNodes(1).build()));
        assertEquals(
                "bytes.onnx: refused: the model has more than ModelLimits.maxNodes (1) nodes (in graph > node #1)",
                bytes.getMessage());
        assertEquals(
                2,
                OnnxReader.read(file, ModelLimits.builder().maxNodes(2).build())
                        .nodes()
                        .size());
    }
}
