package dev.forge.compiler.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** uint16, uint32, uint64 and string tensors through the reader and writer, in each form ONNX stores them. */
class OnnxElementTypesTest {
    @TempDir
    Path tmp;

    private static Onnx.ValueInfoProto info(String name, int elemType, long... dims) {
        Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
        for (long d : dims) {
            shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return Onnx.ValueInfoProto.newBuilder()
                .setName(name)
                .setType(Onnx.TypeProto.newBuilder()
                        .setTensorType(Onnx.TypeProto.Tensor.newBuilder()
                                .setElemType(elemType)
                                .setShape(shape)))
                .build();
    }

    private static ByteString raw(int bytes, java.util.function.Consumer<ByteBuffer> fill) {
        ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        fill.accept(b);
        return ByteString.copyFrom(b.array());
    }

    /**
     * y = Identity(s), s: string[3]; the initializers hold every unsigned type twice (typed field and
     * raw_data: uint16 in int32_data, uint32 and uint64 in uint64_data, as onnx.proto says) and a string
     * constant.
     */
    static Onnx.ModelProto model() {
        Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder()
                .setName("types")
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Identity")
                        .setName("id")
                        .addInput("s")
                        .addOutput("y"))
                .addInput(info("s", 8, 3))
                .addOutput(info("y", 8, 3));
        g.addInitializer(Onnx.TensorProto.newBuilder()
                .setName("u16_typed")
                .setDataType(4)
                .addDims(2)
                .addInt32Data(65535)
                .addInt32Data(7));
        g.addInitializer(Onnx.TensorProto.newBuilder()
                .setName("u16_raw")
                .setDataType(4)
                .addDims(2)
                .setRawData(raw(4, b -> b.putShort((short) -1).putShort((short) 7))));
        g.addInitializer(Onnx.TensorProto.newBuilder()
                .setName("u32_typed")
                .setDataType(12)
                .addDims(2)
                .addUint64Data(4294967295L)
                .addUint64Data(7));
        g.addInitializer(Onnx.TensorProto.newBuilder()
                .setName("u32_raw")
                .setDataType(12)
                .addDims(2)
                .setRawData(raw(8, b -> b.putInt(-1).putInt(7))));
        g.addInitializer(Onnx.TensorProto.newBuilder()
                .setName("u64_typed")
                .setDataType(13)
                .addDims(2)
                .addUint64Data(-1L)
                .addUint64Data(7));
        g.addInitializer(Onnx.TensorProto.newBuilder()
                .setName("u64_raw")
                .setDataType(13)
                .addDims(2)
                .setRawData(raw(16, b -> b.putLong(-1L).putLong(7))));
        g.addInitializer(Onnx.TensorProto.newBuilder()
                .setName("text")
                .setDataType(8)
                .addDims(2)
                .addStringData(ByteString.copyFromUtf8("h\u00e9llo"))
                .addStringData(ByteString.copyFromUtf8("")));
        return Onnx.ModelProto.newBuilder()
                .setIrVersion(8)
                .addOpsetImport(
                        Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .setGraph(g)
                .build();
    }

    @Test
    void unsigned_and_string_tensors_read_in_every_form_and_round_trip_bit_exact() {
        Graph g = OnnxReader.read(model().toByteArray(), "types.onnx");
        var init = g.initializers();
        assertEquals(Tensor.ofUint16(new short[] {-1, 7}, 2), init.get("u16_typed"));
        assertEquals(init.get("u16_typed"), init.get("u16_raw"));
        assertEquals(Tensor.ofUint32(new int[] {-1, 7}, 2), init.get("u32_typed"));
        assertEquals(init.get("u32_typed"), init.get("u32_raw"));
        assertEquals(Tensor.ofUint64(new long[] {-1L, 7}, 2), init.get("u64_typed"));
        assertEquals(init.get("u64_typed"), init.get("u64_raw"));
        assertArrayEquals(new String[] {"h\u00e9llo", ""}, init.get("text").toStringArray());
        assertEquals(DType.STRING, g.type("s").dtype());
        assertEquals(DType.STRING, g.type("y").dtype(), "Identity keeps the element type");
        byte[] once = OnnxWriter.toBytes(g);
        Graph back = OnnxReader.read(once, "back.onnx");
        assertEquals(g.initializers(), back.initializers());
        assertArrayEquals(once, OnnxWriter.toBytes(back), "write(read(write(g))) == write(g)");
    }

    @Test
    void the_written_string_model_passes_the_checker_and_runs() throws Exception {
        Path file = tmp.resolve("types.onnx");
        OnnxWriter.write(OnnxReader.read(model().toByteArray(), "types.onnx"), file);
        PythonOnnx.checkModel(file);
        try (Model m = Model.load(file, ModelOptions.defaults())) {
            Tensor in = Tensor.ofStrings(new String[] {"a", "", "\ud83d\ude00"}, 3);
            assertEquals(in, m.run(in));
        }
    }

    @Test
    void a_string_tensor_with_raw_data_is_refused() {
        Onnx.ModelProto bad = model().toBuilder()
                .setGraph(model().getGraph().toBuilder()
                        .addInitializer(Onnx.TensorProto.newBuilder()
                                .setName("bad")
                                .setDataType(8)
                                .addDims(1)
                                .setRawData(ByteString.copyFromUtf8("x"))))
                .build();
        OnnxFormatException e =
                assertThrows(OnnxFormatException.class, () -> OnnxReader.read(bad.toByteArray(), "bad.onnx"));
        assertTrue(e.getMessage().contains("'bad'") && e.getMessage().contains("string_data"), e.getMessage());
    }

    @Test
    void read_tensor_reads_one_serialized_tensor_proto() throws Exception {
        Path pb = tmp.resolve("input_0.pb");
        Files.write(pb, model().getGraph().getInitializer(2).toByteArray());
        assertEquals(Tensor.ofUint32(new int[] {-1, 7}, 2), OnnxReader.readTensor(pb));
        Files.write(pb, new byte[] {(byte) 0xff});
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxReader.readTensor(pb));
        assertTrue(e.getMessage().contains("input_0.pb") && e.getMessage().contains("TensorProto"), e.getMessage());
    }
}
