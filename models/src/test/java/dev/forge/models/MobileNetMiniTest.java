package dev.forge.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.FashionMnist;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingResult;
import java.util.List;
import org.junit.jupiter.api.Test;

class MobileNetMiniTest {
    @Test
    void has_mobilenet_v2_blocks_and_ten_logits() {
        Graph g = MobileNetMini.build(0);
        assertEquals(Shape.of("N", 10), g.type("logits").shape());
        List<Node> nodes = g.nodes();
        long depthwise = nodes.stream()
                .filter(n -> n.opType().equals("Conv") && n.name().endsWith("/dw"))
                .filter(n ->
                        n.attributes().get("group") instanceof dev.forge.compiler.ir.Attribute.Int i && i.value() > 1)
                .count();
        assertEquals(6, depthwise, "one depthwise convolution per inverted residual block");
        assertEquals(3, nodes.stream().filter(n -> n.opType().equals("Add")).count(), "residuals where shapes match");
        assertTrue(nodes.stream().anyMatch(n -> n.opType().equals("Clip")), "ReLU6 as Clip");
        assertTrue(g.parameters().stream()
                .allMatch(p -> p.startsWith("stem")
                        || p.startsWith("block")
                        || p.startsWith("head")
                        || p.startsWith("classifier")));
    }

    @Test
    void learns_fashion_mnist_from_a_thousand_images() {
        Dataset train = FashionMnist.train().subset(0, 1024);
        Dataset test = FashionMnist.test().subset(0, 512);
        TrainingResult r = Training.of(MobileNetMini.build(0))
                .loss(Loss.CROSS_ENTROPY)
                .optimizer(Optimizer.adam(0.005))
                .batchSize(64)
                .epochs(3)
                .seed(1)
                .fit(train, test);
        assertTrue(
                r.evaluation().accuracy() > 0.5,
                "chance is 0.1, got " + r.evaluation().accuracy());
    }
}
