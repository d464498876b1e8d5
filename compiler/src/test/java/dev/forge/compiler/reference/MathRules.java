package dev.forge.compiler.reference;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Matrix products, batch, instance and layer normalization and (log-)softmax. */
final class MathRules {
    private MathRules() {}

    static void register(Map<String, Rule> r) {
        r.put("Gemm", MathRules::gemm);
        r.put("MatMul", MathRules::matMul);
        r.put("BatchNormalization", MathRules::batchNormalization);
        r.put("InstanceNormalization", MathRules::instanceNormalization);
        r.put("LayerNormalization", MathRules::layerNormalization);
        r.put("Softmax", c -> softmax(c, false));
        r.put("LogSoftmax", c -> softmax(c, true));
    }

    /**
     * Gemm: {@code Y = alpha * A' B' + beta * C} with {@code A' = transA ? A^T : A} ([M, K]),
     * {@code B' = transB ? B^T : B} ([K, N]); C is optional and broadcasts (unidirectionally) to [M, N].
     * alpha and beta default to 1.
     */
    private static List<DoubleTensor> gemm(Call c) {
        DoubleTensor a = c.in(0);
        DoubleTensor b = c.in(1);
        if (a.rank() != 2 || b.rank() != 2) {
            throw c.error("A " + Arrays.toString(a.rawShape()) + " and B " + Arrays.toString(b.rawShape())
                    + " must be matrices");
        }
        boolean ta = c.attrInt("transA", 0) != 0;
        boolean tb = c.attrInt("transB", 0) != 0;
        double alpha = c.attrFloat("alpha", 1.0f);
        double beta = c.attrFloat("beta", 1.0f);
        int m = (int) (ta ? a.dim(1) : a.dim(0));
        int k = (int) (ta ? a.dim(0) : a.dim(1));
        int kb = (int) (tb ? b.dim(1) : b.dim(0));
        int n = (int) (tb ? b.dim(0) : b.dim(1));
        if (k != kb) {
            throw c.error("inner dimensions differ: A' is [" + m + "," + k + "] and B' is [" + kb + "," + n + "]");
        }
        long[] shape = {m, n};
        double[] cd = null;
        if (c.has(2)) {
            DoubleTensor bias = c.in(2);
            if (!Broadcasting.broadcastsTo(bias.rawShape(), shape)) {
                throw c.error("C " + Arrays.toString(bias.rawShape()) + " does not broadcast to [" + m + "," + n + "]");
            }
            cd = Broadcasting.to(bias, shape).raw();
        }
        double[] y = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    double av = ta ? a.get(p, i) : a.get(i, p);
                    double bv = tb ? b.get(j, p) : b.get(p, j);
                    acc += av * bv;
                }
                y[i * n + j] = alpha * acc + (cd == null ? 0 : beta * cd[i * n + j]);
            }
        }
        return List.of(new DoubleTensor(a.dtype(), shape, y));
    }

    /**
     * MatMul with numpy semantics: a 1-D A is read as [1, K] and a 1-D B as [K, 1] (the added axis is
     * removed from the result); the leading (batch) axes broadcast; each batch is [M, K] x [K, N].
     */
    private static List<DoubleTensor> matMul(Call c) {
        DoubleTensor a = c.in(0);
        DoubleTensor b = c.in(1);
        if (a.rank() == 0 || b.rank() == 0) {
            throw c.error("operands must have rank >= 1, got " + Arrays.toString(a.rawShape()) + " and "
                    + Arrays.toString(b.rawShape()));
        }
        DoubleTensor a2 = a.rank() == 1 ? a.reshape(1, a.dim(0)) : a;
        DoubleTensor b2 = b.rank() == 1 ? b.reshape(b.dim(0), 1) : b;
        long m = a2.dim(-2);
        long k = a2.dim(-1);
        long n = b2.dim(-1);
        if (b2.dim(-2) != k) {
            throw c.error("inner dimensions differ: " + Arrays.toString(a.rawShape()) + " x "
                    + Arrays.toString(b.rawShape()));
        }
        long[] batchA = Arrays.copyOf(a2.rawShape(), a2.rank() - 2);
        long[] batchB = Arrays.copyOf(b2.rawShape(), b2.rank() - 2);
        long[] batch = Broadcasting.shape(batchA, batchB);
        // materialize both operands over the common batch shape, then multiply batch by batch
        double[] ad = Broadcasting.to(a2, append(batch, m, k)).raw();
        double[] bd = Broadcasting.to(b2, append(batch, k, n)).raw();
        int batches = (int) DoubleTensor.checkedCount(batch);
        double[] y = new double[(int) (batches * m * n)];
        for (int t = 0; t < batches; t++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double acc = 0;
                    for (int p = 0; p < k; p++) {
                        acc += ad[(int) ((t * m + i) * k + p)] * bd[(int) ((t * k + p) * n + j)];
                    }
                    y[(int) ((t * m + i) * n + j)] = acc;
                }
            }
        }
        long[] shape = append(batch, m, n);
        if (a.rank() == 1 && b.rank() == 1) {
            shape = batch;
        } else if (a.rank() == 1) {
            shape = append(batch, n);
        } else if (b.rank() == 1) {
            shape = append(batch, m);
        }
        return List.of(new DoubleTensor(a.dtype(), shape, y));
    }

    private static long[] append(long[] s, long... more) {
        long[] out = Arrays.copyOf(s, s.length + more.length);
        System.arraycopy(more, 0, out, s.length, more.length);
        return out;
    }

    /**
     * BatchNormalization over the channel axis 1 of X [N, C, D1, ...] (a 1-D X is [N] with C = 1).
     *
     * <pre>
     * inference (training_mode 0):  Y = (X - input_mean) / sqrt(input_var + epsilon) * scale + B
     * training  (training_mode 1, opset 14+):
     *   current_mean = mean of X over every axis but 1
     *   current_var  = population variance of X over every axis but 1   (divides by the count, not count - 1)
     *   Y            = (X - current_mean) / sqrt(current_var + epsilon) * scale + B
     *   running_mean = input_mean * momentum + current_mean * (1 - momentum)
     *   running_var  = input_var  * momentum + current_var  * (1 - momentum)
     * </pre>
     * epsilon defaults to 1e-5 and momentum to 0.9.
     */
    private static List<DoubleTensor> batchNormalization(Call c) {
        DoubleTensor x = c.in(0);
        DoubleTensor scale = c.in(1);
        DoubleTensor bias = c.in(2);
        DoubleTensor inputMean = c.in(3);
        DoubleTensor inputVar = c.in(4);
        double epsilon = c.attrFloat("epsilon", 1e-5f);
        double momentum = c.attrFloat("momentum", 0.9f);
        boolean training = c.opset >= 14 && c.attrInt("training_mode", 0) != 0;
        if (!training && c.node.outputs().size() > 1 && (c.wantsOutput(1) || c.wantsOutput(2))) {
            throw c.error(
                    c.opset >= 14
                            ? "running_mean/running_var outputs need training_mode=1"
                            : "the training form of BatchNormalization before opset 14 (5 outputs) is not supported; use opset 14+");
        }
        if (x.rank() < 1) {
            throw c.error("X must have rank >= 1");
        }
        int batch = (int) x.dim(0);
        int channels = x.rank() == 1 ? 1 : (int) x.dim(1);
        int inner = x.size() / Math.max(1, batch * channels);
        for (DoubleTensor p : List.of(scale, bias, inputMean, inputVar)) {
            if (p.rank() != 1 || p.dim(0) != channels) {
                throw c.error(
                        "scale, B, mean and var must be [" + channels + "], got " + Arrays.toString(p.rawShape()));
            }
        }
        double[] mean = inputMean.toDoubleArray();
        double[] var = inputVar.toDoubleArray();
        double[] xd = x.raw();
        if (training) {
            double count = (double) batch * inner;
            for (int ch = 0; ch < channels; ch++) {
                double sum = 0;
                for (int n = 0; n < batch; n++) {
                    for (int i = 0; i < inner; i++) {
                        sum += xd[(n * channels + ch) * inner + i];
                    }
                }
                double mu = sum / count;
                double sq = 0;
                for (int n = 0; n < batch; n++) {
                    for (int i = 0; i < inner; i++) {
                        double d = xd[(n * channels + ch) * inner + i] - mu;
                        sq += d * d;
                    }
                }
                mean[ch] = mu;
                var[ch] = sq / count;
            }
        }
        double[] y = new double[xd.length];
        for (int n = 0; n < batch; n++) {
            for (int ch = 0; ch < channels; ch++) {
                double inv = 1 / Math.sqrt(var[ch] + epsilon);
                for (int i = 0; i < inner; i++) {
                    int at = (n * channels + ch) * inner + i;
                    y[at] = (xd[at] - mean[ch]) * inv * scale.raw()[ch] + bias.raw()[ch];
                }
            }
        }
        DoubleTensor out = new DoubleTensor(x.dtype(), x.shape(), y);
        if (!training) {
            return List.of(out);
        }
        double[] runningMean = new double[channels];
        double[] runningVar = new double[channels];
        for (int ch = 0; ch < channels; ch++) {
            runningMean[ch] = inputMean.raw()[ch] * momentum + mean[ch] * (1 - momentum);
            runningVar[ch] = inputVar.raw()[ch] * momentum + var[ch] * (1 - momentum);
        }
        return List.of(
                out,
                new DoubleTensor(inputMean.dtype(), new long[] {channels}, runningMean),
                new DoubleTensor(inputVar.dtype(), new long[] {channels}, runningVar));
    }

    /**
     * InstanceNormalization of X [N, C, D1, ...]: each (n, c) over its D1 x ... elements,
     * {@code Y = (X - mean) / sqrt(var + epsilon) * scale[c] + B[c]} with the population variance;
     * epsilon defaults to 1e-5.
     */
    private static List<DoubleTensor> instanceNormalization(Call c) {
        DoubleTensor x = c.in(0);
        DoubleTensor scale = c.in(1);
        DoubleTensor bias = c.in(2);
        if (x.rank() < 3) {
            throw c.error("X must be [N, C, D1, ...], got " + Arrays.toString(x.rawShape()));
        }
        int channels = (int) x.dim(1);
        for (DoubleTensor p : List.of(scale, bias)) {
            if (p.rank() != 1 || p.dim(0) != channels) {
                throw c.error("scale and B must be [" + channels + "], got " + Arrays.toString(p.rawShape()));
            }
        }
        int groups = (int) x.dim(0) * channels;
        int inner = x.size() / groups;
        double[] y = normalizeRows(x.raw(), groups, inner, c.attrFloat("epsilon", 1e-5f), null, null);
        for (int g = 0; g < groups; g++) {
            for (int i = 0; i < inner; i++) {
                y[g * inner + i] = y[g * inner + i] * scale.raw()[g % channels] + bias.raw()[g % channels];
            }
        }
        return List.of(new DoubleTensor(x.dtype(), x.shape(), y));
    }

    /**
     * LayerNormalization (opset 17) of X over the axes from {@code axis} (default -1) on:
     * {@code Y = (X - mean) / sqrt(var + epsilon) * Scale + B} with Scale and the optional B broadcast to
     * X[axis:]; the optional outputs Mean and InvStdDev = 1/sqrt(var + epsilon) have X's leading axes and
     * size 1 on the normalized ones. epsilon defaults to 1e-5.
     */
    private static List<DoubleTensor> layerNormalization(Call c) {
        DoubleTensor x = c.in(0);
        long[] shape = x.rawShape();
        int axis = c.axis(c.attrInt("axis", -1), x.rank());
        int rows = 1;
        for (int i = 0; i < axis; i++) {
            rows *= (int) shape[i];
        }
        int length = x.size() / Math.max(1, rows);
        long[] inner = Arrays.copyOfRange(shape, axis, shape.length);
        double[] scale = Broadcasting.to(c.in(1), inner).raw();
        double[] bias = c.has(2) ? Broadcasting.to(c.in(2), inner).raw() : new double[length];
        double[] means = new double[rows];
        double[] invStd = new double[rows];
        double[] y = normalizeRows(x.raw(), rows, length, c.attrFloat("epsilon", 1e-5f), means, invStd);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < length; i++) {
                y[r * length + i] = y[r * length + i] * scale[i] + bias[i];
            }
        }
        long[] statShape = shape.clone();
        Arrays.fill(statShape, axis, statShape.length, 1);
        return List.of(
                new DoubleTensor(x.dtype(), x.shape(), y),
                DoubleTensor.of(means, statShape),
                DoubleTensor.of(invStd, statShape));
    }

    /**
     * Each of {@code rows} consecutive runs of {@code length} values normalized to mean 0 and variance 1
     * (population variance plus epsilon, two passes); the means and 1/sqrt(var + epsilon) go to
     * {@code means} and {@code invStd} when given.
     */
    static double[] normalizeRows(double[] x, int rows, int length, double epsilon, double[] means, double[] invStd) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int i = 0; i < length; i++) {
                sum += x[r * length + i];
            }
            double mu = sum / length;
            double sq = 0;
            for (int i = 0; i < length; i++) {
                double d = x[r * length + i] - mu;
                sq += d * d;
            }
            double inv = 1 / Math.sqrt(sq / length + epsilon);
            for (int i = 0; i < length; i++) {
                y[r * length + i] = (x[r * length + i] - mu) * inv;
            }
            if (means != null) {
                means[r] = mu;
            }
            if (invStd != null) {
                invStd[r] = inv;
            }
        }
        return y;
    }

    /**
     * Softmax / LogSoftmax along {@code axis} (opset 13+: one axis, default -1):
     * {@code softmax(x)_i = exp(x_i - max) / sum_j exp(x_j - max)},
     * {@code logsoftmax(x)_i = x_i - max - log(sum_j exp(x_j - max))}. Before opset 13 (default axis 1) the
     * input is read as a 2-D [prod(d_0..d_axis-1), prod(d_axis..)] matrix and each row is normalized.
     */
    private static List<DoubleTensor> softmax(Call c, boolean log) {
        DoubleTensor x = c.in(0);
        long[] s = x.rawShape();
        int rank = Math.max(1, x.rank());
        int axis = c.axis(c.attrInt("axis", c.opset >= 13 ? -1 : 1), rank);
        long outer = 1;
        long length = 1;
        long inner = 1;
        for (int i = 0; i < s.length; i++) {
            if (i < axis) {
                outer *= s[i];
            } else if (i == axis || c.opset < 13) {
                length *= s[i];
            } else {
                inner *= s[i];
            }
        }
        double[] xd = x.raw();
        double[] y = new double[xd.length];
        for (long o = 0; o < outer; o++) {
            for (long in = 0; in < inner; in++) {
                double max = Double.NEGATIVE_INFINITY;
                for (long j = 0; j < length; j++) {
                    max = Math.max(max, xd[(int) ((o * length + j) * inner + in)]);
                }
                double sum = 0;
                for (long j = 0; j < length; j++) {
                    sum += Math.exp(xd[(int) ((o * length + j) * inner + in)] - max);
                }
                for (long j = 0; j < length; j++) {
                    int at = (int) ((o * length + j) * inner + in);
                    y[at] = log ? xd[at] - max - Math.log(sum) : Math.exp(xd[at] - max) / sum;
                }
            }
        }
        return List.of(new DoubleTensor(x.dtype(), x.shape(), y));
    }
}
