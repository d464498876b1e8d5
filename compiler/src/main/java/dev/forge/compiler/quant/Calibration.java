package dev.forge.compiler.quant;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The activation ranges of a float model measured on real data: the result of running the model over
 * calibration samples and applying a {@link CalibrationMethod} to each tensor's statistics.
 *
 * <pre>{@code
 * Calibration c = Calibration.of(CalibrationMethod.parse("percentile:99.99")).samples(512).run(graph, data);
 * TensorRange r = c.range("conv1");
 * }</pre>
 *
 * <p>One pass over the samples measures every tensor's exact range (all min-max needs); the histogram
 * methods make a second pass over the same samples to fill histograms over those ranges (as ONNX Runtime's
 * {@code HistogramCalibrater}). Either way only one batch of activations is held at a time.
 */
public final class Calibration {
    /** The calibration samples used unless told otherwise (the CLI's default). */
    public static final int DEFAULT_SAMPLES = 512;

    /** Samples per run unless told otherwise. */
    public static final int DEFAULT_BATCH_SIZE = 64;

    private final CalibrationMethod method;
    private final Map<String, TensorRange> ranges;
    private final Map<String, Histogram> statistics;
    private final int samples;
    private final int requestedSamples;

    private Calibration(
            CalibrationMethod method,
            Map<String, TensorRange> ranges,
            Map<String, Histogram> statistics,
            int samples,
            int requestedSamples) {
        this.method = method;
        this.ranges = Collections.unmodifiableMap(ranges);
        this.statistics = Collections.unmodifiableMap(statistics);
        this.samples = samples;
        this.requestedSamples = requestedSamples;
    }

    /**
     * Starts a calibration with the given method.
     *
     * @param method how each tensor's range is chosen
     * @return a builder with {@link #DEFAULT_SAMPLES} samples, batches of {@link #DEFAULT_BATCH_SIZE}, every
     *     activation ({@link ActivationCollector#defaultTensors}) and ONNX Runtime's default options
     */
    public static Builder of(CalibrationMethod method) {
        return new Builder(Objects.requireNonNull(method, "method"));
    }

    /** Settings of a calibration run; {@link #run} does the work. */
    public static final class Builder {
        private final CalibrationMethod method;
        private int samples = DEFAULT_SAMPLES;
        private int batchSize = DEFAULT_BATCH_SIZE;
        private Collection<String> tensors;
        private ModelOptions options = ModelOptions.defaults();

        private Builder(CalibrationMethod method) {
            this.method = method;
        }

        /**
         * How many samples to calibrate on. A dataset with fewer is used whole, and the result says so
         * ({@link Calibration#samples()} &lt; {@link Calibration#requestedSamples()}): a small folder of
         * images is still worth calibrating on.
         *
         * @param samples at least 1
         * @return this builder
         */
        public Builder samples(int samples) {
            if (samples < 1) {
                throw new IllegalArgumentException("calibration needs at least 1 sample, got " + samples);
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
         * The tensors to calibrate instead of every activation.
         *
         * @param tensors float graph inputs or node outputs
         * @return this builder
         */
        public Builder tensors(Collection<String> tensors) {
            this.tensors = List.copyOf(tensors);
            return this;
        }

        /**
         * How ONNX Runtime runs the model (device, threads).
         *
         * @param options model options
         * @return this builder
         */
        public Builder options(ModelOptions options) {
            this.options = Objects.requireNonNull(options, "options");
            return this;
        }

        /**
         * Calibrates a model read from ONNX bytes.
         *
         * @param onnx the float model
         * @param data the calibration data, preprocessed as the model expects (see {@link ActivationCollector})
         * @return the ranges
         */
        public Calibration run(byte[] onnx, Dataset data) {
            return run(OnnxReader.read(onnx, "calibrated model"), data);
        }

        /**
         * Calibrates a model.
         *
         * @param graph the float model, one float input
         * @param data the calibration data, preprocessed as the model expects (see {@link ActivationCollector})
         * @return the ranges
         * @throws IllegalArgumentException for an empty dataset, samples of the wrong shape (both shapes are
         *     named), a model with other than one float input, or a tensor that computes NaN
         */
        public Calibration run(Graph graph, Dataset data) {
            Objects.requireNonNull(graph, "graph");
            Objects.requireNonNull(data, "data");
            Collection<String> names = tensors != null ? tensors : ActivationCollector.defaultTensors(graph);
            try (ActivationCollector collector = ActivationCollector.open(graph, names, options)) {
                collector.check(data);
                Map<String, Histogram> first = new LinkedHashMap<>();
                for (String t : collector.tensors()) {
                    first.put(t, Histogram.rangeOnly());
                }
                int used = collector.forEachBatch(data, samples, batchSize, (idx, values) -> fill(first, values));
                Map<String, Histogram> stats = first;
                if (method.needsHistogram()) {
                    Map<String, Histogram> second = new LinkedHashMap<>();
                    for (Map.Entry<String, Histogram> e : first.entrySet()) {
                        second.put(e.getKey(), method.newHistogram(e.getValue().range()));
                    }
                    collector.forEachBatch(data, samples, batchSize, (idx, values) -> fill(second, values));
                    stats = second;
                }
                Map<String, TensorRange> ranges = new LinkedHashMap<>();
                for (Map.Entry<String, Histogram> e : stats.entrySet()) {
                    ranges.put(e.getKey(), method.range(e.getValue()));
                }
                return new Calibration(method, ranges, stats, used, samples);
            }
        }

        private static void fill(Map<String, Histogram> stats, Map<String, Tensor> values) {
            for (Map.Entry<String, Histogram> e : stats.entrySet()) {
                float[] v = values.get(e.getKey()).toFloatArray();
                try {
                    e.getValue().add(v);
                } catch (IllegalArgumentException nan) {
                    throw new IllegalArgumentException("calibration: tensor '" + e.getKey() + "' computed NaN ("
                            + nan.getMessage() + "); check the model and the data's preprocessing");
                }
            }
        }
    }

    /** The method that chose the ranges. */
    public CalibrationMethod method() {
        return method;
    }

    /** The range of every calibrated tensor, in graph order. */
    public Map<String, TensorRange> ranges() {
        return ranges;
    }

    /**
     * The range of one tensor.
     *
     * @param tensor a calibrated tensor's name
     * @return its range
     * @throws IllegalArgumentException if the tensor was not calibrated
     */
    public TensorRange range(String tensor) {
        TensorRange r = ranges.get(tensor);
        if (r == null) {
            throw new IllegalArgumentException(
                    "calibration has no range for '" + tensor + "'; calibrated tensors: " + ranges.keySet());
        }
        return r;
    }

    /** The statistics each range was computed from (exact min and max, count, and the method's histogram). */
    public Map<String, Histogram> statistics() {
        return statistics;
    }

    /** The number of samples calibrated on. */
    public int samples() {
        return samples;
    }

    /** The number of samples asked for; more than {@link #samples()} when the dataset was smaller. */
    public int requestedSamples() {
        return requestedSamples;
    }

    /** One line: method, tensors and samples, saying when the dataset had fewer samples than asked for. */
    @Override
    public String toString() {
        return String.format(
                Locale.ROOT,
                "calibration %s: %d tensors on %d samples%s",
                method,
                ranges.size(),
                samples,
                samples < requestedSamples
                        ? " (asked for " + requestedSamples + "; the dataset has only " + samples + ")"
                        : "");
    }
}
