package dev.forge.compiler.autodiff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.TrainingGraph;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The weight gradient of grouped and depthwise convolutions does not grow with the number of groups. */
class GroupedConvGradientTest {
    /** A depthwise 3x3 Conv (stride 2, pad 1) over {@code channels} channels, pooled into a linear head. */
    private static Graph depthwise(long channels, long multiplier) {
        GraphBuilder b = new GraphBuilder("dw").seed(0);
        Value x = b.input("x", Shape.of("N", channels, 13, 13));
        x = b.conv2d(
                "dw",
                x,
                Conv2d.of(channels * multiplier, 3).stride(2).padding(1).groups(channels));
        b.output(b.linear("fc", b.flatten(b.globalAvgPool(x)), 10), "y");
        return b.build();
    }

    private static Map<String, Long> opCounts(Graph g) {
        Map<String, Long> counts = new TreeMap<>();
        for (Node n : g.nodes()) {
            counts.merge(n.opType(), 1L, Long::sum);
        }
        return counts;
    }

    @Test
    void a_depthwise_conv_training_graph_has_the_same_nodes_for_4_and_256_channels() {
        for (long multiplier : new long[] {1, 2}) {
            Graph small = TrainingGraph.build(depthwise(4, multiplier), Loss.MSE, Optimizer.sgd(0.1))
                    .graph();
            Graph large = TrainingGraph.build(depthwise(256, multiplier), Loss.MSE, Optimizer.sgd(0.1))
                    .graph();
            assertEquals(opCounts(small), opCounts(large), "multiplier " + multiplier);
            // no per-channel subgraph
            assertTrue(large.nodes().size() < 80, large.nodes().size() + " nodes");
        }
    }

    @Test
    void a_grouped_conv_training_graph_has_the_same_nodes_for_2_and_64_groups() {
        // 4 channels per group x 3x3 taps: patches by a one-hot grouped Conv; 8 x 3x3 = 72: by tap slices
        for (long perGroup : new long[] {4, 8}) {
            Graph[] graphs = new Graph[2];
            long[] groups = {2, 64};
            for (int k = 0; k < 2; k++) {
                GraphBuilder b = new GraphBuilder("grouped").seed(0);
                Value x = b.input("x", Shape.of("N", perGroup * groups[k], 8, 8));
                x = b.conv2d("c", x, Conv2d.of(8 * groups[k], 3).padding(1).groups(groups[k]));
                b.output(b.linear("fc", b.flatten(b.globalAvgPool(x)), 10), "y");
                graphs[k] = TrainingGraph.build(b.build(), Loss.MSE, Optimizer.sgd(0.1))
                        .graph();
            }
            assertEquals(opCounts(graphs[0]), opCounts(graphs[1]), perGroup + " channels per group");
        }
    }
}
