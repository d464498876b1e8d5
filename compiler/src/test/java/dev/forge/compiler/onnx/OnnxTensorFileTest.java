package dev.forge.compiler.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OnnxTensorFileTest {
    private static Map<String, Tensor> tensors() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("w", Tensor.of(new float[] {1, -2, 3.5f, 4, 5, 6}, 2, 3));
        t.put("step_count", Tensor.of(new long[] {7}, 1));
        t.put("b", Tensor.of(new float[] {0.25f}, 1));
        return t;
    }

    @Test
    void tensors_and_metadata_come_back_in_file_order() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "x-v1");
        meta.put("epoch", "3");
        byte[] bytes = OnnxTensorFile.toBytes("checkpoint", "x-v1", tensors(), meta);

        OnnxTensorFile file = OnnxTensorFile.parse(bytes);
        assertEquals(List.of("format", "epoch"), List.copyOf(file.metadata().keySet()));
        assertEquals("3", file.metadata().get("epoch"));
        Map<String, Tensor> back = file.tensors("t.ckpt");
        assertEquals(List.of("w", "step_count", "b"), List.copyOf(back.keySet()));
        assertArrayEquals(new long[] {2, 3}, back.get("w").shape());
        assertArrayEquals(new float[] {1, -2, 3.5f, 4, 5, 6}, back.get("w").toFloatArray());
        assertArrayEquals(new long[] {7}, back.get("step_count").toLongArray());
    }

    @Test
    void the_file_is_an_onnx_model_with_an_empty_graph_of_initializers() throws IOException {
        byte[] bytes = OnnxTensorFile.toBytes("checkpoint", "doc", tensors(), Map.of("k", "v"));
        Onnx.ModelProto m = Onnx.ModelProto.parseFrom(bytes);
        assertEquals(8, m.getIrVersion());
        assertEquals("forge", m.getProducerName());
        assertEquals("doc", m.getDocString());
        assertEquals(17, m.getOpsetImport(0).getVersion());
        assertEquals("checkpoint", m.getGraph().getName());
        assertEquals(0, m.getGraph().getNodeCount());
        assertEquals(3, m.getGraph().getInitializerCount());
        assertEquals("k", m.getMetadataProps(0).getKey());
    }

    @Test
    void truncated_bytes_are_refused_by_parse() {
        byte[] bytes = OnnxTensorFile.toBytes("checkpoint", "doc", tensors(), Map.of());
        assertThrows(IOException.class, () -> OnnxTensorFile.parse(Arrays.copyOf(bytes, bytes.length - 5)));
    }

    @Test
    void a_malformed_tensor_is_an_error_naming_the_file_and_the_tensor() throws IOException {
        Onnx.TensorProto bad = Onnx.TensorProto.newBuilder()
                .setName("w")
                .setDataType(1)
                .addDims(4)
                .setRawData(com.google.protobuf.ByteString.copyFrom(new byte[3]))
                .build();
        byte[] bytes = Onnx.ModelProto.newBuilder()
                .setIrVersion(8)
                .setGraph(Onnx.GraphProto.newBuilder().setName("checkpoint").addInitializer(bad))
                .build()
                .toByteArray();
        OnnxTensorFile file = OnnxTensorFile.parse(bytes);
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> file.tensors("cut.ckpt"));
        assertTrue(e.getMessage().startsWith("cut.ckpt: tensor 'w'"), e.getMessage());
    }
}
