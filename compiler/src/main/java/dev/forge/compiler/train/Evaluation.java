package dev.forge.compiler.train;

import dev.forge.compiler.data.Batch;
import dev.forge.compiler.data.DataLoader;
import dev.forge.compiler.data.Dataset;
import dev.forge.runtime.Model;
import dev.forge.runtime.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The result of evaluating a classifier on a dataset: mean loss, accuracy, per-class accuracy and the
 * confusion matrix (rows: true class, columns: predicted class).
 *
 * @param loss mean loss over all samples
 * @param accuracy fraction classified correctly
 * @param samples number of samples
 * @param confusion confusion matrix, or null for regression
 * @param classNames class names (may be empty)
 */
public record Evaluation(double loss, double accuracy, long samples, long[][] confusion, List<String> classNames) {

    /**
     * Evaluates a classifier loaded in the runtime (an exported or downloaded model) on a classification data set:
     * the model's single input is fed in batches and its first output scored as class logits, with the mean
     * cross-entropy computed in double precision (log-sum-exp shifted by the row maximum).
     *
     * @param model the model, with one input taking the data set's samples
     * @param data a classification data set ({@link Dataset#numClasses()} &gt; 0)
     * @param batchSize samples per run, at least 1
     * @throws IllegalArgumentException for a regression data set or an output that is not [batch, classes]
     */
    public static Evaluation of(Model model, Dataset data, int batchSize) {
        int classes = data.numClasses();
        if (classes <= 0) {
            throw new IllegalArgumentException("evaluation needs a classification data set");
        }
        long[][] confusion = new long[classes][classes];
        double lossSum = 0;
        long n = 0;
        long correct = 0;
        String input = model.inputs().get(0).name();
        try (DataLoader loader = DataLoader.builder(data, batchSize).build();
                DataLoader.Epoch epoch = loader.epoch(0)) {
            for (Batch b : epoch) {
                Tensor out =
                        model.run(Map.of(input, b.inputs())).values().iterator().next();
                if (out.rank() != 2 || out.shape()[1] != classes) {
                    throw new IllegalArgumentException(model.sourceName() + ": output " + Arrays.toString(out.shape())
                            + " is not [batch, " + classes + "] class scores for this data set");
                }
                float[] p = out.toFloatArray();
                for (int r = 0; r < b.size(); r++) {
                    int truth = (int) b.labels().getLong(r);
                    int best = 0;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < classes; c++) {
                        max = Math.max(max, p[r * classes + c]);
                        if (p[r * classes + c] > p[r * classes + best]) {
                            best = c;
                        }
                    }
                    double sum = 0;
                    for (int c = 0; c < classes; c++) {
                        sum += Math.exp(p[r * classes + c] - max);
                    }
                    lossSum += -(p[r * classes + truth] - max - Math.log(sum));
                    confusion[truth][best]++;
                    if (best == truth) {
                        correct++;
                    }
                }
                n += b.size();
            }
        }
        return new Evaluation(lossSum / n, (double) correct / n, n, confusion, data.classNames());
    }

    /** Accuracy of each class (NaN for a class with no samples). */
    public double[] perClassAccuracy() {
        double[] out = new double[confusion.length];
        for (int c = 0; c < confusion.length; c++) {
            long total = 0;
            for (long v : confusion[c]) {
                total += v;
            }
            out[c] = total == 0 ? Double.NaN : (double) confusion[c][c] / total;
        }
        return out;
    }

    /** A readable report: loss, accuracy, per-class accuracy and the confusion matrix. */
    public String report() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "samples: %d%nloss: %.6f%naccuracy: %.4f%n", samples, loss, accuracy));
        if (confusion == null) {
            return sb.toString();
        }
        double[] per = perClassAccuracy();
        sb.append("per-class accuracy:\n");
        for (int c = 0; c < per.length; c++) {
            sb.append(String.format(Locale.ROOT, "  %-12s %.4f%n", name(c), per[c]));
        }
        sb.append("confusion matrix (rows: true, columns: predicted):\n");
        sb.append(String.format(Locale.ROOT, "%12s", ""));
        for (int c = 0; c < confusion.length; c++) {
            sb.append(String.format(Locale.ROOT, " %6s", abbreviate(name(c))));
        }
        sb.append('\n');
        for (int r = 0; r < confusion.length; r++) {
            sb.append(String.format(Locale.ROOT, "%12s", abbreviate(name(r))));
            for (long v : confusion[r]) {
                sb.append(String.format(Locale.ROOT, " %6d", v));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private String name(int c) {
        return classNames != null && c < classNames.size() ? classNames.get(c) : Integer.toString(c);
    }

    private static String abbreviate(String s) {
        return s.length() <= 10 ? s : s.substring(0, 10);
    }
}
