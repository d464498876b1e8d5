package dev.forge.compiler.ops;

/**
 * A node's attributes do not fit its operator's schema: an unknown or misspelled name, a value of the
 * wrong type, or a missing required attribute. The message names the op, the node, the bad attribute
 * and the valid ones, e.g. {@code Conv(conv1): unknown attribute 'stride'; did you mean 'strides'? Conv
 * takes auto_pad, dilations, group, kernel_shape, pads, strides}.
 */
public class AttributeException extends ShapeException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception with a complete message. */
    public AttributeException(String message) {
        super(message);
    }
}
