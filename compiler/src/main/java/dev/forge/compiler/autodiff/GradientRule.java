package dev.forge.compiler.autodiff;

import java.util.List;

/**
 * The backward rule of one operator: given the gradients of a node's outputs, emit the gradients of its
 * inputs. Returns one entry per forward input: a value name, or null for "no gradient" (integer inputs,
 * inputs that need none, or an output gradient that is absent).
 */
@FunctionalInterface
public interface GradientRule {
    /** Emits the input gradients of {@code ctx.node()}. */
    List<String> apply(GradContext ctx);
}
