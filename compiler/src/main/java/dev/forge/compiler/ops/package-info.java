/**
 * Operator definitions: for every ONNX operator Forge knows, one {@link dev.forge.compiler.ops.OpDef}
 * holding its attribute schema, its shape rule (output types from input types and attributes, with
 * errors that name the op and node, show expected vs actual and the arithmetic, and say how to fix it),
 * and its gradient rule or the statement that it is not differentiable. One file per operator family
 * ({@code ActivationOps}, {@code ElementwiseOps}, {@code MatrixOps}, {@code ConvOps}, {@code PoolOps},
 * {@code NormalizationOps}, {@code ReductionOps}, {@code ShapeOps}, {@code TensorOps}) holds its
 * operators' definitions side by side. {@link dev.forge.compiler.ops.Ops} is the closed registry;
 * {@link dev.forge.compiler.ops.ShapeInference} runs the shape rules over a whole graph. See
 * docs/OPERATORS.md for how to add an operator.
 */
package dev.forge.compiler.ops;
