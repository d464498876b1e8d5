package dev.forge.compiler.train;

/** Thrown when the training loss becomes NaN or infinite; the last good checkpoint stays on disk. */
public final class TrainingDivergedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TrainingDivergedException(String message) {
        super(message);
    }
}
