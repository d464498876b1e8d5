package dev.forge.compiler.quant;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.passes.PassContext;
import dev.forge.runtime.DType;
import dev.forge.runtime.Device;
import dev.forge.runtime.ModelOptions;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * The library's one entry point to quantization: static INT8 calibrated on real data, dynamic INT8, with
 * an optional report on a labelled test set and an automatic mode that keeps the most sensitive layers in
 * float until the accuracy drop is within a budget.
 *
 * <pre>{@code
 * Quantizer.Result r = Quantizer.int8()
 *         .calibrate(train, 512)
 *         .method(CalibrationMethod.parse("percentile:99.99"))
 *         .report(test)                        // fp32 vs int8 accuracy, agreement, SQNR per layer
 *         .maxAccuracyDrop(0.002)              // optional: keep layers in float until within 0.2 points
 *         .quantize(model);
 * OnnxWriter.write(r.model(), Path.of("model.int8.onnx"));
 * System.out.print(r.report());
 * }</pre>
 *
 * <p>The pieces are usable on their own: {@link Calibration} measures ranges, {@link StaticQuantization}
 * and {@link DynamicQuantization} rewrite the graph, {@link QuantizationReport} measures the cost and
 * {@link SqnrFallback} is the automatic mode. This class only strings them together in the one order
 * that is right: calibrate the float model once, quantize, then measure.
 */
public final class Quantizer {
    /**
     * Static INT8 keeps a Conv float below this GEMM depth ({@code C_in / groups * kH * kW}): on the x86
     * CPUs measured, ONNX Runtime's QLinearConv is reliably faster than the float Conv only from about 256
     * (benchmarks ConvInt8Sweep, docs/QUANTIZATION.md).
     */
    public static final int MIN_INT8_CONV_DEPTH = 256;

    /**
     * Static INT8 keeps a Conv, Gemm or MatMul float when it does fewer multiply-adds than this per element of
     * its input (a Gemm's output width N): below it, quantizing the input costs ONNX Runtime more than the int8
     * product saves, at batch 1 and 64 alike (benchmarks GemmInt8Sweep, docs/QUANTIZATION.md). Such layers
     * still store int8 weights (weight-only), so the file stays small.
     */
    public static final int MIN_INT8_MACS_PER_INPUT = 128;

    /** The default calibration method: see docs/QUANTIZATION.md for the measurement behind it. */
    public static final String DEFAULT_METHOD = "minmax";

    /** What the quantizer makes. */
    private enum Kind {
        STATIC_INT8,
        DYNAMIC_INT8,
        FP16
    }

    private final Kind kind;
    private Device device = Device.cpu();
    private boolean float16Io;
    private CalibrationMethod method = CalibrationMethod.parse(DEFAULT_METHOD);
    private Dataset calibrationData;
    private int calibrationSamples = Calibration.DEFAULT_SAMPLES;
    private QuantType activationType = QuantType.UINT8;
    /** Null: the passes' own default. */
    private Boolean reduceRange;

    private Set<String> keepFloat = Set.of();
    private boolean everyConv;
    private boolean everyLayer;
    private Dataset testData;
    private int reportSamples = -1;
    private double maxAccuracyDrop = Double.NaN;
    private ModelOptions options = ModelOptions.defaults();

    private Quantizer(Kind kind) {
        this.kind = kind;
    }

    /**
     * Post-training static INT8 (QDQ): weights int8 per channel, activations quantized with ranges
     * calibrated on {@link #calibrate} data.
     *
     * @return a quantizer to configure
     */
    public static Quantizer int8() {
        return new Quantizer(Kind.STATIC_INT8);
    }

    /**
     * Dynamic INT8 for MatMul and Gemm: weights int8, activations quantized at run time; no calibration.
     *
     * @return a quantizer to configure
     */
    public static Quantizer dynamicInt8() {
        return new Quantizer(Kind.DYNAMIC_INT8);
    }

    /**
     * FP16: weights and compute in float16 wherever the device's ONNX Runtime provider has float16 kernels
     * ({@link Float16Conversion}); no calibration.
     *
     * @return a quantizer to configure
     */
    public static Quantizer fp16() {
        return new Quantizer(Kind.FP16);
    }

    /**
     * The device whose float16 kernels decide which nodes FP16 converts (default: the CPU).
     *
     * @param device the device the model will run on
     * @return this quantizer
     */
    public Quantizer device(Device device) {
        this.device = Objects.requireNonNull(device, "device");
        return this;
    }

    /**
     * FP16 with float16 graph inputs and outputs (default: float32, through Casts).
     *
     * @param float16Io whether the model's interface is float16
     * @return this quantizer
     */
    public Quantizer float16Io(boolean float16Io) {
        this.float16Io = float16Io;
        return this;
    }

    /**
     * The data whose activation ranges static quantization uses: a sample of the training set, preprocessed
     * as the model expects.
     *
     * @param data the calibration data
     * @param samples how many samples, spread over the data set (all of them if it has fewer)
     * @return this quantizer
     */
    public Quantizer calibrate(Dataset data, int samples) {
        if (samples < 1) {
            throw new IllegalArgumentException("calibration needs at least 1 sample, got " + samples);
        }
        this.calibrationData = Objects.requireNonNull(data, "data");
        this.calibrationSamples = samples;
        return this;
    }

    /**
     * How each activation's range is chosen from the calibration data (default {@value #DEFAULT_METHOD}).
     *
     * @param method the method, e.g. {@code CalibrationMethod.parse("entropy")}
     * @return this quantizer
     */
    public Quantizer method(CalibrationMethod method) {
        this.method = Objects.requireNonNull(method, "method");
        return this;
    }

    /**
     * The quantized activation type (static only): {@link QuantType#UINT8} (the default) or {@link
     * QuantType#INT8}.
     *
     * @param type the type
     * @return this quantizer
     */
    public Quantizer activationType(QuantType type) {
        this.activationType = Objects.requireNonNull(type, "type");
        return this;
    }

    /**
     * Stores weights in 7 bits rather than 8 (default: the passes' own choice, see docs/QUANTIZATION.md).
     *
     * @param reduceRange whether to use 7-bit weights
     * @return this quantizer
     */
    public Quantizer reduceRange(boolean reduceRange) {
        this.reduceRange = reduceRange;
        return this;
    }

    /**
     * Layers to keep in float (INT8 only), by node name or output name.
     *
     * @param names the layers
     * @return this quantizer
     */
    public Quantizer keepFloat(Set<String> names) {
        this.keepFloat = Set.copyOf(names);
        return this;
    }

    /**
     * Static INT8 quantizes every Conv, also the shallow and depthwise ones it otherwise keeps float because
     * their integer kernels are slower than the float ones ({@link #MIN_INT8_CONV_DEPTH}): for size, or for
     * hardware whose integer convolutions are faster.
     *
     * @param everyConv whether to quantize every Conv
     * @return this quantizer
     */
    public Quantizer everyConv(boolean everyConv) {
        this.everyConv = everyConv;
        return this;
    }

    /**
     * Static INT8 quantizes every layer it can, also those the speed rules keep float: shallow and depthwise
     * Convs ({@link #everyConv}) and layers with too little work per input element to pay for quantizing it
     * ({@link #MIN_INT8_MACS_PER_INPUT}, e.g. a 10-wide classifier head). For the smallest file with every
     * activation quantized, or for hardware whose integer kernels are faster.
     *
     * @param everyLayer whether to quantize every layer
     * @return this quantizer
     */
    public Quantizer everyLayer(boolean everyLayer) {
        this.everyLayer = everyLayer;
        return this;
    }

    /**
     * Measures the quantized model against the float one on labelled test data ({@link QuantizationReport}).
     *
     * @param test the test set, preprocessed as the model expects
     * @return this quantizer
     */
    public Quantizer report(Dataset test) {
        this.testData = Objects.requireNonNull(test, "test");
        return this;
    }

    /**
     * Measures on at most this many test samples (default: all).
     *
     * @param samples a positive count
     * @return this quantizer
     */
    public Quantizer reportSamples(int samples) {
        if (samples < 1) {
            throw new IllegalArgumentException("the report needs at least 1 sample, got " + samples);
        }
        this.reportSamples = samples;
        return this;
    }

    /**
     * The automatic mode: the most-quantized model whose top-1 accuracy on the {@link #report} data drops
     * by at most {@code drop}, keeping the layers that add the most quantization noise in float.
     *
     * @param drop a fraction: 0.002 is 0.2 percentage points
     * @return this quantizer
     */
    public Quantizer maxAccuracyDrop(double drop) {
        if (!(drop >= 0) || drop > 1) {
            throw new IllegalArgumentException("the accuracy budget is a fraction in [0, 1], got " + drop);
        }
        this.maxAccuracyDrop = drop;
        return this;
    }

    /**
     * How ONNX Runtime runs the models for calibration and the report.
     *
     * @param options the options
     * @return this quantizer
     */
    public Quantizer options(ModelOptions options) {
        this.options = Objects.requireNonNull(options, "options");
        return this;
    }

    /**
     * Quantizes a float model.
     *
     * @param model the float model (not changed)
     * @return the quantized model, what was quantized, what stayed float and why, and the measurements
     * @throws IllegalArgumentException if the model is already quantized, static quantization has no
     *     calibration data, or the automatic mode has no test data
     */
    public Result quantize(Graph model) {
        Objects.requireNonNull(model, "model");
        if (!Double.isNaN(maxAccuracyDrop) && testData == null) {
            throw new IllegalArgumentException(
                    "the accuracy budget needs labelled test data to measure against: call report(test)");
        }
        QuantGraphs.requireFloatModel(
                model,
                switch (kind) {
                    case STATIC_INT8 -> "StaticQuantization";
                    case DYNAMIC_INT8 -> "DynamicQuantization";
                    case FP16 -> "Float16Conversion";
                });
        Calibration calibration = null;
        Function<Set<String>, StaticQuantization.Result> build;
        if (kind == Kind.FP16) {
            if (!Double.isNaN(maxAccuracyDrop)) {
                throw new IllegalArgumentException("the accuracy budget applies to INT8; FP16 keeps no layer in float");
            }
            if (!keepFloat.isEmpty()) {
                throw new IllegalArgumentException("keeping layers in float applies to INT8; FP16 keeps in float32"
                        + " exactly the nodes the device has no float16 kernel for");
            }
            if (float16Io && testData != null) {
                throw new IllegalArgumentException("the report feeds the test data as float32, which a model with"
                        + " float16 inputs does not take: report on the float32-interface conversion (the same"
                        + " layers), or convert without a report");
            }
            build = kept -> float16(model);
        } else if (kind == Kind.DYNAMIC_INT8) {
            build = kept -> {
                DynamicQuantization d = DynamicQuantization.defaults().keepFloat(union(keepFloat, kept));
                return (reduceRange == null ? d : d.reduceRange(reduceRange)).apply(model);
            };
        } else {
            if (calibrationData == null) {
                throw new IllegalArgumentException("static INT8 quantization needs calibration data: call"
                        + " calibrate(dataset, samples) with a sample of the training set (or use dynamicInt8())");
            }
            StaticQuantization full = staticQuantization(Set.of());
            calibration = Calibration.of(method)
                    .samples(calibrationSamples)
                    .tensors(full.calibrationTensors(model))
                    .options(options)
                    .run(model, calibrationData);
            Map<String, TensorRange> ranges = calibration.ranges();
            build = kept -> staticQuantization(kept).apply(model, ranges);
        }
        if (testData == null) {
            StaticQuantization.Result r = build.apply(Set.of());
            return new Result(r.graph(), r.quantized(), r.keptFloat(), List.of(), calibration, null, true);
        }
        QuantizationReport.Builder reporter = QuantizationReport.builder().options(options);
        if (reportSamples > 0) {
            reporter.samples(Math.min(reportSamples, testData.size()));
        }
        if (Double.isNaN(maxAccuracyDrop)) {
            StaticQuantization.Result r = build.apply(Set.of());
            QuantizationReport report = reporter.run(model, r.graph(), testData);
            return new Result(r.graph(), r.quantized(), r.keptFloat(), List.of(), calibration, report, true);
        }
        // the candidates are the nodes the full quantization quantizes: keeping any other float changes nothing
        Set<String> candidates = build.apply(Set.of()).quantized().keySet();
        SqnrFallback.Result auto = SqnrFallback.of(kept -> build.apply(kept).graph())
                .maxAccuracyDrop(maxAccuracyDrop)
                .candidates(candidates)
                .reports(reporter)
                .run(model, testData);
        StaticQuantization.Result r = build.apply(new LinkedHashSet<>(auto.keptFloat()));
        return new Result(
                auto.model(),
                r.quantized(),
                r.keptFloat(),
                auto.keptFloat(),
                calibration,
                auto.report(),
                auto.withinBudget());
    }

    private StaticQuantization.Result float16(Graph model) {
        Float16Conversion pass = Float16Conversion.forDevice(device);
        if (float16Io) {
            pass = pass.float16Io();
        }
        Graph g = pass.run(model.copy(), new PassContext());
        Map<String, String> converted = new LinkedHashMap<>();
        Map<String, String> float32 = pass.float32Nodes();
        for (Node n : g.nodes()) {
            if (!float32.containsKey(n.label()) && !n.outputs().isEmpty() && isFloat16(g, n.output(0))) {
                converted.put(n.name(), "float16");
            }
        }
        return new StaticQuantization.Result(g, converted, float32);
    }

    private static boolean isFloat16(Graph g, String value) {
        return g.type(value) != null && g.type(value).dtype() == DType.FLOAT16;
    }

    private StaticQuantization staticQuantization(Set<String> kept) {
        StaticQuantization.Builder b = StaticQuantization.builder()
                .activationType(activationType)
                .keepFloat(union(keepFloat, kept))
                .minConvDepth(everyConv || everyLayer ? 0 : MIN_INT8_CONV_DEPTH)
                .minMacsPerInput(everyLayer ? 0 : MIN_INT8_MACS_PER_INPUT)
                .weightOnly(true);
        return (reduceRange == null ? b : b.reduceRange(reduceRange)).build();
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new LinkedHashSet<>(a);
        u.addAll(b);
        return u;
    }

    /**
     * What {@link #quantize} made.
     *
     * @param model the quantized model
     * @param quantized node name to how it runs quantized
     * @param keptFloat node name to why it stays float (asked for, kept by the automatic mode, or not
     *     quantizable)
     * @param autoKeptFloat the layers the automatic mode kept in float, in the order it chose them
     * @param calibration the calibrated ranges (null for dynamic quantization)
     * @param report the measurement on the test data (null when no test data was given)
     * @param withinBudget false only when the automatic mode ran out of layers before meeting the budget
     */
    public record Result(
            Graph model,
            Map<String, String> quantized,
            Map<String, String> keptFloat,
            List<String> autoKeptFloat,
            Calibration calibration,
            QuantizationReport report,
            boolean withinBudget) {
        /** Copies the collections. */
        public Result {
            Objects.requireNonNull(model, "model");
            quantized = Collections.unmodifiableMap(new LinkedHashMap<>(quantized));
            keptFloat = Collections.unmodifiableMap(new LinkedHashMap<>(keptFloat));
            autoKeptFloat = List.copyOf(autoKeptFloat);
        }
    }
}
