/**
 * Forge's embedded inference library: load an ONNX model, run it on CPU or CUDA through ONNX Runtime,
 * and get tensors or top-k predictions back.
 *
 * <p>The package is small on purpose so that a service can embed it: it depends on ONNX Runtime and
 * nothing else. Its main types are:
 *
 * <ul>
 *   <li>{@link dev.forge.runtime.Model} — a loaded model; thread-safe; {@link AutoCloseable}.
 *   <li>{@link dev.forge.runtime.Tensor} — an immutable host tensor on a little-endian buffer.
 *   <li>{@link dev.forge.runtime.Value} — what {@link dev.forge.runtime.Model#runValues} returns: a
 *       tensor, a {@link dev.forge.runtime.TensorSequence} or an {@link dev.forge.runtime.OptionalValue}
 *       (ONNX sequence and optional outputs).
 *   <li>{@link dev.forge.runtime.Npy} — reads and writes NumPy {@code .npy} files.
 *   <li>{@link dev.forge.runtime.ModelOptions} and {@link dev.forge.runtime.Device} — how and where a
 *       model runs, including the optimized-model cache.
 *   <li>{@link dev.forge.runtime.ModelValidator} and {@link dev.forge.runtime.ModelLimits} — the checks and
 *       size limits every model passes before ONNX Runtime sees it (docs/SECURITY.md).
 * </ul>
 *
 * <p>Rules that hold everywhere in the package:
 *
 * <ul>
 *   <li>Everything that holds native memory is {@link AutoCloseable}; using it after {@code close()}
 *       throws {@link IllegalStateException}.
 *   <li>Every failure that is not a programming error (a bad argument, which throws {@link
 *       IllegalArgumentException}) is a {@link dev.forge.runtime.ForgeRuntimeException}; messages name
 *       the bad value and list the valid ones.
 *   <li>Inputs are validated in Java before they reach native code: a malformed model, tensor or file
 *       gives an exception, never a JVM crash.
 * </ul>
 */
package dev.forge.runtime;
