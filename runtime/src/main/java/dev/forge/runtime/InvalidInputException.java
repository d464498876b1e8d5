package dev.forge.runtime;

/**
 * The tensors given to {@link Model#run} do not match the model: an unknown or missing input name,
 * a wrong element type, a wrong rank or a wrong fixed dimension. The message names the input and gives
 * the expected and actual values.
 */
public class InvalidInputException extends ForgeRuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what went wrong and how to fix it
     */
    public InvalidInputException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a cause.
     *
     * @param message what went wrong and how to fix it
     * @param cause the underlying exception
     */
    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
