package dev.forge.compiler.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.autodiff.Emitter;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.OnnxFormatException;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Attribute schemas are enforced where nodes are made: the builder, the emitter and the ONNX import. */
class AttributeSchemaTest {
    private static Value input(GraphBuilder b) {
        return b.input("x", Shape.fixed(1, 2, 6, 6));
    }

    @Test
    void misspelled_attribute_is_refused_naming_the_valid_ones() {
        GraphBuilder b = new GraphBuilder("typo");
        Value x = input(b);
        Value w = b.constant("w", Tensor.of(new float[2 * 2 * 3 * 3], 2, 2, 3, 3));
        AttributeException e = assertThrows(
                AttributeException.class,
                () -> b.node("Conv", "conv1", List.of(x, w), Map.of("stride", new Attribute.Ints(new long[] {2, 2}))));
        assertEquals(
                "Conv(conv1): unknown attribute 'stride'; did you mean 'strides'? Conv takes auto_pad, dilations, group,"
                        + " kernel_shape, pads, strides",
                e.getMessage());
    }

    @Test
    void an_unknown_attribute_unlike_any_valid_one_lists_them_without_a_guess() {
        GraphBuilder b = new GraphBuilder("unknown");
        AttributeException e = assertThrows(
                AttributeException.class,
                () -> b.node("Relu", "r", List.of(input(b)), Map.of("inplace", new Attribute.Int(1))));
        assertEquals("Relu(r): unknown attribute 'inplace'; Relu takes no attributes", e.getMessage());
        AttributeException e2 = assertThrows(
                AttributeException.class,
                () -> b.node(
                        "LeakyRelu",
                        "l",
                        List.of(
                                b.graph().inputs().isEmpty()
                                        ? null
                                        : new Value("x", b.graph().type("x"), b)),
                        Map.of("negative_slope", new Attribute.Float(0.1f))));
        assertEquals("LeakyRelu(l): unknown attribute 'negative_slope'; LeakyRelu takes alpha", e2.getMessage());
    }

    @Test
    void an_attribute_of_the_wrong_type_is_refused() {
        GraphBuilder b = new GraphBuilder("types");
        AttributeException e = assertThrows(
                AttributeException.class,
                () -> b.node("Constant", "c", List.of(), Map.of("value_floats", new Attribute.Int(1))));
        assertEquals(
                "Constant(c): attribute 'value_floats' must be a list of floats, got an int 1; give it as a list of floats",
                e.getMessage());
        Value x = input(b);
        AttributeException alpha = assertThrows(
                AttributeException.class,
                () -> b.node("LeakyRelu", "l", List.of(x), Map.of("alpha", new Attribute.Int(1))));
        assertTrue(
                alpha.getMessage().startsWith("LeakyRelu(l): attribute 'alpha' must be a float, got an int 1"),
                alpha.getMessage());
    }

    @Test
    void a_missing_required_attribute_is_refused() {
        GraphBuilder b = new GraphBuilder("required");
        Value x = input(b);
        AttributeException e =
                assertThrows(AttributeException.class, () -> b.node("MaxPool", "pool", List.of(x), Map.of()));
        assertEquals(
                "MaxPool(pool): attribute 'kernel_shape' (a list of ints) is required; MaxPool takes auto_pad, ceil_mode,"
                        + " dilations, kernel_shape, pads, storage_order, strides",
                e.getMessage());
    }

    @Test
    void the_emitter_refuses_an_internal_node_with_an_unknown_attribute() {
        GraphBuilder b = new GraphBuilder("emit");
        Graph g = b.output(b.relu(input(b)), "y").build();
        Emitter emit = new Emitter(g, "grad");
        IllegalStateException e = assertThrows(
                IllegalStateException.class,
                () -> emit.op(
                        "Transpose", List.of("y"), Map.of("permutation", new Attribute.Ints(new long[] {0, 1, 3, 2}))));
        assertTrue(
                e.getMessage()
                        .contains("Transpose(grad/Transpose_1): unknown attribute 'permutation'; did you mean 'perm'?"),
                e.getMessage());
    }

    @Test
    void import_refuses_an_attribute_the_operator_does_not_define() {
        Graph g = new Graph("bad");
        g.addInput(new ValueInfo(
                "x", new dev.forge.compiler.ir.ValueType(dev.forge.runtime.DType.FLOAT32, Shape.fixed(2, 3))));
        g.addNode(new Node("Softmax", "sm", List.of("x"), List.of("y"), Map.of("axes", new Attribute.Int(1))), null);
        g.addOutput(new ValueInfo("y", g.type("x")));
        byte[] bytes = OnnxWriter.toBytes(g);
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxReader.read(bytes, "bad.onnx"));
        assertEquals(
                "bad.onnx: Softmax(sm): unknown attribute 'axes'; did you mean 'axis'? Softmax takes axis",
                e.getMessage());
    }

    @Test
    void ops_outside_the_registry_are_not_checked() {
        Graph g = new Graph("custom");
        g.opsets().put("com.microsoft", 1L);
        g.addInput(new ValueInfo(
                "x", new dev.forge.compiler.ir.ValueType(dev.forge.runtime.DType.FLOAT32, Shape.fixed(2, 3))));
        g.addNode(
                new Node(
                        "Gelu",
                        "g",
                        "com.microsoft",
                        List.of("x"),
                        List.of("y"),
                        Map.of("anything", new Attribute.Int(1))),
                null);
        g.addNode(new Node("Celu", "c", List.of("y"), List.of("z"), Map.of("alpha", new Attribute.Float(2f))), null);
        g.addOutput(new ValueInfo("z", g.type("x")));
        Graph read = OnnxReader.read(OnnxWriter.toBytes(g), "custom.onnx");
        assertEquals(2, read.nodes().size());
    }

    @Test
    void a_misspelling_is_matched_to_the_closest_valid_name() {
        assertEquals("kernel_shape", Ops.closest("kernel_size", java.util.Set.of("kernel_shape", "pads", "strides")));
        assertEquals(
                "count_include_pad",
                Ops.closest("count_include_pads", java.util.Set.of("count_include_pad", "ceil_mode")));
        assertEquals(null, Ops.closest("inplace", java.util.Set.of("alpha")));
    }
}
