package dev.forge.bench;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;

/** The measured workloads, shared by the JMH benchmarks and the comparison harness. */
final class Workloads {
    private Workloads() {}

    /** A direct, reusable float32 input of the network's shape at batch {@code batch}, seeded normal values. */
    static Tensor input(Graph g, int batch, long seed) {
        long[] shape = g.inputs().get(0).type().shape().toArrayWithWildcards();
        shape[0] = batch;
        long n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        ByteBuffer b = ByteBuffer.allocateDirect((int) (n * 4)).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            b.putFloat(i * 4, (float) (r.nextDouble() * 2 - 1));
        }
        return Tensor.wrap(DType.FLOAT32, b, shape);
    }

    /** Class labels 0..classes-1 cycling, as a direct int64 tensor. */
    static Tensor labels(int batch, int classes) {
        ByteBuffer b = ByteBuffer.allocateDirect(batch * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < batch; i++) {
            b.putLong(i * 8, i % classes);
        }
        return Tensor.wrap(DType.INT64, b, batch);
    }

    /** The exported inference model of a built-in network (seed 0 weights) loaded in the runtime. */
    static Model inferenceModel(String net, int threads) {
        byte[] bytes = OnnxWriter.toBytes(ModelZoo.build(net, 0));
        return Model.load(
                bytes, net, ModelOptions.builder().intraOpThreads(threads).build());
    }

    /** A trainer for one training-step workload (cross-entropy). */
    static Trainer trainer(String net, String optimizer, double lr, int threads) {
        Graph g = ModelZoo.build(net, 0);
        return new Trainer(TrainingGraph.build(g, Loss.CROSS_ENTROPY, optimizer(optimizer, lr)), threads, 0);
    }

    /** An optimizer by the name the benchmarks and PyTorch scripts use, with PyTorch's defaults (momentum 0.9). */
    static Optimizer optimizer(String name, double lr) {
        return switch (name) {
            case "sgd" -> Optimizer.sgd(lr);
            case "momentum" -> Optimizer.momentum(lr, 0.9);
            case "nesterov" -> Optimizer.nesterov(lr, 0.9);
            case "rmsprop" -> Optimizer.rmsprop(lr);
            case "adagrad" -> Optimizer.adagrad(lr);
            case "adam" -> Optimizer.adam(lr);
            case "adamw" -> Optimizer.adamw(lr);
            default ->
                throw new IllegalArgumentException("unknown optimizer '" + name
                        + "'; choose one of sgd, momentum, nesterov, rmsprop, adagrad, adam, adamw");
        };
    }

    /** The seed's optimizer settings of a training workload. */
    static String optimizer(String net) {
        return net.equals("mnist-cnn") ? "adam" : "momentum";
    }

    static double lr(String net) {
        return net.equals("mnist-cnn") ? 0.01 : 0.0001;
    }

    /**
     * Floating-point operations of one forward pass at batch {@code batch}: 2 per multiply-add of every
     * Conv and Gemm/MatMul (elementwise work is not counted).
     */
    static double forwardFlops(Graph g, int batch) {
        double flops = 0;
        for (Node n : g.nodes()) {
            if (n.opType().equals("Conv")) {
                Shape w = g.type(n.input(1)).shape();
                Shape y = g.type(n.output(0)).shape();
                double perOutput = 2.0 * w.product(1, w.rank());
                flops += perOutput * batch * y.product(1, y.rank());
            } else if (n.opType().equals("Gemm") || n.opType().equals("MatMul")) {
                Shape w = g.type(n.input(1)).shape();
                flops += 2.0 * batch * w.dim(0).value() * w.dim(1).value();
            }
        }
        return flops;
    }

    /**
     * Floating-point operations of one training step: the forward pass, the weight gradients (same count)
     * and the input gradients of every layer but the first (same count each).
     */
    static double trainingFlops(Graph g, int batch) {
        double forward = forwardFlops(g, batch);
        double first = 0;
        for (Node n : g.nodes()) {
            if (n.opType().equals("Conv") || n.opType().equals("Gemm")) {
                Graph one = g.copy();
                one.setNodes(java.util.List.of(n));
                first = forwardFlops(one, batch);
                break;
            }
        }
        return 3 * forward - first;
    }

    /**
     * Kernel milliseconds per call by operator, from an ONNX Runtime profile of {@code calls} runs. One match
     * per kernel event: the "args" of multi-threaded kernels hold nested {...} before op_name, so the pattern
     * stays inside its event by not crossing the next "cat" (one that may not cross a '}' drops them).
     */
    static java.util.Map<String, Double> kernelMillis(String profileJson, int calls) {
        java.util.Map<String, Double> byOp = new java.util.TreeMap<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                        "\\{\"cat\" ?: ?\"Node\"(?:(?!\"cat\").)*?\"dur\" ?: ?(\\d+)"
                                + "(?:(?!\"cat\").)*?\"name\" ?: ?\"[^\"]*_kernel_time\""
                                + "(?:(?!\"cat\").)*?\"op_name\" ?: ?\"([^\"]+)\"")
                .matcher(profileJson);
        while (m.find()) {
            byOp.merge(m.group(2), Double.parseDouble(m.group(1)) / 1e3 / calls, Double::sum);
        }
        return byOp;
    }
}
