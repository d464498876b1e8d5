package dev.forge.compiler.train;

import java.util.List;
import java.util.Locale;

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
