package dev.forge.compiler.quant;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What quantization cost a classifier, measured on a labelled test set: top-1 accuracy of the float and the
 * quantized model, how often their top-1 answers agree, and the SQNR of every layer's output.
 *
 * <p>Both models run side by side on the same batches, each with its intermediate tensors as outputs
 * ({@link ActivationCollector}); tensors are matched by name (the QDQ passes keep the float tensor's name
 * on the dequantized value), and a float tensor the quantized model does not have is left out. Class
 * scores are each model's first output, {@code [batch, classes]}.
 *
 * <pre>{@code
 * QuantizationReport r = QuantizationReport.builder().samples(1000).run(floatGraph, int8Graph, testSet);
 * System.out.print(r);
 * }</pre>
 */
public final class QuantizationReport {
    /**
     * One layer's output compared.
     *
     * @param tensor the output's name in both models
     * @param node the float model's node that computes it (what {@code --keep-float} names)
     * @param opType that node's operator
     * @param sqnr the accumulated signal and noise
     * @param addedNoiseRatio the noise-to-signal power ratio this layer adds to what its inputs already carry,
     *     {@code max(0, N/S(output) - max N/S(inputs))} (inputs not compared count as noiseless): noise passes
     *     through later layers, so a low SQNR alone points at every layer after the first noisy one, while the
     *     added ratio points at the layer that made the noise
     */
    public record Layer(String tensor, String node, String opType, Sqnr sqnr, double addedNoiseRatio) {
        /**
         * The SQNR in dB.
         *
         * @return {@link Sqnr#db()}
         */
        public double sqnrDb() {
            return sqnr.db();
        }
    }

    private final int samples;
    private final double floatAccuracy;
    private final double quantizedAccuracy;
    private final double agreement;
    private final List<Layer> layers;

    private QuantizationReport(
            int samples, double floatAccuracy, double quantizedAccuracy, double agreement, List<Layer> layers) {
        this.samples = samples;
        this.floatAccuracy = floatAccuracy;
        this.quantizedAccuracy = quantizedAccuracy;
        this.agreement = agreement;
        this.layers = Collections.unmodifiableList(layers);
    }

    /**
     * Starts a report.
     *
     * @return a builder over the whole test set in batches of 64, ONNX Runtime's default options
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Settings of a report; {@link #run} does the work. */
    public static final class Builder {
        private int samples = Integer.MAX_VALUE;
        private int batchSize = 64;
        private ModelOptions options = ModelOptions.defaults();

        private Builder() {}

        /**
         * Compare on at most this many test samples (spread evenly, {@link ActivationCollector#sampleIndices}).
         *
         * @param samples at least 1
         * @return this builder
         */
        public Builder samples(int samples) {
            if (samples < 1) {
                throw new IllegalArgumentException("the report needs at least 1 sample, got " + samples);
            }
            this.samples = samples;
            return this;
        }

        /**
         * Samples per ONNX Runtime run.
         *
         * @param batchSize at least 1
         * @return this builder
         */
        public Builder batchSize(int batchSize) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("the batch size must be at least 1, got " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        /**
         * How ONNX Runtime runs both models.
         *
         * @param options model options
         * @return this builder
         */
        public Builder options(ModelOptions options) {
            this.options = Objects.requireNonNull(options, "options");
            return this;
        }

        /**
         * Compares two models given as ONNX bytes.
         *
         * @param floatModel the float model
         * @param quantized the quantized model
         * @param test labelled test data, preprocessed as the float model expects
         * @return the report
         */
        public QuantizationReport run(byte[] floatModel, byte[] quantized, Dataset test) {
            return run(OnnxReader.read(floatModel, "float model"), OnnxReader.read(quantized, "quantized model"), test);
        }

        /**
         * Compares two models.
         *
         * @param floatModel the float model, one float input, class scores as first output
         * @param quantized the quantized model, same input and output
         * @param test labelled test data, preprocessed as the float model expects
         * @return the report
         * @throws IllegalArgumentException for an empty or regression dataset, samples of the wrong shape, or
         *     models whose first output is not {@code [batch, classes]}
         */
        public QuantizationReport run(Graph floatModel, Graph quantized, Dataset test) {
            Objects.requireNonNull(floatModel, "floatModel");
            Objects.requireNonNull(quantized, "quantized");
            Objects.requireNonNull(test, "test");
            if (!test.isClassification()) {
                throw new IllegalArgumentException("the quantization report needs a labelled classification test set; "
                        + "this dataset has float targets");
            }
            Set<String> activations = ActivationCollector.defaultTensors(floatModel);
            List<String> compared = new ArrayList<>();
            for (String t : activations) {
                boolean isInput =
                        floatModel.inputs().stream().anyMatch(i -> i.name().equals(t));
                ValueType qt = quantized.hasValue(t) ? quantized.type(t) : null;
                if (!isInput
                        && qt != null
                        && qt.dtype().isFloatingPoint()
                        && !quantized.initializers().containsKey(t)) {
                    compared.add(t);
                }
            }
            String floatOut = firstOutput(floatModel);
            String quantOut = firstOutput(quantized);
            Map<String, Sqnr> sqnr = new LinkedHashMap<>();
            for (String t : compared) {
                sqnr.put(t, new Sqnr());
            }
            long correctFloat = 0;
            long correctQuant = 0;
            long agree = 0;
            int[] idx;
            try (ActivationCollector f = ActivationCollector.open(floatModel, compared, options);
                    ActivationCollector q = ActivationCollector.open(quantized, compared, options)) {
                f.check(test);
                q.check(test);
                idx = ActivationCollector.sampleIndices(test.size(), samples);
                for (int from = 0; from < idx.length; from += batchSize) {
                    int[] batch = Arrays.copyOfRange(idx, from, Math.min(idx.length, from + batchSize));
                    Tensor x = ActivationCollector.batch(test, batch);
                    Map<String, Tensor> fv = f.run(x);
                    Map<String, Tensor> qv = q.run(x);
                    for (Map.Entry<String, Sqnr> e : sqnr.entrySet()) {
                        Tensor a = fv.get(e.getKey());
                        Tensor b = qv.get(e.getKey());
                        if (!Arrays.equals(a.shape(), b.shape())) {
                            throw new IllegalArgumentException("tensor '" + e.getKey() + "' is "
                                    + Arrays.toString(a.shape()) + " in the float model but "
                                    + Arrays.toString(b.shape()) + " in the quantized one; the report compares"
                                    + " tensors of the same name, so a quantized model must keep their shapes");
                        }
                        e.getValue().add(a.toFloatArray(), b.toFloatArray());
                    }
                    int[] pf = top1(floatModel.name(), fv.get(floatOut), batch.length, test.numClasses());
                    int[] pq = top1(quantized.name(), qv.get(quantOut), batch.length, test.numClasses());
                    for (int r = 0; r < batch.length; r++) {
                        long truth = test.label(batch[r]);
                        correctFloat += pf[r] == truth ? 1 : 0;
                        correctQuant += pq[r] == truth ? 1 : 0;
                        agree += pf[r] == pq[r] ? 1 : 0;
                    }
                }
            }
            List<Layer> layers = new ArrayList<>();
            for (Map.Entry<String, Sqnr> e : sqnr.entrySet()) {
                Node n = floatModel.producer(e.getKey());
                double own = ratio(e.getValue());
                double carried = 0;
                for (String in : n.inputs()) {
                    Sqnr s = sqnr.get(in);
                    if (s != null) {
                        carried = Math.max(carried, ratio(s));
                    }
                }
                double added = own - carried;
                layers.add(new Layer(e.getKey(), n.name(), n.opType(), e.getValue(), added > 0 ? added : 0));
            }
            double n = idx.length;
            return new QuantizationReport(idx.length, correctFloat / n, correctQuant / n, agree / n, layers);
        }

        private static String firstOutput(Graph g) {
            List<ValueInfo> outs = g.outputs();
            if (outs.isEmpty()) {
                throw new IllegalArgumentException("model " + g.name() + " has no outputs");
            }
            return outs.get(0).name();
        }

        private static double ratio(Sqnr s) {
            if (s.noisePower() == 0) {
                return 0;
            }
            return s.signalPower() == 0 ? Double.POSITIVE_INFINITY : s.noisePower() / s.signalPower();
        }

        private static int[] top1(String model, Tensor scores, int rows, int classes) {
            long[] s = scores.shape();
            if (s.length != 2 || s[0] != rows || s[1] != classes) {
                throw new IllegalArgumentException("model " + model + ": first output " + Arrays.toString(s)
                        + " is not [" + rows + ", " + classes + "] class scores for this dataset");
            }
            float[] p = scores.toFloatArray();
            int[] best = new int[rows];
            for (int r = 0; r < rows; r++) {
                int b = 0;
                for (int c = 1; c < classes; c++) {
                    if (p[r * classes + c] > p[r * classes + b]) {
                        b = c;
                    }
                }
                best[r] = b;
            }
            return best;
        }
    }

    /** The number of test samples compared. */
    public int samples() {
        return samples;
    }

    /** Top-1 accuracy of the float model. */
    public double floatAccuracy() {
        return floatAccuracy;
    }

    /** Top-1 accuracy of the quantized model. */
    public double quantizedAccuracy() {
        return quantizedAccuracy;
    }

    /**
     * What quantization cost in accuracy, as a fraction (0.002 is 0.2 percentage points); negative when the
     * quantized model happened to do better.
     *
     * @return float accuracy minus quantized accuracy
     */
    public double accuracyDrop() {
        return floatAccuracy - quantizedAccuracy;
    }

    /** The fraction of samples on which both models give the same top-1 class. */
    public double agreement() {
        return agreement;
    }

    /** Every compared layer output, in the float model's order. */
    public List<Layer> layers() {
        return layers;
    }

    /**
     * The report as the command line prints it: accuracies, agreement, then one row per layer.
     *
     * @return lines ending with a newline
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(
                Locale.ROOT,
                "test samples: %d%ntop-1 accuracy: fp32 %.4f, quantized %.4f (drop %.2f points)%n"
                        + "top-1 agreement: %.4f%n",
                samples,
                floatAccuracy,
                quantizedAccuracy,
                100 * accuracyDrop(),
                agreement));
        if (layers.isEmpty()) {
            sb.append("no layer output of the float model is in the quantized model under the same name\n");
            return sb.toString();
        }
        sb.append("per-layer SQNR (dB; higher is better, each bit is worth about 6 dB; 'own' counts only the noise\n"
                + "  a layer adds to what its inputs carry, so the lowest 'own' marks the layer that hurts most):\n");
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"layer", "op", "output", "SQNR dB", "own dB"});
        for (Layer l : layers) {
            rows.add(new String[] {
                l.node(),
                l.opType(),
                l.tensor(),
                Sqnr.format(l.sqnrDb()),
                Sqnr.format(-10 * Math.log10(l.addedNoiseRatio()))
            });
        }
        boolean showOutput = layers.stream().anyMatch(l -> !l.tensor().equals(l.node()));
        int[] width = new int[5];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder("  ");
            for (int i = 0; i < r.length; i++) {
                if (i == 2 && !showOutput) {
                    continue;
                }
                boolean right = i >= 3;
                String pad = " ".repeat(width[i] - r[i].length());
                line.append(right ? pad + r[i] : r[i] + pad).append(i < r.length - 1 ? "  " : "");
            }
            sb.append(line.toString().stripTrailing()).append('\n');
        }
        return sb.toString();
    }
}
