package dev.forge.compiler.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The graph's name, producer and consumer look-ups stay right through every mutation. */
class GraphTest {
    private static final ValueType T = new ValueType(DType.FLOAT32, Shape.fixed(2));

    private static Node node(String op, String name, List<String> in, List<String> out) {
        return new Node(op, name, in, out, Map.of());
    }

    /** x -> a = Relu(x); b = Add(a, a); c = Mul(a, w). */
    private static Graph sample() {
        Graph g = new Graph("g");
        g.addInput(new ValueInfo("x", T));
        g.addInitializer("w", Tensor.of(new float[] {1, 2}, 2));
        g.addNode(node("Relu", "relu", List.of("x"), List.of("a")), List.of(T));
        g.addNode(node("Add", "add", List.of("a", "a"), List.of("b")), List.of(T));
        g.addNode(node("Mul", "mul", List.of("a", "w"), List.of("c")), List.of(T));
        g.addOutput(new ValueInfo("c", T));
        return g;
    }

    private static List<String> names(List<Node> nodes) {
        return nodes.stream().map(Node::name).toList();
    }

    @Test
    void look_ups_see_inputs_initializers_and_node_outputs() {
        Graph g = sample();
        assertEquals(Set.of("x", "w", "a", "b", "c"), g.valueNames());
        assertTrue(g.hasValue("x") && g.hasValue("w") && g.hasValue("b"));
        assertFalse(g.hasValue("nothing"));
        assertEquals("relu", g.producer("a").name());
        assertNull(g.producer("x"));
        // a node reading a value twice is listed once
        assertEquals(List.of("add", "mul"), names(g.consumers("a")));
        assertEquals(List.of("mul"), names(g.consumers("w")));
        assertSame(g.nodes().get(1), g.node("add"));
        assertThrows(IllegalArgumentException.class, () -> g.addInitializer("a", Tensor.of(new float[] {0}, 1)));
        assertThrows(
                IllegalArgumentException.class,
                () -> g.addNode(node("Relu", "r2", List.of("b"), List.of("x")), List.of(T)));
    }

    @Test
    void renaming_a_value_updates_its_producer_consumers_and_outputs() {
        Graph g = sample();
        g.renameValue("a", "a2");
        assertFalse(g.hasValue("a"));
        assertNull(g.producer("a"));
        assertEquals(List.of(), g.consumers("a"));
        assertEquals("relu", g.producer("a2").name());
        assertEquals(List.of("a2"), g.producer("a2").outputs());
        assertEquals(List.of("add", "mul"), names(g.consumers("a2")));
        assertEquals(List.of("a2", "a2"), g.node("add").inputs());
        assertSame(g.nodes().get(2), g.node("mul"));
        g.renameValue("c", "out");
        assertEquals("out", g.outputs().get(0).name());
        assertEquals("mul", g.producer("out").name());
        g.renameValue("w", "weight");
        assertTrue(g.initializers().containsKey("weight"));
        assertEquals(List.of("mul"), names(g.consumers("weight")));
        assertEquals(List.of("a2", "weight"), g.node("mul").inputs());
        g.renameValue("x", "image");
        assertTrue(g.hasValue("image"));
        assertFalse(g.hasValue("x"));
        assertEquals(List.of("relu"), names(g.consumers("image")));
        // the old name is free again
        g.addInitializer("a", Tensor.of(new float[] {3, 4}, 2));
        assertTrue(g.hasValue("a"));
    }

    @Test
    void set_nodes_and_remove_initializer_rebuild_the_indexes() {
        Graph g = sample();
        g.setNodes(List.of(g.node("relu"), node("Neg", "neg", List.of("a"), List.of("c"))));
        assertNull(g.producer("b"));
        assertNull(g.node("add"));
        assertFalse(g.hasValue("b"));
        assertEquals("neg", g.producer("c").name());
        assertEquals(List.of("neg"), names(g.consumers("a")));
        assertEquals(List.of(), g.consumers("w"));
        g.removeInitializer("w");
        assertFalse(g.hasValue("w"));
        g.addInitializer("w", Tensor.of(new float[] {5, 6}, 2));
        assertTrue(g.hasValue("w"));
    }

    @Test
    void a_copy_has_its_own_indexes() {
        Graph g = sample();
        Graph copy = g.copy();
        copy.addNode(node("Neg", "neg", List.of("b"), List.of("d")), List.of(T));
        copy.renameValue("a", "a2");
        assertEquals("neg", copy.producer("d").name());
        assertEquals(List.of("neg"), names(copy.consumers("b")));
        assertNull(g.producer("d"));
        assertEquals("relu", g.producer("a").name());
        assertEquals(List.of("add", "mul"), names(g.consumers("a")));
        assertEquals(List.of("add", "mul"), names(copy.consumers("a2")));
    }
}
