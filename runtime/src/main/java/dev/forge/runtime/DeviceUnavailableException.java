package dev.forge.runtime;

/**
 * The requested device cannot be used: this ONNX Runtime build has no provider for it (for CUDA,
 * build with the Maven profile {@code -Pcuda}), or the provider could not start (no GPU, no driver,
 * wrong CUDA or cuDNN version). The message says which, and how to fix it.
 */
public class DeviceUnavailableException extends ForgeRuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what went wrong and how to fix it
     */
    public DeviceUnavailableException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a cause.
     *
     * @param message what went wrong and how to fix it
     * @param cause the underlying exception
     */
    public DeviceUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
