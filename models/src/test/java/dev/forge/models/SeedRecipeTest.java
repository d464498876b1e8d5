package dev.forge.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.data.Datasets;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingResult;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SeedRecipeTest {
    @Test
    void every_built_in_network_has_the_seeds_recipe() {
        for (String name : ModelZoo.names()) {
            assertEquals(name, SeedRecipe.of(name).network());
        }
        SeedRecipe mnist = SeedRecipe.of("mnist-cnn");
        assertEquals(Optimizer.adam(0.01), mnist.optimizer());
        assertEquals(Optional.of("mnist"), mnist.defaultDataset());
        assertEquals(64, mnist.batchSize());
        assertEquals(10, mnist.epochs());
        assertEquals(Loss.CROSS_ENTROPY, mnist.loss());
        assertEquals(Optimizer.adam(0.001), SeedRecipe.of("lenet5").optimizer());
        SeedRecipe cifar = SeedRecipe.of("cifar10-net");
        assertEquals(Optimizer.momentum(0.0001, 0.9), cifar.optimizer());
        assertEquals(Optional.empty(), cifar.defaultDataset(), "CIFAR-10 is not downloaded: the user names it");
        assertEquals(16, cifar.batchSize());
        assertEquals(20, cifar.epochs());
        assertEquals(0.5f, cifar.normalize().mean()[0]);
        assertEquals(0.5f, cifar.normalize().std()[0]);
        SeedRecipe simple = SeedRecipe.of("simple-net");
        assertEquals(Optimizer.sgd(0.01), simple.optimizer());
        assertEquals(Loss.L1, simple.loss());
        assertNull(simple.normalize());
    }

    @Test
    void unknown_networks_are_refused_with_the_valid_names() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SeedRecipe.of("resnet"));
        assertTrue(e.getMessage().contains("'resnet'")
                && e.getMessage().contains(ModelZoo.names().toString()));
        assertThrows(
                IllegalArgumentException.class, () -> new SeedRecipe("x", null, Optimizer.sgd(1), 0, 1, Loss.L1, null));
    }

    @Test
    void apply_to_runs_the_seeds_simple_net_step_from_java() {
        SeedRecipe recipe = SeedRecipe.of("simple-net");
        Datasets.Split data = Datasets.open(recipe.defaultDataset().orElseThrow(), new long[] {1, 32, 32}, 2, null);
        TrainingResult r =
                recipe.applyTo(Training.of(ModelZoo.build("simple-net", 0))).fit(data.train(), data.test());
        assertEquals(1, r.steps(), "batch 1, one epoch, one sample: the seed's one SGD step");
        assertEquals(1, r.history().size());
        double before = r.history().get(0).trainLoss();
        assertTrue(r.evaluation().loss() < before, "the step lowers the L1 loss: " + before + " -> " + r.evaluation());
    }
}
