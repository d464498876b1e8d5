/**
 * The compiler as pipelines of named passes over the IR {@link dev.forge.compiler.ir.Graph}, after MLIR's
 * pass manager and TVM's {@code Sequential}: a {@link dev.forge.compiler.passes.Pass} does one job, a
 * {@link dev.forge.compiler.passes.Pipeline} is an ordered list of passes, and
 * {@link dev.forge.compiler.passes.Pipelines} holds the training, gradient and export pipelines as lists
 * anyone can read in one place. A {@link dev.forge.compiler.passes.PassInstrumentation} sees the graph
 * after every pass (to dump it as ONNX, count nodes or verify it). {@code docs/PASSES.md} lists both
 * pipelines and says how to add a pass.
 */
package dev.forge.compiler.passes;
