package dev.forge.compiler.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NodeTest {
    private static final List<String> SORTED =
            List.of("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides");

    private static Map<String, Attribute> conv() {
        return Map.of(
                "strides",
                new Attribute.Ints(new long[] {1, 1}),
                "pads",
                new Attribute.Ints(new long[] {0, 0, 0, 0}),
                "group",
                new Attribute.Int(1),
                "dilations",
                new Attribute.Ints(new long[] {1, 1}),
                "kernel_shape",
                new Attribute.Ints(new long[] {3, 3}),
                "auto_pad",
                new Attribute.Str("NOTSET"));
    }

    @Test
    void attributes_from_unordered_maps_are_sorted_so_graphs_serialize_the_same_every_run() {
        assertEquals(
                SORTED,
                List.copyOf(new Node("Conv", "c", List.of("x", "w"), List.of("y"), conv())
                        .attributes()
                        .keySet()));
        assertEquals(
                SORTED,
                List.copyOf(new Node("Conv", "c", List.of("x", "w"), List.of("y"), new HashMap<>(conv()))
                        .attributes()
                        .keySet()));
    }

    @Test
    void attributes_from_ordered_maps_keep_their_order_so_imports_round_trip() {
        Map<String, Attribute> given = new LinkedHashMap<>();
        given.put("strides", new Attribute.Ints(new long[] {1, 1}));
        given.put("kernel_shape", new Attribute.Ints(new long[] {3, 3}));
        given.put("auto_pad", new Attribute.Str("NOTSET"));
        Node n = new Node("Conv", "c", List.of("x", "w"), List.of("y"), given);
        assertEquals(
                List.of("strides", "kernel_shape", "auto_pad"),
                List.copyOf(n.attributes().keySet()));
        Node copy = new Node("Conv", "c2", List.of("x", "w"), List.of("z"), n.attributes());
        assertEquals(
                List.copyOf(n.attributes().keySet()),
                List.copyOf(copy.attributes().keySet()));
    }
}
