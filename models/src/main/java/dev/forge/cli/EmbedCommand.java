package dev.forge.cli;

import dev.forge.compiler.data.Batch;
import dev.forge.compiler.data.DataLoader;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Datasets;
import dev.forge.compiler.data.Normalize;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code forge embed MODEL.onnx --layer NAME --data DATASET --out features.npy}: the values of an
 * intermediate layer for every sample of a data set, as one {@code .npy} array. The compiler declares the
 * layer's value a graph output; the runtime runs that graph (ONNX Runtime skips the nodes after it).
 */
@Command(
        name = "embed",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Write the feature vectors of an intermediate layer for a data set, as .npy [samples, features...].",
            "",
            "  forge embed MODEL.onnx --layer NAME --data DATASET --out features.npy",
            "",
            "NAME is a layer (a node name, as forge inspect MODEL.onnx lists them: its first output) or a value name;"
                    + " a wrong name lists candidates. The input normalization recorded in the model's metadata ("
                    + ModelMetadata.INPUT_MEAN + ", " + ModelMetadata.INPUT_STD + ") is applied. Samples are"
                    + " written in data-set order; the file is written atomically."
        })
final class EmbedCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The model.")
    private Path model;

    @Option(names = "--layer", required = true, paramLabel = "NAME", description = "The value to extract.")
    private String layer;

    @Option(
            names = "--data",
            required = true,
            paramLabel = "DATASET",
            converter = TrainArguments.DataConverter.class,
            description = "The data set: " + DataSpec.HELP + ".")
    private String data;

    @Option(
            names = "--split",
            paramLabel = "SPLIT",
            defaultValue = "train",
            description = "train or test (default: ${DEFAULT-VALUE}).")
    private String split;

    @Option(
            names = {"-o", "--out"},
            required = true,
            paramLabel = "FILE.npy",
            description = "Where to write the features.")
    private Path out;

    @Option(names = "--flatten", description = "Write [samples, features] instead of [samples, C, H, W].")
    private boolean flatten;

    @Option(
            names = "--batch",
            paramLabel = "N",
            defaultValue = "64",
            description = "Batch size (default: ${DEFAULT-VALUE}).")
    private int batch;

    @Mixin
    private RuntimeOptions runtime;

    @Override
    public Integer call() {
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        }
        if (!split.equals("train") && !split.equals("test")) {
            throw new IllegalArgumentException("--split must be train or test, got '" + split + "'");
        }
        if (Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " is a directory; give a file name");
        }
        Graph g = featureGraph(OnnxReader.read(model), layer);
        try (Model m = Model.load(OnnxWriter.toBytes(g), model.toString(), runtime.toModelOptions())) {
            Normalize norm = ModelEvaluator.normalization(m.metadata());
            Datasets.Split d = Datasets.open(data, ModelEvaluator.sampleShape(m), 1, true, norm, null);
            Dataset samples = split.equals("train") ? d.train() : d.test();
            float[] all = null;
            long[] featureShape = null;
            int at = 0;
            try (DataLoader loader =
                            DataLoader.builder(samples, batch).shuffle(false).build();
                    DataLoader.Epoch epoch = loader.epoch(0)) {
                for (Batch b : epoch) {
                    Tensor y = m.run(b.inputs());
                    if (all == null) {
                        featureShape = Arrays.copyOfRange(y.shape(), 1, y.shape().length);
                        long per = Arrays.stream(featureShape).reduce(1, Math::multiplyExact);
                        if (per * samples.size() > Integer.MAX_VALUE - 8) {
                            throw new IllegalArgumentException(String.format(
                                    Locale.ROOT,
                                    "the features of %d samples x %d values do not fit in one .npy array of this"
                                            + " tool; pick a smaller layer or a smaller split",
                                    samples.size(),
                                    per));
                        }
                        all = new float[(int) (per * samples.size())];
                    }
                    float[] f = y.toFloatArray();
                    System.arraycopy(f, 0, all, at, f.length);
                    at += f.length;
                }
            }
            long per = Arrays.stream(featureShape).reduce(1, Math::multiplyExact);
            long[] shape = flatten ? new long[] {samples.size(), per} : concat(samples.size(), featureShape);
            Npy.write(out, Tensor.of(all, shape));
            PrintWriter w = spec.commandLine().getOut();
            w.printf(
                    Locale.ROOT,
                    "features of '%s' for %d %s samples of %s%s: float32%s -> %s%n",
                    layer,
                    samples.size(),
                    split,
                    data,
                    norm == null ? "" : " (normalized with the model's " + norm + ")",
                    dev.forge.compiler.ir.Shape.format(shape),
                    out.toAbsolutePath().normalize());
            w.flush();
        }
        return 0;
    }

    private static long[] concat(long first, long[] rest) {
        long[] s = new long[rest.length + 1];
        s[0] = first;
        System.arraycopy(rest, 0, s, 1, rest.length);
        return s;
    }

    /**
     * {@code g} with the value {@code name} (or the first output of the node {@code name}) as its only output.
     *
     * @throws IllegalArgumentException when {@code layer} is no float node output of {@code g}, listing some
     */
    static Graph featureGraph(Graph g, String name) {
        String layer = name;
        if (g.producer(layer) == null && g.node(layer) != null) {
            layer = g.node(layer).output(0);
        }
        Node producer = g.producer(layer);
        ValueType type = g.type(layer);
        if (producer == null || type == null || type.dtype() != dev.forge.runtime.DType.FLOAT32) {
            List<String> candidates = new ArrayList<>();
            for (Node n : g.nodes()) {
                for (String o : n.outputs()) {
                    ValueType t = g.type(o);
                    if (!o.isEmpty()
                            && t != null
                            && t.dtype() == dev.forge.runtime.DType.FLOAT32
                            && t.shape() != null
                            && t.shape().rank() >= 2) {
                        candidates.add(o + " " + t.shape());
                    }
                }
            }
            int from = Math.max(0, candidates.size() - 12);
            throw new IllegalArgumentException("--layer '" + name + "' is not a float value computed by "
                    + g.name() + "; "
                    + (from > 0 ? "the last 12 of " + candidates.size() + " candidates are " : "candidates are ")
                    + candidates.subList(from, candidates.size()) + " (forge inspect MODEL.onnx lists every layer)");
        }
        Graph out = g.copy();
        out.clearOutputs();
        out.addOutput(new ValueInfo(layer, type));
        return out;
    }
}
