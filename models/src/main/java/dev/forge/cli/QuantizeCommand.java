package dev.forge.cli;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Datasets;
import dev.forge.compiler.data.Normalize;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.quant.Calibration;
import dev.forge.compiler.quant.CalibrationMethod;
import dev.forge.compiler.quant.QuantType;
import dev.forge.compiler.quant.Quantizer;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.ModelOptions;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code forge quantize MODEL.onnx --data DATASET --out m.int8.onnx}: post-training INT8 with a report. */
@Command(
        name = "quantize",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Quantize a float model to INT8 (or convert it to FP16) and report what it cost.",
            "",
            "  forge quantize MODEL.onnx --data mnist --out m.int8.onnx",
            "",
            "Static INT8 (the default) writes a standard QDQ model (QuantizeLinear/DequantizeLinear, opset 13+) any"
                    + " ONNX runtime reads: weights int8 per output channel, activations uint8 per tensor with ranges"
                    + " calibrated on samples of the data set's training split. --dynamic quantizes MatMul and Gemm"
                    + " weights only and the activations at run time: no calibration. --fp16 stores the weights in"
                    + " float16 and computes in float16 where the device has exact float16 kernels. With labelled data the"
                    + " float and quantized models are compared on the test split: top-1 accuracy, agreement and"
                    + " the SQNR of every layer. The input normalization recorded in the model's metadata ("
                    + ModelMetadata.INPUT_MEAN + ", " + ModelMetadata.INPUT_STD + ") is applied. The file is written"
                    + " atomically."
        })
final class QuantizeCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(
            index = "0",
            paramLabel = "MODEL",
            description = "An .onnx file, or a built-in network: ${COMPLETION-CANDIDATES}",
            completionCandidates = Forge.BuiltInNames.class)
    private String model;

    @Option(
            names = "--data",
            paramLabel = "DATASET",
            converter = TrainArguments.DataConverter.class,
            description = "Calibration and test data: " + DataSpec.HELP + ". Needed unless --dynamic.")
    private String data;

    @Option(
            names = "--method",
            paramLabel = "METHOD",
            defaultValue = Quantizer.DEFAULT_METHOD,
            description = "How activation ranges are chosen: minmax, percentile:P (e.g. percentile:99.99) or"
                    + " entropy (default: ${DEFAULT-VALUE}).")
    private String method;

    @Option(
            names = "--calibration-samples",
            paramLabel = "N",
            defaultValue = "" + Calibration.DEFAULT_SAMPLES,
            description = "Training samples to calibrate on, spread over the split (default: ${DEFAULT-VALUE}).")
    private int calibrationSamples;

    @Option(names = "--dynamic", description = "Dynamic INT8: MatMul/Gemm weights int8, activations at run time.")
    private boolean dynamic;

    @Option(
            names = "--fp16",
            description = "FP16 instead of INT8: weights in float16, compute in float16 where the --device's ONNX"
                    + " Runtime provider has exact float16 kernels (probed), float32 elsewhere; no calibration.")
    private boolean fp16;

    @Option(
            names = "--float16-io",
            description = "With --fp16: float16 model inputs and outputs (default: float32, through Casts).")
    private boolean float16Io;

    @Option(
            names = "--keep-float",
            paramLabel = "LAYER",
            split = ",",
            description = "Layers (node or output names, as forge inspect lists them) to keep in float.")
    private List<String> keepFloat = List.of();

    @Option(
            names = "--max-accuracy-drop",
            paramLabel = "POINTS",
            description = "Keep the layers that add the most quantization noise in float until the top-1 accuracy on"
                    + " the test split drops by at most this many percentage points (e.g. 0.2).")
    private Double maxAccuracyDrop;

    @Option(
            names = "--eval-samples",
            paramLabel = "N",
            description = "Compare on at most N test samples (default: the whole test split).")
    private Integer evalSamples;

    @Option(
            names = "--activations",
            paramLabel = "TYPE",
            defaultValue = "uint8",
            description =
                    "Static INT8 activation type: uint8 (U8S8 kernels) or int8 (S8S8) (default: ${DEFAULT-VALUE}).")
    private String activations;

    @Option(
            names = "--every-conv",
            description = "Static INT8: quantize every Conv, also those kept float by default because ONNX Runtime's"
                    + " int8 kernel is slower for them (GEMM depth C_in/groups*kH*kW below "
                    + Quantizer.MIN_INT8_CONV_DEPTH + ", or depthwise).")
    private boolean everyConv;

    @Option(
            names = "--every-layer",
            description = "Static INT8: quantize every layer the speed rules keep float: the Convs of --every-conv and"
                    + " layers with fewer than " + Quantizer.MIN_INT8_MACS_PER_INPUT + " multiply-adds per input"
                    + " element (e.g. a 10-wide classifier head), whose input costs more to quantize than the int8"
                    + " product saves. Without it such layers run in float with int8-stored weights.")
    private boolean everyLayer;

    @Option(
            names = "--weight-bits",
            paramLabel = "BITS",
            description = "7 or 8 bits per stored weight (default: the passes' choice, 7, because ONNX Runtime's"
                    + " x86 u8 x s8 kernels can saturate with 8; see docs/QUANTIZATION.md).")
    private Integer weightBits;

    @Option(
            names = {"-o", "--out"},
            paramLabel = "FILE.onnx",
            description =
                    "Where to write the model (default: MODEL with .int8.onnx, .int8-dynamic.onnx or .fp16.onnx).")
    private Path out;

    @Mixin
    private RuntimeOptions runtime;

    @Override
    public Integer call() {
        if (calibrationSamples < 1) {
            throw new IllegalArgumentException("--calibration-samples must be at least 1, got " + calibrationSamples);
        }
        if (evalSamples != null && evalSamples < 1) {
            throw new IllegalArgumentException("--eval-samples must be at least 1, got " + evalSamples);
        }
        if (maxAccuracyDrop != null && (!(maxAccuracyDrop >= 0) || maxAccuracyDrop > 100)) {
            throw new IllegalArgumentException(
                    "--max-accuracy-drop is in percentage points, 0 to 100, got " + maxAccuracyDrop);
        }
        if (fp16 && dynamic) {
            throw new IllegalArgumentException("--fp16 and --dynamic exclude each other: choose FP16 or dynamic INT8");
        }
        if (float16Io && !fp16) {
            throw new IllegalArgumentException("--float16-io applies to --fp16 only");
        }
        if (fp16 && (maxAccuracyDrop != null || !keepFloat.isEmpty())) {
            throw new IllegalArgumentException("--max-accuracy-drop and --keep-float apply to INT8; --fp16 keeps in"
                    + " float32 exactly the nodes the device has no float16 kernel for");
        }
        boolean noCalibration = dynamic || fp16;
        if (data == null && !noCalibration) {
            throw new IllegalArgumentException("static INT8 needs calibration data: give --data DATASET (e.g. --data"
                    + " mnist), or use --dynamic, which needs none");
        }
        if (data == null && maxAccuracyDrop != null) {
            throw new IllegalArgumentException("--max-accuracy-drop measures accuracy on a test split: give --data");
        }
        if (weightBits != null && weightBits != 7 && weightBits != 8) {
            throw new IllegalArgumentException("--weight-bits must be 7 or 8, got " + weightBits);
        }
        QuantType type = switch (activations) {
            case "uint8" -> QuantType.UINT8;
            case "int8" -> QuantType.INT8;
            default ->
                throw new IllegalArgumentException("--activations must be uint8 or int8, got '" + activations + "'");
        };
        CalibrationMethod calibrationMethod = CalibrationMethod.parse(method);
        ModelRef ref = ModelRef.resolve(model);
        Path target = out != null ? out : defaultOut(ref);
        if (Files.isDirectory(target)) {
            throw new IllegalArgumentException("--out " + target + " is a directory; give a file name");
        }
        Graph g = ref.graph();
        long floatBytes = ref.sizeBytes(g);

        ModelOptions options = runtime.toModelOptions();
        Quantizer q = fp16
                ? Quantizer.fp16().device(options.device()).float16Io(float16Io)
                : dynamic ? Quantizer.dynamicInt8() : Quantizer.int8();
        if (weightBits != null) {
            q.reduceRange(weightBits == 7);
        }
        q.everyConv(everyConv)
                .everyLayer(everyLayer)
                .activationType(type)
                .keepFloat(new LinkedHashSet<>(keepFloat))
                .method(calibrationMethod)
                .options(options);
        Datasets.Split split = null;
        if (data != null) {
            Normalize norm = ModelEvaluator.normalization(g.metadata());
            long[] o = g.outputs().get(0).type().shape().toArrayWithWildcards();
            split = Datasets.open(data, sampleShape(g), o.length >= 2 ? (int) o[1] : -1, true, norm, null);
            if (!noCalibration) {
                q.calibrate(split.train(), calibrationSamples);
            }
            Dataset test = split.test();
            if (test.isClassification()) {
                q.report(test);
                if (evalSamples != null) {
                    q.reportSamples(Math.min(evalSamples, test.size()));
                }
                if (maxAccuracyDrop != null) {
                    q.maxAccuracyDrop(maxAccuracyDrop / 100);
                }
            } else if (maxAccuracyDrop != null) {
                throw new IllegalArgumentException("--max-accuracy-drop needs a labelled classification data set; '"
                        + data + "' has regression targets");
            }
        }
        Quantizer.Result r = q.quantize(g);
        OnnxWriter.write(r.model(), target);

        PrintWriter w = spec.commandLine().getOut();
        w.printf(Locale.ROOT, "model: %s (%s bytes)%n", ref.displayName(), InspectCommand.number(floatBytes));
        if (r.calibration() != null) {
            w.printf(
                    Locale.ROOT,
                    "calibration: %s on %d samples of %s (train split)%s%n",
                    method,
                    r.calibration().samples(),
                    data,
                    split.normalize() == null ? "" : ", normalized with " + split.normalize());
        }
        w.println(
                fp16
                        ? "FP16 (float16 weights; float16 compute where " + options.device() + " has exact kernels):"
                        : dynamic ? "dynamic INT8 (activations quantized at run time):" : "static INT8 (QDQ):");
        TextTable layers = new TextTable("Layer", "Precision", "How");
        for (Map.Entry<String, String> e : r.quantized().entrySet()) {
            layers.row(e.getKey(), fp16 ? "fp16" : "int8", e.getValue());
        }
        for (Map.Entry<String, String> e : r.keptFloat().entrySet()) {
            layers.row(e.getKey(), "fp32", e.getValue());
        }
        w.print(layers.render("  "));
        if (r.report() != null) {
            w.println("compared on the test split:");
            w.print(r.report().toString().indent(2));
        } else if (data != null) {
            w.println("no accuracy report: '" + data + "' has no class labels");
        }
        if (maxAccuracyDrop != null) {
            w.printf(
                    Locale.ROOT,
                    "accuracy budget %.2f points: %s; kept in float by the budget: %s%n",
                    maxAccuracyDrop,
                    r.withinBudget() ? "met" : "NOT met even with every candidate layer in float",
                    r.autoKeptFloat().isEmpty() ? "none" : String.join(", ", r.autoKeptFloat()));
        }
        long bytes = fileSize(target);
        w.printf(
                Locale.ROOT,
                "size: %s bytes -> %s bytes (%.1f%% of the float model)%n",
                InspectCommand.number(floatBytes),
                InspectCommand.number(bytes),
                100.0 * bytes / floatBytes);
        w.printf("written: %s%n", target.toAbsolutePath().normalize());
        w.flush();
        return r.withinBudget() ? 0 : 1;
    }

    private Path defaultOut(ModelRef ref) {
        String suffix = fp16 ? ".fp16.onnx" : dynamic ? ".int8-dynamic.onnx" : ".int8.onnx";
        if (ref.isBuiltIn()) {
            return Path.of(ref.builtIn() + suffix);
        }
        String name = ref.file().getFileName().toString();
        String stem = name.endsWith(".onnx") ? name.substring(0, name.length() - 5) : name;
        return ref.file().resolveSibling(stem + suffix);
    }

    /** [C, H, W] of the graph's single input, the batch dimension dropped. */
    private static long[] sampleShape(Graph g) {
        if (g.inputs().size() != 1) {
            throw new IllegalArgumentException(
                    g.name() + " has " + g.inputs().size() + " inputs; quantization with data needs one input");
        }
        long[] s = g.inputs().get(0).type().shape().toArrayWithWildcards();
        long[] sample = Arrays.copyOfRange(s, 1, s.length);
        for (long d : sample) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        g.name() + ": input " + g.inputs().get(0).name()
                                + " must have fixed sizes after the batch axis, got " + Arrays.toString(s));
            }
        }
        return sample;
    }

    private static long fileSize(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
