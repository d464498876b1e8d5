package dev.forge.runtime;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The seed of a fuzz run: {@code -Dforge.fuzz.seed=N} (the CI passes {@code FORGE_FUZZ_SEED}), or a
 * fresh random one. Each run prints its seed with the command that replays it, and every failure names
 * the seed and the case, so a failure can be replayed from the log alone.
 */
final class FuzzSeed {
    /** libFuzzer takes an unsigned 32-bit seed and reads 0 as "choose one": seeds are 1 to 2^32 - 1. */
    static final long MAX = 0xFFFF_FFFFL;

    final long seed;
    /** True when the seed came from {@code forge.fuzz.seed}. */
    final boolean given;

    private final String test;

    private FuzzSeed(long seed, boolean given, String test) {
        this.seed = seed;
        this.given = given;
        this.test = test;
    }

    /** The seed of this JVM's run of {@code test} (a test class name, as {@code -Dtest} takes it). */
    static FuzzSeed of(String test) {
        String text = System.getProperty("forge.fuzz.seed", "").trim();
        if (text.isEmpty()) {
            return new FuzzSeed(1 + new SecureRandom().nextInt(Integer.MAX_VALUE - 1), false, test);
        }
        long seed;
        try {
            seed = Long.parseLong(text);
        } catch (NumberFormatException e) {
            seed = -1;
        }
        if (seed < 1 || seed > MAX) {
            throw new IllegalArgumentException(
                    "-Dforge.fuzz.seed=" + text + " is not a fuzz seed; expected a whole number from 1 to " + MAX);
        }
        return new FuzzSeed(seed, true, test);
    }

    /** The Maven command that replays this run (more system properties may follow, e.g. a case). */
    String replay(String more) {
        return "mvn -o test -pl runtime -Dtest=" + test + " -Dsurefire.failIfNoSpecifiedTests=false -Dforge.fuzz.seed="
                + seed + more;
    }

    /** The line a run prints first. */
    String banner(String what) {
        return test + ": " + what + " with seed " + seed + (given ? " (given)" : " (fresh)") + "; replay: "
                + replay("");
    }

    /**
     * The message of a failure at case {@code index}: seed, case, the input's SHA-1 (libFuzzer names a
     * saved finding {@code crash-<sha1>}), how to replay, and where the exception was thrown.
     */
    String failure(long index, byte[] input, String replayCase, Throwable t) {
        StackTraceElement[] stack = t.getStackTrace();
        return test + " seed " + seed + ", case " + index + " (input of " + input.length + " bytes, sha1 "
                + sha1(input) + "): " + t + (stack.length > 0 ? " at " + stack[0] : "") + "; replay: "
                + replay(replayCase);
    }

    static String sha1(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
