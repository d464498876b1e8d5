package dev.forge.compiler.data;

import dev.forge.runtime.Tensor;

/**
 * One mini-batch from a {@link DataLoader}.
 *
 * <p>The tensors wrap the loader's reusable direct buffers (ONNX Runtime reads them without a copy):
 * a batch is valid until the next batch is requested from the same loader, or the epoch or loader is
 * closed; after that its contents are overwritten. Copy what must outlive it ({@link
 * Tensor#toFloatArray()}).
 *
 * @param inputs float32 {@code [size, ...sampleShape]}
 * @param labels int64 class indices {@code [size]} for a classification dataset, or float32 targets
 *     {@code [size, ...targetShape]} for a regression dataset
 * @param size the number of samples, the batch size except perhaps for the last batch of an epoch
 */
public record Batch(Tensor inputs, Tensor labels, int size) {}
