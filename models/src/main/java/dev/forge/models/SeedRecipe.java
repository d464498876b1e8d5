package dev.forge.models;

import dev.forge.compiler.data.Normalize;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Training;
import java.util.Objects;
import java.util.Optional;

/**
 * The seed's training settings for one built-in network: the data set, optimizer, batch size, epochs, loss and
 * input normalization its experiments used. {@code forge train NET} starts from them; from Java:
 *
 * <pre>{@code
 * SeedRecipe recipe = SeedRecipe.of("mnist-cnn");
 * Datasets.Split data = Datasets.open(recipe.defaultDataset().orElseThrow(), new long[] {1, 28, 28}, 10, recipe.normalize());
 * TrainingResult r = recipe.applyTo(Training.of(ModelZoo.build("mnist-cnn", 0))).fit(data.train(), data.test());
 * }</pre>
 *
 * @param network the built-in network's name ({@link ModelZoo#names()})
 * @param dataset the data set spec for {@code Datasets.open} ({@code mnist}, {@code random}), or null when the
 *     data must be given (CIFAR-10 is not downloaded: {@code cifar10:DIR})
 * @param optimizer the optimizer with its learning rate and momentum
 * @param batchSize mini-batch size
 * @param epochs epochs to train
 * @param loss the loss
 * @param normalize the input normalization, or null for none (beyond the data set's own default)
 */
public record SeedRecipe(
        String network,
        String dataset,
        Optimizer optimizer,
        int batchSize,
        int epochs,
        Loss loss,
        Normalize normalize) {
    public SeedRecipe {
        Objects.requireNonNull(network, "network");
        Objects.requireNonNull(optimizer, "optimizer");
        Objects.requireNonNull(loss, "loss");
        if (batchSize < 1 || epochs < 1) {
            throw new IllegalArgumentException("SeedRecipe(" + network
                    + "): batch size and epochs must be at least 1, got " + batchSize + " and " + epochs);
        }
    }

    /**
     * The seed's recipe for a built-in network: mnist-cnn and lenet5 on MNIST with Adam (lr 0.01 / 0.001), batch
     * 64, 10 epochs; cifar10-net with SGD lr 0.0001 momentum 0.9, batch 16, 20 epochs, inputs normalized with mean
     * 0.5 and std 0.5 (no default data set); simple-net one SGD step (lr 0.01) with L1 loss on one random sample;
     * mobilenet-mini (not a seed network) on Fashion-MNIST with Adam lr 0.005, batch 64, 3 epochs.
     *
     * @throws IllegalArgumentException naming the built-in networks for any other name
     */
    public static SeedRecipe of(String network) {
        return switch (network) {
            case "mnist-cnn" ->
                new SeedRecipe(network, "mnist", Optimizer.adam(0.01), 64, 10, Loss.CROSS_ENTROPY, null);
            case "lenet5" -> new SeedRecipe(network, "mnist", Optimizer.adam(0.001), 64, 10, Loss.CROSS_ENTROPY, null);
            case "cifar10-net" ->
                new SeedRecipe(
                        network,
                        null,
                        Optimizer.momentum(0.0001, 0.9),
                        16,
                        20,
                        Loss.CROSS_ENTROPY,
                        Normalize.of(0.5f, 0.5f));
            case "simple-net" -> new SeedRecipe(network, "random", Optimizer.sgd(0.01), 1, 1, Loss.L1, null);
            case "mobilenet-mini" ->
                new SeedRecipe(network, "fashion-mnist", Optimizer.adam(0.005), 64, 3, Loss.CROSS_ENTROPY, null);
            default ->
                throw new IllegalArgumentException(
                        "unknown built-in network '" + network + "'; built-in networks are " + ModelZoo.names());
        };
    }

    /**
     * The settings for a model without a seed recipe (an imported ONNX file): Adam lr 0.001, batch 32, one epoch,
     * cross-entropy, no default data set.
     */
    public static SeedRecipe generic() {
        return new SeedRecipe("model", null, Optimizer.adam(0.001), 32, 1, Loss.CROSS_ENTROPY, null);
    }

    /** The data set spec, if the seed trained this network on one that needs no directory. */
    public Optional<String> defaultDataset() {
        return Optional.ofNullable(dataset);
    }

    /** Sets the loss, optimizer, batch size and epochs of a training run; the rest of it is left as it is. */
    public Training applyTo(Training training) {
        return training.loss(loss).optimizer(optimizer).batchSize(batchSize).epochs(epochs);
    }
}
