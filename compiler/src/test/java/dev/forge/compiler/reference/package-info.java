/**
 * The reference evaluator (test scope): a pure-Java, double-precision interpreter of Forge graphs
 * written from the ONNX operator specification, used as the oracle for ONNX Runtime results, exported
 * models and finite-difference gradient checks. {@link dev.forge.compiler.reference.ReferenceEvaluator}
 * is the entry point, {@link dev.forge.compiler.reference.DoubleTensor} its value type.
 */
package dev.forge.compiler.reference;
