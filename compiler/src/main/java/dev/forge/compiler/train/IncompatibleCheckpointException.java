package dev.forge.compiler.train;

/**
 * A run asked to resume from a checkpoint that another kind of run wrote: another optimizer or optimizer
 * settings, loss, batch size, seed, training data, or network. The message names what differs and how to
 * continue; {@code forge train} reports it as a usage error of {@code --resume}.
 */
public final class IncompatibleCheckpointException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** An incompatibility, described by {@code message}. */
    public IncompatibleCheckpointException(String message) {
        super(message);
    }
}
