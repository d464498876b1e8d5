package dev.forge.compiler.passes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Constant subgraphs become initializers computed by ONNX Runtime; the model's outputs do not change. */
class FoldConstantsTest {
    static Graph fold(Graph g) {
        return Pipeline.of("fold", new FoldConstants(), new RemoveUnusedInitializers())
                .run(g, new PassContext());
    }

    @Test
    void a_chain_of_constant_nodes_and_a_fixed_shape_fold_to_initializers() {
        GraphBuilder b = new GraphBuilder("consts");
        Value x = b.input("input", Shape.of(2, 3));
        Value a = b.constant("a", Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 6));
        Value k = b.node("Constant", "k", List.of(), Map.of("value_float", new Attribute.Float(0.5f)));
        Value scaled = b.mul(a, k); // constant * Constant: folds
        Value shaped =
                b.node("Reshape", "shaped", List.of(scaled, b.node("Shape", "shape", List.of(x), Map.of())), Map.of());
        Value y = b.add(x, shaped); // reads the input: stays
        Graph g = b.output(y, "y").build();
        Graph folded = fold(g);
        assertEquals(List.of("Add"), PipelineTest.ops(folded));
        assertEquals(List.of("input", "shaped"), folded.nodes().get(0).inputs());
        assertArrayEquals(
                new float[] {0.5f, 1, 1.5f, 2, 2.5f, 3},
                folded.initializers().get("shaped").toFloatArray());
        assertArrayEquals(new long[] {2, 3}, folded.initializers().get("shaped").shape());
        assertEquals(List.of("shaped"), List.copyOf(folded.initializers().keySet()));
        Tensor in = Tensor.of(new float[] {1, 1, 1, 1, 1, 1}, 2, 3);
        assertArrayEquals(FoldBatchNormTest.run(g, in), FoldBatchNormTest.run(folded, in));
    }

    @Test
    void shapes_with_a_symbolic_batch_random_ops_and_large_results_stay() {
        GraphBuilder b = new GraphBuilder("kept");
        Value x = b.input("input", Shape.of("N", 3));
        Value one = b.constant("one", Tensor.of(new float[] {1f}));
        Value big = b.node(
                "Expand",
                "big",
                List.of(one, b.constant("big_shape", Tensor.of(new long[] {2048, 2048}, 2))),
                Map.of());
        Value small = b.node(
                "Expand", "small", List.of(one, b.constant("small_shape", Tensor.of(new long[] {3}, 1))), Map.of());
        Value shape = b.node("Shape", "shape", List.of(x), Map.of());
        Value y = b.node("Reshape", "y", List.of(b.add(x, small), shape), Map.of());
        Graph g = b.output(y, "y").output(big, "big").build();
        // a random op has no shape rule in the builder: add it with its type, reading the constant
        g.addNode(
                new Node("RandomUniformLike", "noise", List.of("small"), List.of("noise"), Map.of()),
                List.of(g.type("small")));
        g.addNode(
                new Node("Add", "twice", List.of("noise", "noise"), List.of("twice"), Map.of()),
                List.of(g.type("small")));
        g.addOutput(new ValueInfo("twice", g.type("small")));
        Graph folded = fold(g);
        List<String> ops = PipelineTest.ops(folded);
        assertEquals(List.of("Expand", "Shape", "Add", "Reshape", "RandomUniformLike", "Add"), ops);
        assertEquals("big", folded.nodes().get(0).name());
        assertTrue(
                folded.initializers().containsKey("small"),
                folded.initializers().keySet().toString());
    }

    @Test
    void an_expand_too_large_to_fold_is_left_to_run() {
        GraphBuilder b = new GraphBuilder("large");
        Value x = b.input("input", Shape.of(2048, 2048));
        Value one = b.constant("one", Tensor.of(new float[] {1f}));
        Value big = b.node(
                "Expand",
                "big",
                List.of(one, b.constant("big_shape", Tensor.of(new long[] {2048, 2048}, 2))),
                Map.of());
        Graph g = b.output(b.add(x, big), "y").build();
        assertEquals(List.of("Expand", "Add"), PipelineTest.ops(fold(g)));
    }
}
