package dev.forge.runtime;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Where a model runs: the CPU, one CUDA GPU, or {@link Kind#AUTO} (CUDA when this ONNX Runtime build
 * has it and a GPU answers, else the CPU).
 *
 * <p>Devices are values: two devices with the same kind and id are equal. {@link #toString()} gives
 * the form {@link #parse} accepts: {@code cpu}, {@code cuda:0}, {@code auto}.
 */
public final class Device {
    /** The kind of device. */
    public enum Kind {
        /** ONNX Runtime's CPU execution provider. */
        CPU,
        /** ONNX Runtime's CUDA execution provider (needs the {@code -Pcuda} build and an NVIDIA GPU). */
        CUDA,
        /** CUDA device 0 when available, otherwise the CPU; the choice is logged once per JVM. */
        AUTO
    }

    private static final Device CPU = new Device(Kind.CPU, 0);
    private static final Device AUTO = new Device(Kind.AUTO, 0);

    private final Kind kind;
    private final int deviceId;

    private Device(Kind kind, int deviceId) {
        this.kind = kind;
        this.deviceId = deviceId;
    }

    /**
     * The CPU.
     *
     * @return the CPU device
     */
    public static Device cpu() {
        return CPU;
    }

    /**
     * The first CUDA GPU, {@code cuda(0)}.
     *
     * @return the device
     */
    public static Device cuda() {
        return cuda(0);
    }

    /**
     * A CUDA GPU.
     *
     * @param deviceId the CUDA device ordinal, 0 for the first GPU
     * @return the device
     * @throws IllegalArgumentException if {@code deviceId} is negative
     */
    public static Device cuda(int deviceId) {
        if (deviceId < 0) {
            throw new IllegalArgumentException("CUDA device id must be >= 0, got " + deviceId);
        }
        return new Device(Kind.CUDA, deviceId);
    }

    /**
     * CUDA device 0 if this build has CUDA and it starts, else the CPU.
     *
     * @return the automatic device
     */
    public static Device auto() {
        return AUTO;
    }

    /**
     * Parses {@code cpu}, {@code cuda} (device 0), {@code cuda:N} or {@code auto}, ignoring case and
     * surrounding spaces.
     *
     * @param text the device name
     * @return the device
     * @throws IllegalArgumentException for anything else, listing the accepted forms
     */
    public static Device parse(String text) {
        Objects.requireNonNull(text, "text");
        String t = text.trim().toLowerCase(Locale.ROOT);
        switch (t) {
            case "cpu":
                return CPU;
            case "auto":
                return AUTO;
            case "cuda":
                return cuda(0);
            default:
                break;
        }
        if (t.startsWith("cuda:")) {
            String id = t.substring(5);
            if (!id.isEmpty() && id.length() <= 4 && id.chars().allMatch(Character::isDigit)) {
                return cuda(Integer.parseInt(id));
            }
        }
        throw new IllegalArgumentException("Unknown device '" + text + "', expected one of "
                + List.of("cpu", "cuda", "cuda:N", "auto") + " (N = 0, 1, ...)");
    }

    /**
     * The kind of device.
     *
     * @return CPU, CUDA or AUTO
     */
    public Kind kind() {
        return kind;
    }

    /**
     * The CUDA device ordinal for CUDA (and the GPU AUTO tries, 0); 0 for the CPU.
     *
     * @return the device id
     */
    public int deviceId() {
        return deviceId;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Device && ((Device) o).kind == kind && ((Device) o).deviceId == deviceId;
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + deviceId;
    }

    /** {@code cpu}, {@code cuda:0} or {@code auto}. */
    @Override
    public String toString() {
        switch (kind) {
            case CUDA:
                return "cuda:" + deviceId;
            case AUTO:
                return "auto";
            default:
                return "cpu";
        }
    }
}
