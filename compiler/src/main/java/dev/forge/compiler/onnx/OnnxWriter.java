package dev.forge.compiler.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.IrType;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.AtomicFiles;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Writes a Forge {@link Graph} as a standard ONNX {@code ModelProto}. */
public final class OnnxWriter {
    private OnnxWriter() {}

    /** The ONNX model for a graph. */
    static Onnx.ModelProto toProto(Graph graph) {
        Onnx.ModelProto.Builder model = Onnx.ModelProto.newBuilder()
                .setIrVersion(graph.irVersion())
                .setProducerName(graph.producerName())
                .setProducerVersion(graph.producerVersion())
                .setModelVersion(graph.modelVersion());
        if (!graph.docString().isEmpty()) {
            model.setDocString(graph.docString());
        }
        for (Map.Entry<String, Long> e : graph.opsets().entrySet()) {
            model.addOpsetImport(
                    Onnx.OperatorSetIdProto.newBuilder().setDomain(e.getKey()).setVersion(e.getValue()));
        }
        for (Map.Entry<String, String> e : graph.metadata().entrySet()) {
            model.addMetadataProps(
                    Onnx.StringStringEntryProto.newBuilder().setKey(e.getKey()).setValue(e.getValue()));
        }
        Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName(graph.name() == null ? "graph" : graph.name());
        for (ValueInfo in : graph.inputs()) {
            g.addInput(valueInfo(in.name(), in.irType()));
        }
        for (ValueInfo out : graph.outputs()) {
            g.addOutput(valueInfo(out.name(), out.irType()));
        }
        for (Map.Entry<String, Tensor> e : graph.initializers().entrySet()) {
            g.addInitializer(tensor(e.getKey(), e.getValue()));
        }
        for (Node n : graph.nodes()) {
            g.addNode(node(n));
        }
        return model.setGraph(g).build();
    }

    /** The serialized ONNX model for a graph. */
    public static byte[] toBytes(Graph graph) {
        return toProto(graph).toByteArray();
    }

    /**
     * Writes a graph to an ONNX file atomically: the bytes go to a temporary file in the same directory,
     * which then replaces {@code path}, so a reader never sees a partial model.
     */
    public static void write(Graph graph, Path path) {
        writeAtomically(path, toBytes(graph));
    }

    /**
     * Writes bytes to {@code path} with {@link AtomicFiles#write} (a temporary file in the same directory,
     * forced to disk and renamed over {@code path}: a reader or a killed process sees the old or the new
     * complete file), creating the directory first.
     *
     * @throws UncheckedIOException naming the path if it cannot be written
     */
    public static void writeAtomically(Path path, byte[] bytes) {
        try {
            Files.createDirectories(path.toAbsolutePath().getParent());
            AtomicFiles.write(path, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path + ": " + reason(e), e);
        }
    }

    /**
     * Checks, before any work is done, that {@link #writeAtomically} can write {@code path}: its directory
     * exists or can be created, and a file can be created in it (a probe file is created and deleted).
     *
     * @throws UncheckedIOException "cannot write PATH: REASON", naming {@code path} as given
     */
    public static void checkWritable(Path path) {
        Path abs = path.toAbsolutePath();
        if (Files.isDirectory(abs)) {
            throw new UncheckedIOException(
                    "cannot write " + path + ": it is a directory; give a file name",
                    new IOException(abs + " is a directory"));
        }
        try {
            Path dir = Files.createDirectories(abs.getParent());
            Path probe = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".probe");
            Files.delete(probe);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path + ": " + reason(e), e);
        }
    }

    /** Why a write failed, without the temporary file's name (the user never gave it). */
    private static String reason(IOException e) {
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no file can be created in its directory";
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.FileAlreadyExistsException f) {
            return f.getFile() + " exists and is not a directory";
        }
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    static Onnx.ValueInfoProto valueInfo(String name, IrType type) {
        return Onnx.ValueInfoProto.newBuilder()
                .setName(name)
                .setType(OnnxTypes.toProto(type))
                .build();
    }

    /** A tensor as a {@code TensorProto} with little-endian {@code raw_data}. */
    static Onnx.TensorProto tensor(String name, Tensor t) {
        Onnx.TensorProto.Builder b = Onnx.TensorProto.newBuilder().setDataType(OnnxTypes.toOnnx(t.dtype()));
        if (name != null) {
            b.setName(name);
        }
        for (long d : t.shape()) {
            b.addDims(d);
        }
        if (t.dtype() == DType.STRING) {
            // strings have no raw layout: ONNX keeps them, UTF-8 encoded, in string_data
            for (String v : t.toStringArray()) {
                b.addStringData(ByteString.copyFromUtf8(v));
            }
            return b.build();
        }
        return b.setRawData(ByteString.copyFrom(t.buffer())).build();
    }

    static Onnx.NodeProto node(Node n) {
        Onnx.NodeProto.Builder b = Onnx.NodeProto.newBuilder()
                .setOpType(n.opType())
                .setName(n.name())
                .addAllInput(n.inputs())
                .addAllOutput(n.outputs());
        if (!n.domain().isEmpty()) {
            b.setDomain(n.domain());
        }
        for (Map.Entry<String, Attribute> e : n.attributes().entrySet()) {
            b.addAttribute(attribute(e.getKey(), e.getValue()));
        }
        return b.build();
    }

    static Onnx.AttributeProto attribute(String name, Attribute a) {
        Onnx.AttributeProto.Builder b = Onnx.AttributeProto.newBuilder().setName(name);
        if (a instanceof Attribute.Int i) {
            b.setType(Onnx.AttributeProto.AttributeType.INT).setI(i.value());
        } else if (a instanceof Attribute.Float f) {
            b.setType(Onnx.AttributeProto.AttributeType.FLOAT).setF(f.value());
        } else if (a instanceof Attribute.Str s) {
            b.setType(Onnx.AttributeProto.AttributeType.STRING)
                    .setS(ByteString.copyFrom(s.value(), StandardCharsets.UTF_8));
        } else if (a instanceof Attribute.Ints is) {
            b.setType(Onnx.AttributeProto.AttributeType.INTS);
            for (long v : is.values()) {
                b.addInts(v);
            }
        } else if (a instanceof Attribute.Floats fs) {
            b.setType(Onnx.AttributeProto.AttributeType.FLOATS);
            for (float v : fs.values()) {
                b.addFloats(v);
            }
        } else if (a instanceof Attribute.Strs ss) {
            b.setType(Onnx.AttributeProto.AttributeType.STRINGS);
            for (String v : ss.values()) {
                b.addStrings(ByteString.copyFrom(v, StandardCharsets.UTF_8));
            }
        } else if (a instanceof Attribute.TensorValue tv) {
            b.setType(Onnx.AttributeProto.AttributeType.TENSOR).setT(tensor(null, tv.value()));
        } else if (a instanceof Attribute.Opaque op) {
            try {
                return Onnx.AttributeProto.parseFrom(op.proto()).toBuilder()
                        .setName(name)
                        .build();
            } catch (InvalidProtocolBufferException e) {
                throw new IllegalStateException("attribute " + name + " holds an invalid AttributeProto", e);
            }
        }
        return b.build();
    }
}
