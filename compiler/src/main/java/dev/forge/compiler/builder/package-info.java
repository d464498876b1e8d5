/**
 * The fluent graph builder: {@link dev.forge.compiler.builder.GraphBuilder} with layer helpers
 * ({@code conv2d}, {@code batchNorm}, {@code relu}, {@code maxPool}, {@code linear}, ...) that create
 * PyTorch-initialized parameters from a seed and check every shape as the layer is added.
 */
package dev.forge.compiler.builder;
