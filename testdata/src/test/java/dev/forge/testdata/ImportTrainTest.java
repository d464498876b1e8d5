package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.data.Mnist;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainable;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.compiler.train.TrainingResult;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Models exported by PyTorch are imported and trained: initializers become parameters, BN trains. */
class ImportTrainTest {

    @ParameterizedTest(name = "opset {0}")
    @ValueSource(ints = {13, 17})
    void pytorch_mnist_cnn_with_batchnorm_trains_on_mnist(int opset) {
        Graph g = Trainable.prepare(OnnxReader.read(Golden.onnx("mnist-cnn", opset, "model_bn.onnx")));
        assertTrue(
                g.parameters()
                        .containsAll(List.of(
                                "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "fc.weight", "fc.bias")),
                "parameters " + g.parameters());
        assertFalse(
                g.parameters().contains("bn1.running_mean") || g.parameters().contains("bn1.running_var"));
        Tensor meanBefore = g.initializers().get("bn1.running_mean");
        TrainingResult r = Training.of(g)
                .loss(Loss.CROSS_ENTROPY)
                .optimizer(Optimizer.adam(0.01))
                .batchSize(64)
                .seed(3)
                .maxStepsPerEpoch(60)
                .fit(Mnist.train().subset(0, 3840), Mnist.test().subset(0, 1000));
        assertTrue(
                r.evaluation().accuracy() > 0.85,
                "accuracy after 60 steps: " + r.evaluation().accuracy());
        assertNotEquals(meanBefore, r.state().get("bn1.running_mean"), "running statistics are updated in training");
    }

    @Test
    void pytorch_ops_zoo_one_sgd_step_lowers_the_loss() {
        Graph g = Trainable.prepare(OnnxReader.read(Golden.onnx("ops-zoo", 17, "model_bn.onnx")));
        Tensor x = Golden.input("ops-zoo");
        Tensor y = Tensor.of(new long[] {0, 3, 4}, 3);
        try (Trainer t = new Trainer(TrainingGraph.build(g, Loss.CROSS_ENTROPY, Optimizer.sgd(0.05)), 0, 0)) {
            double before = t.step(x, y, 1, 0.05).loss();
            double after = t.step(x, y, 2, 0.05).loss();
            assertTrue(after < before, "loss " + before + " -> " + after);
        }
    }

    @Test
    void unsupported_ops_are_all_listed_in_one_error() {
        GraphBuilder b = new GraphBuilder("odd");
        Value x = b.input("input", Shape.of("N", 4));
        // two ops with no gradient rule (yet)
        Value h = b.node(
                "Mod",
                "mod1",
                List.of(x, b.constant("two", Tensor.of(new float[] {2f}))),
                Map.of("fmod", new Attribute.Int(1)));
        h = b.node("ReduceProd", "prod1", List.of(h), Map.of("axes", new Attribute.Ints(new long[] {1})));
        Value w = b.parameter("w", Tensor.of(new float[] {1, 2, 3, 4}, 4));
        Graph g = b.output(b.mul(h, w), "out").build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainable.prepare(g));
        assertTrue(
                e.getMessage().contains("Mod (mod1)") && e.getMessage().contains("ReduceProd (prod1)"), e.getMessage());
        assertTrue(e.getMessage().contains("differentiable ops are"), e.getMessage());
    }
}
