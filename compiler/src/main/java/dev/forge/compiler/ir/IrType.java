package dev.forge.compiler.ir;

/**
 * The type of any value in the graph, as ONNX's {@code TypeProto} (a oneof): a tensor ({@link ValueType},
 * the type of every value the builder, the passes and training make), a {@link SequenceType sequence} of a
 * type or an {@link OptionalType optional} of a type. Sequences and optionals nest
 * ({@code optional(sequence(tensor))}); ONNX's map and sparse tensor types are not carried (the reader
 * refuses them by name).
 *
 * <p>Code that works on tensors keeps using {@link Graph#type(String)} and {@link ValueInfo#type()}, which
 * only ever see tensor types; {@link Graph#irType(String)} and {@link ValueInfo#irType()} give the whole
 * type.
 */
public sealed interface IrType permits ValueType, SequenceType, OptionalType {
    /** True if all element types and every dimension inside this type are known. */
    boolean isFullyKnown();
}
