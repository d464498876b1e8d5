package dev.forge.runtime;

/**
 * The base of every error raised by the Forge runtime (model loading, input validation, device
 * selection, {@code .npy} parsing, failures inside ONNX Runtime).
 *
 * <p>Catch this type to handle any runtime failure; catch a subclass to handle one kind. Bad arguments
 * to factories and builders (a negative dimension, {@code k = 0}) are programming errors and throw
 * {@link IllegalArgumentException} instead; using a closed object throws {@link
 * IllegalStateException}.
 */
public class ForgeRuntimeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with a message.
     *
     * @param message what went wrong, naming the bad value and what would be valid
     */
    public ForgeRuntimeException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a message and a cause.
     *
     * @param message what went wrong, naming the bad value and what would be valid
     * @param cause the underlying exception (often an {@code OrtException} or {@code IOException})
     */
    public ForgeRuntimeException(String message, Throwable cause) {
        super(message, cause);
    }
}
