package dev.forge.compiler.passes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Export;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pass framework: pipelines as lists, instrumentation after each pass, verification, dumps. */
class PipelineTest {
    @TempDir
    Path dir;

    /** Conv -> BatchNorm -> Relu -> MaxPool -> Flatten -> Dropout -> Gemm: every training rewrite applies. */
    static Graph net() {
        GraphBuilder b = new GraphBuilder("tiny");
        Value x = b.input("input", Shape.of("N", 1, 8, 8));
        x = b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1));
        x = b.batchNorm("bn1", x);
        x = b.maxPool(b.relu(x), 2);
        x = b.dropout(b.flatten(x), 0.25f);
        x = b.linear("fc1", x, 3);
        return b.output(x, "logits").build();
    }

    @Test
    void the_training_pipeline_reads_as_one_list() {
        Pipeline p = Pipelines.training(Loss.CROSS_ENTROPY, Optimizer.adam(0.01));
        assertEquals(
                List.of(
                        "StateAsInputs",
                        "PoolBeforeRelu",
                        "TrainingForms",
                        "DropoutMasks",
                        "AppendLoss",
                        "Differentiate",
                        "OptimizerUpdate",
                        "StepOutputs"),
                p.passNames());
        assertEquals(
                "train: StateAsInputs -> PoolBeforeRelu -> TrainingForms -> DropoutMasks -> AppendLoss"
                        + " -> Differentiate -> OptimizerUpdate -> StepOutputs",
                p.toString());
        assertEquals(
                List.of(
                        "BakeState",
                        "RemoveTrainingNodes",
                        "FoldBatchNorm",
                        "FoldConstants",
                        "RemoveUnusedInitializers",
                        "AttachMetadata"),
                Pipelines.export(Map.of(), Map.of()).passNames());
    }

    @Test
    void every_pass_of_every_pipeline_leaves_a_valid_graph() {
        Graph net = net();
        List<String> seen = new ArrayList<>();
        PassInstrumentation record = (index, pass, graph) -> seen.add(index + ":" + pass.name());
        for (Pipeline p : List.of(
                Pipelines.training(Loss.CROSS_ENTROPY, Optimizer.momentum(0.01, 0.9)),
                Pipelines.gradients(Loss.MSE, true),
                Pipelines.export(Map.of(), Map.of("k", "v")))) {
            seen.clear();
            p.run(net, new PassContext(), GraphVerifier.afterEachPass().andThen(record));
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < p.passes().size(); i++) {
                expected.add((i + 1) + ":" + p.passNames().get(i));
            }
            assertEquals(expected, seen, p.name());
        }
    }

    @Test
    void each_training_pass_does_its_one_job() {
        Graph net = net();
        Map<String, Graph> after = new java.util.HashMap<>();
        PassContext c = new PassContext();
        Pipelines.training(Loss.CROSS_ENTROPY, Optimizer.adam(0.01))
                .run(net, c, (index, pass, graph) -> after.put(pass.name(), graph.copy()));
        assertEquals(
                List.of(),
                after.get("StateAsInputs").initializers().keySet().stream()
                        .filter(net.parameters()::contains)
                        .toList());
        assertEquals(
                List.of("input", "conv1/W", "conv1/B", "bn1/scale", "bn1/B", "fc1/W", "fc1/B", "bn1/mean", "bn1/var"),
                after.get("StateAsInputs").inputs().stream().map(i -> i.name()).toList());
        assertEquals(List.of("BatchNormalization", "Relu", "MaxPool"), ops(net).subList(1, 4));
        assertEquals(
                List.of("BatchNormalization", "MaxPool", "Relu"),
                ops(after.get("PoolBeforeRelu")).subList(1, 4));
        assertTrue(ops(after.get("TrainingForms")).contains("ReduceMean"));
        assertEquals(List.of("bn1/mean.next", "bn1/var.next"), c.statisticOutputs());
        assertFalse(ops(after.get("DropoutMasks")).contains("Dropout"));
        assertEquals(List.of(0.25f), List.copyOf(c.dropoutRatios().values()));
        assertTrue(after.get("AppendLoss").hasValue(TrainingGraph.LOSS));
        assertEquals("conv1/W.grad", c.gradients().get("conv1/W"));
        assertTrue(
                c.nextOutputs().contains("fc1/W.exp_avg.next"), c.nextOutputs().toString());
        assertEquals(0, after.get("OptimizerUpdate").outputs().size());
        assertEquals(
                TrainingGraph.LOSS, after.get("StepOutputs").outputs().get(0).name());
    }

    @Test
    void a_pipeline_never_changes_its_input() {
        Graph net = net();
        byte[] before = OnnxWriter.toBytes(net);
        Pipelines.training(Loss.CROSS_ENTROPY, Optimizer.sgd(0.1)).run(net, new PassContext());
        Pipelines.export(Map.of(), Map.of("k", "v")).run(net, new PassContext());
        assertArrayEquals(before, OnnxWriter.toBytes(net));
    }

    @Test
    void a_pass_inserted_after_another_runs_right_after_it() {
        List<String> order = new ArrayList<>();
        Pass count = new Pass() {
            @Override
            public String name() {
                return "CountLossNodes";
            }

            @Override
            public Graph run(Graph graph, PassContext context) {
                order.add("count:"
                        + graph.nodes().stream()
                                .filter(n -> n.name().startsWith("loss/"))
                                .count());
                return graph;
            }
        };
        Pipeline p = Pipelines.gradients(Loss.CROSS_ENTROPY, false).insertAfter("AppendLoss", count);
        assertEquals(
                List.of(
                        "StateAsInputs",
                        "PoolBeforeRelu",
                        "TrainingForms",
                        "DropoutMasks",
                        "AppendLoss",
                        "CountLossNodes",
                        "Differentiate",
                        "GradientOutputs"),
                p.passNames());
        p.run(net(), new PassContext(), (index, pass, graph) -> order.add(pass.name()));
        String counted = order.get(order.indexOf("AppendLoss") + 1);
        assertTrue(counted.startsWith("count:") && Long.parseLong(counted.substring(6)) > 0, order.toString());
        assertEquals("CountLossNodes", order.get(order.indexOf("AppendLoss") + 2));
        assertEquals(p.passNames().size() + 1, order.size());
    }

    @Test
    void inserting_after_an_unknown_pass_names_the_passes() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Pipelines.export(Map.of(), Map.of()).insertAfter("FoldBN", new FoldConstants()));
        assertTrue(
                e.getMessage().contains("no pass 'FoldBN'") && e.getMessage().contains("FoldBatchNorm"),
                e.getMessage());
    }

    @Test
    void a_pipeline_naming_a_pass_twice_is_refused() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> Pipeline.of("x", new FoldConstants(), new FoldConstants()));
        assertTrue(e.getMessage().contains("'FoldConstants' twice"), e.getMessage());
    }

    @Test
    void the_verifier_names_the_pass_that_broke_the_graph() {
        Pass dropFirst = new Pass() {
            @Override
            public String name() {
                return "DropFirstNode";
            }

            @Override
            public Graph run(Graph graph, PassContext context) {
                graph.setNodes(
                        new ArrayList<>(graph.nodes().subList(1, graph.nodes().size())));
                return graph;
            }
        };
        IllegalStateException e = assertThrows(
                IllegalStateException.class,
                () -> Pipeline.of("broken", new RemoveTrainingNodes(), dropFirst)
                        .run(net(), new PassContext(), GraphVerifier.afterEachPass()));
        assertTrue(e.getMessage().startsWith("after pass 2 DropFirstNode: graph 'tiny' is invalid:"), e.getMessage());
        assertTrue(e.getMessage().contains("input 'conv1' is not defined before the node"), e.getMessage());
    }

    @Test
    void training_graph_and_export_are_the_pipelines() {
        Graph net = net();
        Optimizer adam = Optimizer.adam(0.01);
        TrainingGraph tg = TrainingGraph.build(net, Loss.CROSS_ENTROPY, adam);
        Graph viaPipeline = Pipelines.training(Loss.CROSS_ENTROPY, adam).run(net, new PassContext());
        assertArrayEquals(OnnxWriter.toBytes(viaPipeline), OnnxWriter.toBytes(tg.graph()));
        Graph exported = Export.inferenceModel(net, tg.initialState(), Map.of("k", "v"));
        assertArrayEquals(
                OnnxWriter.toBytes(
                        Pipelines.export(tg.initialState(), Map.of("k", "v")).run(net, new PassContext())),
                OnnxWriter.toBytes(exported));
    }

    @Test
    void every_dump_loads_in_onnx_runtime() {
        Graph net = net();
        for (Pipeline p : List.of(
                Pipelines.training(Loss.CROSS_ENTROPY, Optimizer.adam(0.01)), Pipelines.export(Map.of(), Map.of()))) {
            PassDumps dumps = new PassDumps(dir.resolve(p.name()), name -> true);
            p.run(net, new PassContext(), dumps);
            assertEquals(p.passes().size(), dumps.written().size());
            assertEquals(
                    "01-" + p.passNames().get(0) + ".onnx",
                    dumps.written().get(0).getFileName().toString());
            for (Path f : dumps.written()) {
                try (Model m =
                        Model.load(f, ModelOptions.builder().intraOpThreads(1).build())) {
                    assertFalse(m.outputs().isEmpty(), f.toString());
                }
            }
        }
    }

    @Test
    void a_dump_declares_the_values_no_node_reads_as_outputs() {
        Graph[] afterLoss = new Graph[1];
        Pipelines.gradients(Loss.CROSS_ENTROPY, false).run(net(), new PassContext(), (i, pass, g) -> {
            if (pass.name().equals("AppendLoss")) {
                afterLoss[0] = g.copy();
            }
        });
        assertEquals(0, afterLoss[0].outputs().size());
        Graph v = PassDumps.viewable(afterLoss[0]);
        assertTrue(
                v.outputs().stream().anyMatch(o -> o.name().equals(TrainingGraph.LOSS)),
                v.outputs().toString());
        assertEquals(0, afterLoss[0].outputs().size());
    }

    static List<String> ops(Graph g) {
        return g.nodes().stream().map(Node::opType).toList();
    }
}
