package dev.forge.runtime;

/**
 * A model could not be loaded: the file is missing, unreadable, empty, or not a valid ONNX model
 * (ONNX Runtime's reason is in the message), or it uses a type this runtime does not support.
 */
public class ModelLoadException extends ForgeRuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what went wrong and how to fix it
     */
    public ModelLoadException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a cause.
     *
     * @param message what went wrong and how to fix it
     * @param cause the underlying exception
     */
    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
