package dev.forge.compiler.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.autodiff.Autodiff;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.IrType;
import dev.forge.compiler.ir.OptionalType;
import dev.forge.compiler.ir.SequenceType;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.OptionalValue;
import dev.forge.runtime.Tensor;
import dev.forge.runtime.TensorSequence;
import dev.forge.runtime.Value;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sequence and optional values in the compiler's IR: read from a model, typed by the sequence and optional
 * rules (checked against ONNX's own shape inference), written back and read again, run in the runtime,
 * and refused where they are not carried (maps) or have no gradient (the autodiff).
 */
class OnnxSequenceOptionalTest {
    private static final ValueType F23 = new ValueType(DType.FLOAT32, Shape.fixed(2, 3));

    @TempDir
    Path tmp;

    private static Onnx.TypeProto tensor(int elemType, long... dims) {
        Onnx.TypeProto.Tensor.Builder t = Onnx.TypeProto.Tensor.newBuilder().setElemType(elemType);
        if (dims != null) {
            Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
            for (long d : dims) {
                shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
            }
            t.setShape(shape);
        }
        return Onnx.TypeProto.newBuilder().setTensorType(t).build();
    }

    private static Onnx.TypeProto sequence(Onnx.TypeProto element) {
        return Onnx.TypeProto.newBuilder()
                .setSequenceType(Onnx.TypeProto.Sequence.newBuilder().setElemType(element))
                .build();
    }

    private static Onnx.TypeProto optional(Onnx.TypeProto element) {
        return Onnx.TypeProto.newBuilder()
                .setOptionalType(Onnx.TypeProto.Optional.newBuilder().setElemType(element))
                .build();
    }

    private static Onnx.ValueInfoProto value(String name, Onnx.TypeProto type) {
        return Onnx.ValueInfoProto.newBuilder().setName(name).setType(type).build();
    }

    private static Onnx.NodeProto node(String op, String name, List<String> in, String out) {
        return Onnx.NodeProto.newBuilder()
                .setOpType(op)
                .setName(name)
                .addAllInput(in)
                .addOutput(out)
                .build();
    }

    private static Onnx.ModelProto model(Onnx.GraphProto.Builder graph) {
        return Onnx.ModelProto.newBuilder()
                .setIrVersion(8)
                .addOpsetImport(
                        Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(16))
                .setGraph(graph)
                .build();
    }

    /**
     * seq = SequenceConstruct(a, b); second = SequenceAt(seq, 1); len = SequenceLength(seq); opt = Optional(a);
     * has = OptionalHasElement(opt); got = OptionalGetElement(opt). Tensor outputs declare element types only,
     * the sequence and the optional declare no shape, so shapes come from the compiler's rules.
     */
    private static Onnx.ModelProto sequencesAndOptionals() {
        Onnx.TensorProto one = Onnx.TensorProto.newBuilder()
                .setName("one")
                .setDataType(7)
                .addInt64Data(1)
                .build();
        return model(Onnx.GraphProto.newBuilder()
                .setName("seqopt")
                .addInput(value("a", tensor(1, 2, 3)))
                .addInput(value("b", tensor(1, 2, 3)))
                .addInitializer(one)
                .addNode(node("SequenceConstruct", "construct", List.of("a", "b"), "seq"))
                .addNode(node("SequenceAt", "at", List.of("seq", "one"), "second"))
                .addNode(node("SequenceLength", "length", List.of("seq"), "len"))
                .addNode(node("Optional", "wrap", List.of("a"), "opt"))
                .addNode(node("OptionalHasElement", "has_element", List.of("opt"), "has"))
                .addNode(node("OptionalGetElement", "get_element", List.of("opt"), "got"))
                .addOutput(value("seq", sequence(tensor(1, (long[]) null))))
                .addOutput(value("second", tensor(1, (long[]) null)))
                .addOutput(value("len", tensor(7, (long[]) null)))
                .addOutput(value("opt", optional(tensor(1, (long[]) null))))
                .addOutput(value("has", tensor(9, (long[]) null)))
                .addOutput(value("got", tensor(1, (long[]) null))));
    }

    private static final Map<String, IrType> EXPECTED = Map.of(
            "seq", new SequenceType(F23),
            "second", F23,
            "len", new ValueType(DType.INT64, Shape.of()),
            "opt", new OptionalType(F23),
            "has", new ValueType(DType.BOOL, Shape.of()),
            "got", F23);

    @Test
    void sequence_and_optional_values_are_read_typed_written_and_read_again() {
        Graph g = OnnxReader.read(sequencesAndOptionals().toByteArray(), "seqopt.onnx");
        EXPECTED.forEach((name, type) -> assertEquals(type, g.irType(name), name));
        // tensor code sees a sequence or an optional as untyped
        assertEquals(null, g.type("seq"));
        assertEquals(F23, g.type("second"));
        // graph outputs keep what the model declares, with inferred shapes only where a tensor left them open
        assertEquals(
                new SequenceType(new ValueType(DType.FLOAT32, null)),
                g.outputs().get(0).irType());
        assertEquals(
                new OptionalType(new ValueType(DType.FLOAT32, null)),
                g.outputs().get(3).irType());
        assertEquals(F23, g.outputs().get(1).type());
        IllegalStateException e = assertThrows(
                IllegalStateException.class, () -> g.outputs().get(0).type());
        assertTrue(e.getMessage().contains("value 'seq' is a sequence(float32[?]), not a tensor"), e.getMessage());

        byte[] once = OnnxWriter.toBytes(g);
        Graph back = OnnxReader.read(once, "back.onnx");
        assertEquals(g.inputs(), back.inputs());
        assertEquals(g.outputs(), back.outputs());
        EXPECTED.forEach((name, type) -> assertEquals(type, back.irType(name), name));
        assertTrue(java.util.Arrays.equals(once, OnnxWriter.toBytes(back)), "write(read(write(g))) == write(g)");

        // shape inference over the whole graph gives the same types
        Graph again = back.copy();
        ShapeInference.run(again);
        EXPECTED.forEach((name, type) -> assertEquals(type, again.irType(name), name));
    }

    @Test
    void the_rules_agree_with_onnx_shape_inference() throws Exception {
        Path file = tmp.resolve("seqopt.onnx");
        OnnxWriter.write(OnnxReader.read(sequencesAndOptionals().toByteArray(), "seqopt.onnx"), file);
        Path inferred = tmp.resolve("inferred.onnx");
        PythonOnnx.inferTypes(file, inferred);
        Onnx.ModelProto onnx = Onnx.ModelProto.parseFrom(Files.readAllBytes(inferred));
        for (Onnx.ValueInfoProto vi : onnx.getGraph().getOutputList()) {
            assertEquals(
                    EXPECTED.get(vi.getName()),
                    OnnxTypes.irType(vi.getType().toByteArray(), vi.getName()),
                    vi.getName() + " as onnx.shape_inference types it");
        }
        assertEquals(EXPECTED.size(), onnx.getGraph().getOutputCount());
    }

    @Test
    void the_written_model_passes_the_checker_and_runs_in_the_runtime() throws Exception {
        Path file = tmp.resolve("seqopt.onnx");
        OnnxWriter.write(OnnxReader.read(sequencesAndOptionals().toByteArray(), "seqopt.onnx"), file);
        PythonOnnx.checkModel(file);
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = Tensor.of(new float[] {-1, -2, -3, -4, -5, -6}, 2, 3);
        try (Model m = Model.load(file, ModelOptions.defaults())) {
            Map<String, Value> out = m.runValues(Map.of("a", a, "b", b));
            assertEquals(TensorSequence.of(DType.FLOAT32, List.of(a, b)), out.get("seq"));
            assertEquals(b, out.get("second"));
            assertEquals(Tensor.of(new long[] {2}), out.get("len"));
            assertEquals(OptionalValue.of(a), out.get("opt"));
            assertEquals(Tensor.ofBool(new boolean[] {true}), out.get("has"));
            assertEquals(a, out.get("got"));
        }
    }

    @Test
    void a_map_type_is_refused_naming_it() {
        Onnx.TypeProto map = Onnx.TypeProto.newBuilder()
                .setMapType(Onnx.TypeProto.Map.newBuilder().setKeyType(7).setValueType(tensor(1, (long[]) null)))
                .build();
        Onnx.ModelProto m = model(Onnx.GraphProto.newBuilder()
                .setName("map")
                .addInput(value("m", map))
                .addNode(node("Identity", "id", List.of("m"), "y"))
                .addOutput(value("y", map)));
        OnnxFormatException e =
                assertThrows(OnnxFormatException.class, () -> OnnxReader.read(m.toByteArray(), "map.onnx"));
        assertTrue(
                e.getMessage()
                        .contains("map.onnx: value 'm' is a map_type (map from int64); the compiler carries tensor,"
                                + " sequence_type and optional_type values, not maps"),
                e.getMessage());
    }

    @Test
    void the_autodiff_refuses_a_sequence_on_a_differentiated_path() {
        Onnx.TensorProto zero = Onnx.TensorProto.newBuilder()
                .setName("zero")
                .setDataType(7)
                .addInt64Data(0)
                .build();
        Onnx.ModelProto m = model(Onnx.GraphProto.newBuilder()
                .setName("seqloss")
                .addInput(value("w", tensor(1, 3)))
                .addInitializer(zero)
                .addNode(node("SequenceConstruct", "construct", List.of("w", "w"), "seq"))
                .addNode(node("SequenceAt", "at", List.of("seq", "zero"), "x"))
                .addNode(Onnx.NodeProto.newBuilder()
                        .setOpType("ReduceSum")
                        .setName("sum")
                        .addInput("x")
                        .addOutput("loss")
                        .addAttribute(Onnx.AttributeProto.newBuilder()
                                .setName("keepdims")
                                .setType(Onnx.AttributeProto.AttributeType.INT)
                                .setI(0)))
                .addOutput(value("loss", tensor(1))));
        Graph g = OnnxReader.read(m.toByteArray(), "seqloss.onnx");
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Autodiff.gradients(g, "loss", List.of("w")));
        assertTrue(
                e.getMessage().startsWith("SequenceAt(at): 'seq' is a sequence(float32[3]), not a tensor, on the path"),
                e.getMessage());
    }

    @Test
    void training_refuses_a_model_with_a_sequence_output() {
        // one data input and a trainable weight, as training wants, but the prediction is a sequence
        Onnx.TensorProto w = Onnx.TensorProto.newBuilder()
                .setName("w")
                .setDataType(1)
                .addDims(3)
                .addFloatData(1)
                .addFloatData(2)
                .addFloatData(3)
                .build();
        Onnx.ModelProto m = model(Onnx.GraphProto.newBuilder()
                .setName("seqnet")
                .addInput(value("x", tensor(1, 2, 3)))
                .addInitializer(w)
                .addNode(node("Mul", "scale", List.of("x", "w"), "y"))
                .addNode(node("SequenceConstruct", "construct", List.of("y", "y"), "seq"))
                .addOutput(value("seq", sequence(tensor(1, 2, 3)))));
        Graph g = OnnxReader.read(m.toByteArray(), "seqnet.onnx");
        g.markParameter("w");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> TrainingGraph.build(g, Loss.MSE, Optimizer.sgd(0.1)));
        assertTrue(
                e.getMessage()
                        .startsWith("the model's output 'seq' is a sequence(float32[2,3]); training needs a model"
                                + " whose inputs and outputs are tensors"),
                e.getMessage());
    }

    @Test
    void value_infos_of_graph_inputs_keep_sequence_types() {
        ValueInfo v = new ValueInfo("s", new SequenceType(F23));
        assertEquals(false, v.isTensor());
        assertEquals("s: sequence(float32[2,3])", v.toString());
    }
}
