/**
 * The seed's networks defined with the Forge builder ({@link dev.forge.models.SimpleNet},
 * {@link dev.forge.models.MnistCnn}, {@link dev.forge.models.Cifar10Net}, {@link dev.forge.models.LeNet5})
 * and the {@link dev.forge.models.ModelZoo} that names them for the command line, with the seed's training
 * settings for each as a {@link dev.forge.models.SeedRecipe} ({@code SeedRecipe.of("mnist-cnn").applyTo(training)}).
 */
package dev.forge.models;
