package dev.forge.bench;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.forge.runtime.ModelOptions;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Two saved training-step graphs of the same network (say, before and after a change to a training form)
 * timed alternately in one process: each round runs 5 warm-up and 25 timed calls of A, then of B; prints
 * the median milliseconds per step of each over the rounds' medians.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.StepGraphAB A.onnx B.onnx BATCH [ROUNDS]</pre>
 *
 * <p>Feeds come from the graphs' input declarations: floats uniform in [0.5, 1.5) (positive, so running
 * variances and optimizer second moments are valid), int64 zeros (class labels, step counters), the
 * symbolic batch dimension set to BATCH. Both graphs get the same tensors.
 */
public final class StepGraphAB {
    private StepGraphAB() {}

    public static void main(String[] args) throws Exception {
        int batch = Integer.parseInt(args[2]);
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.EXTENDED_OPT);
            options.setIntraOpNumThreads(ModelOptions.resolveIntraOpThreads(0));
            OrtSession[] s = {
                env.createSession(Files.readAllBytes(Path.of(args[0])), options),
                env.createSession(Files.readAllBytes(Path.of(args[1])), options)
            };
            Map<String, OnnxTensor> feeds = new HashMap<>();
            SplittableRandom rnd = new SplittableRandom(1);
            for (OrtSession session : s) {
                for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
                    if (feeds.containsKey(e.getKey())) {
                        continue;
                    }
                    TensorInfo t = (TensorInfo) e.getValue().getInfo();
                    long[] shape = t.getShape().clone();
                    long size = 1;
                    for (int i = 0; i < shape.length; i++) {
                        shape[i] = shape[i] < 0 ? batch : shape[i];
                        size *= shape[i];
                    }
                    if (t.type == OnnxJavaType.INT64) {
                        feeds.put(
                                e.getKey(), OnnxTensor.createTensor(env, LongBuffer.wrap(new long[(int) size]), shape));
                    } else {
                        float[] v = new float[(int) size];
                        for (int i = 0; i < v.length; i++) {
                            v[i] = (float) (0.5 + rnd.nextDouble());
                        }
                        feeds.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(v), shape));
                    }
                }
            }
            List<List<Double>> times = List.of(new ArrayList<>(), new ArrayList<>());
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < 2; k++) {
                    Map<String, OnnxTensor> feed = new HashMap<>();
                    for (String name : s[k].getInputNames()) {
                        feed.put(name, feeds.get(name));
                    }
                    times.get(k).add(medianMs(s[k], feed));
                }
            }
            for (int k = 0; k < 2; k++) {
                System.out.printf(
                        Locale.ROOT, "%s %.3f ms (rounds %s)%n", args[k], Compare.median(times.get(k)), times.get(k));
                s[k].close();
            }
        }
    }

    private static double medianMs(OrtSession s, Map<String, OnnxTensor> feed) throws OrtException {
        for (int i = 0; i < 5; i++) {
            s.run(feed).close();
        }
        List<Double> t = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            long start = System.nanoTime();
            s.run(feed).close();
            t.add((System.nanoTime() - start) / 1e6);
        }
        return Compare.median(t);
    }
}
