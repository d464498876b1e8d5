package dev.forge.testdata;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.reference.DoubleTensor;
import dev.forge.compiler.reference.ReferenceEvaluator;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Trainable;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A tool, not a check (skipped unless {@code -Dforge.bisect=DIR} names a directory holding {@code model.onnx},
 * {@code input.npy} and {@code labels.npy}, e.g. {@code target/families/densenet}): finds where float32 loses
 * precision in a model's cross-entropy gradient graph. ONNX Runtime runs the graph in float32 with every
 * intermediate value as an output, the reference evaluator in double precision; for every node it prints
 * the accumulated ("global") error of its first output and the node's own ("local") error, computed by
 * evaluating that node alone in double precision on ONNX Runtime's float32 inputs, both relative to the
 * output's largest magnitude (values that are mathematically near zero, such as BatchNorm's mean
 * correction, show large relative errors that mean nothing). It first lists every ReLU whose float32 output
 * is on the other side of zero from the exact one, with the channel's values at its producer: one such kink
 * can move every gradient upstream (docs/PERFORMANCE.md, DenseNet-121). Usage:
 *
 * <pre>
 * mvn -o -pl testdata -am test -Dtest=PrecisionBisectTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dforge.bisect=target/families/densenet
 * </pre>
 */
class PrecisionBisectTest {
    @Test
    void prints_float32_errors_node_by_node_and_the_relu_masks_that_flip() {
        String dir = System.getProperty("forge.bisect", "");
        Assumptions.assumeTrue(!dir.isEmpty());
        Path d = Path.of(dir);
        Graph g = Trainable.prepare(OnnxReader.read(d.resolve("model.onnx")));
        Tensor x = Npy.read(d.resolve("input.npy"));
        Tensor y = Npy.read(d.resolve("labels.npy"));
        TrainingGraph gt = TrainingGraph.gradients(g, Loss.CROSS_ENTROPY, false);
        Graph graph = gt.graph();
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (ValueInfo in : graph.inputs()) {
            Tensor state = gt.initialState().get(in.name());
            feeds.put(in.name(), state != null ? state : in.name().equals(gt.dataInput()) ? x : y);
        }
        Graph all = graph.copy();
        Set<String> outs = new HashSet<>();
        all.outputs().forEach(o -> outs.add(o.name()));
        for (Node n : graph.nodes()) {
            for (String o : n.outputs()) {
                if (!o.isEmpty() && !outs.contains(o) && graph.type(o) != null) {
                    all.addOutput(new ValueInfo(o, graph.type(o)));
                    outs.add(o);
                }
            }
        }
        Map<String, Tensor> ort;
        try (Model m = Model.load(OnnxWriter.toBytes(all), "bisect", ModelOptions.defaults())) {
            ort = m.run(feeds);
        }
        Map<String, DoubleTensor> exact = ReferenceEvaluator.runAll(graph, ReferenceEvaluator.fromTensors(feeds));
        record Row(int index, Node node, double local, double global, double scale) {}
        List<Row> rows = new ArrayList<>();
        int index = 0;
        for (Node n : graph.nodes()) {
            index++;
            List<DoubleTensor> ins = new ArrayList<>();
            boolean ok = true;
            for (String in : n.inputs()) {
                if (in.isEmpty()) {
                    ins.add(null);
                    continue;
                }
                Tensor t = ort.containsKey(in)
                        ? ort.get(in)
                        : feeds.containsKey(in)
                                ? feeds.get(in)
                                : graph.initializers().get(in);
                if (t == null) {
                    ok = false;
                    break;
                }
                ins.add(DoubleTensor.of(t));
            }
            if (!ok || n.outputs().isEmpty() || !ort.containsKey(n.output(0))) {
                continue;
            }
            Tensor o = ort.get(n.output(0));
            if (o.dtype() != DType.FLOAT32) {
                continue;
            }
            List<DoubleTensor> local = ReferenceEvaluator.evaluateNode(n, ins, graph.opset());
            double[] a = o.toDoubleArray();
            double[] l = local.get(0).toDoubleArray();
            double[] e = exact.get(n.output(0)).toDoubleArray();
            double scaleL = 1e-30;
            double scaleE = 1e-30;
            double errL = 0;
            double errE = 0;
            for (int i = 0; i < a.length; i++) {
                scaleL = Math.max(scaleL, Math.abs(l[i]));
                scaleE = Math.max(scaleE, Math.abs(e[i]));
                errL = Math.max(errL, Math.abs(a[i] - l[i]));
                errE = Math.max(errE, Math.abs(a[i] - e[i]));
            }
            rows.add(new Row(index, n, errL / scaleL, errE / scaleE, scaleE));
        }
        for (Node n : graph.nodes()) {
            if (!n.opType().equals("Relu") || !ort.containsKey(n.output(0))) {
                continue;
            }
            double[] a = ort.get(n.output(0)).toDoubleArray();
            double[] e = exact.get(n.output(0)).toDoubleArray();
            double[] in = exact.get(n.input(0)).toDoubleArray();
            double[] inA = ort.get(n.input(0)).toDoubleArray();
            long[] shape = exact.get(n.input(0)).shape();
            for (int i = 0; i < a.length; i++) {
                if ((a[i] > 0) != (e[i] > 0)) {
                    long inner = 1;
                    for (int k = 2; k < shape.length; k++) {
                        inner *= shape[k];
                    }
                    long ch = (i / inner) % shape[1];
                    System.out.printf(
                            "FLIP %s [%d] channel %d: exact input %.6g, ORT input %.6g%n",
                            n.name(), i, ch, in[i], inA[i]);
                    Node p = graph.producer(n.input(0));
                    System.out.println("  producer " + p);
                    // the channel of each input of the producer
                    for (String pin : p.inputs()) {
                        if (pin.isEmpty() || !exact.containsKey(pin)) {
                            continue;
                        }
                        DoubleTensor v = exact.get(pin);
                        double[] vals = v.toDoubleArray();
                        long[] vs = v.shape();
                        StringBuilder sb = new StringBuilder();
                        if (vs.length == 4 && vs[1] == shape[1]) {
                            long vin = vs[2] * vs[3];
                            for (int b = 0; b < vs[0]; b++) {
                                for (int k = 0; k < vin; k++) {
                                    sb.append(String.format(" %.9g", vals[(int) ((b * vs[1] + ch) * vin + k)]));
                                }
                            }
                        } else if (vals.length == shape[1]) {
                            sb.append(String.format(" %.9g", vals[(int) ch]));
                        } else if (vals.length <= 8) {
                            sb.append(java.util.Arrays.toString(vals));
                        }
                        System.out.println("  " + pin + ":" + sb);
                    }
                }
            }
        }
        System.out.println("== nodes in order: global error (ORT float32 vs double reference), local error");
        for (Row r : rows) {
            System.out.printf(
                    "%5d %-18s %-60s global %.3g local %.3g scale %.3g%n",
                    r.index(), r.node().opType(), r.node().name(), r.global(), r.local(), r.scale());
        }
        System.out.println("== worst local errors");
        rows.stream()
                .sorted((p, q) -> Double.compare(q.local(), p.local()))
                .limit(40)
                .forEach(r -> System.out.printf(
                        "%5d %-18s %-60s local %.3g global %.3g%n",
                        r.index(), r.node().opType(), r.node().name(), r.local(), r.global()));
    }
}
