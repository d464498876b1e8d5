package dev.forge.cli;

import dev.forge.compiler.data.Datasets;
import dev.forge.compiler.data.Normalize;
import dev.forge.compiler.train.Evaluation;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code forge eval MODEL.onnx --data DATASET}: accuracy, loss, per-class accuracy, confusion matrix. */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Evaluate a classifier on a data set's test split through the runtime.",
            "",
            "Prints the mean cross-entropy, the accuracy, the accuracy of each class and the confusion matrix. The input"
                    + " normalization recorded in the model's metadata (" + ModelMetadata.INPUT_MEAN + ", "
                    + ModelMetadata.INPUT_STD + ") is applied."
        })
final class EvalCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The model to evaluate.")
    private Path model;

    @Option(
            names = "--data",
            required = true,
            paramLabel = "DATASET",
            description = "The data set: " + DataSpec.HELP + ".")
    private String data;

    @Option(
            names = "--batch",
            paramLabel = "N",
            defaultValue = "256",
            converter = TrainArguments.AtLeastOne.class,
            description = "Batch size (default: ${DEFAULT-VALUE}).")
    private int batch;

    @Mixin
    private RuntimeOptions runtime;

    @Override
    public Integer call() {
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        }
        try (Model m = Model.load(model, runtime.toModelOptions())) {
            Normalize norm = ModelEvaluator.normalization(m.metadata());
            Datasets.Split d =
                    Datasets.open(data, ModelEvaluator.sampleShape(m), ModelEvaluator.classes(m), true, norm, null);
            Evaluation e = Evaluation.of(m, d.test(), batch);
            PrintWriter out = spec.commandLine().getOut();
            out.printf(
                    "model: %s%ndata: %s (test split)%s%n",
                    model, data, norm == null ? "" : ", normalized with the model's " + norm);
            out.print(e.report());
            out.flush();
        }
        return 0;
    }
}
