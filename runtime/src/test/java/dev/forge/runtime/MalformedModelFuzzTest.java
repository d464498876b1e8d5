package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Damaged copies of valid models (flipped bits, overwritten and cut bytes) must give the documented
 * refusal ({@link ModelLoadException} from loading, a {@link ForgeRuntimeException} from running) or a
 * working model: any other exception is a finding, reported with the seed and the case. Each case's
 * damage depends only on (seed, case), so one case replays alone: {@code -Dforge.fuzz.seed=S
 * -Dforge.fuzz.case=I}. Run more mutants with {@code -Dforge.fuzz.mutants=20000} (20,000 passed when
 * this was written: about 11% loaded and ran).
 */
class MalformedModelFuzzTest {
    private static final int MUTANTS = Integer.getInteger("forge.fuzz.mutants", 1000);
    private static final List<byte[]> MODELS =
            List.of(TestModels.classifier(true), TestModels.conv(), TestModels.add(), TestModels.reshapeTo2x2());

    @Test
    void damagedModelsNeverCrash() {
        FuzzSeed seed = FuzzSeed.of("MalformedModelFuzzTest");
        String only = System.getProperty("forge.fuzz.case", "").trim();
        int first = only.isEmpty() ? 0 : Integer.parseInt(only);
        int end = only.isEmpty() ? MUTANTS : first + 1;
        System.out.println(seed.banner("damaging models " + first + " to " + (end - 1)));
        int loaded = 0;
        int refused = 0;
        for (int i = first; i < end; i++) {
            byte[] m = mutant(seed.seed, i);
            try {
                if (loadAndRun(m, "mutant" + i)) {
                    loaded++;
                } else {
                    refused++;
                }
            } catch (RuntimeException | Error e) {
                throw new AssertionError(seed.failure(i, m, " -Dforge.fuzz.case=" + i, e), e);
            }
        }
        assertTrue(loaded + refused == end - first);
        if (only.isEmpty()) {
            assertTrue(refused > 0, "some mutants must be refused (seed " + seed.seed + ")");
            assertTrue(loaded > 0, "some mutants must get through to ONNX Runtime and run (seed " + seed.seed + ")");
        }
    }

    /** Case {@code i} of a seed: one of the models with 1 to 3 edits drawn from a generator of (seed, i) alone. */
    static byte[] mutant(long seed, int i) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + i);
        byte[] m = MODELS.get(i % MODELS.size()).clone();
        int edits = 1 + r.nextInt(3);
        for (int e = 0; e < edits; e++) {
            int at = r.nextInt(m.length);
            switch (r.nextInt(3)) {
                case 0:
                    m[at] ^= (byte) (1 << r.nextInt(8));
                    break;
                case 1:
                    m[at] = (byte) r.nextInt(256);
                    break;
                default:
                    m = Arrays.copyOf(m, Math.max(1, at));
            }
        }
        return m;
    }

    /** True when the model loaded (and ran or was refused at run time), false when loading refused it. */
    static boolean loadAndRun(byte[] m, String name) {
        try (Model model = Model.load(m, name, ModelOptions.defaults())) {
            runWithPlausibleInputs(model);
            return true;
        } catch (ModelLoadException expected) {
            return false;
        }
    }

    /** Feeds zeros of the declared shape (dynamic dimensions = 2); a Forge exception from the run is fine. */
    private static void runWithPlausibleInputs(Model model) {
        Map<String, Tensor> inputs = new HashMap<>();
        for (TensorSpec spec : model.inputs()) {
            long[] shape = spec.shape();
            List<Long> dims = new ArrayList<>();
            long count = 1;
            for (long d : shape) {
                long v = d < 0 ? 2 : Math.min(d, 64);
                dims.add(v);
                count *= v;
            }
            if (count > 1 << 20 || shape.length > 8) {
                return;
            }
            inputs.put(
                    spec.name(),
                    Tensor.zeros(
                            spec.dtype(),
                            dims.stream().mapToLong(Long::longValue).toArray()));
        }
        try {
            model.run(inputs);
        } catch (ForgeRuntimeException expected) {
            // refused or failed inside ONNX Runtime: both are reported, neither crashes
        }
    }
}
