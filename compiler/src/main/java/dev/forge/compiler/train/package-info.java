/**
 * Training in Java on ONNX Runtime. {@link dev.forge.compiler.train.Training} is the entry point: a
 * fluent run configuration ({@link dev.forge.compiler.train.Loss loss},
 * {@link dev.forge.compiler.train.Optimizer optimizer} from typed factories,
 * {@link dev.forge.compiler.train.Schedule schedule}, batch size, epochs, device, checkpoints, frozen
 * parameters) whose {@code fit} returns a {@link dev.forge.compiler.train.TrainingResult} to export;
 * {@link dev.forge.compiler.train.TrainingListener listeners} report progress and metrics. Below it, the
 * {@link dev.forge.compiler.train.TrainingGraph training-step graph} (forward in training mode, loss,
 * backward, update — standard ONNX only) and the {@link dev.forge.compiler.train.Trainer} that runs it.
 */
package dev.forge.compiler.train;
