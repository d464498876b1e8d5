package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Normalize;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.Device;
import dev.forge.runtime.DeviceUnavailableException;
import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelLoadException;
import dev.forge.runtime.ModelMetadata;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fluent training API: {@link Training}, listeners, freezing, export options, devices and the trainer's step count. */
class TrainingApiTest {
    @TempDir
    Path dir;

    /** 96 samples [1, 8, 8] of 3 classes told apart by which third of the pixels is brighter. */
    static Dataset blobs(int seed) {
        Random r = new Random(seed);
        int n = 96;
        float[] x = new float[n * 64];
        long[] y = new long[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 3;
            for (int k = 0; k < 64; k++) {
                x[i * 64 + k] = (float) (r.nextGaussian() + (k % 3 == y[i] ? 1.5 : 0));
            }
        }
        return NpyDataset.of(Tensor.of(x, n, 1, 8, 8), Tensor.of(y, n), 3);
    }

    static Graph tinyCnn(boolean dropout) {
        GraphBuilder b = new GraphBuilder("tiny").seed(3);
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.maxPool("pool", b.relu(b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1))), Pool2d.of(2));
        x = b.flatten(x);
        if (dropout) {
            x = b.dropout(x, 0.25f);
        }
        return b.output(b.linear("fc", x, 3), "logits").build();
    }

    @Test
    void a_custom_cnn_is_trained_and_exported_in_a_few_lines() throws Exception {
        GraphBuilder b = new GraphBuilder("custom").seed(0);
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.relu(b.conv2d("conv1", x, Conv2d.of(8, 3).padding(1)));
        x = b.maxPool("pool1", x, Pool2d.of(2));
        Graph net = b.output(b.linear("fc", b.flatten(x), 3), "logits").build();
        TrainingResult r = Training.of(net)
                .optimizer(Optimizer.adam(0.01))
                .batchSize(16)
                .epochs(5)
                .fit(blobs(1), blobs(2));
        r.export(dir.resolve("custom.onnx"));
        // the lines above are the whole run; below, what it produced
        assertEquals(5, r.history().size());
        assertEquals(30, r.steps());
        assertTrue(r.evaluation().accuracy() > 0.9, "accuracy " + r.evaluation().accuracy());
        try (Model m = Model.load(dir.resolve("custom.onnx"))) {
            assertEquals("0,1,2", m.metadata().get(ModelMetadata.CLASS_LABELS));
            assertTrue(
                    m.metadata().get(ModelMetadata.TRAINING).startsWith("adam(lr=0.01"),
                    m.metadata().toString());
            assertEquals(ModelMetadata.PRODUCER_NAME, m.producerName());
        }
    }

    @Test
    void listeners_see_start_every_step_every_epoch_and_the_end_and_nothing_is_printed_by_default() {
        List<String> events = new ArrayList<>();
        TrainingListener recorder = new TrainingListener() {
            @Override
            public void onStart(Start start) {
                events.add("start " + start.epochs());
            }

            @Override
            public void onEpochStart(int epoch, int epochs, int steps) {
                events.add("epoch " + epoch + "/" + epochs + " of " + steps);
            }

            @Override
            public void onStep(Step step) {
                events.add("step " + step.step());
            }

            @Override
            public void onEpochEnd(EpochStats stats, List<EpochStats> history) {
                events.add("end of epoch " + stats.epoch() + " history " + history.size());
            }

            @Override
            public void onEnd(TrainingResult result) {
                events.add("end " + result.steps());
            }
        };
        Training.of(tinyCnn(false))
                .batchSize(32)
                .epochs(2)
                .maxSteps(5)
                .listener(recorder)
                .fit(blobs(1), blobs(2));
        assertEquals(
                List.of(
                        "start 2",
                        "epoch 1/2 of 3",
                        "step 1",
                        "step 2",
                        "step 3",
                        "end of epoch 1 history 1",
                        "epoch 2/2 of 2",
                        "step 4",
                        "step 5",
                        "end of epoch 2 history 2",
                        "end 5"),
                events);
    }

    @Test
    void frozen_parameters_stay_constants_and_the_rest_trains() {
        Graph net = tinyCnn(false);
        TrainingResult r = Training.of(net)
                .freezePrefix("conv1/")
                .optimizer(Optimizer.sgd(0.1))
                .batchSize(32)
                .fit(blobs(1), blobs(2));
        assertEquals(List.of("fc/W", "fc/B"), List.copyOf(r.trainedGraph().parameters()));
        assertFalse(r.state().containsKey("conv1/W"), "a frozen parameter is no training state");
        Graph exported = r.exportedGraph();
        assertEquals(net.initializers().get("conv1/W"), exported.initializers().get("conv1/W"), "conv1 unchanged");
        assertNotEquals(net.initializers().get("fc/W"), exported.initializers().get("fc/W"), "fc trained");
        assertEquals(
                List.of("conv1/W", "conv1/B", "fc/W", "fc/B"),
                List.copyOf(net.parameters()),
                "the net is not modified");

        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Training.of(net).freeze("conv2/W").fit(blobs(1), blobs(2)));
        assertTrue(
                e.getMessage()
                        .startsWith("freeze(\"conv2/W\") matches no trainable parameter of 'tiny'; its parameters are"),
                e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> Training.of(net).freeze(p -> true).fit(blobs(1), blobs(2)));
        assertTrue(e.getMessage().contains("every parameter of 'tiny' is frozen"), e.getMessage());
    }

    @Test
    void an_imported_model_is_prepared_frozen_by_predicate_and_fine_tuned() {
        Graph imported = OnnxReader.read(OnnxWriter.toBytes(tinyCnn(false)), "tiny.onnx");
        assertTrue(imported.parameters().isEmpty(), "an import marks nothing: Training prepares it");
        TrainingResult r = Training.of(imported)
                .freeze(name -> name.startsWith("conv1"))
                .maxSteps(2)
                .batchSize(16)
                .fit(blobs(1), blobs(2));
        assertEquals(2, r.steps());
        assertEquals(List.of("fc/W", "fc/B"), List.copyOf(r.trainedGraph().parameters()));
    }

    @Test
    void export_options_record_the_image_preprocessing_with_the_datas_normalization() throws Exception {
        TrainingResult r = Training.of(tinyCnn(false)).maxSteps(1).fit(blobs(1), blobs(2));
        Path p = dir.resolve("pre.onnx");
        ImagePreprocessing unit = ImagePreprocessing.builder()
                .color(ImagePreprocessing.Color.GRAY)
                .resize(9)
                .crop(8, 8)
                .build();
        r.export(
                p,
                ExportOptions.builder()
                        .normalization(Normalize.of(0.25f, 2f))
                        .preprocessing(unit)
                        .build());
        BufferedImage img = new BufferedImage(13, 10, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < 130; i++) {
            img.setRGB(i % 13, i / 13, i * 0x010203);
        }
        ImagePreprocessing stored = unit.toBuilder()
                .normalization(new float[] {0.25f}, new float[] {2f})
                .build();
        try (Model m = Model.load(p)) {
            assertEquals("9", m.metadata().get(ModelMetadata.IMAGE_RESIZE));
            assertEquals("8x8", m.metadata().get(ModelMetadata.IMAGE_CROP));
            assertEquals("gray", m.metadata().get(ModelMetadata.IMAGE_COLOR));
            assertEquals("0.25", m.metadata().get(ModelMetadata.INPUT_MEAN));
            // the preprocessing took the data's normalization, and the runtime applies both
            assertEquals(stored, m.imagePreprocessing().orElseThrow());
            assertArrayEquals(
                    m.run(Tensor.of(stored.apply(img), 1, 1, 8, 8)).toFloatArray(),
                    m.runImage(img).toFloatArray());
        }
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ExportOptions.builder()
                        .normalization(Normalize.of(0.5f, 0.5f))
                        .preprocessing(ImagePreprocessing.imagenet(32, 28))
                        .build());
        assertTrue(e.getMessage().contains("a model is trained with one normalization"), e.getMessage());
    }

    @Test
    void export_options_record_labels_and_normalization_which_the_runtime_applies_when_asked() throws Exception {
        TrainingResult r = Training.of(tinyCnn(false)).maxSteps(1).fit(blobs(1), blobs(2));
        Normalize norm = Normalize.of(0.25f, 2f);
        Path p = dir.resolve("n.onnx");
        r.export(
                p,
                ExportOptions.builder()
                        .classLabels(List.of("a", "b", "c"))
                        .normalization(norm)
                        .metadata("owner", "test")
                        .build());
        float[] v = new float[4 * 64];
        for (int i = 0; i < v.length; i++) {
            v[i] = i * 0.01f;
        }
        Tensor raw = Tensor.of(v, 4, 1, 8, 8);
        float[] by = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            by[i] = (v[i] - 0.25f) / 2f;
        }
        try (Model plain = Model.load(p);
                Model normalizing = Model.load(
                        p, ModelOptions.builder().normalizeInputs(true).build())) {
            assertEquals("a,b,c", plain.metadata().get(ModelMetadata.CLASS_LABELS));
            assertEquals("0.25", plain.metadata().get(ModelMetadata.INPUT_MEAN));
            assertEquals("2.0", plain.metadata().get(ModelMetadata.INPUT_STD));
            assertEquals("test", plain.metadata().get("owner"));
            assertArrayEquals(
                    plain.run(Tensor.of(by, 4, 1, 8, 8)).toFloatArray(),
                    normalizing.run(raw).toFloatArray(),
                    1e-6f);
        }
        Path none = dir.resolve("none.onnx");
        r.export(none);
        ModelLoadException e = assertThrows(
                ModelLoadException.class,
                () -> Model.load(
                        none, ModelOptions.builder().normalizeInputs(true).build()));
        assertTrue(
                e.getMessage()
                        .contains("normalizeInputs is set but the model's metadata has no input_mean and input_std"),
                e.getMessage());
        assertEquals(0, Model.openNativeObjects(), "the refused model's session is closed");
    }

    @Test
    void training_on_cuda_fails_clearly_on_a_cpu_only_build_and_auto_falls_back_to_the_cpu() {
        DeviceUnavailableException e = assertThrows(
                DeviceUnavailableException.class,
                () -> Training.of(tinyCnn(false))
                        .device(Device.cuda())
                        .maxSteps(1)
                        .fit(blobs(1), blobs(2)));
        assertTrue(
                e.getMessage()
                        .startsWith(
                                "CUDA requested (cuda:0) but this ONNX Runtime build has no CUDA execution provider"),
                e.getMessage());
        assertTrue(e.getMessage().contains("-Pcuda"), e.getMessage());
        TrainingResult r =
                Training.of(tinyCnn(false)).device(Device.auto()).maxSteps(1).fit(blobs(1), blobs(2));
        assertEquals(1, r.steps());
    }

    @Test
    void the_trainer_counts_steps_itself_and_refuses_a_step_below_one() {
        TrainingGraph tg = TrainingGraph.build(tinyCnn(false), Loss.CROSS_ENTROPY, Optimizer.adam(0.01));
        float[] v = new float[8 * 64];
        Random r = new Random(4);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        Tensor x = Tensor.of(v, 8, 1, 8, 8);
        Tensor y = Tensor.of(new long[] {0, 1, 2, 0, 1, 2, 0, 1}, 8);
        try (Trainer counted = new Trainer(tg, 1, 0);
                Trainer explicit = new Trainer(tg, 1, 0)) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> explicit.step(x, y, 0, 0.01));
            assertTrue(e.getMessage().startsWith("Trainer.step: step numbers start at 1, got 0"), e.getMessage());
            counted.setLearningRate(0.005);
            for (int s = 1; s <= 3; s++) {
                assertEquals(
                        explicit.step(x, y, s, 0.005).loss(), counted.step(x, y).loss(), 0.0, "step " + s);
                assertEquals(s, counted.steps());
            }
            assertEquals(explicit.state(), counted.state());
        }
    }

    @Test
    void optimizer_factories_have_pytorchs_defaults() {
        assertEquals(
                "sgd(lr=0.1, momentum=0.0, nesterov=false, weight_decay=0.0)",
                Optimizer.sgd(0.1).describe());
        assertEquals(
                "momentum(lr=0.1, momentum=0.9, nesterov=false, weight_decay=5.0E-4)",
                Optimizer.momentum(0.1, 0.9).withWeightDecay(5e-4).describe());
        assertEquals(
                "nesterov(lr=0.1, momentum=0.9, nesterov=true, weight_decay=0.0)",
                Optimizer.nesterov(0.1, 0.9).describe());
        assertEquals(
                "rmsprop(lr=0.01, alpha=0.99, eps=1.0E-8, weight_decay=0.0)",
                Optimizer.rmsprop(0.01).describe());
        assertEquals(
                "adagrad(lr=0.1, eps=1.0E-10, weight_decay=0.0)",
                Optimizer.adagrad(0.1).describe());
        assertEquals(
                "adam(lr=0.01, betas=(0.9, 0.999), eps=1.0E-8, weight_decay=0.0)",
                Optimizer.adam(0.01).describe());
        assertEquals(
                "adamw(lr=0.01, betas=(0.9, 0.999), eps=1.0E-8, weight_decay=0.01)",
                Optimizer.adamw(0.01).describe());
        assertEquals(
                "adam(lr=0.01, betas=(0.8, 0.99), eps=1.0E-6, weight_decay=0.0)",
                Optimizer.adam(0.01).withBetas(0.8, 0.99).withEps(1e-6).describe());
        assertThrows(IllegalArgumentException.class, () -> Optimizer.adam(0.01).withBetas(1.0, 0.999));
        assertEquals(0.05, Schedule.step(2, 0.5).lr(0.1, 2), 1e-12);
        assertEquals(0.0, Schedule.cosine(4).lr(0.1, 4), 1e-12);
        assertEquals(0.1, Schedule.constant().lr(0.1, 7), 0.0);
    }
}
