package dev.forge.runtime;

/**
 * A {@code .npy} file or byte string is malformed or uses a feature this reader does not support
 * (Fortran order, big-endian data, object or structured dtypes). The message names the source, says
 * what is wrong and how to fix it.
 */
public class NpyFormatException extends ForgeRuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what went wrong and how to fix it
     */
    public NpyFormatException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a cause.
     *
     * @param message what went wrong and how to fix it
     * @param cause the underlying exception
     */
    public NpyFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
