package dev.forge.compiler.onnx;

import com.google.protobuf.CodedInputStream;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An ONNX file that holds named tensors and text metadata and no operators: a {@code ModelProto} whose
 * empty graph has the tensors as initializers and whose {@code metadata_props} hold the text. Training
 * checkpoints are stored this way, so any ONNX tool can inspect them.
 *
 * <p>This keeps the protobuf classes (generated from {@code onnx.proto}) out of every public signature:
 * they are an implementation detail of this package.
 */
public final class OnnxTensorFile {
    private final Onnx.ModelProto model;

    private OnnxTensorFile(Onnx.ModelProto model) {
        this.model = model;
    }

    /**
     * The serialized file: IR version 8, opset 17, producer {@code forge}.
     *
     * @param graphName name of the (empty) graph
     * @param docString the model's doc string
     * @param tensors tensors by name, stored in this order as little-endian {@code raw_data}
     * @param metadata text entries, stored in this order
     */
    public static byte[] toBytes(
            String graphName, String docString, Map<String, Tensor> tensors, Map<String, String> metadata) {
        Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName(graphName);
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            g.addInitializer(OnnxWriter.tensor(e.getKey(), e.getValue()));
        }
        Onnx.ModelProto.Builder m = Onnx.ModelProto.newBuilder()
                .setIrVersion(8)
                .setProducerName("forge")
                .setDocString(docString)
                .setGraph(g)
                .addOpsetImport(
                        Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17));
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            m.addMetadataProps(
                    Onnx.StringStringEntryProto.newBuilder().setKey(e.getKey()).setValue(e.getValue()));
        }
        return m.build().toByteArray();
    }

    /**
     * Parses the bytes of a file (any ONNX model parses; its tensors are converted only by {@link #tensors}).
     *
     * @throws IOException protobuf's error when the bytes are not a {@code ModelProto} (corrupt or truncated)
     */
    public static OnnxTensorFile parse(byte[] bytes) throws IOException {
        CodedInputStream in = CodedInputStream.newInstance(bytes);
        in.setSizeLimit(OnnxReader.MAX_MODEL_BYTES);
        return new OnnxTensorFile(Onnx.ModelProto.parseFrom(in));
    }

    /** The metadata entries in file order; a repeated key keeps its last value. */
    public Map<String, String> metadata() {
        Map<String, String> meta = new LinkedHashMap<>();
        for (Onnx.StringStringEntryProto e : model.getMetadataPropsList()) {
            meta.put(e.getKey(), e.getValue());
        }
        return Collections.unmodifiableMap(meta);
    }

    /**
     * The graph's initializers by name, in file order.
     *
     * @param source names the file in errors
     * @throws OnnxFormatException when a tensor is malformed, unsupported or refers to external data
     */
    public Map<String, Tensor> tensors(String source) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Onnx.TensorProto t : model.getGraph().getInitializerList()) {
            tensors.put(t.getName(), OnnxReader.tensor(t, source, null));
        }
        return tensors;
    }
}
