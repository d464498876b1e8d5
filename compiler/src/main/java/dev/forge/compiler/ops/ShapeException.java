package dev.forge.compiler.ops;

/**
 * A shape or type error found at build or import time. The message starts with the op and node, e.g.
 * {@code Conv(conv1): output height (32 - 5 + 2*0)/2 + 1 = 14.5 is not a whole number; change stride or
 * padding}.
 */
public class ShapeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception with a complete message. */
    public ShapeException(String message) {
        super(message);
    }
}
