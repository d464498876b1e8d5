package dev.forge.models;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.FashionMnist;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.train.Evaluation;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Schedule;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingResult;
import dev.forge.compiler.train.Transfer;
import dev.forge.runtime.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The transfer-learning demo of docs/TRANSFER.md: does a backbone trained on one task help another task with
 * few labels, at the same training budget?
 *
 * <p>Task A is Fashion-MNIST's clothing (T-shirt, trouser, pullover, dress, coat: 30,000 training images); task
 * B its other five classes (sandal, shirt, sneaker, bag, ankle boot) with only {@code --labels} training images
 * per class. {@link MobileNetMini} is trained on A and exported to ONNX; then three runs of the same epochs (so
 * the same steps) train on B, are exported, and are scored through the runtime on B's 5,000 test images: from
 * scratch, the imported backbone frozen under a new head, and the whole imported network under a new head with
 * the backbone's learning rate a tenth of the head's and a one-epoch warm-up. {@code --backbone FILE} starts from
 * an earlier run's task-A export instead of pretraining again.
 *
 * <pre>bash scripts/transfer-demo.sh [--pretrain-epochs N] [--pretrain-images N] [--backbone FILE] [--labels N] [--epochs N] [--seed N] [--out DIR]</pre>
 */
public final class TransferDemo {
    private static final int[] TASK_A = {0, 1, 2, 3, 4};
    private static final int[] TASK_B = {5, 6, 7, 8, 9};

    private TransferDemo() {}

    public static void main(String[] args) throws Exception {
        int pretrainEpochs = 2;
        int pretrainImages = Integer.MAX_VALUE;
        Path given = null;
        int labels = 100;
        int epochs = 15;
        long seed = 0;
        Path out = Path.of("build", "transfer-demo");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--pretrain-epochs" -> pretrainEpochs = Integer.parseInt(args[++i]);
                case "--pretrain-images" -> pretrainImages = Integer.parseInt(args[++i]);
                case "--backbone" -> given = Path.of(args[++i]);
                case "--labels" -> labels = Integer.parseInt(args[++i]);
                case "--epochs" -> epochs = Integer.parseInt(args[++i]);
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                default -> {
                    System.err.println(
                            "unknown argument " + args[i]
                                    + "; usage: [--pretrain-epochs N] [--pretrain-images N] [--backbone FILE] [--labels N] [--epochs N] [--seed N] [--out DIR]");
                    System.exit(2);
                }
            }
        }
        Files.createDirectories(out);
        Dataset trainA = FashionMnist.train().classes(pretrainImages / TASK_A.length, TASK_A);
        Dataset testA = FashionMnist.test().classes(Integer.MAX_VALUE, TASK_A);
        Dataset trainB = FashionMnist.train().classes(labels, TASK_B);
        Dataset testB = FashionMnist.test().classes(Integer.MAX_VALUE, TASK_B);
        // every epoch is scored on a fifth of the test images; the table scores the exported models on all
        Dataset validationA = testA.subset(0, 1000);
        Dataset validationB = testB.subset(0, 1000);

        List<Run> runs = new ArrayList<>();
        Path backbone = given != null ? given : out.resolve("clothing.onnx");
        if (given == null) {
            runs.add(run(
                    "pretrain on task A",
                    Training.of(Transfer.replaceHead(MobileNetMini.build(seed), TASK_A.length, seed))
                            .optimizer(Optimizer.adam(0.005))
                            .batchSize(64)
                            .epochs(pretrainEpochs)
                            .seed(seed),
                    trainA,
                    validationA,
                    backbone,
                    testA));
        }

        Graph imported = Transfer.replaceHead(OnnxReader.read(backbone), TASK_B.length, seed + 1);
        Graph fresh = Transfer.replaceHead(MobileNetMini.build(seed + 1), TASK_B.length, seed + 1);
        int stepsPerEpoch = (trainB.size() + BATCH - 1) / BATCH;
        runs.add(run(
                "task B from scratch",
                budget(Training.of(fresh), epochs).optimizer(Optimizer.adam(0.005)),
                trainB,
                validationB,
                out.resolve("scratch.onnx"),
                testB));
        runs.add(run(
                "task B, frozen backbone + new head",
                budget(Training.of(imported), epochs)
                        .freeze(Transfer.backbone(imported))
                        .optimizer(Optimizer.adam(0.01)),
                trainB,
                validationB,
                out.resolve("frozen.onnx"),
                testB));
        runs.add(run(
                "task B, whole network + new head (backbone lr x0.1, warm-up)",
                budget(Training.of(imported), epochs)
                        .learningRate(Transfer.backbone(imported), 0.1)
                        .schedule(Schedule.warmupCosine(stepsPerEpoch))
                        .optimizer(Optimizer.adam(0.005)),
                trainB,
                validationB,
                out.resolve("whole.onnx"),
                testB));

        System.out.printf(
                Locale.ROOT,
                "%nTask A: %d clothing images; task B: %d labelled images (%d per class), %d test images;"
                        + " %d epochs of batch %d for each task-B run.%n%n",
                trainA.size(),
                trainB.size(),
                labels,
                testB.size(),
                epochs,
                BATCH);
        System.out.println("| run | steps | test accuracy | training time | ms per step |");
        System.out.println("| --- | --- | --- | --- | --- |");
        for (Run r : runs) {
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %d | %.4f | %.1f s | %.0f |%n",
                    r.name,
                    r.result.steps(),
                    r.accuracy,
                    r.seconds,
                    r.seconds * 1000 / r.result.steps());
        }
    }

    private static final int BATCH = 32;

    /** The same budget for every task-B run: epochs of batch 32, the same shuffling seed. */
    private static Training budget(Training t, int epochs) {
        return t.batchSize(BATCH).epochs(epochs).seed(1).loss(Loss.CROSS_ENTROPY);
    }

    private record Run(String name, TrainingResult result, double seconds, double accuracy) {}

    /** Trains, exports to {@code model}, and scores the exported model through the runtime on {@code test}. */
    private static Run run(
            String name, Training training, Dataset train, Dataset validation, Path model, Dataset test) {
        long t0 = System.nanoTime();
        TrainingResult r = training.fit(train, validation);
        double seconds = (System.nanoTime() - t0) / 1e9;
        r.export(model);
        double accuracy;
        try (Model m = Model.load(model)) {
            accuracy = Evaluation.of(m, test, 256).accuracy();
        }
        System.out.printf(
                Locale.ROOT,
                "%s: %d steps in %.1f s, test accuracy %.4f (%s)%n",
                name,
                r.steps(),
                seconds,
                accuracy,
                model);
        return new Run(name, r, seconds, accuracy);
    }
}
