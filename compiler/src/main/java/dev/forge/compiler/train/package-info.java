/**
 * Training in Java on ONNX Runtime: {@link dev.forge.compiler.train.Loss losses},
 * {@link dev.forge.compiler.train.Optimizer optimizers} as update subgraphs, the
 * {@link dev.forge.compiler.train.TrainingGraph training-step graph} (forward in training mode, loss,
 * backward, update — standard ONNX only), and the trainer that runs it.
 */
package dev.forge.compiler.train;
