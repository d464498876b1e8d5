package dev.forge.compiler.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The 16-bit element types through the reader and writer, in both ways ONNX stores them. */
class OnnxFloat16Test {
    @TempDir
    Path tmp;

    // includes a subnormal, -0, the largest finite value, infinity and a NaN with a payload
    static final short[] W_BITS = {0x3c00, (short) 0xc000, 0x0001, (short) 0x8000, 0x7bff, 0x7c00, 0x7e01, 0x2e66};

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

    /**
     * y = x * W + B in float16; W keeps its bits in int32_data (one value per entry, as ONNX's
     * helper.make_tensor writes float16), B in raw_data; an unused bfloat16 and int16 constant ride along.
     */
    static Onnx.ModelProto model() {
        Onnx.TensorProto.Builder w =
                Onnx.TensorProto.newBuilder().setName("W").setDataType(10).addDims(W_BITS.length);
        for (short b : W_BITS) {
            w.addInt32Data(b & 0xffff);
        }
        ByteBuffer raw = ByteBuffer.allocate(2 * W_BITS.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < W_BITS.length; i++) {
            raw.putShort((short) 0x3800); // 0.5
        }
        Onnx.TensorProto b = Onnx.TensorProto.newBuilder()
                .setName("B")
                .setDataType(10)
                .addDims(W_BITS.length)
                .setRawData(ByteString.copyFrom(raw.array()))
                .build();
        Onnx.TensorProto bf = Onnx.TensorProto.newBuilder()
                .setName("bf")
                .setDataType(16)
                .addDims(2)
                .addInt32Data(0x3f80)
                .addInt32Data(0xff80)
                .build();
        Onnx.TensorProto i16 = Onnx.TensorProto.newBuilder()
                .setName("i16")
                .setDataType(5)
                .addDims(2)
                .addInt32Data(-32768)
                .addInt32Data(7)
                .build();
        Onnx.GraphProto g = Onnx.GraphProto.newBuilder()
                .setName("f16")
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Mul")
                        .setName("mul")
                        .addInput("x")
                        .addInput("W")
                        .addOutput("xw"))
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("Add")
                        .setName("add")
                        .addInput("xw")
                        .addInput("B")
                        .addOutput("y"))
                .addInitializer(w)
                .addInitializer(b)
                .addInitializer(bf)
                .addInitializer(i16)
                .addInput(info("x", 10, W_BITS.length))
                .addOutput(info("y", 10, W_BITS.length))
                .build();
        return Onnx.ModelProto.newBuilder()
                .setIrVersion(8)
                .addOpsetImport(
                        Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .setGraph(g)
                .build();
    }

    @Test
    void float16_from_int32_data_and_raw_data_reads_bit_exact_and_round_trips() {
        Graph g = OnnxReader.read(model().toByteArray(), "f16.onnx");
        assertEquals(DType.FLOAT16, g.type("x").dtype());
        assertEquals(DType.FLOAT16, g.type("y").dtype(), "shape inference keeps the element type");
        assertArrayEquals(W_BITS, g.initializers().get("W").toShortArray());
        assertEquals(0.5f, g.initializers().get("B").getFloat(3));
        assertEquals(DType.BFLOAT16, g.initializers().get("bf").dtype());
        assertArrayEquals(
                new float[] {1, Float.NEGATIVE_INFINITY},
                g.initializers().get("bf").toFloatArray());
        assertArrayEquals(new short[] {-32768, 7}, g.initializers().get("i16").toShortArray());
        byte[] once = OnnxWriter.toBytes(g);
        Graph back = OnnxReader.read(once, "back.onnx");
        assertEquals(g.initializers(), back.initializers(), "bit-identical tensors");
        assertArrayEquals(once, OnnxWriter.toBytes(back), "write(read(write(g))) == write(g)");
    }

    @Test
    void onnx_runtime_runs_the_written_model_with_float16_io() throws Exception {
        Graph g = OnnxReader.read(model().toByteArray(), "f16.onnx");
        Path file = tmp.resolve("f16.onnx");
        OnnxWriter.write(g, file);
        PythonOnnx.checkModel(file);
        try (Model m = Model.load(file, ModelOptions.defaults())) {
            assertEquals(DType.FLOAT16, m.inputs().get(0).dtype());
            short[] ones = new short[W_BITS.length];
            java.util.Arrays.fill(ones, (short) 0x3c00);
            Tensor y = m.run(Tensor.ofFloat16Bits(ones, ones.length));
            assertEquals(DType.FLOAT16, y.dtype());
            float[] got = y.toFloatArray();
            for (int i = 0; i < W_BITS.length; i++) {
                float want = dev.forge.runtime.HalfFloats.fromFloat16(W_BITS[i]) + 0.5f;
                // 65504 + 0.5 rounds back to 65504 in float16; NaN stays NaN
                float expected = dev.forge.runtime.HalfFloats.fromFloat16(dev.forge.runtime.HalfFloats.toFloat16(want));
                assertEquals(expected, got[i], 0f, "element " + i);
            }
        }
    }
}
