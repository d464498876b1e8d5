package dev.forge.compiler.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Graph;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The automatic fallback on a CNN trained on real MNIST, with a stand-in for the quantizer that adds noise
 * to the weights of every layer not kept in float: conv2 much noisier than conv1 and fc. Accuracies are
 * measured, not made up.
 */
class SqnrFallbackTest {
    /** Relative noise per layer: conv2's alone costs more than a point of accuracy. */
    private static final Map<String, Double> NOISE = Map.of("conv1", 0.02, "conv2", 0.4, "fc", 0.05);

    private static Dataset test() {
        return CalibrationFixtures.mnistTest().subset(0, 300);
    }

    private static Function<Set<String>, Graph> noisyQuantizer(Graph g, List<Set<String>> calls) {
        return keep -> {
            calls.add(Set.copyOf(keep));
            Graph q = g.copy();
            for (Map.Entry<String, Double> e : NOISE.entrySet()) {
                if (!keep.contains(e.getKey())) {
                    String w = e.getKey() + "/W";
                    q = CalibrationFixtures.perturbed(
                            q,
                            w,
                            e.getValue() * CalibrationFixtures.rms(g, w),
                            e.getKey().hashCode());
                }
            }
            return q;
        };
    }

    @Test
    void within_budget_from_the_start_nothing_is_kept_in_float() {
        Graph g = CalibrationFixtures.mnistCnn();
        List<Set<String>> calls = new ArrayList<>();
        SqnrFallback.Result r =
                SqnrFallback.of(noisyQuantizer(g, calls)).maxAccuracyDrop(0.5).run(g, test());
        assertTrue(r.withinBudget());
        assertEquals(List.of(), r.keptFloat());
        assertEquals(List.of(Set.of()), calls);
        assertEquals(1, r.reports().size());
        assertTrue(r.report().accuracyDrop() > 0.005, "the noise costs accuracy: " + r.report());
    }

    @Test
    void the_layer_that_makes_the_noise_is_kept_first_until_the_drop_fits_the_budget() {
        Graph g = CalibrationFixtures.mnistCnn();
        List<Set<String>> calls = new ArrayList<>();
        SqnrFallback.Result r =
                SqnrFallback.of(noisyQuantizer(g, calls)).maxAccuracyDrop(0.0).run(g, test());
        assertTrue(r.reports().get(0).accuracyDrop() > 0.005, r.reports().get(0).toString());
        assertEquals("conv2", r.keptFloat().get(0), r.reports().get(0).toString());
        assertTrue(r.withinBudget());
        assertTrue(r.report().accuracyDrop() <= 0.0, r.report().toString());
        assertEquals(r.keptFloat().size() + 1, r.reports().size());
        assertEquals(r.keptFloat().size() + 1, calls.size());
        assertEquals(Set.copyOf(r.keptFloat()), calls.get(calls.size() - 1));
        for (int i = 0; i + 1 < r.reports().size(); i++) {
            assertTrue(r.reports().get(i).accuracyDrop() > 0.0, "stopped as soon as the budget was met");
        }
    }

    @Test
    void a_layer_that_only_carries_the_noise_is_not_kept_in_float_for_it() {
        Graph g = CalibrationFixtures.mnistCnn();
        String w = "conv2/W";
        Function<Set<String>, Graph> conv2Noise = keep -> keep.contains("conv2")
                ? g.copy()
                : CalibrationFixtures.perturbed(g, w, 0.3 * CalibrationFixtures.rms(g, w), 3);
        SqnrFallback.Result r = SqnrFallback.of(conv2Noise).maxAccuracyDrop(0.0).run(g, test());
        QuantizationReport first = r.reports().get(0);
        QuantizationReport.Layer lowest = first.layers().stream()
                .min((a, b) -> Double.compare(a.sqnrDb(), b.sqnrDb()))
                .orElseThrow();
        // the Relu after conv2 has the lowest SQNR (it clips signal, not noise), but adds no noise itself
        assertEquals("Relu_2", lowest.node(), first.toString());
        assertEquals(List.of("conv2"), r.keptFloat(), first.toString());
        assertTrue(r.withinBudget());
    }

    @Test
    void when_the_candidates_cannot_reach_the_budget_the_result_says_so() {
        Graph g = CalibrationFixtures.mnistCnn();
        SqnrFallback.Result r = SqnrFallback.of(noisyQuantizer(g, new ArrayList<>()))
                .maxAccuracyDrop(0.0)
                .candidates(List.of("fc"))
                .reports(QuantizationReport.builder().batchSize(100))
                .run(g, test());
        assertFalse(r.withinBudget());
        assertEquals(List.of("fc"), r.keptFloat());
        assertEquals(2, r.reports().size());
        assertTrue(r.report().accuracyDrop() > 0.0, r.report().toString());
    }

    @Test
    void a_budget_outside_zero_to_one_is_refused() {
        SqnrFallback s = SqnrFallback.of(keep -> null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.maxAccuracyDrop(-0.1));
        assertTrue(e.getMessage().contains("0.002 means 0.2 percentage points"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.maxAccuracyDrop(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> s.maxAccuracyDrop(20));
    }
}
