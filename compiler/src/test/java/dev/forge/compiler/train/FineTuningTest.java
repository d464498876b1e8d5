package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.data.Batch;
import dev.forge.compiler.data.DataLoader;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Fine-tuning: parameter patterns, frozen parts (constants, no backward nodes, BatchNorm in inference mode),
 * per-group learning rates and the per-step warm-up cosine schedule.
 */
class FineTuningTest {
    /** conv1-bn1-relu-pool, conv2-bn2-relu-pool, fc: a backbone with BatchNorm and a head. */
    static Graph bnNet() {
        GraphBuilder b = new GraphBuilder("bn-net").seed(5);
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1));
        x = b.maxPool("pool1", b.relu(b.batchNorm("bn1", x)), Pool2d.of(2));
        x = b.conv2d("conv2", x, Conv2d.of(6, 3).padding(1));
        x = b.maxPool("pool2", b.relu(b.batchNorm("bn2", x)), Pool2d.of(2));
        return b.output(b.linear("fc", b.flatten(x), 3), "logits").build();
    }

    static List<String> selected(Graph g, String pattern) {
        return ParameterPattern.of(pattern).select(g, "freeze");
    }

    @Test
    void patterns_select_by_name_glob_regex_and_graph_reachability() {
        Graph g = bnNet();
        assertEquals(List.of("conv1/W"), selected(g, "conv1/W"));
        assertEquals(List.of("conv1/W", "conv2/W"), selected(g, "conv?/W"));
        assertEquals(List.of("bn1/scale", "bn1/B"), selected(g, "bn1*"));
        assertEquals(List.of("conv1/B", "conv2/B", "fc/B"), selected(g, "re:(conv\\d|fc)/B"));
        // a regex matches the whole name: "conv" alone is no match for conv1/W
        assertThrows(IllegalArgumentException.class, () -> selected(g, "re:conv"));
        // everything conv2 depends on, its own weights included, and nothing after it
        assertEquals(
                List.of("conv1/W", "conv1/B", "bn1/scale", "bn1/B", "conv2/W", "conv2/B"), selected(g, "upto:conv2"));
        // a value name works too: the producer of pool1's output
        assertEquals(List.of("conv1/W", "conv1/B", "bn1/scale", "bn1/B"), selected(g, "upto:pool1"));
    }

    @Test
    void a_pattern_that_matches_nothing_or_names_no_node_is_an_error_that_lists_names() {
        Graph g = bnNet();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> selected(g, "features.*"));
        assertTrue(
                e.getMessage()
                        .startsWith("freeze(\"features.*\") matches no trainable parameter of 'bn-net'; its parameters"
                                + " are [conv1/W, conv1/B, bn1/scale, bn1/B, conv2/W, conv2/B, bn2/scale, bn2/B, ..."
                                + " (10 in all)]"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> selected(g, "upto:conv9"));
        assertTrue(
                e.getMessage().contains("has no node or value named 'conv9'; its nodes include [conv1, bn1"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ParameterPattern.of("re:conv[1"));
        assertTrue(e.getMessage().contains("is not a valid regular expression"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> Training.of(g).freeze("upto:nothing").fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2)));
        assertTrue(e.getMessage().startsWith("upto:nothing"), e.getMessage());
    }

    /**
     * Names of a layer's backward nodes: the autodiff names each one {@code <forward node>/grad/...}, and a
     * BatchNorm's training form ends in {@code bn1/train/BatchNormalization_1}.
     */
    static List<String> backwardNodesOf(Graph step, String forwardNode) {
        List<String> out = new ArrayList<>();
        for (Node n : step.nodes()) {
            if (n.name().startsWith(forwardNode + "/") && n.name().contains("/grad/")) {
                out.add(n.name());
            }
        }
        return out;
    }

    @Test
    void no_backward_node_is_emitted_for_a_frozen_backbone() {
        Graph full = bnNet();
        Graph head = Training.of(bnNet()).freeze("upto:pool2").trainedGraph();
        assertEquals(List.of("fc/W", "fc/B"), List.copyOf(head.parameters()));
        Graph fullStep = TrainingGraph.build(full, Loss.CROSS_ENTROPY, Optimizer.sgd(0.1))
                .graph();
        Graph headStep = TrainingGraph.build(head, Loss.CROSS_ENTROPY, Optimizer.sgd(0.1))
                .graph();
        for (String layer : List.of("conv1", "bn1", "pool1", "conv2", "bn2", "pool2")) {
            assertFalse(backwardNodesOf(fullStep, layer).isEmpty(), layer + " has a backward in full training");
            assertEquals(List.of(), backwardNodesOf(headStep, layer), layer + " has no backward when frozen");
        }
        assertFalse(backwardNodesOf(headStep, "fc").isEmpty());
        // the frozen BatchNorms keep their single inference-mode node: no batch statistics at all
        long fullNodes = fullStep.nodes().size();
        long headNodes = headStep.nodes().size();
        assertTrue(headNodes * 2 < fullNodes, "head-only step " + headNodes + " nodes, full " + fullNodes);
        assertEquals(
                1,
                headStep.nodes().stream()
                        .filter(n -> n.opType().equals("ReduceMean"))
                        .count(),
                "only the loss averages: no BatchNorm batch statistics in the head-only step");
    }

    @Test
    void frozen_parameters_and_frozen_batchnorm_statistics_are_bit_identical_after_training_and_the_rest_change() {
        Graph net = bnNet();
        TrainingResult r = Training.of(net)
                .freeze("conv1/*", "bn1/*")
                .optimizer(Optimizer.adam(0.01))
                .batchSize(16)
                .epochs(2)
                .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2));
        Graph trained = r.trainedGraph();
        for (String frozen : List.of("conv1/W", "conv1/B", "bn1/scale", "bn1/B", "bn1/mean", "bn1/var")) {
            assertFalse(r.state().containsKey(frozen), frozen + " is no training state");
            assertArrayEquals(
                    net.initializers().get(frozen).toFloatArray(),
                    trained.initializers().get(frozen).toFloatArray(),
                    frozen);
        }
        for (String moving : List.of("conv2/W", "bn2/scale", "bn2/B", "bn2/mean", "bn2/var", "fc/W")) {
            assertNotEquals(
                    List.of(net.initializers().get(moving).toFloatArray()),
                    List.of(r.state().get(moving).toFloatArray()),
                    moving + " trained");
            assertFalse(
                    java.util.Arrays.equals(
                            net.initializers().get(moving).toFloatArray(),
                            r.state().get(moving).toFloatArray()),
                    moving + " changed");
        }
        // the step graph has no next value for a frozen statistic, and keeps bn1 an inference-mode node
        TrainingGraph tg = TrainingGraph.build(trained, Loss.CROSS_ENTROPY, Optimizer.adam(0.01));
        List<String> outputs =
                tg.graph().outputs().stream().map(ValueInfo::name).toList();
        assertFalse(outputs.contains("bn1/mean.next"));
        assertTrue(outputs.contains("bn2/mean.next"));
        assertEquals("BatchNormalization", tg.graph().node("bn1").opType());
    }

    @Test
    void a_partly_frozen_batchnorm_still_trains_in_training_mode() {
        Graph g = Training.of(bnNet()).freeze("bn1/scale").trainedGraph();
        TrainingGraph tg = TrainingGraph.build(g, Loss.CROSS_ENTROPY, Optimizer.sgd(0.1));
        assertTrue(tg.initialState().containsKey("bn1/mean"), "bn1's bias still trains, so bn1 is in training mode");
    }

    /** Runs one step on the first batch from the net's initial state and returns the state after it. */
    static Map<String, Tensor> oneStep(Graph net, Optimizer opt, Map<String, Double> factors) {
        TrainingGraph tg = TrainingGraph.build(net, Loss.CROSS_ENTROPY, opt, factors);
        try (Trainer t = new Trainer(tg, 1, 0);
                DataLoader loader = DataLoader.builder(TrainingApiTest.blobs(1), 16)
                        .shuffle(false)
                        .build();
                DataLoader.Epoch epoch = loader.epoch(0)) {
            Batch b = epoch.iterator().next();
            t.step(b.inputs(), b.labels(), 1, opt.lr());
            return t.state();
        }
    }

    static float[] delta(Graph net, Map<String, Tensor> after, String p) {
        float[] a = net.initializers().get(p).toFloatArray();
        float[] b = after.get(p).toFloatArray();
        float[] d = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = b[i] - a[i];
        }
        return d;
    }

    /**
     * With the same state and batch, the gradients are the same with and without groups, so one step of SGD
     * or Adam moves a parameter of a group with factor f by exactly f times the one-group update (SGD: -f lr g;
     * Adam's first step: -f lr m / (sqrt(v) + eps) with bias-corrected moments), and AdamW decays by
     * (1 - f lr wd).
     */
    @Test
    void a_parameter_group_steps_at_its_factor_times_the_rate_in_sgd_adam_and_adamw() {
        Graph net = Training.of(bnNet()).freeze("bn1/*", "bn2/*").trainedGraph();
        for (Optimizer opt : List.of(
                Optimizer.sgd(0.1),
                Optimizer.momentum(0.1, 0.9),
                Optimizer.adam(0.01),
                Optimizer.adamw(0.01).withWeightDecay(0.5))) {
            Map<String, Tensor> one = oneStep(net, opt, Map.of());
            Map<String, Tensor> two = oneStep(net, opt, Map.of("conv1/W", 0.1, "conv1/B", 0.1, "conv2/W", 0.25));
            for (String p : net.parameters()) {
                double f = p.startsWith("conv1/") ? 0.1 : p.equals("conv2/W") ? 0.25 : 1;
                float[] d1 = delta(net, one, p);
                float[] d2 = delta(net, two, p);
                for (int i = 0; i < d1.length; i++) {
                    assertEquals(f * d1[i], d2[i], 2e-7 + 1e-4 * Math.abs(d1[i]), opt.name() + " " + p + "[" + i + "]");
                }
                if (f != 1) {
                    assertTrue(java.util.Arrays.stream(toDouble(d1)).anyMatch(v -> Math.abs(v) > 1e-5), p + " moved");
                }
            }
        }
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Test
    void learning_rate_rules_resolve_last_rule_wins_and_groups_get_their_own_scalar_inputs() {
        Graph net = bnNet();
        Training t = Training.of(net).learningRate("*", 0.1).learningRate("fc/*", 1.0);
        TrainingResult r = t.optimizer(Optimizer.sgd(0.1))
                .maxSteps(1)
                .batchSize(16)
                .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2));
        assertEquals(1, r.steps());
        TrainingGraph tg = TrainingGraph.build(net, Loss.CROSS_ENTROPY, Optimizer.adam(0.01), Map.of("conv1/W", 0.1));
        assertEquals(Map.of("", 1.0, "group1", 0.1), tg.lrGroups());
        assertTrue(tg.scalarInputs().contains("optimizer/group1/lr"));
        assertTrue(tg.scalarInputs().contains("optimizer/group1/step_size"));
        assertThrows(IllegalArgumentException.class, () -> Training.of(net).learningRate("fc/*", -1));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Training.of(net)
                        .learningRate("head.*", 2)
                        .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2)));
        assertTrue(
                e.getMessage().startsWith("learningRate(\"head.*\") matches no trainable parameter"), e.getMessage());
    }

    @Test
    void warmup_cosine_rises_linearly_per_step_then_decays_to_eta_min_at_the_last_step() {
        Schedule s = Schedule.warmupCosine(4);
        double base = 0.1;
        assertEquals(0.025, s.lrAtStep(base, 0, 1, 20), 1e-15);
        assertEquals(0.05, s.lrAtStep(base, 0, 2, 20), 1e-15);
        assertEquals(0.1, s.lrAtStep(base, 0, 4, 20), 1e-15);
        // halfway through the 16 decay steps the cosine is at half the rate
        assertEquals(0.05, s.lrAtStep(base, 1, 12, 20), 1e-15);
        assertEquals(0.0, s.lrAtStep(base, 3, 20, 20), 1e-15);
        assertEquals(0.01, new Schedule.WarmupCosine(0, 0.01).lrAtStep(base, 3, 20, 20), 1e-15);
        assertTrue(s.perStep());
        // the per-epoch schedules are unchanged and answer per step with their epoch's rate
        Schedule step = Schedule.step(2, 0.5);
        assertFalse(step.perStep());
        assertEquals(step.lr(base, 3), step.lrAtStep(base, 3, 99, 100));
        assertEquals(0.05, step.lr(base, 3), 1e-15);
    }

    @Test
    void training_with_warmup_runs_each_step_at_the_schedules_rate_of_that_step() {
        Graph net = TrainingApiTest.tinyCnn(false);
        // 96 samples, batch 16: 6 steps per epoch, 2 epochs, warm-up of 3 steps, then cosine over 9
        Schedule schedule = Schedule.warmupCosine(3);
        TrainingResult r = Training.of(net)
                .optimizer(Optimizer.sgd(0.2))
                .schedule(schedule)
                .batchSize(16)
                .epochs(2)
                .shuffle(false)
                .threads(1)
                .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2));
        Map<String, Tensor> byHand;
        TrainingGraph tg = TrainingGraph.build(net, Loss.CROSS_ENTROPY, Optimizer.sgd(0.2));
        try (Trainer t = new Trainer(tg, 1, 0);
                DataLoader loader = DataLoader.builder(TrainingApiTest.blobs(1), 16)
                        .shuffle(false)
                        .build()) {
            long step = 0;
            for (int epoch = 0; epoch < 2; epoch++) {
                try (DataLoader.Epoch it = loader.epoch(epoch)) {
                    for (Batch b : it) {
                        step++;
                        t.step(b.inputs(), b.labels(), step, schedule.lrAtStep(0.2, epoch, step, 12));
                    }
                }
            }
            assertEquals(12, step);
            byHand = t.state();
        }
        for (String p : net.parameters()) {
            assertArrayEquals(byHand.get(p).toFloatArray(), r.state().get(p).toFloatArray(), p);
        }
        TrainingResult constant = Training.of(net)
                .optimizer(Optimizer.sgd(0.2))
                .batchSize(16)
                .epochs(2)
                .shuffle(false)
                .threads(1)
                .fit(TrainingApiTest.blobs(1), TrainingApiTest.blobs(2));
        assertFalse(java.util.Arrays.equals(
                constant.state().get("fc/W").toFloatArray(),
                r.state().get("fc/W").toFloatArray()));
    }
}
