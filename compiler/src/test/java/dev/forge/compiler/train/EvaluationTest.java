package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.Model;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Evaluation#of}: a model loaded in the runtime scored on a data set. */
class EvaluationTest {
    @TempDir
    Path dir;

    /** Logits (all >= 0, so the model's ReLU passes them through) and labels; the third row is misclassified. */
    private static final float[][] LOGITS = {{2, 0, 0}, {0, 3, 0}, {1, 0, 0}, {0, 0, 5}};

    private static final long[] LABELS = {0, 1, 2, 2};

    @Test
    void of_a_runtime_model_gives_accuracy_confusion_and_the_mean_cross_entropy() throws Exception {
        Path file = dir.resolve("relu.onnx");
        GraphBuilder b = new GraphBuilder("relu");
        OnnxWriter.write(
                b.output(b.relu(b.input("x", Shape.of("N", 3))), "logits").build(), file);
        float[] x = new float[12];
        double expectedLoss = 0;
        for (int r = 0; r < 4; r++) {
            System.arraycopy(LOGITS[r], 0, x, r * 3, 3);
            double sum = 0;
            for (float v : LOGITS[r]) {
                sum += Math.exp(v);
            }
            expectedLoss += Math.log(sum) - LOGITS[r][(int) LABELS[r]];
        }
        Dataset data = NpyDataset.of(Tensor.of(x, 4, 3), Tensor.of(LABELS, 4), 3);
        try (Model m = Model.load(file)) {
            // batch 3: one full batch and one of a single sample
            Evaluation e = Evaluation.of(m, data, 3);
            assertEquals(4, e.samples());
            assertEquals(0.75, e.accuracy());
            assertEquals(expectedLoss / 4, e.loss(), 1e-6);
            assertArrayEquals(new long[] {1, 0, 0}, e.confusion()[0]);
            assertArrayEquals(new long[] {0, 1, 0}, e.confusion()[1]);
            assertArrayEquals(new long[] {1, 0, 1}, e.confusion()[2]);

            Dataset fourClasses = NpyDataset.of(Tensor.of(x, 4, 3), Tensor.of(LABELS, 4), 4);
            IllegalArgumentException wrong =
                    assertThrows(IllegalArgumentException.class, () -> Evaluation.of(m, fourClasses, 4));
            assertTrue(wrong.getMessage().contains("is not [batch, 4] class scores"), wrong.getMessage());
            Dataset regression = NpyDataset.of(Tensor.of(x, 4, 3), Tensor.of(x, 4, 3), 0);
            assertThrows(IllegalArgumentException.class, () -> Evaluation.of(m, regression, 4));
        }
    }
}
