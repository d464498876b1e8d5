package dev.forge.spark.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.TrainingGraph;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an executor needs to rebuild the driver's training graph: the net as ONNX bytes with the names of its
 * trained parameters (ONNX has no notion of "trainable"; frozen parameters are constants of the net), their
 * learning-rate groups, the loss, the optimizer and the trainer's settings.
 * Broadcast once per run; {@link #key()} names it in the per-JVM {@link TrainerPool}.
 */
final class Recipe implements Serializable {
    private static final long serialVersionUID = 1L;

    private final byte[] net;
    private final List<String> parameters;
    private final LinkedHashMap<String, Double> lrFactors;
    private final Loss loss;
    private final String optimizerKind;
    private final double[] optimizerValues;
    private final boolean optimizerFlag;
    private final long seed;
    private final int threads;
    private final String key;

    Recipe(Graph forward, Loss loss, Optimizer optimizer, Map<String, Double> lrFactors, long seed, int threads) {
        this.net = OnnxWriter.toBytes(forward);
        this.parameters = new ArrayList<>(forward.parameters());
        this.lrFactors = new LinkedHashMap<>(lrFactors);
        this.loss = loss;
        this.seed = seed;
        this.threads = threads;
        if (optimizer instanceof Optimizer.Sgd s) {
            optimizerKind = "sgd";
            optimizerValues = new double[] {s.lr(), s.momentum(), s.weightDecay()};
            optimizerFlag = s.nesterov();
        } else if (optimizer instanceof Optimizer.RmsProp r) {
            optimizerKind = "rmsprop";
            optimizerValues = new double[] {r.lr(), r.alpha(), r.eps(), r.weightDecay()};
            optimizerFlag = false;
        } else if (optimizer instanceof Optimizer.Adagrad a) {
            optimizerKind = "adagrad";
            optimizerValues = new double[] {a.lr(), a.eps(), a.weightDecay()};
            optimizerFlag = false;
        } else if (optimizer instanceof Optimizer.Adam a) {
            optimizerKind = "adam";
            optimizerValues = new double[] {a.lr(), a.beta1(), a.beta2(), a.eps(), a.weightDecay()};
            optimizerFlag = a.decoupled();
        } else {
            throw new IllegalArgumentException("SparkTrainer: unsupported optimizer " + optimizer.describe());
        }
        this.key = digest();
    }

    /** The optimizer as configured on the driver. */
    Optimizer optimizer() {
        double[] v = optimizerValues;
        return switch (optimizerKind) {
            case "sgd" -> new Optimizer.Sgd(v[0], v[1], optimizerFlag, v[2]);
            case "rmsprop" -> new Optimizer.RmsProp(v[0], v[1], v[2], v[3]);
            case "adagrad" -> new Optimizer.Adagrad(v[0], v[1], v[2]);
            case "adam" -> new Optimizer.Adam(v[0], v[1], v[2], v[3], v[4], optimizerFlag);
            default -> throw new IllegalStateException("unknown optimizer kind " + optimizerKind);
        };
    }

    /** Rebuilds the training graph: reads the net, marks the driver's parameters, runs the training pipeline. */
    TrainingGraph trainingGraph() {
        Graph g = OnnxReader.read(net, "SparkTrainer net");
        for (String p : new ArrayList<>(g.parameters())) {
            g.unmarkParameter(p);
        }
        parameters.forEach(g::markParameter);
        return TrainingGraph.build(g, loss, optimizer(), lrFactors);
    }

    long seed() {
        return seed;
    }

    int threads() {
        return threads;
    }

    /** A content hash of everything that shapes a trainer: equal keys build interchangeable trainers. */
    String key() {
        return key;
    }

    private String digest() {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(net);
            String rest = String.join(",", parameters) + "|" + lrFactors + "|" + loss + "|"
                    + optimizer().describe() + "|" + seed + "|" + threads;
            d.update(rest.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
