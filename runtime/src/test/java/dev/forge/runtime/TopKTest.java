package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TopKTest {
    // With W and B of TestModels: logits = [x0 + 0.5, x1 - 0.5, x2 + x3]
    private static final Tensor X = Tensor.of(
            new float[] {
                3, 0, 0, 0, // logits [3.5, -0.5, 0] -> cat
                0, 0, 2, 2, // logits [0.5, -0.5, 4] -> bird
            },
            2,
            4);

    private static double[] softmax(double... z) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v);
        }
        double sum = 0;
        double[] e = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            e[i] = Math.exp(z[i] - max);
            sum += e[i];
        }
        for (int i = 0; i < z.length; i++) {
            e[i] /= sum;
        }
        return e;
    }

    @Test
    void logitsGetASoftmaxAndLabelsComeFromMetadata() {
        try (Model m = Model.load(TestModels.classifier(false), "clf", ModelOptions.defaults())) {
            List<List<Prediction>> top = m.topK(X, 3);
            assertEquals(2, top.size());
            List<Prediction> row0 = top.get(0);
            assertEquals(
                    List.of("cat", "bird", "dog"),
                    row0.stream().map(Prediction::label).toList());
            assertEquals(List.of(0, 2, 1), row0.stream().map(Prediction::index).toList());
            double[] p = softmax(3.5, -0.5, 0);
            assertEquals(p[0], row0.get(0).probability(), 1e-6);
            assertEquals(p[2], row0.get(1).probability(), 1e-6);
            assertEquals(p[1], row0.get(2).probability(), 1e-6);
            assertEquals(1.0, row0.stream().mapToDouble(Prediction::probability).sum(), 1e-6);
            assertEquals("bird", top.get(1).get(0).label());
            assertEquals(softmax(0.5, -0.5, 4)[2], top.get(1).get(0).probability(), 1e-6);
        }
    }

    @Test
    void probabilitiesAreNotSoftmaxedTwice() {
        try (Model m = Model.load(TestModels.classifier(true), "probs", ModelOptions.defaults())) {
            List<Prediction> row = m.topK(X, 1).get(0);
            assertEquals(1, row.size());
            assertEquals("cat", row.get(0).label());
            assertEquals(softmax(3.5, -0.5, 0)[0], row.get(0).probability(), 1e-6);
        }
    }

    @Test
    void kIsValidated() {
        try (Model m = Model.load(TestModels.classifier(false), "clf", ModelOptions.defaults())) {
            for (int bad : new int[] {0, -1, 4}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.topK(X, bad));
                assertTrue(e.getMessage().contains("[1, 3]") && e.getMessage().contains("got " + bad), e.getMessage());
            }
        }
    }

    @Test
    void withoutClassLabelsTheIndexIsTheLabel() {
        try (Model m = Model.load(TestModels.relu(), "relu", ModelOptions.defaults())) {
            // relu outputs [N,4]; values >= 0 and rows not summing to 1 -> softmax
            List<Prediction> row =
                    m.topK(Tensor.of(new float[] {0, 5, 1, 0}, 1, 4), 2).get(0);
            assertEquals(List.of("1", "2"), row.stream().map(Prediction::label).toList());
            assertEquals(softmax(0, 5, 1, 0)[1], row.get(0).probability(), 1e-6);
        }
    }

    @Test
    void tiesKeepTheLowerIndexFirst() {
        try (Model m = Model.load(TestModels.relu(), "relu", ModelOptions.defaults())) {
            List<Prediction> row =
                    m.topK(Tensor.of(new float[] {1, 1, 1, 1}, 1, 4), 4).get(0);
            assertEquals(
                    List.of(0, 1, 2, 3), row.stream().map(Prediction::index).toList());
            assertEquals(0.25f, row.get(3).probability(), 1e-6);
        }
    }

    @Test
    void probabilityRuleIsDocumentedBehaviour() {
        assertTrue(ModelResults.areProbabilities(new double[] {0.2, 0.8, 1, 0}, 2, 2));
        assertFalse(ModelResults.areProbabilities(new double[] {-0.1, 1.1}, 1, 2), "a negative value means logits");
        assertFalse(
                ModelResults.areProbabilities(new double[] {0.2, 0.2}, 1, 2), "a row not summing to 1 means logits");
    }

    @Test
    void topKNeedsAClassifierShapedOutput() {
        try (Model m = Model.load(TestModels.add(), "add", ModelOptions.defaults())) {
            InvalidInputException e =
                    assertThrows(InvalidInputException.class, () -> m.topK(Tensor.of(new float[6], 2, 3), 1));
            assertTrue(e.getMessage().contains("one input"), e.getMessage());
        }
        try (Model m = Model.load(TestModels.conv(), "conv", ModelOptions.defaults())) {
            InvalidInputException e =
                    assertThrows(InvalidInputException.class, () -> m.topK(Tensor.of(new float[64], 1, 1, 8, 8), 1));
            assertTrue(e.getMessage().contains("[batch, classes]"), e.getMessage());
        }
    }

    @Test
    void predictionToString() {
        assertEquals("cat (0): 0.5000", new Prediction(0, "cat", 0.5f).toString());
    }
}
