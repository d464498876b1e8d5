package dev.forge.compiler.quant;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.ir.Graph;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * The automatic mode behind {@code --max-accuracy-drop}: the most-quantized model whose top-1 accuracy drop
 * stays within a budget, found by keeping the most sensitive layers in float one at a time.
 *
 * <p>Greedy, guided by the report of the current model: quantize everything, measure ({@link
 * QuantizationReport}); while the drop exceeds the budget, keep in float the layer (among the candidates not
 * yet kept) that adds the most noise ({@link QuantizationReport.Layer#addedNoiseRatio()}: the lowest SQNR of
 * its own, so that the layers after a noisy one, which only carry its noise, are not picked for it; ties by
 * the lowest SQNR), rebuild and measure again. It stops within budget, or when no candidate is left (the
 * result then says it missed the budget). Each step costs one quantized build and one report, so at most
 * (candidates + 1) of each.
 *
 * <p>It knows nothing of how a model is quantized: it calls a function from the set of layers (node names)
 * to keep in float to the quantized graph.
 */
public final class SqnrFallback {
    /**
     * What the search found.
     *
     * @param model the last quantized model built (within budget if {@link #withinBudget})
     * @param keptFloat the layers kept in float, in the order they were chosen
     * @param reports the report of every model built, the first with nothing kept in float
     * @param withinBudget whether the last model's accuracy drop is within the budget
     */
    public record Result(Graph model, List<String> keptFloat, List<QuantizationReport> reports, boolean withinBudget) {
        /** Copies the lists. */
        public Result {
            keptFloat = List.copyOf(keptFloat);
            reports = List.copyOf(reports);
        }

        /**
         * The report of the returned model.
         *
         * @return the last report
         */
        public QuantizationReport report() {
            return reports.get(reports.size() - 1);
        }
    }

    private final Function<Set<String>, Graph> quantize;
    private double maxAccuracyDrop = 0.002;
    private Set<String> candidates;
    private QuantizationReport.Builder reporter = QuantizationReport.builder();

    private SqnrFallback(Function<Set<String>, Graph> quantize) {
        this.quantize = quantize;
    }

    /**
     * Starts a search.
     *
     * @param quantize builds the quantized model keeping the given layers (node names) in float; called with
     *     an empty set first
     * @return a search with a budget of 0.2 points, every compared layer a candidate, reports over the whole
     *     test set
     */
    public static SqnrFallback of(Function<Set<String>, Graph> quantize) {
        return new SqnrFallback(Objects.requireNonNull(quantize, "quantize"));
    }

    /**
     * The largest acceptable drop in top-1 accuracy.
     *
     * @param drop a fraction, at least 0: 0.002 is 0.2 percentage points
     * @return this search
     */
    public SqnrFallback maxAccuracyDrop(double drop) {
        if (!(drop >= 0) || drop > 1) {
            throw new IllegalArgumentException("the accuracy drop budget is a fraction in [0, 1], got " + drop
                    + " (0.002 means 0.2 percentage points)");
        }
        this.maxAccuracyDrop = drop;
        return this;
    }

    /**
     * The layers the search may keep in float (those the quantizer actually quantizes); by default every
     * layer the report compares.
     *
     * @param layers node names
     * @return this search
     */
    public SqnrFallback candidates(Collection<String> layers) {
        this.candidates = Set.copyOf(layers);
        return this;
    }

    /**
     * How the reports are made (samples, batch size, ONNX Runtime options).
     *
     * @param reporter a report builder
     * @return this search
     */
    public SqnrFallback reports(QuantizationReport.Builder reporter) {
        this.reporter = Objects.requireNonNull(reporter, "reporter");
        return this;
    }

    /**
     * Runs the search.
     *
     * @param floatModel the float model
     * @param test labelled test data, preprocessed as the model expects
     * @return the model, the layers kept in float and every report
     */
    public Result run(Graph floatModel, Dataset test) {
        Set<String> kept = new LinkedHashSet<>();
        List<QuantizationReport> reports = new ArrayList<>();
        Graph model = quantize.apply(Collections.unmodifiableSet(new LinkedHashSet<>(kept)));
        QuantizationReport report = reporter.run(floatModel, model, test);
        reports.add(report);
        while (report.accuracyDrop() > maxAccuracyDrop) {
            Optional<QuantizationReport.Layer> worst = report.layers().stream()
                    .filter(l -> !kept.contains(l.node()))
                    .filter(l -> candidates == null || candidates.contains(l.node()))
                    .filter(l -> l.sqnr().noisePower() > 0)
                    .min(Comparator.comparingDouble((QuantizationReport.Layer l) -> -l.addedNoiseRatio())
                            .thenComparingDouble(QuantizationReport.Layer::sqnrDb));
            if (worst.isEmpty()) {
                return new Result(model, List.copyOf(kept), reports, false);
            }
            kept.add(worst.get().node());
            model = quantize.apply(Collections.unmodifiableSet(new LinkedHashSet<>(kept)));
            report = reporter.run(floatModel, model, test);
            reports.add(report);
        }
        return new Result(model, List.copyOf(kept), reports, true);
    }
}
