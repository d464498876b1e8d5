/**
 * Operator shape rules: for every ONNX operator Forge knows, the rule that computes the output types
 * from the input types and attributes, with errors that name the op and node, show expected vs actual
 * and the arithmetic, and say how to fix it. {@link dev.forge.compiler.ops.Ops} is the registry;
 * {@link dev.forge.compiler.ops.ShapeInference} runs the rules over a whole graph.
 */
package dev.forge.compiler.ops;
