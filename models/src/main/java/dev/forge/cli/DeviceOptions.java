package dev.forge.cli;

import dev.forge.runtime.Device;
import dev.forge.runtime.ModelOptions;
import picocli.CommandLine.Option;

/** The options of every command that runs ONNX Runtime sessions, training included: the device and the threads. */
class DeviceOptions {
    @Option(
            names = "--device",
            paramLabel = "DEVICE",
            defaultValue = "cpu",
            description = "cpu, cuda, cuda:N or auto (CUDA when this build and machine have it, else the CPU)."
                    + " Default: ${DEFAULT-VALUE}.")
    String device;

    @Option(
            names = "--threads",
            paramLabel = "N",
            defaultValue = "0",
            converter = Threads.class,
            description = "Intra-op threads; 0 uses one per available processor. Default: ${DEFAULT-VALUE}.")
    int threads;

    /** The session options these flags describe. */
    ModelOptions toModelOptions() {
        if (threads < 0) {
            throw new IllegalArgumentException(
                    "--threads must be 0 (one per available processor) or more, got " + threads);
        }
        return ModelOptions.builder()
                .device(Device.parse(device))
                .intraOpThreads(threads)
                .build();
    }

    /** --threads: 0 or more; a bad value is a usage error naming the option, before any work. */
    static final class Threads implements picocli.CommandLine.ITypeConverter<Integer> {
        @Override
        public Integer convert(String text) {
            try {
                int n = Integer.parseInt(text.trim());
                if (n >= 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // the message below
            }
            throw new picocli.CommandLine.TypeConversionException(
                    "'" + text + "' is not a thread count; give 0 (one per available processor) or more");
        }
    }

    /** {@code 2 intra-op threads}; for 0, the count that 0 resolves to. */
    String threadsText() {
        int n = ModelOptions.resolveIntraOpThreads(threads);
        return n + " intra-op thread" + (n == 1 ? "" : "s");
    }
}
