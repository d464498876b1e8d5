package dev.forge.compiler.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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
            g.addInput(valueInfo(in.name(), in.type()));
        }
        for (ValueInfo out : graph.outputs()) {
            g.addOutput(valueInfo(out.name(), out.type()));
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
     * A test-only hook: with {@code -Dforge.test.atomicWritePauseMillis=N} every atomic write (or, with
     * {@code -Dforge.test.atomicWritePauseSuffix=.ckpt}, only writes of names ending so) stops for N ms
     * after the temporary file is complete and synced and before the rename, and says so on stderr, so
     * that a crash test can kill the process deterministically inside that window.
     */
    static final String PAUSE_PROPERTY = "forge.test.atomicWritePauseMillis";

    static final String PAUSE_SUFFIX_PROPERTY = "forge.test.atomicWritePauseSuffix";

    /**
     * Writes bytes to {@code path} through a temporary file and an atomic rename: the bytes go to
     * {@code .<name>.<pid>.<random>.tmp} in the same directory, are forced to disk, and the file is
     * renamed over {@code path}; the directory is synced afterwards. A reader, or a process killed at
     * any moment, sees either the old complete file or the new complete file under {@code path}, never a
     * partial one. Temporary files that a killed process left behind for the same target are deleted
     * here (their process id is no longer alive); a temporary file is never read as a result.
     */
    public static void writeAtomically(Path path, byte[] bytes) {
        Path abs = path.toAbsolutePath();
        Path dir = abs.getParent();
        String prefix = "." + abs.getFileName() + ".";
        try {
            Files.createDirectories(dir);
            removeStaleTemporaries(dir, prefix);
            Path tmp =
                    Files.createTempFile(dir, prefix + ProcessHandle.current().pid() + ".", ".tmp");
            // createTempFile makes the file private (0600); a model or array is an ordinary file: rw-r--r--
            if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                Files.setPosixFilePermissions(
                        tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            }
            try {
                try (OutputStream out = Files.newOutputStream(tmp)) {
                    out.write(bytes);
                }
                try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                pauseForCrashTests(abs, tmp);
                try {
                    Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
                }
                syncDirectory(dir);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path + ": " + e.getMessage(), e);
        }
    }

    /** Deletes {@code <prefix><pid>.<random>.tmp} files whose writing process is gone. */
    private static void removeStaleTemporaries(Path dir, String prefix) {
        try (var files = Files.newDirectoryStream(dir, p -> {
            String n = p.getFileName().toString();
            return n.startsWith(prefix) && n.endsWith(".tmp");
        })) {
            for (Path p : files) {
                String rest = p.getFileName().toString().substring(prefix.length());
                int dot = rest.indexOf('.');
                long pid;
                try {
                    pid = Long.parseLong(dot < 0 ? "" : rest.substring(0, dot));
                } catch (NumberFormatException e) {
                    continue; // not one of ours
                }
                if (pid != ProcessHandle.current().pid()
                        && ProcessHandle.of(pid).isEmpty()) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException | RuntimeException e) {
            // cleaning up is a courtesy; the write itself does not depend on it
        }
    }

    /** Makes the rename durable: fsync of the directory (where the file system supports it). */
    private static void syncDirectory(Path dir) {
        try (var ch = java.nio.channels.FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            // not supported on this platform (Windows): the rename is atomic but may not be durable yet
        }
    }

    private static void pauseForCrashTests(Path target, Path tmp) {
        long millis = Long.getLong(PAUSE_PROPERTY, 0);
        String suffix = System.getProperty(PAUSE_SUFFIX_PROPERTY, "");
        if (millis > 0 && target.toString().endsWith(suffix)) {
            System.err.println("forge: test: paused before renaming " + tmp + " to " + target);
            System.err.flush();
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static Onnx.ValueInfoProto valueInfo(String name, ValueType type) {
        Onnx.TypeProto.Tensor.Builder tt =
                Onnx.TypeProto.Tensor.newBuilder().setElemType(OnnxTypes.toOnnx(type.dtype()));
        if (type.shape() != null) {
            Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
            for (Dim d : type.shape().dims()) {
                Onnx.TensorShapeProto.Dimension.Builder dim = Onnx.TensorShapeProto.Dimension.newBuilder();
                if (d.isFixed()) {
                    dim.setDimValue(d.value());
                } else if (d.isSymbolic()) {
                    dim.setDimParam(d.symbol());
                }
                shape.addDim(dim);
            }
            tt.setShape(shape);
        }
        return Onnx.ValueInfoProto.newBuilder()
                .setName(name)
                .setType(Onnx.TypeProto.newBuilder().setTensorType(tt))
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
