package dev.forge.cli;

import dev.forge.runtime.ModelOptions;
import picocli.CommandLine.Option;

/** The options of the commands that run a model: device, threads, and whether NaN/infinite inputs are refused. */
final class RuntimeOptions extends DeviceOptions {
    @Option(
            names = "--reject-non-finite",
            description =
                    "Refuse (exit 1) float inputs holding NaN or infinity; by default they are passed to the model.")
    boolean rejectNonFinite;

    @Override
    ModelOptions toModelOptions() {
        return super.toModelOptions().toBuilder()
                .rejectNonFiniteInputs(rejectNonFinite)
                .build();
    }
}
